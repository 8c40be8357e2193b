// Training states (engine/checkpoint.h): a run continued from the checkpoint of its step S gives, from step S + 1 on,
// the very records of the run that wrote it (MLP with BN and SGD momentum, a small CNN with Adam and a BN removed
// mid-run, a BN inserted right after S), on another thread count; the file refuses what is not its run's, and a
// truncated or corrupt file is a DataError naming it; the trainer keeps the checkpoints within a budget.

#include "checkpoint.h"
#include "error.h"
#include "recording_sink.h"
#include "test_data.h"
#include "trainer.h"

#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace bnlab::test {
namespace {

using namespace bnlab::engine;
namespace fs = std::filesystem;

// A fresh folder under the system's temporary folder, removed at the end of the test.
class TempFolder {
public:
    TempFolder() {
        const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
        m_path = fs::temp_directory_path() / ("bnlab-ckpt-" + std::string(info->name()) + "-" + std::to_string(::getpid()));
        fs::remove_all(m_path);
        fs::create_directories(m_path);
    }
    ~TempFolder() {
        std::error_code ignored;
        fs::remove_all(m_path, ignored);
    }
    [[nodiscard]] const fs::path& path() const { return m_path; }

private:
    fs::path m_path;
};

ScheduledChange at(long step, LiveChange change) { return {step, change}; }

// dense 64 sigmoid BN before, dense 32 sigmoid BN before with Dropout; SGD with momentum; 20 steps per epoch at
// batch 60, then batch 50 from step 12 (mid-epoch), learning rate and BN momentum changed before the checkpoint.
TrainOptions mlpOptions() {
    TrainOptions o;
    BlockSpec second = denseBlock(32, ActivationKind::Sigmoid, NormPlacement::Before);
    second.dropout = 0.2f;
    o.network.blocks = {denseBlock(64, ActivationKind::Sigmoid, NormPlacement::Before), second};
    o.optimizer.kind = OptimizerKind::SGD;
    o.optimizer.learningRate = 0.1f;
    o.optimizer.momentum = 0.9f;
    o.batchSize = 60;
    o.trainSize = 1200;
    o.validationSize = 300;
    o.epochs = 3;
    o.maxSteps = 70;
    o.probeInterval = 5;
    o.probeBatchSize = 64;
    o.evalInterval = 10;
    o.seed = 11;
    o.threads = 1;
    o.schedule = {at(7, LiveChange::learningRate(0.2)), at(12, LiveChange::batchSize(50)),
                  at(15, LiveChange::batchNormMomentum(0.9))};
    return o;
}

// conv 4 BN before, conv 6 BN after, max-pool, flatten, dense 16 BN before; Adam; bn1 folded away at step 5
// (so a network built from the changed blocks would call block 2's layer bn1: the checkpoint keeps bn2).
TrainOptions cnnOptions() {
    TrainOptions o;
    o.network.blocks = {convBlock(4, 3, ActivationKind::ReLU, NormPlacement::Before),
                        convBlock(6, 3, ActivationKind::ReLU, NormPlacement::After), maxPoolBlock(2), flattenBlock(),
                        denseBlock(16, ActivationKind::ReLU, NormPlacement::Before)};
    o.optimizer.kind = OptimizerKind::Adam;
    o.optimizer.learningRate = 1e-3f;
    o.init.kind = InitKind::He;
    o.batchSize = 32;
    o.trainSize = 640;
    o.validationSize = 200;
    o.epochs = 2;
    o.maxSteps = 36;
    o.probeInterval = 4;
    o.probeBatchSize = 32;
    o.evalInterval = 8;
    o.seed = 3;
    o.threads = 1;
    o.schedule = {at(5, LiveChange::normPlacement(0, NormPlacement::None)), at(9, LiveChange::learningRate(3e-3))};
    return o;
}

struct Run {
    RecordingSink sink;
    RunSummary summary;
};

std::unique_ptr<Run> train(const TrainOptions& options) {
    auto r = std::make_unique<Run>();
    Trainer trainer(smallMnist(), options, r->sink);
    r->summary = trainer.run();
    return r;
}

// The checkpoint of `step` in the folder; fails the test when there is none.
fs::path checkpointAt(const fs::path& folder, long step) {
    for (const auto& [s, file] : listCheckpoints(folder))
        if (s == step) return file;
    ADD_FAILURE() << "no checkpoint of step " << step << " in " << folder;
    return {};
}

// Trains `options` with checkpoints in `folder` and returns the checkpoint of `step`.
fs::path trainWithCheckpoints(TrainOptions options, const fs::path& folder, long step) {
    options.checkpointFolder = folder;
    (void)train(options);
    return checkpointAt(folder, step);
}

// Everything `resumed` recorded equals what `parent` recorded after step `from`, bit for bit (wall-clock aside).
void expectSameRecordsAfter(const Run& parent, const Run& resumed, long from) {
    std::vector<StepRecord> steps;
    for (const StepRecord& s : parent.sink.steps)
        if (s.step > from) steps.push_back(s);
    ASSERT_EQ(resumed.sink.steps.size(), steps.size());
    ASSERT_FALSE(steps.empty());
    for (std::size_t i = 0; i < steps.size(); ++i) {
        const StepRecord &a = steps[i], &b = resumed.sink.steps[i];
        SCOPED_TRACE("step " + std::to_string(a.step));
        EXPECT_EQ(b.step, a.step);
        EXPECT_EQ(b.epoch, a.epoch);
        EXPECT_EQ(b.samples, a.samples);
        EXPECT_EQ(b.loss, a.loss);
        EXPECT_EQ(b.accuracy, a.accuracy);
        EXPECT_EQ(b.lossEma, a.lossEma);
        EXPECT_EQ(b.accuracyEma, a.accuracyEma);
    }
    std::vector<EvalRecord> evals;
    for (const EvalRecord& e : parent.sink.evals)
        if (e.step > from) evals.push_back(e);
    ASSERT_EQ(resumed.sink.evals.size(), evals.size());
    for (std::size_t i = 0; i < evals.size(); ++i) {
        EXPECT_EQ(resumed.sink.evals[i].split, evals[i].split);
        EXPECT_EQ(resumed.sink.evals[i].step, evals[i].step);
        EXPECT_EQ(resumed.sink.evals[i].loss, evals[i].loss) << evals[i].split << " at step " << evals[i].step;
        EXPECT_EQ(resumed.sink.evals[i].accuracy, evals[i].accuracy);
    }
    std::vector<ProbeSnapshot> probes;
    for (const ProbeSnapshot& p : parent.sink.probes)
        if (p.step > from) probes.push_back(p);
    ASSERT_EQ(resumed.sink.probes.size(), probes.size());
    for (std::size_t i = 0; i < probes.size(); ++i) {
        const ProbeSnapshot &a = probes[i], &b = resumed.sink.probes[i];
        SCOPED_TRACE("probe at step " + std::to_string(a.step));
        ASSERT_EQ(b.params.size(), a.params.size());
        for (std::size_t k = 0; k < a.params.size(); ++k) {
            EXPECT_EQ(b.params[k].name, a.params[k].name);
            EXPECT_EQ(b.params[k].gradNorm, a.params[k].gradNorm);
            EXPECT_EQ(b.params[k].weightNorm, a.params[k].weightNorm);
            EXPECT_EQ(b.params[k].updateRatio, a.params[k].updateRatio);
        }
        ASSERT_EQ(b.activations.size(), a.activations.size());
        for (std::size_t k = 0; k < a.activations.size(); ++k)
            EXPECT_EQ(b.activations[k].pre.percentiles, a.activations[k].pre.percentiles);
        ASSERT_EQ(b.batchNorm.size(), a.batchNorm.size());
        for (std::size_t k = 0; k < a.batchNorm.size(); ++k) {
            EXPECT_EQ(b.batchNorm[k].layer, a.batchNorm[k].layer);
            EXPECT_EQ(b.batchNorm[k].runningMean, a.batchNorm[k].runningMean);
            EXPECT_EQ(b.batchNorm[k].runningVar, a.batchNorm[k].runningVar);
        }
    }
    ASSERT_EQ(resumed.sink.starts.size(), 1u);
    std::vector<std::string> layers = parent.sink.starts.at(0).layers;  // after the parent's structural changes
    for (const ChangeRecord& c : parent.sink.changes)
        if (c.applied && c.structural && c.step < from) layers = c.info.layers;
    EXPECT_EQ(resumed.sink.starts[0].layers, layers);
    EXPECT_EQ(resumed.sink.starts[0].totalSteps, parent.summary.steps);
    EXPECT_EQ(resumed.summary.reason, parent.summary.reason);
    EXPECT_EQ(resumed.summary.steps, parent.summary.steps);
    EXPECT_EQ(resumed.summary.samples, parent.summary.samples);
    EXPECT_EQ(resumed.summary.epochs, parent.summary.epochs);
    EXPECT_EQ(resumed.summary.valLoss, parent.summary.valLoss);
    EXPECT_EQ(resumed.summary.testAccuracy, parent.summary.testAccuracy);
    EXPECT_EQ(resumed.summary.testLoss, parent.summary.testLoss);
}

// Trains `options` with checkpoints, then continues from the checkpoint of `from` on 2 threads.
void expectResumeIsExact(TrainOptions options, long from) {
    TempFolder tmp;
    options.checkpointFolder = tmp.path();
    const auto parent = train(options);
    ASSERT_GT(parent->summary.steps, from);
    TrainOptions resumed = options;
    resumed.checkpointFolder.clear();
    resumed.resumeFrom = checkpointAt(tmp.path(), from);
    resumed.threads = 2;
    const auto branch = train(resumed);
    expectSameRecordsAfter(*parent, *branch, from);
    // The training time carries over the resume; this session's (which the probes' share is of) starts at 0.
    EXPECT_GT(branch->summary.trainingSeconds, branch->summary.sessionTrainingSeconds);
    EXPECT_GT(branch->summary.sessionTrainingSeconds, 0.0);
}

TEST(Checkpoint, AnMlpWithBatchNormSgdMomentumAndDropoutContinuesBitForBit) {
    // Step 30: after the live changes of steps 7, 12 and 15, in the middle of the second epoch.
    expectResumeIsExact(mlpOptions(), 30);
}

TEST(Checkpoint, ACnnWithAdamAndAFoldedBatchNormContinuesBitForBit) {
    expectResumeIsExact(cnnOptions(), 16);
    TempFolder tmp;
    const Checkpoint c = readCheckpoint(trainWithCheckpoints(cnnOptions(), tmp.path(), 16));
    EXPECT_EQ(c.names.perBlock[1], "bn2") << "the name block 2's BN had from the start";
    EXPECT_EQ(c.placements[0], NormPlacement::None);
    EXPECT_FLOAT_EQ(c.learningRate, 3e-3f);
    EXPECT_EQ(c.optimizerState.second.size(), c.params.size()) << "Adam's second moments";
}

TEST(Checkpoint, ABatchNormInsertedRightAfterTheCheckpointTakesTheSameBatchAsInTheRun) {
    TrainOptions o = mlpOptions();
    o.network.blocks[0].norm = NormPlacement::None;
    o.schedule.push_back(at(20, LiveChange::normPlacement(0, NormPlacement::Before)));
    expectResumeIsExact(o, 20);  // the change at step 20 comes after the checkpoint of step 20
}

TEST(Checkpoint, TheTrainerKeepsACheckpointAtEveryEvaluationWithinItsBudget) {
    TempFolder all, few;
    TrainOptions o = mlpOptions();
    o.checkpointFolder = all.path();
    const auto run = train(o);
    std::vector<long> evaluated, saved;
    for (const EvalRecord& e : run->sink.evals)
        if (e.split == "validation") evaluated.push_back(e.step);
    for (const auto& [step, file] : listCheckpoints(all.path())) saved.push_back(step);
    EXPECT_EQ(saved, evaluated);
    EXPECT_FALSE(fs::exists(all.path() / "checkpoints" / "step-00000070.bnckpt.part"));

    o.checkpointFolder = few.path();
    o.checkpointBudget = 1;  // smaller than any checkpoint: the two kept are the latest and one other
    (void)train(o);
    const auto kept = listCheckpoints(few.path());
    ASSERT_EQ(kept.size(), 2u);
    EXPECT_EQ(kept.back().first, 70);
}

TEST(Checkpoint, ThinningKeepsTheLatestAndSpreadsTheRest) {
    TempFolder tmp;
    fs::create_directories(tmp.path() / "checkpoints");
    for (long step = 10; step <= 200; step += 10) std::ofstream(checkpointFile(tmp.path(), step)) << "x";
    std::ofstream(tmp.path() / "checkpoints" / "notes.txt") << "not a checkpoint";
    thinCheckpoints(tmp.path(), 5);
    const auto kept = listCheckpoints(tmp.path());
    ASSERT_EQ(kept.size(), 5u);
    EXPECT_EQ(kept.back().first, 200);
    long previous = 0, widest = 0;
    for (const auto& [step, file] : kept) {
        widest = std::max(widest, step - previous);
        previous = step;
    }
    EXPECT_LE(widest, 2 * 200 / 5) << "a fork anywhere replays at most about 2·steps/keep steps";
    EXPECT_TRUE(fs::exists(tmp.path() / "checkpoints" / "notes.txt"));
}

// --- the file ---------------------------------------------------------------------------------

std::vector<char> bytesOf(const fs::path& file) {
    std::ifstream in(file, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void writeBytes(const fs::path& file, const std::vector<char>& bytes) {
    std::ofstream(file, std::ios::binary | std::ios::trunc).write(bytes.data(), std::streamsize(bytes.size()));
}

// The DataError message reading `file` gives (empty when it reads).
std::string readError(const fs::path& file) {
    try {
        (void)readCheckpoint(file);
    } catch (const DataError& e) {
        return e.what();
    }
    return {};
}

TEST(CheckpointFile, ReadsBackWhatWasWrittenByteForByte) {
    TempFolder tmp;
    const fs::path file = trainWithCheckpoints(cnnOptions(), tmp.path(), 16);
    const Checkpoint c = readCheckpoint(file);
    EXPECT_EQ(c.loop.step, 16);
    EXPECT_EQ(c.seed, 3u);
    writeCheckpoint(tmp.path() / "again.bnckpt", c);
    EXPECT_EQ(bytesOf(tmp.path() / "again.bnckpt"), bytesOf(file));
}

TEST(CheckpointFile, TruncatedCorruptAndForeignFilesAreDataErrorsNamingTheFile) {
    TempFolder tmp;
    TrainOptions o = mlpOptions();
    o.maxSteps = 10;
    const std::vector<char> good = bytesOf(trainWithCheckpoints(o, tmp.path(), 10));
    ASSERT_GT(good.size(), 1000u);
    const fs::path bad = tmp.path() / "bad.bnckpt";
    for (std::size_t size : {std::size_t(0), std::size_t(20), std::size_t(32), std::size_t(500), good.size() - 1}) {
        writeBytes(bad, std::vector<char>(good.begin(), good.begin() + std::ptrdiff_t(size)));
        const std::string e = readError(bad);
        EXPECT_NE(e.find(bad.string()), std::string::npos) << size << " bytes: " << e;
        EXPECT_TRUE(e.find("truncated") != std::string::npos || e.find("not a BN Lab checkpoint") != std::string::npos)
            << size << " bytes: " << e;
    }
    std::vector<char> flipped = good;
    flipped[good.size() / 2] ^= 0x10;
    writeBytes(bad, flipped);
    EXPECT_NE(readError(bad).find("checksum"), std::string::npos) << readError(bad);

    std::vector<char> newer = good;
    newer[8] = 2;
    writeBytes(bad, newer);
    EXPECT_NE(readError(bad).find("version 2"), std::string::npos) << readError(bad);

    // A state cut short whose header agrees with it (size and checksum): the reader stops at its end.
    std::vector<char> cut(good.begin(), good.begin() + 32 + 200);
    const std::uint64_t size = 200;
    const std::uint32_t crc = std::uint32_t(crc32(crc32(0L, Z_NULL, 0), reinterpret_cast<const Bytef*>(cut.data() + 32), 200));
    std::memcpy(cut.data() + 16, &size, sizeof size);
    std::memcpy(cut.data() + 24, &crc, sizeof crc);
    writeBytes(bad, cut);
    EXPECT_NE(readError(bad).find("corrupt checkpoint at byte"), std::string::npos) << readError(bad);

    EXPECT_NE(readError(tmp.path() / "missing.bnckpt").find("cannot open"), std::string::npos);
}

// The ConfigError message of a run of `options` resumed from `file` (empty when it runs).
std::string resumeError(TrainOptions options, const fs::path& file) {
    options.resumeFrom = file;
    RecordingSink sink;
    try {
        Trainer(smallMnist(), options, sink).run();
    } catch (const ConfigError& e) {
        EXPECT_TRUE(sink.steps.empty()) << "nothing trains after a refused checkpoint";
        return e.what();
    }
    return {};
}

TEST(CheckpointFile, ACheckpointOfAnotherRunIsRefusedSayingWhatDiffers) {
    TempFolder tmp;
    TrainOptions o = mlpOptions();
    o.maxSteps = 10;
    const fs::path file = trainWithCheckpoints(o, tmp.path(), 10);

    TrainOptions wider = o;
    wider.network.blocks[0].size = 65;
    const std::string layer = resumeError(wider, file);
    EXPECT_NE(layer.find(file.string()), std::string::npos) << layer;
    EXPECT_NE(layer.find("layer 1"), std::string::npos) << layer;
    EXPECT_NE(layer.find("1x28x28 -> 64 in the file"), std::string::npos) << layer;
    EXPECT_NE(layer.find("1x28x28 -> 65 in this run"), std::string::npos) << layer;

    TrainOptions seed = o;
    seed.seed = 12;
    EXPECT_NE(resumeError(seed, file).find("seed is 11, this run's is 12"), std::string::npos) << resumeError(seed, file);

    TrainOptions adam = o;
    adam.optimizer.kind = OptimizerKind::Adam;
    EXPECT_NE(resumeError(adam, file).find("optimizer"), std::string::npos);

    EXPECT_EQ(resumeError(o, file), "");
}

TEST(Checkpoint, AFailureToWriteOneIsReportedAndTheRunGoesOn) {
    TempFolder tmp;
    TrainOptions o = mlpOptions();
    o.maxSteps = 25;
    std::ofstream(tmp.path() / "file") << "a file where the folder should be";
    o.checkpointFolder = tmp.path() / "file";
    const auto run = train(o);
    EXPECT_EQ(run->summary.steps, 25);
    EXPECT_NE(run->summary.message.find("no more checkpoints were saved"), std::string::npos) << run->summary.message;
}

}  // namespace
}  // namespace bnlab::test
