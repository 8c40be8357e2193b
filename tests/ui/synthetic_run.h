#pragma once

// A synthetic run for chart tests: smooth, known series without training anything.

#include "run_data.h"

#include <cmath>
#include <iterator>

namespace bnlab::ui {

inline engine::Distribution distribution(double scale) {
    engine::Distribution d;
    // -3, -2, -1, 0, 1, 2, 3 (times scale) at levels 0, 2, 15, 50, 85, 98, 100; the other levels in between.
    const double levels[] = {0, 2, 15, 50, 85, 98, 100};
    for (std::size_t k = 0; k < engine::kPercentiles.size(); ++k) {
        const double q = engine::kPercentiles[k];
        std::size_t i = 0;
        while (i + 2 < std::size(levels) && q > levels[i + 1]) ++i;
        d.percentiles[k] = float((double(i) - 3 + (q - levels[i]) / (levels[i + 1] - levels[i])) * scale);
    }
    d.stddev = scale;
    d.histogramMin = d.percentiles.front();
    d.histogramMax = d.percentiles.back();
    d.histogram.assign(engine::kHistogramBins, 10);
    d.count = 10 * engine::kHistogramBins;
    return d;
}

// n samples of one evaluation: labels cycle through 0-9, every 7th sample is taken for the next class, the
// predicted class gets probability 0.3-0.98 (varying with the sample) and the others share the rest; the
// confusion matrix is counted from them.
inline engine::PredictionRecord makePredictions(long step, const std::string& split, engine::Index n,
                                                engine::Index firstImage = 0) {
    engine::PredictionRecord r;
    engine::SamplePredictions& s = r.predictions;
    s.classes = 10;
    s.firstImage = firstImage;
    r.confusion = {step, step / 469.0, step * 128, step * 0.01, split, 10, std::vector<std::int64_t>(100, 0)};
    for (engine::Index i = 0; i < n; ++i) {
        const int label = int(i % 10), predicted = i % 7 == 3 ? (label + 1) % 10 : label;
        const float top = 0.3f + 0.68f * float((i * 37) % 101) / 100.0f;
        s.labels.push_back(std::uint8_t(label));
        s.predicted.push_back(std::uint8_t(predicted));
        for (int c = 0; c < 10; ++c) s.probabilities.push_back(c == predicted ? top : (1 - top) / 9);
        ++r.confusion.counts[std::size_t(label * 10 + predicted)];
    }
    return r;
}

// steps training steps, a validation evaluation every 100 and a probe every 50 (two blocks, four
// parameters, one BN layer following two features).
inline app::RunData makeRun(long steps) {
    app::RunData run;
    run.name = QStringLiteral("test");
    run.info.blocks = {"dense1", "output"};
    for (long s = 1; s <= steps; ++s) {
        const double loss = 2.3 * std::exp(-double(s) / 300) + 0.1 * (s % 7) / 7.0;
        run.steps.push_back({s, s / 469.0, s * 128, s * 0.01, loss, 1 - loss / 2.5, loss, 1 - loss / 2.5});
        if (s % 100 == 0) {
            run.evals.push_back({s, s / 469.0, s * 128, s * 0.01, "validation", loss, 1 - loss / 2.5, false});
            run.addPredictions(makePredictions(s, "validation", 700));
        }
        if (s % 50 == 0) {
            engine::ProbeSnapshot p{s, s / 469.0, s * 128, s * 0.01, {}, {}, {}};
            for (const char* block : {"dense1", "output"})
                p.activations.push_back({block, distribution(1 + 1.0 / double(s)), distribution(0.5)});
            for (const char* name : {"dense1.weight", "bn1.gamma", "bn1.beta", "output.weight"})
                p.params.push_back({name, 0.1 * std::exp(-double(s) / 1000), 5, 1e-3});
            p.batchNorm.push_back({"bn1", {3, 7}, {0.1f, 0.2f}, {1.1f, 0.9f}, {0.09f, 0.19f}, {1.0f, 1.0f}});
            run.probes.push_back(std::move(p));
            // The loss-landscape measures at the same steps.
            engine::LandscapeRecord l;
            l.step = s;
            l.epoch = s / 469.0;
            l.samples = s * 128;
            l.seconds = s * 0.01;
            l.loss = loss;
            l.lossMin = 0.8 * loss;
            l.lossMax = 1.1 * loss;
            l.predictiveness = 0.5 + 0.1 * (s % 3);
            l.betaSmoothness = 3 + (s % 5);
            l.layers = {{"dense1", 0, 1, 1}, {"output", 0.05 + 0.01 * (s % 4), 0.95, 1}};
            run.landscape.push_back(std::move(l));
        }
    }
    return run;
}

}  // namespace bnlab::ui
