// bnlab-cli end to end: the program is run as a user runs it (std::system, output captured to files) and
// its exit status, its messages and the run folder it writes are checked. Runs are tiny (30 steps on
// 3000 images); settings that fail validation use a small synthetic dataset so that they do not pay for
// loading MNIST.

#include "run_config.h"
#include "presets.h"
#include "experiments.h"
#include "run_reader.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTemporaryDir>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#ifndef BNLAB_CLI_PATH
#error "BNLAB_CLI_PATH must be defined as the path of the bnlab-cli executable"
#endif
#ifndef BNLAB_TEST_DATASETS
#error "BNLAB_TEST_DATASETS must be defined as the path of the repository's datasets/ folder"
#endif

using ::testing::HasSubstr;
using ::testing::StartsWith;

namespace {

const std::string kMnist = std::string(BNLAB_TEST_DATASETS) + "/mnist";
const std::string kFashion = "/usr/share/datasets/fashion-mnist";  // Debian's dataset-fashion-mnist

std::string quote(const std::string& s) {
    std::string out = "'";
    for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
}

std::string readText(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

void writeText(const std::string& path, const std::string& text) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
    ASSERT_TRUE(out.good()) << "cannot write " << path;
}

std::vector<std::string> lines(const std::string& text) {
    std::vector<std::string> out;
    std::stringstream ss(text);
    for (std::string line; std::getline(ss, line);) out.push_back(line);
    return out;
}

bool exists(const std::string& path) { return QFileInfo::exists(QString::fromStdString(path)); }

QJsonObject readJson(const std::string& path) {
    QFile f(QString::fromStdString(path));
    EXPECT_TRUE(f.open(QIODevice::ReadOnly)) << "cannot read " << path;
    QJsonParseError error;
    const QJsonDocument doc = QJsonDocument::fromJson(f.readAll(), &error);
    EXPECT_EQ(error.error, QJsonParseError::NoError) << path << ": " << error.errorString().toStdString();
    EXPECT_TRUE(doc.isObject()) << path;
    return doc.object();
}

// The loss column of a steps.csv, as text (the same seed must give the same digits).
std::vector<std::string> lossColumn(const std::string& stepsCsv) {
    const auto rows = lines(readText(stepsCsv));
    EXPECT_FALSE(rows.empty()) << stepsCsv;
    std::vector<std::string> losses;
    for (std::size_t i = 1; i < rows.size(); ++i) {
        std::stringstream ss(rows[i]);
        std::string cell;
        for (int c = 0; c <= 4 && std::getline(ss, cell, ','); ++c) {}
        losses.push_back(cell);
    }
    return losses;
}

struct CliResult {
    int status = -1;  // exit status; -1 when the program did not exit normally
    std::string out, err;
};

// Big-endian IDX file: magic 0x0000080N, dimensions, uint8 data.
void writeIdx(const std::string& path, const std::vector<std::uint32_t>& dims, const std::vector<std::uint8_t>& data) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    auto be32 = [&](std::uint32_t v) {
        const char b[4] = {char(v >> 24), char(v >> 16), char(v >> 8), char(v)};
        out.write(b, 4);
    };
    be32(0x00000800u | std::uint32_t(dims.size()));
    for (std::uint32_t d : dims) be32(d);
    out.write(reinterpret_cast<const char*>(data.data()), std::streamsize(data.size()));
    ASSERT_TRUE(out.good()) << "cannot write " << path;
}

class CliTest : public ::testing::Test {
protected:
    void SetUp() override { ASSERT_TRUE(m_tmp.isValid()); }

    std::string path(const std::string& name) const { return m_tmp.filePath(QString::fromStdString(name)).toStdString(); }

    // Runs bnlab-cli with `args` (already quoted where needed) from the temporary folder; `prefix` goes before
    // the program (e.g. "env -u DISPLAY ").
    CliResult run(const std::string& args, const std::string& prefix = "") {
        const std::string out = path("cli-stdout.txt"), err = path("cli-stderr.txt");
        const std::string command = "cd " + quote(m_tmp.path().toStdString()) + " && " + prefix + quote(BNLAB_CLI_PATH) +
                                    " " + args + " >" + quote(out) + " 2>" + quote(err) + " </dev/null";
        const int raw = std::system(command.c_str());
        CliResult r;
        r.status = raw != -1 && WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
        r.out = readText(out);
        r.err = readText(err);
        return r;
    }

    // A small valid dataset folder: 1000 training and 200 test images of 28x28, labels 0..9.
    std::string tinyDataset() {
        const std::string dir = path("tiny");
        if (exists(dir)) return dir;
        EXPECT_TRUE(QDir().mkpath(QString::fromStdString(dir)));
        std::uint32_t state = 12345;
        auto make = [&](const std::string& prefix, std::uint32_t n) {
            std::vector<std::uint8_t> pixels(std::size_t(n) * 28 * 28), labels(n);
            for (auto& p : pixels) p = std::uint8_t((state = state * 1664525u + 1013904223u) >> 24);
            for (std::uint32_t i = 0; i < n; ++i) labels[i] = std::uint8_t(i % 10);
            writeIdx(dir + "/" + prefix + "-images-idx3-ubyte", {n, 28, 28}, pixels);
            writeIdx(dir + "/" + prefix + "-labels-idx1-ubyte", {n}, labels);
        };
        make("train", 1000);
        make("t10k", 200);
        return dir;
    }

