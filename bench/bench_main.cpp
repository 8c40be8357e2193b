// bnlab-bench: steady-state training (and inference) throughput of the presets, measured side by side in
// one process. Speed is measured here, never asserted in tests.
//
//   bnlab-bench [--preset NAME]... [--batch N]... [--threads N] [--seconds S] [--repeats R]
//               [--mode train|infer|both] [--data DIR] [--json] [--profile]
//
// --profile also prints, per preset and batch, where a training step spends its time: each layer's
// forward and backward, the loss and the optimizer (milliseconds per step, median over the steps).

#include "batch_sampler.h"
#include "data_location.h"
#include "dataset.h"
#include "error.h"
#include "parallel.h"
#include "presets.h"
#include "trainer.h"

#include <QCoreApplication>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <sys/resource.h>

namespace {

using namespace bnlab;
using namespace bnlab::engine;
using Clock = std::chrono::steady_clock;

struct Options {
    QStringList presets;
    std::vector<int> batches;
    int threads = 0;
    double seconds = 1.0;
    int repeats = 3;
    bool train = true, infer = false;
    bool json = false;
    bool profile = false;
    QString data;
};

struct Stats {
    double min = 0, median = 0, max = 0;
};

Stats stats(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return {v.front(), v[v.size() / 2], v.back()};
}

// Runs `step` (which processes `batch` samples) for about `seconds`, after a warm-up; returns samples/s.
template <typename Step>
double measure(Step&& step, int batch, double seconds) {
    for (int i = 0; i < 3; ++i) step();  // warm-up: buffers sized, caches warm
    const auto t0 = Clock::now();
    long steps = 0;
    double elapsed = 0;
    while (elapsed < seconds || steps < 3) {
        step();
        ++steps;
        elapsed = std::chrono::duration<double>(Clock::now() - t0).count();
    }
    return double(steps) * batch / elapsed;
}

Options parse(const QStringList& args) {
    Options o;
    for (int i = 0; i < args.size(); ++i) {
        const QString& a = args[i];
        auto value = [&]() -> QString {
            if (i + 1 >= args.size()) throw Error(a.toStdString() + " needs a value");
            return args[++i];
        };
        auto number = [&](const QString& v) {
            bool ok = false;
            const double d = v.toDouble(&ok);
            if (!ok || d <= 0) throw Error(a.toStdString() + ": expected a positive number, got '" + v.toStdString() + "'");
            return d;
        };
        if (a == "--preset") o.presets << value();
        else if (a == "--batch") o.batches.push_back(int(number(value())));
        else if (a == "--threads") o.threads = int(number(value()));
        else if (a == "--seconds") o.seconds = number(value());
        else if (a == "--repeats") o.repeats = int(number(value()));
        else if (a == "--data") o.data = value();
        else if (a == "--json") o.json = true;
        else if (a == "--profile") o.profile = true;
        else if (a == "--mode") {
            const QString m = value();
            if (m != "train" && m != "infer" && m != "both") throw Error("--mode: expected train, infer or both");
            o.train = m != "infer";
            o.infer = m != "train";
        } else if (a == "--help" || a == "-h") {
            std::puts("usage: bnlab-bench [--preset NAME]... [--batch N]... [--threads N] [--seconds S] [--repeats R]\n"
                      "                   [--mode train|infer|both] [--data DIR] [--json] [--profile]\n"
                      "defaults: every preset, batches 32 60 128, all cores, 1 s x 3 repeats, train");
            std::exit(0);
        } else throw Error("unknown option '" + a.toStdString() + "' (bnlab-bench --help)");
    }
    if (o.presets.isEmpty())
        for (const app::Preset& p : app::presets()) o.presets << p.name;
    if (o.batches.empty()) o.batches = {32, 60, 128};
    return o;
}

// A training step taken layer by layer (as Network::forward/backward and trainStep do), timing each part.
// Prints the median milliseconds per step of every part over `steps` steps.
void profileStep(Network& net, SoftmaxCrossEntropy& ce, Optimizer& optimizer, const Matrix& x,
                 const std::vector<std::uint8_t>& labels, int steps) {
    const std::size_t layers = net.layers().size();
    // parts: forward of each layer, loss, backward of each layer (in network order), optimizer
    std::vector<std::vector<double>> ms(2 * layers + 2);
    auto lap = [](Clock::time_point& t) {
        const auto now = Clock::now();
        const double d = std::chrono::duration<double, std::milli>(now - t).count();
        t = now;
        return d;
    };
    for (int s = 0; s < steps + 2; ++s) {
        const bool keep = s >= 2;  // two warm-up steps
        auto t = Clock::now();
        const Matrix* h = &x;
        std::vector<const Matrix*> inputs(layers);
        for (std::size_t i = 0; i < layers; ++i) {
            h = &net.layer(int(i)).forward(*h, Mode::Train);
            const double d = lap(t);
            if (keep) ms[i].push_back(d);
        }
        ce.forward(*h, labels);
        const Matrix* g = &ce.backward();
        if (keep) ms[layers].push_back(lap(t)); else lap(t);
        for (std::size_t i = layers; i-- > 0;) {
            if (i > 0) g = &net.layer(int(i)).backward(*g);
            else net.layer(0).backwardParameters(*g);
            const double d = lap(t);
            if (keep) ms[layers + 1 + i].push_back(d);
        }
        optimizer.step();
        if (keep) ms[2 * layers + 1].push_back(lap(t));
    }
    double total = 0;
    std::vector<double> median(ms.size());
    for (std::size_t i = 0; i < ms.size(); ++i) total += median[i] = stats(ms[i]).median;
    auto row = [&](const std::string& name, double forward, double backward) {
        std::printf("  %-22s %9.3f %9.3f %6.1f%%\n", name.c_str(), forward, backward, 100 * (forward + backward) / total);
    };
    std::printf("  %-22s %9s %9s %7s\n", "part (ms/step)", "forward", "backward", "share");
    for (std::size_t i = 0; i < layers; ++i)
        row(net.layerName(int(i)) + " (" + net.layer(int(i)).kind() + ")", median[i], median[layers + 1 + i]);
    row("loss", median[layers], 0);
    row("optimizer", 0, median[2 * layers + 1]);
    std::printf("  %-22s %19.3f\n", "total", total);
}

double peakMemoryMb() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return double(u.ru_maxrss) / 1024.0;
}

}  // namespace

