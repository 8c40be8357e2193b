// The run folder (app/run_writer.h), driven with synthetic records: what each file holds, when
// summary.json appears, NaN as null, and the folders it refuses.

#include "error.h"
#include "presets.h"
#include "run_config.h"
#include "run_writer.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTemporaryDir>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <functional>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

using namespace bnlab::engine;
using bnlab::Error;
using bnlab::app::RunConfig;
using bnlab::app::RunWriter;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::string str(const QString& s) { return s.toStdString(); }

std::string errorOf(const std::function<void()>& f) {
    try {
        f();
    } catch (const Error& e) {
        return e.what();
    }
    ADD_FAILURE() << "expected a bnlab::Error";
    return {};
}

std::vector<std::string> readLines(const QString& path) {
    std::ifstream in(path.toStdString());
    EXPECT_TRUE(in.good()) << "cannot read " << str(path);
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
}

std::vector<std::string> splitCsv(const std::string& line) {
    std::vector<std::string> out;
    std::stringstream ss(line);
    for (std::string cell; std::getline(ss, cell, ',');) out.push_back(cell);
    return out;
}

QJsonObject readJsonObject(const QString& path) {
    QFile f(path);
    EXPECT_TRUE(f.open(QIODevice::ReadOnly)) << "cannot read " << str(path);
    QJsonParseError error;
    const QJsonDocument doc = QJsonDocument::fromJson(f.readAll(), &error);
    EXPECT_EQ(error.error, QJsonParseError::NoError) << str(path) << ": " << str(error.errorString());
    EXPECT_TRUE(doc.isObject()) << str(path);
    return doc.object();
}