    // The error contract: a non-zero exit, one line on stderr naming the culprit, nothing in --out.
    void expectOneLineError(const CliResult& r, const std::string& culprit, const std::string& outDir, int status = 1) {
        EXPECT_EQ(r.status, status) << r.err;
        const auto errLines = lines(r.err);
        ASSERT_EQ(errLines.size(), 1u) << "expected one line on stderr, got:\n" << r.err;
        EXPECT_THAT(errLines[0], StartsWith("bnlab-cli: "));
        EXPECT_THAT(errLines[0], HasSubstr(culprit));
        EXPECT_FALSE(exists(outDir)) << "--out " << outDir << " was created";
    }

    // The short real run, on the bundled MNIST that bnlab-cli finds by itself.
    CliResult shortRun(const std::string& out, const std::string& extra = "") {
        return run("train --preset bn-paper-mlp --set max_steps=30 --set train_size=3000 --set validation_size=500 "
                   "--set probe_interval=10 --out " + quote(out) + " --quiet " + extra);
    }

    QTemporaryDir m_tmp;
};

}  // namespace

TEST_F(CliTest, PresetsListsTheFourPresets) {
    const CliResult r = run("presets");
    EXPECT_EQ(r.status, 0) << r.err;
    const auto rows = lines(r.out);
    ASSERT_EQ(rows.size(), bnlab::app::presets().size()) << r.out;
    ASSERT_EQ(rows.size(), 4u);
    for (std::size_t i = 0; i < rows.size(); ++i)
        EXPECT_THAT(rows[i], StartsWith(bnlab::app::presets()[i].name.toStdString() + " "));
}

TEST_F(CliTest, TrainHelpMentionsEveryKey) {
    for (const char* args : {"train --help", "help train"}) {
        SCOPED_TRACE(args);
        const CliResult r = run(args);
        EXPECT_EQ(r.status, 0) << r.err;
        ASSERT_FALSE(bnlab::app::configKeys().empty());
        for (const auto& k : bnlab::app::configKeys())
            EXPECT_THAT(r.out, HasSubstr("  " + k.name.toStdString() + " ")) << k.name.toStdString();
        EXPECT_THAT(r.out, HasSubstr("exit status"));
    }
}

TEST_F(CliTest, NoCommandAndUnknownCommandAreUsageErrors) {
    CliResult r = run("");
    EXPECT_EQ(r.status, 2);
    EXPECT_THAT(r.err, StartsWith("bnlab-cli: no command given"));
    r = run("fly");
    EXPECT_EQ(r.status, 2);
    EXPECT_THAT(r.err, StartsWith("bnlab-cli: unknown command 'fly'"));
}

TEST_F(CliTest, BatchSizeZeroIsRefused) {
    const std::string out = path("out");
    expectOneLineError(run("train --set batch_size=0 --out " + quote(out)), "batch_size", out);
}

TEST_F(CliTest, BnMomentumOneIsRefused) {
    const std::string out = path("out");
    expectOneLineError(run("train --set bn_momentum=1 --data " + quote(tinyDataset()) + " --out " + quote(out)),
                       "bn_momentum", out);
}

TEST_F(CliTest, LearningRateNanIsRefused) {
    const std::string out = path("out");
    expectOneLineError(run("train --set learning_rate=nan --data " + quote(tinyDataset()) + " --out " + quote(out)),
                       "learning_rate", out);
}

TEST_F(CliTest, UnknownKeyIsRefused) {
    const std::string out = path("out");
    expectOneLineError(run("train --set batchsize=32 --out " + quote(out)), "batchsize", out);
}

TEST_F(CliTest, MalformedValueIsRefused) {
    const std::string out = path("out");
    expectOneLineError(run("train --set epochs=1.5 --out " + quote(out)), "epochs", out);
}

TEST_F(CliTest, UnknownPresetIsRefused) {
    const std::string out = path("out");
    expectOneLineError(run("train --preset resnet-50 --out " + quote(out)), "resnet-50", out);
}

TEST_F(CliTest, MissingDataFolderIsRefused) {
    const std::string out = path("out"), data = path("no-such-dataset");
    expectOneLineError(run("train --data " + quote(data) + " --out " + quote(out)), data, out);
}

TEST_F(CliTest, CorruptImagesFileIsRefused) {
    const std::string data = path("corrupt"), out = path("out");
    ASSERT_TRUE(QDir().mkpath(QString::fromStdString(data)));
    for (const char* f : {"train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"})
        ASSERT_TRUE(QFile::copy(QString::fromStdString(kMnist + "/" + f), QString::fromStdString(data + "/" + f))) << f;
    writeText(data + "/train-images-idx3-ubyte", "this is not an IDX file, just some garbage bytes\n");
    expectOneLineError(run("train --data " + quote(data) + " --out " + quote(out)), "train-images-idx3-ubyte", out);
}