int main(int argc, char** argv) {
    QCoreApplication qapp(argc, argv);
    try {
        const Options o = parse(QCoreApplication::arguments().mid(1));
        const QString dataDir = o.data.isEmpty() ? app::findBundledMnist(QCoreApplication::applicationDirPath()) : o.data;
        if (dataDir.isEmpty()) throw Error("the bundled MNIST was not found; use --data DIR");
        const Dataset data = loadDataset(dataDir.toStdString());
        const Splits splits = makeSplits(data, 5000);
        const int threads = o.threads > 0 ? o.threads : parallel::defaultThreadCount();
        if (!o.json)
            std::printf("%-20s %6s %7s %6s %12s %12s %12s\n", "preset", "batch", "threads", "mode", "min", "median", "max");
        for (const QString& name : o.presets) {
            const app::Preset& preset = app::findPreset(name);
            for (int batch : o.batches) {
                TrainOptions t = preset.config.train;
                t.batchSize = batch;
                for (int mode = 0; mode < 2; ++mode) {
                    if ((mode == 0 && !o.train) || (mode == 1 && !o.infer)) continue;
                    std::vector<double> rates;
                    parallel::runWithThreads(threads, [&] {
                        Network net(t.network, data.inputShape(), data.numClasses, t.batchNorm, t.init, t.seed);
                        Optimizer optimizer(t.optimizer);
                        optimizer.bind(net.optimizerParams());
                        SoftmaxCrossEntropy ce;
                        BatchSampler sampler(splits.train, batch, 7);
                        Matrix x;
                        std::vector<std::uint8_t> labels;
                        sampler.next(x, labels);  // one fixed batch: the data pipeline is measured by the trainer
                        if (o.profile && mode == 0) {
                            std::printf("%s batch %d, %d thread(s):\n", name.toUtf8().constData(), batch, threads);
                            profileStep(net, ce, optimizer, x, labels, std::max(5, int(o.seconds * 20)));
                        }
                        for (int r = 0; r < o.repeats; ++r) {
                            if (mode == 0)
                                rates.push_back(measure([&] { trainStep(net, ce, optimizer, x, labels); }, batch, o.seconds));
                            else
                                rates.push_back(measure([&] { net.forward(x, Mode::Eval); }, batch, o.seconds));
                        }
                    });
                    const Stats s = stats(rates);
                    const char* modeName = mode == 0 ? "train" : "infer";
                    if (o.json) {
                        QJsonObject j{{"preset", name}, {"batch_size", batch}, {"threads", threads}, {"mode", modeName},
                                      {"samples_per_second", QJsonObject{{"min", s.min}, {"median", s.median}, {"max", s.max}}},
                                      {"peak_memory_mb", peakMemoryMb()}};
                        std::printf("%s\n", QJsonDocument(j).toJson(QJsonDocument::Compact).constData());
                    } else {
                        std::printf("%-20s %6d %7d %6s %12.0f %12.0f %12.0f\n", name.toUtf8().constData(), batch, threads,
                                    modeName, s.min, s.median, s.max);
                    }
                    std::fflush(stdout);
                }
            }
        }
        if (!o.json) std::printf("samples/s over %d repeats of %.1f s; peak memory %.0f MB\n", o.repeats, o.seconds, peakMemoryMb());
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bnlab-bench: %s\n", e.what());
        return 1;
    }
}