std::string fileText(const QString& path) {
    std::ifstream in(path.toStdString());
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

RunConfig sampleConfig() {
    RunConfig c = bnlab::app::findPreset("keras-cnn").config;
    bnlab::app::applySetting(c, "learning_rate", "0.1");
    bnlab::app::applySetting(c, "seed", "42");
    bnlab::app::applySetting(c, "block.2.norm", "before");
    return c;
}

RunInfo sampleInfo() {
    RunInfo info;
    info.layers = {"dense1", "bn1", "sigmoid1", "output"};
    info.blocks = {"dense1"};
    info.params = {"dense1.weight", "dense1.bias", "bn1.gamma", "bn1.beta", "output.weight", "output.bias"};
    info.trainSamples = 3000;
    info.validationSamples = 500;
    info.testSamples = 10000;
    info.stepsPerEpoch = 50;
    info.totalSteps = 3;
    info.threads = 2;
    return info;
}

// Values with at most 9 significant digits, so that the CSV text (precision 9) reads back exactly.
std::vector<StepRecord> sampleSteps() {
    return {{1, 0.02, 60, 0.5, 2.25, 0.125, 2.25, 0.125},
            {2, 0.04, 120, 0.75, 1.875, 0.25, 2.0625, 0.1875},
            {3, 0.06, 180, 1.125, 1.5, 0.5, 1.87654321, 0.291666667}};
}

std::vector<EvalRecord> sampleEvals() {
    return {{2, 0.04, 120, 0.8, "validation", 1.75, 0.4375, false},
            {3, 0.06, 180, 1.5, "validation", 1.5, 0.5, true},
            {3, 0.06, 180, 2.5, "test", 1.625, 0.46875, false}};
}

Distribution sampleDistribution(float offset) {
    Distribution d;
    d.percentiles = {-2 + offset, -1.5f, -1.25f, -1, -0.75f, -0.5f, 0, 0.5f, 0.75f, 1, 1.25f, 1.5f, 2};
    d.mean = 0.25;
    d.stddev = 1.5;
    d.histogramMin = -2;
    d.histogramMax = 2;
    d.histogram.assign(kHistogramBins, 1);
    d.histogram[0] = 7;
    d.count = 256;
    return d;
}

ProbeSnapshot sampleProbe(long step) {
    ProbeSnapshot p;
    p.step = step;
    p.epoch = 0.02 * double(step);
    p.samples = 60 * step;
    ActivationProbe a;
    a.block = "dense1";
    a.pre = sampleDistribution(0);
    a.post = sampleDistribution(0);
    a.post.percentiles[percentileIndex(100)] = std::numeric_limits<float>::quiet_NaN();  // NaN → null
    a.post.mean = kNaN;
    p.activations.push_back(a);
    p.params.push_back({"dense1.weight", 0.5, 3.25, 0.001});
    p.params.push_back({"bn1.gamma", kNaN, std::numeric_limits<double>::infinity(), 0.25});  // NaN, inf → null
    BatchNormProbe b;
    b.layer = "bn1";
    b.features = {0, 3};
    b.batchMean = {0.5f, std::numeric_limits<float>::quiet_NaN()};
    b.batchVar = {1.5f, 2.5f};
    b.runningMean = {0.25f, 0.125f};
    b.runningVar = {1, 2};
    p.batchNorm.push_back(b);
    return p;
}

RunSummary sampleSummary() {
    RunSummary s;
    s.reason = StopReason::MaxSteps;
    s.message = "reached max_steps 3";
    s.steps = 3;
    s.epochs = 0.06;
    s.samples = 180;
    s.seconds = 2.5;
    s.trainingSeconds = 1.5;
    s.samplesPerSecond = 120;
    s.probes = 2;
    s.probeSeconds = 0.0625;
    s.sessionTrainingSeconds = 1.25;
    s.hasValidation = true;
    s.valLoss = 1.5;
    s.valAccuracy = 0.5;
    s.hasTest = true;
    s.testLoss = 1.625;
    s.testAccuracy = 0.46875;
    return s;
}

// A complete synthetic run into `folder`.
void writeRun(const QString& folder, const RunConfig& config) {
    RunWriter w(folder, config, "/data/mnist");
    w.onStart(sampleInfo());
    const auto steps = sampleSteps();
    const auto evals = sampleEvals();
    w.onStep(steps[0]);
    w.onProbe(sampleProbe(1));
    w.onStep(steps[1]);
    w.onEval(evals[0]);
    w.onStep(steps[2]);
    w.onProbe(sampleProbe(3));
    w.onEval(evals[1]);
    w.onEval(evals[2]);
    w.onFinish(sampleSummary());
}

class RunWriterTest : public ::testing::Test {
protected:
    void SetUp() override { ASSERT_TRUE(m_tmp.isValid()); }
    QString path(const QString& name) const { return m_tmp.filePath(name); }
    QTemporaryDir m_tmp;
};

}  // namespace

TEST_F(RunWriterTest, CreatesTheFolderWithParentsAndWritesConfigAtOnce) {
    const QString folder = path("a/b/run");
    RunWriter w(folder, sampleConfig(), "/data/mnist");
    EXPECT_EQ(str(w.folder()), str(folder));
    EXPECT_TRUE(QFileInfo(folder).isDir());
    EXPECT_TRUE(QFileInfo(folder + "/config.json").isFile());
    EXPECT_FALSE(QFileInfo::exists(folder + "/summary.json"));
}

TEST_F(RunWriterTest, ConfigJsonLoadsBackWithLoadConfigFile) {
    const QString folder = path("run");
    const RunConfig config = sampleConfig();
    writeRun(folder, config);
    RunConfig back;
    ASSERT_NO_THROW(back = bnlab::app::loadConfigFile(folder + "/config.json"))
        << "config.json of a run must be loadable (bnlab-cli train --config)";
    EXPECT_EQ(str(back.preset), "keras-cnn");
    EXPECT_TRUE(back.train.network == config.train.network) << describe(back.train.network);
    EXPECT_EQ(bnlab::app::toJson(back), bnlab::app::toJson(config));
}