TEST_F(CliTest, OutUnderARegularFileIsRefused) {
    const std::string file = path("file.txt"), out = file + "/run";
    writeText(file, "a file\n");
    expectOneLineError(run("train --set validation_size=100 --data " + quote(tinyDataset()) + " --out " + quote(out)),
                       out, out);
    EXPECT_EQ(readText(file), "a file\n");
}

TEST_F(CliTest, LastBatchOfOneThroughBnIsRefused) {
    const std::string out = path("out");
    expectOneLineError(run("train --set train_size=121 --set batch_size=60 --set validation_size=100 --data " +
                           quote(tinyDataset()) + " --out " + quote(out)),
                       "batch_size", out);
}

TEST_F(CliTest, TheTinyDatasetItselfTrains) {
    // The refusals above that use the synthetic dataset are refusals of the setting, not of the data.
    const std::string out = path("out");
    const CliResult r = run("train --set validation_size=100 --set max_steps=3 --data " + quote(tinyDataset()) +
                            " --out " + quote(out) + " --quiet");
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_TRUE(exists(out + "/summary.json"));
}

TEST_F(CliTest, AnOutFolderHoldingARunIsRefusedAndKept) {
    const std::string out = path("out");
    const std::string args = "train --set validation_size=100 --set max_steps=3 --data " + quote(tinyDataset()) +
                             " --out " + quote(out) + " --quiet";
    ASSERT_EQ(run(args).status, 0);
    const std::string steps = readText(out + "/steps.csv"), summary = readText(out + "/summary.json");
    const CliResult r = run(args + " --set seed=2");
    EXPECT_EQ(r.status, 1) << r.err;
    const auto errLines = lines(r.err);
    ASSERT_EQ(errLines.size(), 1u) << r.err;
    EXPECT_THAT(errLines[0], HasSubstr(out));
    EXPECT_THAT(errLines[0], HasSubstr("already holds a run"));
    EXPECT_EQ(readText(out + "/steps.csv"), steps);
    EXPECT_EQ(readText(out + "/summary.json"), summary);
}

TEST_F(CliTest, PresetAndConfigTogetherIsAUsageError) {
    const std::string config = path("config.json"), out = path("out");
    QJsonDocument doc(bnlab::app::toJson(bnlab::app::findPreset("bn-paper-mlp").config));
    writeText(config, doc.toJson().toStdString());
    const CliResult r = run("train --preset bn-paper-mlp --config " + quote(config) + " --out " + quote(out));
    EXPECT_EQ(r.status, 2) << r.err;
    const auto errLines = lines(r.err);
    ASSERT_FALSE(errLines.empty());
    EXPECT_THAT(errLines[0], StartsWith("bnlab-cli: "));
    EXPECT_THAT(errLines[0], HasSubstr("--preset"));
    EXPECT_THAT(errLines[0], HasSubstr("--config"));
    EXPECT_FALSE(exists(out));
}

TEST_F(CliTest, ShortRunWritesTheWholeRunFolder) {
    const std::string out = path("run1");
    const CliResult r = shortRun(out);
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.err, "") << "--quiet prints nothing";

    const QJsonObject config = readJson(out + "/config.json");
    EXPECT_EQ(config.value("format").toString().toStdString(), "bnlab-config");
    EXPECT_EQ(config.value("preset").toString().toStdString(), "bn-paper-mlp");
    EXPECT_EQ(config.value("max_steps").toDouble(), 30);
    EXPECT_EQ(config.value("train_size").toDouble(), 3000);
    EXPECT_EQ(config.value("probe_interval").toDouble(), 10);
    EXPECT_EQ(config.value("dataset").toString(), QFileInfo(QString::fromStdString(kMnist)).absoluteFilePath());
    EXPECT_TRUE(exists(out + "/run_info.json"));

    const auto steps = lines(readText(out + "/steps.csv"));
    ASSERT_EQ(steps.size(), 31u);
    EXPECT_EQ(steps[0], "step,epoch,samples,seconds,loss,accuracy,loss_ema,accuracy_ema");
    for (std::size_t i = 1; i < steps.size(); ++i) EXPECT_THAT(steps[i], StartsWith(std::to_string(i) + ","));
    for (const std::string& loss : lossColumn(out + "/steps.csv")) {
        const double v = std::stod(loss);
        EXPECT_GT(v, 0);
        EXPECT_LT(v, 10);
    }

    const auto evals = lines(readText(out + "/evals.csv"));
    ASSERT_GE(evals.size(), 2u);
    EXPECT_EQ(evals[0], "step,epoch,samples,seconds,split,loss,accuracy,epoch_end");
    EXPECT_THAT(evals.back(), StartsWith("30,"));
    EXPECT_THAT(evals.back(), HasSubstr(",test,"));

    const auto probes = lines(readText(out + "/probes.jsonl"));
    ASSERT_EQ(probes.size(), 4u) << "probes at steps 1, 10, 20 and 30";
    const double probeSteps[] = {1, 10, 20, 30};
    for (std::size_t i = 0; i < probes.size(); ++i) {
        const QJsonDocument doc = QJsonDocument::fromJson(QByteArray::fromStdString(probes[i]));
        ASSERT_TRUE(doc.isObject()) << probes[i];
        EXPECT_EQ(doc.object().value("step").toDouble(), probeSteps[i]);
        EXPECT_FALSE(doc.object().value("activations").toArray().isEmpty());
        EXPECT_FALSE(doc.object().value("batchnorm").toArray().isEmpty());
    }

    const QJsonObject summary = readJson(out + "/summary.json");
    EXPECT_EQ(summary.value("stopped_reason").toString().toStdString(), "max_steps");
    EXPECT_EQ(summary.value("steps").toDouble(), 30);
    ASSERT_TRUE(summary.value("test_accuracy").isDouble());
    EXPECT_GE(summary.value("test_accuracy").toDouble(), 0.0);
    EXPECT_LE(summary.value("test_accuracy").toDouble(), 1.0);
}

