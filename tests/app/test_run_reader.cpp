// Run folders read back (app/run_reader.h): a real run written by RunWriter reopens with identical series
// (steps, evaluations, probes, changes, summary); an interrupted run (no summary.json, a last line cut short)
// opens with what was written; a corrupt or foreign folder is an Error naming the file and line.

#include "cli_progress.h"
#include "dataset.h"
#include "error.h"
#include "presets.h"
#include "run_reader.h"
#include "run_writer.h"
#include "trainer.h"

#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QFileInfo>
#include <QTemporaryDir>

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace {

using namespace bnlab;
using namespace bnlab::engine;
using bnlab::app::RunData;

class Capture final : public MetricsSink {
public:
    RunInfo info;
    std::vector<StepRecord> steps;
    std::vector<EvalRecord> evals;
    std::vector<ProbeSnapshot> probes;
    std::vector<ChangeRecord> changes;
    std::vector<LandscapeRecord> landscape;
    std::vector<PredictionRecord> predictions;
    RunSummary summary;
    void onStart(const RunInfo& i) override { info = i; }
    void onPredictions(const PredictionRecord& p) override { predictions.push_back(p); }
    void onStep(const StepRecord& r) override { steps.push_back(r); }
    void onEval(const EvalRecord& r) override { evals.push_back(r); }
    void onProbe(const ProbeSnapshot& p) override { probes.push_back(p); }
    void onLandscape(const LandscapeRecord& l) override { landscape.push_back(l); }
    void onChange(const ChangeRecord& c) override {
        changes.push_back(c);
        if (c.applied) info = c.info;
    }
    void onFinish(const RunSummary& s) override { summary = s; }
};

const Dataset& mnist() {
    static const Dataset data = loadDataset(std::string(BNLAB_TEST_DATASETS) + "/mnist");
    return data;
}

// A short bn-paper-mlp run with two planned changes (one folds a BN layer away), written to `folder`.
Capture writeRun(const QString& folder) {
    app::RunConfig config = app::findPreset("bn-paper-mlp").config;
    for (const char* s : {"train_size=1200", "validation_size=300", "epochs=2", "probe_interval=5", "eval_interval=10",
                          "threads=1"})
        app::applySetting(config, s);
    app::addScheduledChange(config, "12:learning_rate=0.5");
    app::addScheduledChange(config, "25:block.2.norm=none");
    Capture capture;
    app::RunWriter writer(folder, config, "mnist");
    app::TeeSink tee({&writer, &capture});
    Trainer trainer(mnist(), config.train, tee);
    trainer.run();
    return capture;
}

std::string errorOf(const QString& folder) {
    try {
        (void)app::loadRun(folder);
    } catch (const Error& e) {
        return e.what();
    }
    ADD_FAILURE() << "expected a bnlab::Error";
    return {};
}

void expectSameDistribution(const Distribution& a, const Distribution& b) {
    EXPECT_EQ(a.percentiles, b.percentiles);
    EXPECT_EQ(a.mean, b.mean);
    EXPECT_EQ(a.stddev, b.stddev);
    EXPECT_EQ(a.histogram, b.histogram);
    EXPECT_EQ(a.histogramMin, b.histogramMin);
    EXPECT_EQ(a.count, b.count);
}

// Replaces the first `from` in the file with `to`.
void corrupt(const QString& path, const QByteArray& from, const QByteArray& to) {
    QFile f(path);
    ASSERT_TRUE(f.open(QIODevice::ReadOnly)) << path.toStdString();
    QByteArray data = f.readAll();
    f.close();
    const qsizetype at = data.indexOf(from);
    ASSERT_GE(at, 0) << path.toStdString() << ": " << from.toStdString();
    data.replace(at, from.size(), to);
    ASSERT_TRUE(f.open(QIODevice::WriteOnly | QIODevice::Truncate));
    f.write(data);
}

TEST(RunReader, ARunReopensWithIdenticalSeries) {
    QTemporaryDir tmp;
    const QString folder = tmp.filePath("run");
    const Capture c = writeRun(folder);
    const RunData run = app::loadRun(folder);

    EXPECT_EQ(run.name, "run");
    EXPECT_EQ(run.dataset, "mnist");
    EXPECT_EQ(run.config.train.batchSize, 60);
    ASSERT_EQ(run.config.train.schedule.size(), 2u);
    EXPECT_FLOAT_EQ(run.current.train.optimizer.learningRate, 0.5f) << "the applied changes, replayed";
    EXPECT_EQ(run.current.train.network.blocks[1].norm, NormPlacement::None);
    EXPECT_EQ(run.info.layers, c.info.layers);
    EXPECT_EQ(run.info.params, c.info.params);
    EXPECT_EQ(run.info.totalSteps, c.info.totalSteps);

    ASSERT_EQ(run.steps.size(), c.steps.size());
    for (std::size_t i = 0; i < c.steps.size(); ++i) {
        const StepRecord &a = run.steps[i], &b = c.steps[i];
        EXPECT_EQ(a.step, b.step);
        EXPECT_EQ(a.epoch, b.epoch);
        EXPECT_EQ(a.samples, b.samples);
        EXPECT_EQ(a.seconds, b.seconds);
        EXPECT_EQ(a.loss, b.loss) << "step " << b.step;
        EXPECT_EQ(a.accuracy, b.accuracy);
        EXPECT_EQ(a.lossEma, b.lossEma);
        EXPECT_EQ(a.accuracyEma, b.accuracyEma);
    }
    ASSERT_EQ(run.evals.size(), c.evals.size());
    for (std::size_t i = 0; i < c.evals.size(); ++i) {
        EXPECT_EQ(run.evals[i].split, c.evals[i].split);
        EXPECT_EQ(run.evals[i].step, c.evals[i].step);
        EXPECT_EQ(run.evals[i].loss, c.evals[i].loss);
        EXPECT_EQ(run.evals[i].accuracy, c.evals[i].accuracy);
        EXPECT_EQ(run.evals[i].epochEnd, c.evals[i].epochEnd);
    }
    ASSERT_EQ(run.probes.size(), c.probes.size());
    for (std::size_t i = 0; i < c.probes.size(); ++i) {
        const ProbeSnapshot &a = run.probes[i], &b = c.probes[i];
        EXPECT_EQ(a.step, b.step);
        ASSERT_EQ(a.activations.size(), b.activations.size());
        for (std::size_t k = 0; k < a.activations.size(); ++k) {
            EXPECT_EQ(a.activations[k].block, b.activations[k].block);
            expectSameDistribution(a.activations[k].pre, b.activations[k].pre);
            expectSameDistribution(a.activations[k].post, b.activations[k].post);
        }
        ASSERT_EQ(a.params.size(), b.params.size());
        for (std::size_t k = 0; k < a.params.size(); ++k) {
            EXPECT_EQ(a.params[k].name, b.params[k].name);
            EXPECT_EQ(a.params[k].gradNorm, b.params[k].gradNorm);
            EXPECT_EQ(a.params[k].updateRatio, b.params[k].updateRatio);
        }
        ASSERT_EQ(a.batchNorm.size(), b.batchNorm.size());
        for (std::size_t k = 0; k < a.batchNorm.size(); ++k) {
            EXPECT_EQ(a.batchNorm[k].layer, b.batchNorm[k].layer);
            EXPECT_EQ(a.batchNorm[k].features, b.batchNorm[k].features);
            EXPECT_EQ(a.batchNorm[k].batchMean, b.batchNorm[k].batchMean);
            EXPECT_EQ(a.batchNorm[k].runningVar, b.batchNorm[k].runningVar);
        }
    }
    ASSERT_EQ(run.changes.size(), c.changes.size());
    for (std::size_t i = 0; i < c.changes.size(); ++i) {
        EXPECT_EQ(run.changes[i].step, c.changes[i].step);
        EXPECT_EQ(run.changes[i].key, c.changes[i].key);
        EXPECT_EQ(run.changes[i].description, c.changes[i].description);
    }
    ASSERT_TRUE(run.summary.has_value());
    EXPECT_EQ(run.summary->reason, c.summary.reason);
    EXPECT_EQ(run.summary->steps, c.summary.steps);
    EXPECT_EQ(run.summary->testAccuracy, c.summary.testAccuracy);
    EXPECT_EQ(run.summary->valAccuracy, c.summary.valAccuracy);
    EXPECT_GT(c.summary.probes, 0);
    EXPECT_EQ(run.summary->probes, c.summary.probes);
    EXPECT_EQ(run.summary->probeSeconds, c.summary.probeSeconds);
    EXPECT_EQ(run.summary->sessionTrainingSeconds, c.summary.sessionTrainingSeconds);
    EXPECT_EQ(run.state, app::RunState::Finished);
    EXPECT_TRUE(run.landscape.empty()) << "no landscape_interval: no landscape.jsonl, as in older folders";
    EXPECT_FALSE(QFile::exists(QDir(folder).filePath("landscape.jsonl")));
}

TEST(RunReader, NoisyBatchNormAndLandscapeMeasuresReopenIdentical) {
    QTemporaryDir tmp;
    const QString folder = tmp.filePath("noisy");
    app::RunConfig config = app::findPreset("bn-paper-mlp").config;
    for (const char* s : {"train_size=1200", "validation_size=300", "max_steps=25", "probe_interval=5", "threads=1",
                          "bn_noise=on", "bn_noise_mean=0.75", "bn_noise_scale=1.5", "landscape_interval=10"})
        app::applySetting(config, s);
    Capture c;
    {
        app::RunWriter writer(folder, config, "mnist");
        app::TeeSink tee({&writer, &c});
        Trainer trainer(mnist(), config.train, tee);
        trainer.run();
    }
    const RunData run = app::loadRun(folder);
    EXPECT_TRUE(run.config.train.batchNorm.noise);
    EXPECT_EQ(run.config.train.batchNorm.noiseMean, 0.75f);
    EXPECT_EQ(run.config.train.batchNorm.noiseScale, 1.5f);
    EXPECT_EQ(run.config.train.landscapeInterval, 10);
    EXPECT_EQ(run.info.layers[2], "noise1");
    ASSERT_EQ(c.landscape.size(), 3u);  // steps 1, 10, 20
    ASSERT_EQ(run.landscape.size(), c.landscape.size());
    for (std::size_t i = 0; i < c.landscape.size(); ++i) {
        const LandscapeRecord &a = run.landscape[i], &b = c.landscape[i];
        EXPECT_EQ(a.step, b.step);
        EXPECT_EQ(a.epoch, b.epoch);
        EXPECT_EQ(a.samples, b.samples);
        EXPECT_EQ(a.seconds, b.seconds);
        EXPECT_EQ(a.learningRate, b.learningRate);
        EXPECT_EQ(a.loss, b.loss);
        EXPECT_EQ(a.gradNorm, b.gradNorm);
        EXPECT_EQ(a.stepSizes, b.stepSizes);
        EXPECT_EQ(a.losses, b.losses);
        EXPECT_EQ(a.gradChanges, b.gradChanges);
        EXPECT_EQ(a.lossMin, b.lossMin);
        EXPECT_EQ(a.lossMax, b.lossMax);
        EXPECT_EQ(a.predictiveness, b.predictiveness);
        EXPECT_EQ(a.betaSmoothness, b.betaSmoothness);
        ASSERT_EQ(a.layers.size(), b.layers.size());
        for (std::size_t k = 0; k < a.layers.size(); ++k) {
            EXPECT_EQ(a.layers[k].layer, b.layers[k].layer);
            EXPECT_EQ(a.layers[k].distance, b.layers[k].distance);
            EXPECT_EQ(a.layers[k].cosine, b.layers[k].cosine);
            EXPECT_EQ(a.layers[k].gradNorm, b.layers[k].gradNorm);
        }
    }
    // A corrupt measure names the file and line.
    QFile f(QDir(folder).filePath("landscape.jsonl"));
    ASSERT_TRUE(f.open(QIODevice::Append));
    f.write("{\"step\": 30, \"losses\": 3}\n");
    f.close();
    const std::string error = errorOf(folder);
    EXPECT_NE(error.find("landscape.jsonl line 4"), std::string::npos) << error;
}

TEST(RunReader, AnInterruptedRunOpensWithWhatWasWritten) {
    QTemporaryDir tmp;
    const QString folder = tmp.filePath("run");
    const Capture c = writeRun(folder);
    // As a power cut leaves it: no summary, and the last lines cut in the middle.
    ASSERT_TRUE(QFile::remove(folder + "/summary.json"));
    for (const char* name : {"steps.csv", "probes.jsonl"}) {
        QFile f(folder + "/" + name);
        ASSERT_TRUE(f.open(QIODevice::ReadWrite));
        ASSERT_TRUE(f.resize(f.size() - 7));
    }
    const RunData run = app::loadRun(folder);
    EXPECT_FALSE(run.summary.has_value());
    EXPECT_EQ(run.steps.size(), c.steps.size() - 1);
    EXPECT_EQ(run.probes.size(), c.probes.size() - 1);
    EXPECT_EQ(run.steps.back().loss, c.steps[c.steps.size() - 2].loss);
}

// Run folders written before TensorBoard's levels were recorded have 7 percentiles per distribution: they open,
// with the values at those levels and NaN at the others; a line whose percentiles do not match its levels fails.
TEST(RunReader, AFolderWithTheOldSevenPercentilesOpensWithTheOthersUnrecorded) {
    QTemporaryDir tmp;
    const QString folder = tmp.filePath("run");
    const Capture c = writeRun(folder);
    const std::vector<std::size_t> old = {percentileIndex(0),  percentileIndex(2),  percentileIndex(15), percentileIndex(50),
                                          percentileIndex(85), percentileIndex(98), percentileIndex(100)};
    auto rewrite = [&](auto change) {
        QFile f(folder + "/probes.jsonl");
        ASSERT_TRUE(f.open(QIODevice::ReadOnly));
        QByteArrayList lines = f.readAll().trimmed().split('\n');
        f.close();
        for (QByteArray& line : lines) {
            QJsonObject o = QJsonDocument::fromJson(line).object();
            change(o);
            line = QJsonDocument(o).toJson(QJsonDocument::Compact);
        }
        ASSERT_TRUE(f.open(QIODevice::WriteOnly | QIODevice::Truncate));
        f.write(lines.join('\n') + '\n');
    };
    auto keepOld = [&](QJsonObject dist) {
        const QJsonArray all = dist.value("percentiles").toArray();
        QJsonArray seven;
        for (std::size_t k : old) seven.append(all[qsizetype(k)]);
        dist["percentiles"] = seven;
        return dist;
    };
    rewrite([&](QJsonObject& o) {
        o["percentile_levels"] = QJsonArray({0, 2, 15, 50, 85, 98, 100});
        QJsonArray acts = o.value("activations").toArray();
        for (auto a : acts) {
            QJsonObject ao = a.toObject();
            ao["pre"] = keepOld(ao.value("pre").toObject());
            ao["post"] = keepOld(ao.value("post").toObject());
            a = ao;
        }
        o["activations"] = acts;
    });
    const RunData run = app::loadRun(folder);
    ASSERT_EQ(run.probes.size(), c.probes.size());
    std::size_t checked = 0;
    for (std::size_t i = 0; i < c.probes.size(); ++i)
        for (std::size_t b = 0; b < c.probes[i].activations.size(); ++b) {
            const auto& read = run.probes[i].activations[b].pre.percentiles;
            const auto& made = c.probes[i].activations[b].pre.percentiles;
            for (std::size_t k = 0; k < kPercentiles.size(); ++k) {
                if (std::find(old.begin(), old.end(), k) != old.end())
                    EXPECT_EQ(read[k], made[k]) << "level " << kPercentiles[k];
                else
                    EXPECT_TRUE(std::isnan(read[k])) << "level " << kPercentiles[k];
                ++checked;
            }
        }
    EXPECT_GT(checked, 100u);

    rewrite([](QJsonObject& o) { o["percentile_levels"] = QJsonArray({0, 50, 100}); });
    EXPECT_NE(errorOf(folder).find("probes.jsonl line 1: pre.percentiles: expected 3 values"), std::string::npos)
        << errorOf(folder);
}

TEST(RunReader, CorruptAndForeignFoldersFailNamingTheFileAndLine) {
    QTemporaryDir tmp;
    EXPECT_NE(errorOf(tmp.filePath("nothing-here")).find("not a folder"), std::string::npos);
    EXPECT_NE(errorOf(tmp.path()).find("not a BN Lab run"), std::string::npos);

    const QString folder = tmp.filePath("run");
    (void)writeRun(folder);
    auto corruptFile = [&](const char* name, const QByteArray& from, const QByteArray& to) {
        corrupt(folder + "/" + name, from, to);
    };
    // A field that is not a number in the middle of steps.csv (line 4: the header, then steps 1, 2, 3).
    QFile steps(folder + "/steps.csv");
    ASSERT_TRUE(steps.open(QIODevice::ReadOnly));
    const QList<QByteArray> lines = steps.readAll().split('\n');
    steps.close();
    corruptFile("steps.csv", lines[3], "3,0.15,x80,0.01,2.2,0.1,2.2,0.1");
    std::string e = errorOf(folder);
    EXPECT_NE(e.find("steps.csv line 4"), std::string::npos) << e;
    EXPECT_NE(e.find("'x80' is not a number"), std::string::npos) << e;
    corruptFile("steps.csv", "3,0.15,x80,0.01,2.2,0.1,2.2,0.1", lines[3]);
    EXPECT_NO_THROW((void)app::loadRun(folder));

    corruptFile("probes.jsonl", "{\"activations\"", "{\"activations\"::");
    e = errorOf(folder);
    EXPECT_NE(e.find("probes.jsonl line 1"), std::string::npos) << e;
    corruptFile("probes.jsonl", "{\"activations\"::", "{\"activations\"");

    corruptFile("config.json", "\"format\": \"bnlab-config\"", "\"format\": \"something-else\"");
    e = errorOf(folder);
    EXPECT_NE(e.find("config.json"), std::string::npos) << e;
    EXPECT_NE(e.find("not a BN Lab configuration"), std::string::npos) << e;
}

// The last prediction record of split that a run sent.
const PredictionRecord& lastOf(const Capture& c, const std::string& split) {
    for (auto it = c.predictions.rbegin(); it != c.predictions.rend(); ++it)
        if (it->confusion.split == split) return *it;
    throw std::runtime_error("no " + split + " predictions");
}

TEST(RunReader, ConfusionMatricesOfEveryEvaluationAndTheLatestPredictionsRoundTrip) {
    QTemporaryDir tmp;
    const QString folder = tmp.filePath("run");
    const Capture c = writeRun(folder);
    const RunData run = app::loadRun(folder);

    ASSERT_EQ(c.predictions.size(), c.evals.size());
    ASSERT_EQ(run.confusions.size(), c.predictions.size());
    for (std::size_t i = 0; i < run.confusions.size(); ++i) {
        const ConfusionRecord &a = run.confusions[i], &b = c.predictions[i].confusion;
        SCOPED_TRACE(b.split + " at step " + std::to_string(b.step));
        EXPECT_EQ(a.split, b.split);
        EXPECT_EQ(a.step, b.step);
        EXPECT_EQ(a.epoch, b.epoch);
        EXPECT_EQ(a.samples, b.samples);
        EXPECT_EQ(a.seconds, b.seconds);
        EXPECT_EQ(a.classes, 10);
        EXPECT_EQ(a.counts, b.counts);
        EXPECT_EQ(a.total(), b.split == "test" ? 10000 : 300);
        EXPECT_EQ(double(a.correct()) / double(a.total()), run.evals[i].accuracy) << "the trace is the accuracy";
    }
    for (const std::string split : {"validation", "test"}) {
        SCOPED_TRACE(split);
        const PredictionRecord* read = run.latestPredictions(split);
        ASSERT_NE(read, nullptr);
        const PredictionRecord& sent = lastOf(c, split);
        EXPECT_EQ(read->confusion.step, sent.confusion.step);
        EXPECT_EQ(read->confusion.counts, sent.confusion.counts) << "counted again from the labels and predictions";
        const SamplePredictions &a = read->predictions, &b = sent.predictions;
        EXPECT_EQ(a.classes, b.classes);
        EXPECT_EQ(a.firstImage, b.firstImage);
        EXPECT_EQ(a.labels, b.labels);
        EXPECT_EQ(a.predicted, b.predicted);
        ASSERT_EQ(a.probabilities.size(), b.probabilities.size());
        for (std::size_t k = 0; k < a.probabilities.size(); ++k)
            ASSERT_NEAR(a.probabilities[k], b.probabilities[k], 0.5e-4 + 1e-7) << "value " << k << " (written × 10,000, rounded)";
    }
    EXPECT_EQ(run.validationPredictions->predictions.firstImage, 60000 - 300);
    // Small files: at most about 50 bytes per sample (a trained network's many zeros make it less).
    EXPECT_LT(QFileInfo(folder + "/predictions-test.json").size(), 55 * 10000);
}

TEST(RunReader, AFolderWithoutConfusionMatricesOrPredictionsOpens) {
    QTemporaryDir tmp;
    const QString folder = tmp.filePath("run");
    const Capture c = writeRun(folder);
    for (const char* name : {"confusion.jsonl", "predictions-validation.json", "predictions-test.json"})
        ASSERT_TRUE(QFile::remove(folder + "/" + name)) << name;
    const RunData run = app::loadRun(folder);  // as a folder of an earlier BN Lab
    EXPECT_TRUE(run.confusions.empty());
    EXPECT_EQ(run.latestPredictions("validation"), nullptr);
    EXPECT_EQ(run.latestPredictions("test"), nullptr);
    EXPECT_EQ(run.evals.size(), c.evals.size());
    EXPECT_TRUE(run.summary.has_value());
}

TEST(RunReader, CorruptConfusionOrPredictionsFilesFailNamingTheFile) {
    QTemporaryDir tmp;
    const QString folder = tmp.filePath("run");
    (void)writeRun(folder);
    struct Case {
        const char* file;
        QByteArray from, to;
        const char* expected;
    };
    const QString validation = folder + "/predictions-validation.json";
    const std::vector<Case> cases = {
        {"confusion.jsonl", "\"counts\":[[", "\"counts\":[[\"x\",", "confusion.jsonl line 1: counts: expected rows of 10"},
        {"confusion.jsonl", "\"classes\":10", "\"classes\":10.5",
         "confusion.jsonl line 1: classes: expected a whole number from 1 to 256, got 10.5"},
        {"confusion.jsonl", "\"split\":\"validation\"", "\"split\":\"train\"", "confusion.jsonl line 1: split"},
        {"predictions-validation.json", "\"labels\": [", "\"labels\": [12,", "predictions-validation.json: labels, predicted"},
        {"predictions-validation.json", "\"labels\": [", "\"labels\": [[", "not valid JSON"},
        {"predictions-validation.json", "\"predicted\": [", "\"predicted\": [10,", "predictions-validation.json: labels, predicted"},
        {"predictions-validation.json", "\"format\": \"bnlab-predictions\"", "\"format\": \"other\"",
         "predictions-validation.json: \"format\" is not \"bnlab-predictions\""},
        {"predictions-test.json", "\"split\": \"test\"", "\"split\": \"validation\"", "predictions-test.json: split"},
        {"predictions-test.json", "\n[", "\n[1,", "predictions-test.json: sample 0: expected 10 probabilities"},
    };
    for (const Case& k : cases) {
        SCOPED_TRACE(std::string(k.file) + ": " + k.to.toStdString());
        const QString path = folder + "/" + k.file;
        ASSERT_NO_FATAL_FAILURE(corrupt(path, k.from, k.to));
        const std::string e = errorOf(folder);
        EXPECT_NE(e.find(k.expected), std::string::npos) << e;
        ASSERT_NO_FATAL_FAILURE(corrupt(path, k.to, k.from));
    }
    EXPECT_NO_THROW((void)app::loadRun(folder)) << "every file restored";
    // A label out of range, with sizes that agree: named with its sample.
    ASSERT_NO_FATAL_FAILURE(corrupt(validation, "\"labels\": [", "\"labels\": [12,"));
    ASSERT_NO_FATAL_FAILURE(corrupt(validation, "\"predicted\": [", "\"predicted\": [1,"));
    ASSERT_NO_FATAL_FAILURE(corrupt(validation, "\"probabilities_e4\": [", "\"probabilities_e4\": [[0,10000,0,0,0,0,0,0,0,0],"));
    std::string e = errorOf(folder);
    EXPECT_NE(e.find("predictions-validation.json: sample 0: label: expected a whole number from 0 to 9, got 12"),
              std::string::npos) << e;
    // Then a probability above 1.
    ASSERT_NO_FATAL_FAILURE(corrupt(validation, "\"labels\": [12,", "\"labels\": [1,"));
    ASSERT_NO_FATAL_FAILURE(corrupt(validation, "[[0,10000,", "[[0,10001,"));
    e = errorOf(folder);
    EXPECT_NE(e.find("predictions-validation.json: sample 0: probability_e4: expected a whole number from 0 to 10000, got 10001"),
              std::string::npos) << e;
}

}  // namespace