TEST_F(RunWriterTest, ConfigJsonHoldsTheConfigurationAndTheDatasetFolder) {
    const QString folder = path("run");
    const RunConfig config = sampleConfig();
    writeRun(folder, config);
    QJsonObject o = readJsonObject(folder + "/config.json");
    EXPECT_EQ(str(o.value("dataset").toString()), "/data/mnist");
    EXPECT_EQ(str(o.value("format").toString()), "bnlab-config");
    EXPECT_EQ(str(o.value("seed").toString()), "42");
    EXPECT_EQ(o.value("learning_rate").toDouble(), 0.1);
    o.remove("dataset");
    const RunConfig back = bnlab::app::fromJson(o, "config.json");
    EXPECT_EQ(bnlab::app::toJson(back), bnlab::app::toJson(config));
    EXPECT_EQ(back.train.optimizer.learningRate, 0.1f);
    EXPECT_EQ(back.train.seed, 42u);
}

TEST_F(RunWriterTest, RunInfoJsonListsLayersParamsAndCounts) {
    const QString folder = path("run");
    writeRun(folder, sampleConfig());
    const QJsonObject o = readJsonObject(folder + "/run_info.json");
    EXPECT_EQ(str(o.value("format").toString()), "bnlab-run-info");
    EXPECT_EQ(o.value("layers").toArray(), QJsonArray({"dense1", "bn1", "sigmoid1", "output"}));
    EXPECT_EQ(o.value("blocks").toArray(), QJsonArray({"dense1"}));
    EXPECT_EQ(o.value("params").toArray().size(), 6);
    EXPECT_EQ(o.value("train_samples").toDouble(), 3000);
    EXPECT_EQ(o.value("validation_samples").toDouble(), 500);
    EXPECT_EQ(o.value("test_samples").toDouble(), 10000);
    EXPECT_EQ(o.value("steps_per_epoch").toDouble(), 50);
    EXPECT_EQ(o.value("total_steps").toDouble(), 3);
    EXPECT_EQ(o.value("threads").toInt(), 2);
}

TEST_F(RunWriterTest, StepsCsvHasTheHeaderAndOneLinePerStep) {
    const QString folder = path("run");
    writeRun(folder, sampleConfig());
    const auto lines = readLines(folder + "/steps.csv");
    const auto steps = sampleSteps();
    ASSERT_EQ(lines.size(), steps.size() + 1);
    EXPECT_EQ(lines[0], "step,epoch,samples,seconds,loss,accuracy,loss_ema,accuracy_ema");
    for (std::size_t i = 0; i < steps.size(); ++i) {
        SCOPED_TRACE(lines[i + 1]);
        const auto cells = splitCsv(lines[i + 1]);
        ASSERT_EQ(cells.size(), 8u);
        const StepRecord& r = steps[i];
        EXPECT_EQ(std::stol(cells[0]), r.step);
        EXPECT_EQ(std::stod(cells[1]), r.epoch);
        EXPECT_EQ(std::stoll(cells[2]), r.samples);
        EXPECT_EQ(std::stod(cells[3]), r.seconds);
        EXPECT_EQ(std::stod(cells[4]), r.loss);
        EXPECT_EQ(std::stod(cells[5]), r.accuracy);
        EXPECT_EQ(std::stod(cells[6]), r.lossEma);
        EXPECT_EQ(std::stod(cells[7]), r.accuracyEma);
    }
}