TEST_F(CliTest, ConfigOfARunReproducesItsLosses) {
    const std::string first = path("run1"), second = path("run2");
    ASSERT_EQ(shortRun(first).status, 0);
    const CliResult r = run("train --config " + quote(first + "/config.json") + " --out " + quote(second) + " --quiet");
    ASSERT_EQ(r.status, 0) << r.err;
    const auto a = lossColumn(first + "/steps.csv");
    EXPECT_EQ(a.size(), 30u);
    EXPECT_EQ(lossColumn(second + "/steps.csv"), a);
}

TEST_F(CliTest, ADivergingRunExitsThreeAndNamesStepAndLayer) {
    const std::string out = path("diverged");
    const CliResult r = run("train --preset bn-paper-mlp-nobn --set activation=relu --set init=gaussian "
                            "--set init_scale=10 --set learning_rate=1000 --set max_steps=200 --set train_size=3000 "
                            "--set validation_size=500 --data " + quote(kMnist) + " --out " + quote(out) + " --quiet");
    EXPECT_EQ(r.status, 3) << r.err;
    EXPECT_THAT(r.err, HasSubstr("diverged at step"));
    const QJsonObject summary = readJson(out + "/summary.json");
    EXPECT_EQ(summary.value("stopped_reason").toString().toStdString(), "diverged");
    ASSERT_TRUE(summary.value("diverged_step").isDouble());
    const double step = summary.value("diverged_step").toDouble();
    EXPECT_GE(step, 1);
    EXPECT_LT(step, 200);
    EXPECT_FALSE(summary.value("diverged_layer").toString().isEmpty());
    EXPECT_THAT(r.err, HasSubstr("diverged at step " + std::to_string(long(step))));
    EXPECT_THAT(r.err, HasSubstr(summary.value("diverged_layer").toString().toStdString()));
    EXPECT_TRUE(summary.value("test_accuracy").isNull());
    // Every completed step before the divergence is in steps.csv.
    EXPECT_EQ(lines(readText(out + "/steps.csv")).size(), std::size_t(step));
}

TEST_F(CliTest, ThreadCountDoesNotChangeTheLosses) {
    // The MLP of the short run, on the synthetic dataset (the numbers depend on the thread count only if the
    // parallel split of the work leaks into them, which the data does not affect).
    const std::string one = path("threads1"), two = path("threads2");
    const std::string args = "train --preset bn-paper-mlp --set max_steps=30 --set validation_size=100 "
                             "--set probe_interval=10 --quiet --data " + quote(tinyDataset());
    ASSERT_EQ(run(args + " --threads 1 --out " + quote(one)).status, 0);
    ASSERT_EQ(run(args + " --threads 2 --out " + quote(two)).status, 0);
    EXPECT_EQ(readJson(one + "/config.json").value("threads").toDouble(), 1);
    EXPECT_EQ(readJson(two + "/config.json").value("threads").toDouble(), 2);
    EXPECT_EQ(readJson(one + "/run_info.json").value("threads").toDouble(), 1);
    EXPECT_EQ(readJson(two + "/run_info.json").value("threads").toDouble(), 2);
    const auto a = lossColumn(one + "/steps.csv");
    EXPECT_EQ(a.size(), 30u);
    EXPECT_EQ(lossColumn(two + "/steps.csv"), a);
    // The probes (activation distributions, gradient norms, BN statistics) are identical too, but for the time
    // each was taken.
    auto withoutTime = [&](const std::string& folder) {
        std::vector<QJsonObject> out;
        for (const std::string& line : lines(readText(folder + "/probes.jsonl"))) {
            QJsonObject o = QJsonDocument::fromJson(QByteArray::fromStdString(line)).object();
            EXPECT_TRUE(o.value("seconds").isDouble());
            o.remove("seconds");
            out.push_back(o);
        }
        return out;
    };
    const std::vector<QJsonObject> probes = withoutTime(one);
    EXPECT_EQ(probes.size(), 4u);
    EXPECT_EQ(withoutTime(two), probes);
}