TEST_F(RunWriterTest, EvalsCsvHasTheHeaderAndOneLinePerEvaluation) {
    const QString folder = path("run");
    writeRun(folder, sampleConfig());
    const auto lines = readLines(folder + "/evals.csv");
    const auto evals = sampleEvals();
    ASSERT_EQ(lines.size(), evals.size() + 1);
    EXPECT_EQ(lines[0], "step,epoch,samples,seconds,split,loss,accuracy,epoch_end");
    for (std::size_t i = 0; i < evals.size(); ++i) {
        SCOPED_TRACE(lines[i + 1]);
        const auto cells = splitCsv(lines[i + 1]);
        ASSERT_EQ(cells.size(), 8u);
        const EvalRecord& r = evals[i];
        EXPECT_EQ(std::stol(cells[0]), r.step);
        EXPECT_EQ(std::stod(cells[1]), r.epoch);
        EXPECT_EQ(std::stoll(cells[2]), r.samples);
        EXPECT_EQ(std::stod(cells[3]), r.seconds);
        EXPECT_EQ(cells[4], r.split);
        EXPECT_EQ(std::stod(cells[5]), r.loss);
        EXPECT_EQ(std::stod(cells[6]), r.accuracy);
        EXPECT_EQ(cells[7], r.epochEnd ? "1" : "0");
    }
}

TEST_F(RunWriterTest, ProbesJsonlHasOneObjectPerLineWithTheExpectedFields) {
    const QString folder = path("run");
    writeRun(folder, sampleConfig());
    const auto lines = readLines(folder + "/probes.jsonl");
    ASSERT_EQ(lines.size(), 2u);
    const long expectedSteps[] = {1, 3};
    for (std::size_t i = 0; i < lines.size(); ++i) {
        SCOPED_TRACE(lines[i]);
        QJsonParseError error;
        const QJsonDocument doc = QJsonDocument::fromJson(QByteArray::fromStdString(lines[i]), &error);
        ASSERT_EQ(error.error, QJsonParseError::NoError) << str(error.errorString());
        ASSERT_TRUE(doc.isObject());
        const QJsonObject o = doc.object();
        EXPECT_EQ(o.value("step").toDouble(), double(expectedSteps[i]));
        EXPECT_DOUBLE_EQ(o.value("epoch").toDouble(), 0.02 * double(expectedSteps[i]));
        EXPECT_EQ(o.value("samples").toDouble(), 60.0 * double(expectedSteps[i]));
        EXPECT_EQ(o.value("percentile_levels").toArray(),
                  QJsonArray({0, 2, 6.681, 15, 15.866, 30.854, 50, 69.146, 84.134, 85, 93.319, 98, 100}));

        const QJsonArray acts = o.value("activations").toArray();
        ASSERT_EQ(acts.size(), 1);
        const QJsonObject act = acts[0].toObject();
        EXPECT_EQ(str(act.value("block").toString()), "dense1");
        const QJsonObject pre = act.value("pre").toObject();
        EXPECT_EQ(pre.value("percentiles").toArray(),
                  QJsonArray({-2, -1.5, -1.25, -1, -0.75, -0.5, 0, 0.5, 0.75, 1, 1.25, 1.5, 2}));
        EXPECT_EQ(pre.value("mean").toDouble(), 0.25);
        EXPECT_EQ(pre.value("std").toDouble(), 1.5);
        EXPECT_EQ(pre.value("hist_min").toDouble(), -2);
        EXPECT_EQ(pre.value("hist_max").toDouble(), 2);
        EXPECT_EQ(pre.value("count").toDouble(), 256);
        const QJsonArray hist = pre.value("histogram").toArray();
        ASSERT_EQ(hist.size(), kHistogramBins);
        EXPECT_EQ(hist[0].toDouble(), 7);
        EXPECT_EQ(hist[1].toDouble(), 1);
        const QJsonObject post = act.value("post").toObject();
        EXPECT_TRUE(post.value("percentiles").toArray()[12].isNull()) << "NaN must be written as null";
        EXPECT_TRUE(post.value("mean").isNull()) << "NaN must be written as null";

        const QJsonArray params = o.value("params").toArray();
        ASSERT_EQ(params.size(), 2);
        const QJsonObject w = params[0].toObject();
        EXPECT_EQ(str(w.value("name").toString()), "dense1.weight");
        EXPECT_EQ(w.value("grad_norm").toDouble(), 0.5);
        EXPECT_EQ(w.value("weight_norm").toDouble(), 3.25);
        EXPECT_EQ(w.value("update_ratio").toDouble(), 0.001);
        const QJsonObject g = params[1].toObject();
        EXPECT_TRUE(g.contains("grad_norm"));
        EXPECT_TRUE(g.value("grad_norm").isNull()) << "NaN must be written as null";
        EXPECT_TRUE(g.value("weight_norm").isNull()) << "infinity must be written as null";
        EXPECT_EQ(g.value("update_ratio").toDouble(), 0.25);

        const QJsonArray bns = o.value("batchnorm").toArray();
        ASSERT_EQ(bns.size(), 1);
        const QJsonObject bn = bns[0].toObject();
        EXPECT_EQ(str(bn.value("layer").toString()), "bn1");
        EXPECT_EQ(bn.value("features").toArray(), QJsonArray({0, 3}));
        const QJsonArray batchMean = bn.value("batch_mean").toArray();
        ASSERT_EQ(batchMean.size(), 2);
        EXPECT_EQ(batchMean[0].toDouble(), 0.5);
        EXPECT_TRUE(batchMean[1].isNull()) << "NaN must be written as null";
        EXPECT_EQ(bn.value("batch_var").toArray(), QJsonArray({1.5, 2.5}));
        EXPECT_EQ(bn.value("running_mean").toArray(), QJsonArray({0.25, 0.125}));
        EXPECT_EQ(bn.value("running_var").toArray(), QJsonArray({1, 2}));
    }
}