TEST_F(CliTest, TrainsOnFashionMnistAndRecordsItsFolder) {
    ASSERT_TRUE(exists(kFashion + "/train-images-idx3-ubyte.gz") || exists(kFashion + "/train-images-idx3-ubyte"))
        << kFashion << " is missing: install Debian's dataset-fashion-mnist (see README.md)";
    const std::string out = path("fashion");
    const CliResult r = run("train --data " + quote(kFashion) + " --set max_steps=5 --set validation_size=500 --out " +
                            quote(out));
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_THAT(r.err, HasSubstr("fashion-mnist"));
    EXPECT_EQ(readJson(out + "/config.json").value("dataset").toString().toStdString(), kFashion);
    EXPECT_EQ(readJson(out + "/summary.json").value("stopped_reason").toString().toStdString(), "max_steps");
    EXPECT_EQ(lines(readText(out + "/steps.csv")).size(), 6u);
}

namespace {

// Ctrl-C stops the run after its current step and keeps everything, also with --quiet (no progress sink).
TEST_F(CliTest, InterruptStopsTheRunAndKeepsItsFolderEvenWhenQuiet) {
    const std::string out = path("interrupted");
    // `timeout -s INT` sends SIGINT to bnlab-cli after 2 s, well before this long run could end. --foreground: to
    // bnlab-cli alone; without it timeout signals the process and its group, and a second Ctrl-C is meant to
    // exit at once (without a summary), which made this test fail now and then.
    const std::string command = "timeout --foreground --preserve-status -s INT 2 " + quote(BNLAB_CLI_PATH) +
                                " train --preset bn-paper-mlp --set epochs=100 --quiet --data " +
                                quote(std::string(BNLAB_TEST_DATASETS) + "/mnist") + " --out " + quote(out) +
                                " </dev/null >/dev/null 2>&1";
    const int raw = std::system(command.c_str());
    ASSERT_TRUE(raw != -1 && WIFEXITED(raw));
    EXPECT_EQ(WEXITSTATUS(raw), 130) << "an interrupted run exits 130";
    const std::string summary = readText(out + "/summary.json");
    EXPECT_NE(summary.find("\"stopped\""), std::string::npos) << summary;
    EXPECT_GT(readText(out + "/steps.csv").size(), 100u);
}

}  // namespace

TEST_F(CliTest, PlannedChangesApplyAtTheirStepsAreRecordedAndReproducedByTheConfig) {
    const std::string first = path("planned1"), second = path("planned2"), plain = path("plain");
    const CliResult r = shortRun(first, "--at 10:learning_rate=0.5 --at 20:block.2.norm=none --at 15:batch_size=100");
    ASSERT_EQ(r.status, 0) << r.err;
    ASSERT_EQ(shortRun(plain).status, 0);

    // changes.jsonl: one line per change, in step order, applied.
    const auto changeLines = lines(readText(first + "/changes.jsonl"));
    ASSERT_EQ(changeLines.size(), 3u);
    const char* keys[] = {"learning_rate", "batch_size", "block.2.norm"};
    const double steps[] = {10, 15, 20};
    for (std::size_t i = 0; i < 3; ++i) {
        const QJsonObject c = QJsonDocument::fromJson(QByteArray::fromStdString(changeLines[i])).object();
        EXPECT_EQ(c.value("key").toString().toStdString(), keys[i]);
        EXPECT_EQ(c.value("step").toDouble(), steps[i]);
        EXPECT_TRUE(c.value("applied").toBool()) << changeLines[i];
    }
    // run_info.json follows the folded network.
    const QJsonArray layers = readJson(first + "/run_info.json").value("layers").toArray();
    for (const QJsonValue& l : layers) EXPECT_NE(l.toString(), "bn2");

    // Steps 1..10 are those of the plain run; step 11 is not (the new learning rate).
    const auto a = lossColumn(first + "/steps.csv"), b = lossColumn(plain + "/steps.csv");
    ASSERT_EQ(a.size(), 30u);
    for (std::size_t i = 0; i < 10; ++i) EXPECT_EQ(a[i], b[i]) << "step " << i + 1;
    EXPECT_NE(a[11], b[11]);

    // config.json keeps the plan, so the run can be made again exactly.
    const CliResult again = run("train --config " + quote(first + "/config.json") + " --out " + quote(second) + " --quiet");
    ASSERT_EQ(again.status, 0) << again.err;
    EXPECT_EQ(lossColumn(second + "/steps.csv"), a);
}