TEST_F(RunWriterTest, SummaryJsonAppearsOnlyAtOnFinish) {
    const QString folder = path("run");
    RunWriter w(folder, sampleConfig(), "/data/mnist");
    w.onStart(sampleInfo());
    for (const StepRecord& r : sampleSteps()) w.onStep(r);
    for (const EvalRecord& r : sampleEvals()) w.onEval(r);
    EXPECT_FALSE(QFileInfo::exists(folder + "/summary.json"));
    w.onFinish(sampleSummary());
    ASSERT_TRUE(QFileInfo(folder + "/summary.json").isFile());
    const QJsonObject o = readJsonObject(folder + "/summary.json");
    EXPECT_EQ(str(o.value("format").toString()), "bnlab-summary");
    EXPECT_EQ(str(o.value("stopped_reason").toString()), "max_steps");
    EXPECT_EQ(str(o.value("message").toString()), "reached max_steps 3");
    EXPECT_EQ(o.value("test_accuracy").toDouble(), 0.46875);
    EXPECT_EQ(o.value("test_loss").toDouble(), 1.625);
    EXPECT_EQ(o.value("val_accuracy").toDouble(), 0.5);
    EXPECT_EQ(o.value("val_loss").toDouble(), 1.5);
    EXPECT_EQ(o.value("steps").toDouble(), 3);
    EXPECT_EQ(o.value("epochs").toDouble(), 0.06);
    EXPECT_EQ(o.value("samples").toDouble(), 180);
    EXPECT_EQ(o.value("seconds").toDouble(), 2.5);
    EXPECT_EQ(o.value("training_seconds").toDouble(), 1.5);
    EXPECT_EQ(o.value("samples_per_second").toDouble(), 120);
    EXPECT_EQ(o.value("probes").toDouble(), 2);
    EXPECT_EQ(o.value("probe_seconds").toDouble(), 0.0625);
    EXPECT_EQ(o.value("session_training_seconds").toDouble(), 1.25);
    EXPECT_FALSE(o.contains("diverged_step"));
    EXPECT_FALSE(o.contains("diverged_layer"));
    // Everything before the summary is on disk once the run ended.
    EXPECT_EQ(readLines(folder + "/steps.csv").size(), sampleSteps().size() + 1);
    EXPECT_EQ(readLines(folder + "/evals.csv").size(), sampleEvals().size() + 1);
}

TEST_F(RunWriterTest, SummaryOfADivergedRunNamesStepAndLayerWithNullAccuracies) {
    const QString folder = path("run");
    RunWriter w(folder, sampleConfig(), "/data/mnist");
    w.onStart(sampleInfo());
    w.onStep(sampleSteps()[0]);
    RunSummary s;
    s.reason = StopReason::Diverged;
    s.message = "diverged at step 2";
    s.steps = 1;
    s.divergedStep = 2;
    s.divergedLayer = "dense2";
    s.hasValidation = true;
    s.valLoss = kNaN;  // NaN → null
    s.valAccuracy = std::numeric_limits<double>::infinity();
    w.onFinish(s);
    const QJsonObject o = readJsonObject(folder + "/summary.json");
    EXPECT_EQ(str(o.value("stopped_reason").toString()), "diverged");
    EXPECT_EQ(o.value("diverged_step").toDouble(), 2);
    EXPECT_EQ(str(o.value("diverged_layer").toString()), "dense2");
    for (const char* key : {"val_loss", "val_accuracy", "test_loss", "test_accuracy"}) {
        EXPECT_TRUE(o.contains(key)) << key;
        EXPECT_TRUE(o.value(key).isNull()) << key;
    }
}

// probes.jsonl is written without QJsonObject: names with quotes, backslashes, control and non-ASCII characters
// come back as they were, and every number reads back to the same value (floats as floats, doubles as doubles).
TEST(RunWriterJson, AProbeLineReadsBackToTheSameNamesAndValues) {
    ProbeSnapshot p;
    p.step = 123456789012;
    p.epoch = 1.0 / 3.0;
    p.samples = 1LL << 40;
    p.seconds = 1e-300;
    ActivationProbe a;
    a.block = "a \"quoted\" \\ block\n\ttab \x01 μ";
    a.pre.percentiles.fill(0.1f);
    a.pre.percentiles[1] = 1e-30f;
    a.pre.percentiles[2] = -3.4e38f;
    a.pre.percentiles[3] = std::numeric_limits<float>::denorm_min();
    a.pre.mean = 0.1;
    a.pre.stddev = 2.0 / 3.0;
    a.pre.histogramMin = -0.0f;
    a.pre.histogramMax = 16777217.0f;
    a.pre.histogram.assign(kHistogramBins, 4294967295u);
    a.pre.count = 8192;
    a.post = a.pre;
    a.post.histogramMax = std::numeric_limits<float>::infinity();
    p.activations.push_back(a);
    const std::string line = bnlab::app::toJsonLine(p);
    EXPECT_EQ(line.find('\n'), std::string::npos) << "one line";
    QJsonParseError error;
    const QJsonObject o = QJsonDocument::fromJson(QByteArray::fromStdString(line), &error).object();
    ASSERT_EQ(error.error, QJsonParseError::NoError) << str(error.errorString()) << "\n" << line;
    EXPECT_EQ(o.value("step").toDouble(), 123456789012.0);
    EXPECT_EQ(o.value("epoch").toDouble(), 1.0 / 3.0);
    EXPECT_EQ(o.value("samples").toDouble(), double(1LL << 40));
    EXPECT_EQ(o.value("seconds").toDouble(), 1e-300);
    const QJsonObject act = o.value("activations").toArray()[0].toObject();
    EXPECT_EQ(act.value("block").toString().toStdString(), a.block);
    const QJsonObject pre = act.value("pre").toObject();
    const QJsonArray pct = pre.value("percentiles").toArray();
    ASSERT_EQ(pct.size(), qsizetype(kPercentiles.size()));
    for (std::size_t k = 0; k < kPercentiles.size(); ++k)
        EXPECT_EQ(float(pct[qsizetype(k)].toDouble()), a.pre.percentiles[k]) << k;
    EXPECT_EQ(pre.value("mean").toDouble(), 0.1);
    EXPECT_EQ(pre.value("std").toDouble(), 2.0 / 3.0);
    EXPECT_EQ(float(pre.value("hist_max").toDouble()), 16777217.0f);
    EXPECT_EQ(pre.value("histogram").toArray()[5].toDouble(), 4294967295.0);
    EXPECT_TRUE(act.value("post").toObject().value("hist_max").isNull()) << "infinity must be written as null";
}