TEST_F(CliTest, ForkContinuesFromTheLatestCheckpointWithTheParentsPast) {
    const std::string parent = path("parent"), twin = path("twin"), branch = path("branch");
    ASSERT_EQ(shortRun(parent, "--set eval_interval=10").status, 0);  // checkpoints after steps 10, 20 and 30
    for (const char* step : {"10", "20", "30"})
        EXPECT_TRUE(exists(parent + "/checkpoints/step-000000" + step + ".bnckpt")) << step;

    const CliResult same = run("train --fork " + quote(parent) + " --at-step 25 --threads 2 --out " + quote(twin));
    ASSERT_EQ(same.status, 0) << same.err;
    EXPECT_THAT(same.err, HasSubstr("continues from the checkpoint of step 20, replays steps 21..25"));
    EXPECT_EQ(lossColumn(twin + "/steps.csv"), lossColumn(parent + "/steps.csv")) << "no change: the parent again";
    EXPECT_EQ(lines(readText(twin + "/evals.csv")).size(), lines(readText(parent + "/evals.csv")).size());

    const CliResult changed = run("train --fork " + quote(parent) + " --at-step 25 --set learning_rate=0.5 --quiet --out " +
                                  quote(branch));
    ASSERT_EQ(changed.status, 0) << changed.err;
    const auto a = lossColumn(branch + "/steps.csv"), b = lossColumn(parent + "/steps.csv");
    ASSERT_EQ(a.size(), 30u);
    for (std::size_t i = 0; i < 25; ++i) EXPECT_EQ(a[i], b[i]) << "step " << i + 1;
    EXPECT_NE(a[26], b[26]) << "step 27, the first whose loss sees the new learning rate";
    EXPECT_THAT(readText(branch + "/changes.jsonl"), HasSubstr("\"learning_rate\""));

    expectOneLineError(run("train --fork " + quote(parent) + " --at-step 31 --out " + quote(path("late"))),
                       "fork: step 31 is not in the run (it has steps 1..30)", path("late"));
    expectOneLineError(run("train --fork " + quote(parent) + " --at-step 5 --set epochs=2 --out " + quote(path("e"))),
                       "epochs", path("e"));
    expectOneLineError(run("train --fork " + quote(path("nowhere")) + " --at-step 5 --out " + quote(path("n"))),
                       "nowhere", path("n"));
    EXPECT_EQ(run("train --fork " + quote(parent) + " --out " + quote(path("u"))).status, 2);
    EXPECT_EQ(run("train --fork " + quote(parent) + " --at-step 5 --preset keras-cnn --out " + quote(path("u"))).status, 2);

    // A damaged checkpoint is passed over, saying so; the branch is the same.
    writeText(parent + "/checkpoints/step-00000020.bnckpt", "not a checkpoint");
    const std::string fallback = path("fallback");
    const CliResult r = run("train --fork " + quote(parent) + " --at-step 25 --out " + quote(fallback));
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_THAT(r.err, HasSubstr("continues from the checkpoint of step 10, replays steps 11..25; passed over: "));
    EXPECT_THAT(r.err, HasSubstr("step-00000020.bnckpt: not a BN Lab checkpoint"));
    EXPECT_EQ(lossColumn(fallback + "/steps.csv"), lossColumn(parent + "/steps.csv"));
}

TEST_F(CliTest, APlannedChangeOfASettingThatCannotChangeIsRefused) {
    const std::string out = path("badplan");
    expectOneLineError(run("train --at 5:epochs=3 --out " + quote(out)), "epochs: cannot change during a run", out);
    expectOneLineError(run("train --at soon:learning_rate=1 --out " + quote(out)), "STEP:KEY=VALUE", out);
    expectOneLineError(run("train --at 5:learning_rate=nan --out " + quote(out)), "learning_rate", out);
}

#ifdef BNLAB_HAVE_PLOT
// Width and height from a PNG's header (zeros for a file too short to be one).
static std::pair<unsigned, unsigned> pngSize(const std::string& bytes) {
    if (bytes.size() < 24) return {0u, 0u};
    auto be32 = [&](std::size_t at) {
        return (unsigned(std::uint8_t(bytes[at])) << 24) | (unsigned(std::uint8_t(bytes[at + 1])) << 16) |
               (unsigned(std::uint8_t(bytes[at + 2])) << 8) | unsigned(std::uint8_t(bytes[at + 3]));
    };
    return {be32(16), be32(20)};
}

// bnlab-cli plot, with no display at all: PNG of the requested size (width × scale, read from its header),
// SVG and PDF; clear one-line errors for an unknown chart, a missing run and an unwritable path.
TEST_F(CliTest, PlotDrawsSavedRunsHeadless) {
    const std::string runDir = path("plotted");
    ASSERT_EQ(shortRun(runDir).status, 0);
    const std::string noDisplay = "env -u DISPLAY -u WAYLAND_DISPLAY -u QT_QPA_PLATFORM ";
    auto plot = [&](const std::string& args) { return run("plot " + args, noDisplay); };
    const std::string png = path("loss.png");
    CliResult r = plot("--run " + quote(runDir) + " --chart loss-accuracy --width 900 --height 400 --scale 2 --out " + quote(png));
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.err, "") << "no platform chatter on stderr";
    const std::string bytes = readText(png);
    ASSERT_GT(bytes.size(), 24u);
    EXPECT_EQ(bytes.substr(1, 3), "PNG");
    EXPECT_EQ(pngSize(bytes), std::make_pair(1800u, 2u * (400 + 30)));
    EXPECT_GT(bytes.size(), 20000u) << "a real drawing compresses to more than a blank page";

    // Without --width and --height: 1000 x 500, but the confusion matrix about square.
    r = plot("--run " + quote(runDir) + " --chart loss --scale 1 --out " + quote(png));
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(pngSize(readText(png)), std::make_pair(1000u, 500u + 30));
    r = plot("--run " + quote(runDir) + " --chart confusion --scale 1 --out " + quote(png));
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(pngSize(readText(png)), std::make_pair(600u, 560u + 30));

    r = plot("--run " + quote(runDir) + " --chart activations --bands tensorboard --out " + quote(path("tb.svg")));
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_THAT(readText(path("tb.svg")), HasSubstr("TensorBoard"));
    r = plot("--run " + quote(runDir) + " --chart activations --bands tufte --out " + quote(path("tb.svg")));
    EXPECT_EQ(r.status, 1);
    EXPECT_THAT(r.err, HasSubstr("bands: unknown style 'tufte' (paper or tensorboard)"));
    for (const char* chart : {"grad-norms", "activations", "bn-stats"}) {
        const std::string svg = path(std::string(chart) + ".svg"), pdf = path(std::string(chart) + ".pdf");
        r = plot("--run " + quote(runDir) + " --chart " + chart + " --out " + quote(svg));
        ASSERT_EQ(r.status, 0) << r.err;
        EXPECT_THAT(readText(svg), HasSubstr("<svg"));
        r = plot("--run " + quote(runDir) + " --run " + quote(runDir) + " --chart " + chart + " --out " + quote(pdf));
        ASSERT_EQ(r.status, 0) << r.err;
        EXPECT_THAT(readText(pdf), StartsWith("%PDF-"));
    }

    // Two runs on shared axes and overlaid activations, each one image of the size asked for.
    for (const char* args : {"--chart loss-accuracy", "--chart activations --overlay --x time",
                             "--chart grad-norms --layer dense1.weight", "--chart bn-stats --layer bn2 --feature 1"}) {
        const std::string both = path("both.png");
        r = plot("--run " + quote(runDir) + " --run " + quote(runDir) + " " + args + " --width 700 --height 300 --scale 1 --out " +
                 quote(both));
        ASSERT_EQ(r.status, 0) << r.err;
        EXPECT_EQ(pngSize(readText(both)), std::make_pair(700u, 330u)) << args << ": one chart, not one per run";
    }

    r = plot("--run " + quote(runDir) + " --run " + quote(runDir) + " --chart grad-norms --layer dense9.weight --out " +
             quote(path("x.png")));
    EXPECT_EQ(r.status, 1);
    EXPECT_THAT(r.err, HasSubstr("no parameter 'dense9.weight'"));
    r = plot("--run " + quote(runDir) + " --chart histogram --out " + quote(path("x.png")));
    EXPECT_EQ(r.status, 1);
    EXPECT_THAT(r.err, HasSubstr("unknown chart 'histogram'"));
    r = plot("--run " + quote(path("no-such-run")) + " --chart loss --out " + quote(path("x.png")));
    EXPECT_EQ(r.status, 1);
    EXPECT_THAT(r.err, HasSubstr("no-such-run: not a folder"));
    r = plot("--run " + quote(runDir) + " --chart loss --out " + quote(path("missing/x.png")));
    EXPECT_EQ(r.status, 1);
    EXPECT_THAT(r.err, HasSubstr("missing/x.png: cannot write"));
    EXPECT_EQ(lines(r.err).size(), 1u) << r.err;
}

// Every guided experiment's quick version, on a small subset: its runs, figures, table and notes.
TEST_F(CliTest, EveryExperimentRunsAndWritesItsFiguresAndTable) {
    const CliResult list = run("experiments");
    ASSERT_EQ(list.status, 0) << list.err;
    for (const bnlab::app::Experiment& e : bnlab::app::experiments()) {
        SCOPED_TRACE(e.name.toStdString());
        EXPECT_THAT(list.out, HasSubstr(e.name.toStdString()));
        const std::string out = path("exp-" + e.name.toStdString());
        const CliResult r = run("experiment " + e.name.toStdString() + " --quick --quiet --out " + quote(out) +
                                " --data " + quote(kMnist) +
                                " --set train_size=600 --set validation_size=200 --set max_steps=6 --set probe_interval=3",
                                "env -u DISPLAY -u WAYLAND_DISPLAY -u QT_QPA_PLATFORM ");
        ASSERT_EQ(r.status, 0) << r.err;
        // summary.csv: a header and one row per run, in the experiment's order.
        const std::vector<std::string> rows = lines(readText(out + "/summary.csv"));
        ASSERT_EQ(rows.size(), e.runs.size() + 1);
        EXPECT_THAT(rows[0], StartsWith("run,preset,settings,steps,"));
        for (std::size_t i = 0; i < e.runs.size(); ++i) {
            EXPECT_THAT(rows[i + 1], StartsWith("\"" + e.runs[i].label.toStdString() + "\","));
            // 6 steps each, or fewer when 600 images make a shorter epoch (batch 128: 5).
            EXPECT_THAT(rows[i + 1], ::testing::AnyOf(HasSubstr(",6,"), HasSubstr(",completed,")));
            EXPECT_THAT(rows[i + 1], ::testing::Not(HasSubstr(",0,")));
        }
        // A run folder per run, finished.
        const QStringList folders = QDir(QString::fromStdString(out + "/runs")).entryList(QDir::Dirs | QDir::NoDotAndDotDot);
        ASSERT_EQ(std::size_t(folders.size()), e.runs.size());
        for (const QString& f : folders) EXPECT_TRUE(exists(out + "/runs/" + f.toStdString() + "/summary.json")) << f.toStdString();
        // Each figure in PNG and SVG, and the notes naming them.
        const std::string readme = readText(out + "/README.md");
        EXPECT_THAT(readme, HasSubstr(e.claim.left(40).toStdString()));
        for (const bnlab::app::ExperimentFigure& f : e.figures) {
            const std::string png = out + "/" + f.file.toStdString() + ".png";
            EXPECT_EQ(readText(png).substr(1, 3), "PNG") << png;
            EXPECT_GT(readText(png).size(), 10000u) << png << ": a drawing, not a blank page";
            EXPECT_THAT(readText(out + "/" + f.file.toStdString() + ".svg"), HasSubstr("<svg"));
            EXPECT_THAT(readme, HasSubstr(f.file.toStdString() + ".png"));
        }
    }
}