TEST(RunWriterJson, SummaryStoppedReasonsAreTheDocumentedWords) {
    const std::vector<std::pair<StopReason, std::string>> reasons = {
        {StopReason::Completed, "completed"}, {StopReason::MaxSteps, "max_steps"},
        {StopReason::Stopped, "stopped"}, {StopReason::Diverged, "diverged"}};
    for (const auto& [reason, word] : reasons) {
        RunSummary s;
        s.reason = reason;
        EXPECT_EQ(str(bnlab::app::toJson(s).value("stopped_reason").toString()), word);
    }
}

TEST_F(RunWriterTest, RefusesAFolderThatHoldsARun) {
    const QString folder = path("run");
    writeRun(folder, sampleConfig());
    const std::string before = fileText(folder + "/config.json");
    const std::string stepsBefore = fileText(folder + "/steps.csv");
    RunConfig other = sampleConfig();
    bnlab::app::applySetting(other, "seed", "7");
    const std::string msg = errorOf([&] { RunWriter again(folder, other, "/data/mnist"); });
    EXPECT_THAT(msg, StartsWith(str(folder) + ":"));
    EXPECT_THAT(msg, HasSubstr("already holds a run"));
    EXPECT_EQ(fileText(folder + "/config.json"), before) << "the earlier run's config.json was overwritten";
    EXPECT_EQ(fileText(folder + "/steps.csv"), stepsBefore) << "the earlier run's steps.csv was overwritten";
}

TEST_F(RunWriterTest, RefusesAFolderWithOnlyASummary) {
    const QString folder = path("run");
    ASSERT_TRUE(QDir().mkpath(folder));
    QFile f(folder + "/summary.json");
    ASSERT_TRUE(f.open(QIODevice::WriteOnly));
    f.write("{}");
    f.close();
    EXPECT_THAT(errorOf([&] { RunWriter w(folder, sampleConfig(), "/data/mnist"); }), StartsWith(str(folder) + ":"));
    EXPECT_FALSE(QFileInfo::exists(folder + "/config.json"));
}

TEST_F(RunWriterTest, AcceptsAnExistingEmptyFolder) {
    const QString folder = path("empty");
    ASSERT_TRUE(QDir().mkpath(folder));
    EXPECT_NO_THROW(RunWriter w(folder, sampleConfig(), "/data/mnist"));
    EXPECT_TRUE(QFileInfo(folder + "/config.json").isFile());
}

TEST_F(RunWriterTest, AFolderUnderARegularFileIsAnErrorNamingThePath) {
    const QString file = path("file.txt");
    QFile f(file);
    ASSERT_TRUE(f.open(QIODevice::WriteOnly));
    f.write("not a folder\n");
    f.close();
    const QString folder = file + "/run";
    const std::string msg = errorOf([&] { RunWriter w(folder, sampleConfig(), "/data/mnist"); });
    EXPECT_THAT(msg, HasSubstr(str(folder)));
    EXPECT_TRUE(QFileInfo(file).isFile());
    EXPECT_EQ(fileText(file), "not a folder\n");
}

TEST_F(RunWriterTest, AFolderThatIsARegularFileIsAnErrorNamingIt) {
    const QString file = path("run");
    QFile f(file);
    ASSERT_TRUE(f.open(QIODevice::WriteOnly));
    f.write("x");
    f.close();
    const std::string msg = errorOf([&] { RunWriter w(file, sampleConfig(), "/data/mnist"); });
    EXPECT_THAT(msg, StartsWith(str(file) + ":"));
    EXPECT_EQ(fileText(file), "x");
}