TEST_F(CliTest, NoisyBatchNormExperimentTrainsWithNoiseAndMeasuresTheLandscape) {
    const std::string out = path("exp-noisy");
    const CliResult r = run("experiment noisy-bn --quick --quiet --out " + quote(out) + " --data " + quote(kMnist) +
                                " --set train_size=600 --set validation_size=200 --set max_steps=8 --set probe_interval=4"
                                " --set landscape_interval=4",
                            "env -u DISPLAY -u WAYLAND_DISPLAY -u QT_QPA_PLATFORM ");
    ASSERT_EQ(r.status, 0) << r.err;
    const std::vector<std::string> rows = lines(readText(out + "/summary.csv"));
    ASSERT_EQ(rows.size(), 4u);
    EXPECT_THAT(rows[1], StartsWith("\"BN\",bn-paper-mlp,\"norm=before\",8,"));
    EXPECT_THAT(rows[2], StartsWith("\"BN + noise\",bn-paper-mlp,\"norm=before bn_noise=on\",8,"));
    EXPECT_THAT(rows[3], StartsWith("\"no BN\",bn-paper-mlp,\"norm=none\",8,"));
    // Every run measured the landscape at steps 1, 4 and 8; only the noisy run has noise layers.
    const QStringList folders = QDir(QString::fromStdString(out + "/runs")).entryList(QDir::Dirs | QDir::NoDotAndDotDot);
    ASSERT_EQ(folders.size(), 3);
    for (int i = 0; i < 3; ++i) {
        const bnlab::app::RunData run = bnlab::app::loadRun(QString::fromStdString(out + "/runs/") + folders[i]);
        EXPECT_EQ(run.landscape.size(), 3u) << folders[i].toStdString();
        EXPECT_EQ(run.config.train.batchNorm.noise, i == 1) << folders[i].toStdString();
        EXPECT_EQ(std::count(run.info.layers.begin(), run.info.layers.end(), "noise3"), i == 1 ? 1 : 0);
    }
    // The landscape figures can be drawn again from the folders, one weight layer or all.
    const std::string runs = " --run " + quote(out + "/runs/" + folders[0].toStdString()) + " --run " +
                             quote(out + "/runs/" + folders[1].toStdString());
    for (const std::string chart : {"ics --layer dense2", "ics", "loss-landscape", "beta-smoothness"}) {
        const CliResult p = run("plot" + runs + " --chart " + chart + " --out " + quote(path("l.png")),
                                "env -u DISPLAY -u WAYLAND_DISPLAY -u QT_QPA_PLATFORM ");
        EXPECT_EQ(p.status, 0) << chart << ": " << p.err;
    }
    const CliResult bad = run("plot" + runs + " --chart ics --layer conv9 --out " + quote(path("l.png")),
                              "env -u DISPLAY -u WAYLAND_DISPLAY -u QT_QPA_PLATFORM ");
    EXPECT_EQ(bad.status, 1);
    EXPECT_THAT(bad.err, HasSubstr("no weight layer 'conv9'"));
}

TEST_F(CliTest, ExperimentErrorsNameTheProblem) {
    CliResult r = run("experiment no-such --out " + quote(path("x")));
    EXPECT_EQ(r.status, 1);
    EXPECT_THAT(r.err, HasSubstr("unknown 'no-such' (known: covariate-shift,"));
    r = run("experiment momentum --quick --out " + quote(path("m")) + " --set batch_size=0");
    EXPECT_EQ(r.status, 1);
    EXPECT_THAT(r.err, HasSubstr("batch_size"));
    EXPECT_FALSE(exists(path("m") + "/runs")) << "nothing is written when a run cannot start";
    r = run("experiment momentum");
    EXPECT_EQ(r.status, 2);
    EXPECT_THAT(r.err, HasSubstr("--out DIR is required"));
}
#endif
