// Several runs training at the same time (RunSet): all progress, each is paused, stopped or removed on its own,
// and what a run measures does not depend on what trains beside it.

#include "error.h"
#include "run_helpers.h"
#include "run_reader.h"
#include "run_set.h"

#include <QFile>
#include <QTemporaryDir>

#include <gtest/gtest.h>

#include <QTemporaryDir>

#include <algorithm>
#include <functional>
#include <vector>

namespace {

using namespace bnlab;
using namespace bnlab::app;
using namespace bnlab::app::testing;

// Four configurations that differ the way people compare them: BN on or off, batch size, BN momentum.
std::vector<RunConfig> fourConfigs(long maxSteps) {
    std::vector<RunConfig> out(4, smallConfig(maxSteps));
    applySetting(out[1], "norm", "none");
    applySetting(out[2], "batch_size", "16");
    applySetting(out[3], "bn_momentum", "0.9");
    applySetting(out[3], "seed", "7");
    return out;
}

void expectSameRecords(const RunData& together, const RunData& alone, const std::string& what) {
    SCOPED_TRACE(what);
    ASSERT_EQ(together.steps.size(), alone.steps.size());
    for (std::size_t i = 0; i < alone.steps.size(); ++i) {
        EXPECT_EQ(together.steps[i].step, alone.steps[i].step);
        EXPECT_EQ(together.steps[i].samples, alone.steps[i].samples);
        EXPECT_EQ(together.steps[i].loss, alone.steps[i].loss) << "step " << alone.steps[i].step;
        EXPECT_EQ(together.steps[i].accuracy, alone.steps[i].accuracy) << "step " << alone.steps[i].step;
    }
    ASSERT_EQ(together.evals.size(), alone.evals.size());
    for (std::size_t i = 0; i < alone.evals.size(); ++i) {
        EXPECT_EQ(together.evals[i].split, alone.evals[i].split);
        EXPECT_EQ(together.evals[i].loss, alone.evals[i].loss);
        EXPECT_EQ(together.evals[i].accuracy, alone.evals[i].accuracy);
    }
    ASSERT_EQ(together.probes.size(), alone.probes.size());
    for (std::size_t i = 0; i < alone.probes.size(); ++i) {
        const auto& a = together.probes[i];
        const auto& b = alone.probes[i];
        ASSERT_EQ(a.params.size(), b.params.size());
        for (std::size_t p = 0; p < b.params.size(); ++p) EXPECT_EQ(a.params[p].gradNorm, b.params[p].gradNorm);
        ASSERT_EQ(a.activations.size(), b.activations.size());
        for (std::size_t k = 0; k < b.activations.size(); ++k)
            EXPECT_EQ(a.activations[k].pre.percentiles, b.activations[k].pre.percentiles);
    }
    ASSERT_TRUE(together.summary && alone.summary);
    EXPECT_EQ(together.summary->testAccuracy, alone.summary->testAccuracy);
}

TEST(RunSet, FourConcurrentRunsEachEqualTheSameRunTrainedAlone) {
    const std::vector<RunConfig> configs = fourConfigs(150);
    RunSet set;
    std::vector<int> ids;
    for (std::size_t i = 0; i < configs.size(); ++i)
        ids.push_back(set.start(configs[i], mnist(), QString("run %1").arg(i), QString()));
    EXPECT_EQ(set.activeCount(), 4);
    ASSERT_TRUE(waitFor([&] {
        return std::all_of(ids.begin(), ids.end(), [&](int id) { return set.find(id)->run().state == RunState::Finished; });
    }, 180000));

    for (std::size_t i = 0; i < configs.size(); ++i) {
        RunController alone;
        alone.start(configs[i], mnist(), "alone", QString());
        ASSERT_TRUE(waitFor([&] { return alone.run().state == RunState::Finished; }, 120000));
        const RunData& together = set.find(ids[i])->run();
        ASSERT_TRUE(together.summary.has_value()) << together.error.toStdString();
        EXPECT_EQ(together.summary->reason, engine::StopReason::MaxSteps);
        expectSameRecords(together, alone.run(), "configuration " + std::to_string(i));
    }
    // The four really were different runs.
    EXPECT_NE(set.find(ids[0])->run().steps.back().loss, set.find(ids[1])->run().steps.back().loss);
    EXPECT_NE(set.find(ids[0])->run().steps.back().samples, set.find(ids[2])->run().steps.back().samples);
}

TEST(RunSet, AllRunsProgressTogetherAndEachIsControlledOnItsOwn) {
    RunSet set;
    std::vector<int> ids;
    // Runs that do not end by themselves: 1,000 epochs of 50 steps (not 5, which one run can finish while the
    // test waits for it to make 10 more steps).
    for (RunConfig c : fourConfigs(1000000)) {
        applySetting(c, "epochs", "1000");
        ids.push_back(set.start(c, mnist(), "run", QString()));
    }
    auto steps = [&](int id) { return set.find(id)->run().steps.size(); };
    // None starves: every run gets well past its start while all four train.
    ASSERT_TRUE(waitFor([&] { return std::all_of(ids.begin(), ids.end(), [&](int id) { return steps(id) >= 30; }); }, 120000))
        << steps(ids[0]) << " " << steps(ids[1]) << " " << steps(ids[2]) << " " << steps(ids[3]);

    // Stop the second: it ends as stopped, the others keep training.
    set.find(ids[1])->controller->stop();
    ASSERT_TRUE(waitFor([&] { return set.find(ids[1])->run().state == RunState::Finished; }));
    ASSERT_TRUE(set.find(ids[1])->run().summary.has_value());
    EXPECT_EQ(set.find(ids[1])->run().summary->reason, engine::StopReason::Stopped);
    // Pause the third.
    set.find(ids[2])->controller->setPaused(true);
    waitFor([] { return false; }, 300);  // what was queued arrives
    const std::size_t stopped = steps(ids[1]), paused = steps(ids[2]);
    const std::size_t first = steps(ids[0]), fourth = steps(ids[3]);
    ASSERT_TRUE(waitFor([&] { return steps(ids[0]) >= first + 20 && steps(ids[3]) >= fourth + 20; }, 120000));
    EXPECT_EQ(steps(ids[1]), stopped);
    EXPECT_EQ(steps(ids[2]), paused);
    EXPECT_EQ(set.activeCount(), 3);  // running or paused

    // Removing a training run stops it and forgets it; the rest carry on.
    int removed = 0;
    QObject::connect(&set, &RunSet::removed, [&](int id) { removed = id; });
    set.remove(ids[0]);
    EXPECT_EQ(removed, ids[0]);
    EXPECT_EQ(set.find(ids[0]), nullptr);
    EXPECT_EQ(set.entries().size(), 3u);
    const std::size_t before = steps(ids[3]);
    ASSERT_TRUE(waitFor([&] { return steps(ids[3]) >= before + 10; }, 120000));

    set.stopAll();
    ASSERT_TRUE(waitFor([&] {
        return std::all_of(set.entries().begin(), set.entries().end(),
                           [](const auto& e) { return e->run().state == RunState::Finished; });
    }));
    EXPECT_EQ(set.activeCount(), 0);
}

// Removing a training run does not wait for its step in progress: the run stops in the background and its
// folder ends as a stopped run's, with every step it made.
TEST(RunSet, RemovingARunStopsItInTheBackgroundAndKeepsItsFolder) {
    QTemporaryDir tmp;
    const QString folder = tmp.filePath("removed");
    RunConfig endless = smallConfig(1000000);
    applySetting(endless, "epochs", "1000");
    RunSet set;
    const int id = set.start(endless, mnist(), "removed", folder);
    ASSERT_TRUE(waitFor([&] { return set.find(id)->run().steps.size() >= 5; }, 60000));
    set.remove(id);
    EXPECT_EQ(set.find(id), nullptr);
    EXPECT_EQ(set.stoppingCount(), 1) << "remove() returned before the run's thread ended";
    ASSERT_TRUE(waitFor([&] { return set.stoppingCount() == 0; }, 60000));
    const RunData saved = loadRun(folder);
    ASSERT_TRUE(saved.summary.has_value());
    EXPECT_EQ(saved.summary->reason, engine::StopReason::Stopped);
    EXPECT_EQ(long(saved.steps.size()), saved.summary->steps);
    EXPECT_GE(saved.steps.size(), 5u);

    // A set destroyed while a removed run is still stopping waits for it then (closing the window).
    const int other = set.start(endless, mnist(), "other", QString());
    ASSERT_TRUE(waitFor([&] { return set.find(other)->run().steps.size() >= 2; }, 60000));
    set.remove(other);
    EXPECT_EQ(set.stoppingCount(), 1);
}

TEST(RunSet, RefusesMoreRunsThanTheLimitWithAReason) {
    RunSet set;
    for (int i = 0; i < RunSet::kMaxActive; ++i) set.start(smallConfig(1000000), mnist(), "run", QString(), true);
    try {
        set.start(smallConfig(10), mnist(), "one too many", QString());
        FAIL() << "a run beyond the limit started";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("stop one first"), std::string::npos) << e.what();
    }
    EXPECT_EQ(int(set.entries().size()), RunSet::kMaxActive);
    // A removed run keeps its place until its thread has ended (its controller goes when the event loop has
    // seen that, not before this test's next line).
    set.remove(set.entries().front()->id);
    ASSERT_EQ(set.stoppingCount(), 1);
    try {
        set.start(smallConfig(10), mnist(), "not yet", QString());
        FAIL() << "a run started while a removed one was still ending";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("1 of them removed and ending their step"), std::string::npos) << e.what();
    }
    ASSERT_TRUE(waitFor([&] { return set.stoppingCount() == 0; }));
    EXPECT_NO_THROW(set.start(smallConfig(1000000), mnist(), "in its place", QString(), true));
    // A finished run frees its place.
    set.find(set.entries().front()->id)->controller->stop();
    ASSERT_TRUE(waitFor([&] { return set.activeCount() < RunSet::kMaxActive; }));
    EXPECT_NO_THROW(set.start(smallConfig(5), mnist(), "now it fits", QString()));
}

TEST(RunSet, SavedRunsJoinTheSetWithTheirFolder) {
    RunSet set;
    RunData saved;
    saved.name = "from disk";
    const int id = set.addSaved(std::move(saved), "/some/folder");
    ASSERT_NE(set.find(id), nullptr);
    EXPECT_EQ(set.find(id)->run().name, "from disk");
    EXPECT_EQ(set.find(id)->run().state, RunState::Finished);
    EXPECT_EQ(set.find(id)->folder, "/some/folder");
    EXPECT_EQ(set.activeCount(), 0);
}

}  // namespace

namespace {

RunData trainAlone(const RunConfig& config, const std::function<void(RunController&)>& during = {},
                   const QString& folder = {}, const RunData& past = {}) {
    RunController c;
    c.start(config, mnist(), "run", folder, false, past);
    if (during) during(c);
    EXPECT_TRUE(waitFor([&] { return c.run().state == RunState::Finished; }, 120000));
    return c.run();
}

TEST(Fork, TheBranchSharesItsParentsPastExactlyThenFollowsItsOwnSettings) {
    RunConfig parentConfig = smallConfig(120);
    addScheduledChange(parentConfig, "30:learning_rate=0.3");
    // A live change too, at whatever step the run has reached: the branch replays it at that step.
    const RunData parent = trainAlone(parentConfig, [](RunController& c) {
        ASSERT_TRUE(waitFor([&] { return c.run().steps.size() >= 40; }));
        c.requestChange(engine::LiveChange::batchNormMomentum(0.9));
    });
    ASSERT_EQ(parent.steps.size(), 120u);
    long liveStep = 0;
    for (const auto& c : parent.changes)
        if (c.key == "bn_momentum") liveStep = c.step;
    ASSERT_GE(liveStep, 40);
    ASSERT_LT(liveStep, 110) << "the live change came too late for this test";

    const long at = liveStep + 5;
    const RunConfig branchConfig = forkConfig(parent, at, {"block.2.norm=none", "learning_rate=0.05"});
    EXPECT_EQ(branchConfig.train.schedule.size(), 4u);  // the two past changes and the two new ones
    const RunData branch = trainAlone(branchConfig);
    ASSERT_EQ(branch.steps.size(), 120u);
    for (long i = 0; i < at; ++i) {
        ASSERT_EQ(branch.steps[std::size_t(i)].loss, parent.steps[std::size_t(i)].loss) << "step " << i + 1;
        ASSERT_EQ(branch.steps[std::size_t(i)].accuracy, parent.steps[std::size_t(i)].accuracy) << "step " << i + 1;
    }
    for (std::size_t i = 0; i < parent.evals.size() && parent.evals[i].step <= at; ++i)
        EXPECT_EQ(branch.evals[i].loss, parent.evals[i].loss) << "evaluation at step " << parent.evals[i].step;
    // From the fork on, the branch trains with its own settings.
    EXPECT_NE(branch.steps[std::size_t(at)].loss, parent.steps[std::size_t(at)].loss);
    EXPECT_FLOAT_EQ(branch.current.train.optimizer.learningRate, 0.05f);
    EXPECT_EQ(branch.current.train.network.blocks[1].norm, engine::NormPlacement::None);
    EXPECT_FLOAT_EQ(branch.current.train.batchNorm.momentum, 0.9f) << "the parent's live change is part of the past";
}

TEST(Fork, RefusesAStepOutsideTheRunAndABadChange) {
    RunData parent;
    parent.config = smallConfig(10);
    for (long s = 1; s <= 10; ++s) parent.steps.push_back({s, 0, s * 60, 0, 1, 0, 1, 0});
    EXPECT_THROW((void)forkConfig(parent, 0, {}), ConfigError);
    EXPECT_THROW((void)forkConfig(parent, 11, {}), ConfigError);
    EXPECT_THROW((void)forkConfig(parent, 5, {"epochs=3"}), ConfigError);  // cannot change during a run
    EXPECT_THROW((void)forkConfig(parent, 5, {"learning_rate=-1"}), ConfigError);
    EXPECT_NO_THROW((void)forkConfig(parent, 10, {"batch_size=30"}));
}

// A saved parent has checkpoints at its evaluations (smallConfig: every 25 steps and at the end).
TEST(Fork, FromACheckpointTheBranchStartsWithThePastAndContinuesExactly) {
    QTemporaryDir tmp;
    RunConfig parentConfig = smallConfig(120);
    addScheduledChange(parentConfig, "30:learning_rate=0.3");
    const QString parentFolder = tmp.filePath("parent");
    const RunData parent = trainAlone(parentConfig, {}, parentFolder);
    ASSERT_EQ(parent.steps.size(), 120u);

    // Without changes the branch is its parent: steps 51..60 replayed, the rest trained, all bit for bit.
    const ForkPlan same = planFork(parent, parentFolder, 60, {});
    EXPECT_EQ(same.resumeStep, 50);
    EXPECT_EQ(same.note.toStdString(), "continues from the checkpoint of step 50, replays steps 51..60");
    EXPECT_EQ(same.past.steps.size(), 50u);
    ASSERT_EQ(same.past.changes.size(), 1u) << "the change at step 30 is part of the past";
    const RunData twin = trainAlone(same.config, {}, tmp.filePath("twin"), same.past);
    expectSameRecords(twin, parent, "the branch without changes");
    expectSameRecords(loadRun(tmp.filePath("twin")), parent, "its folder: the copied past and what it trained");
    EXPECT_FLOAT_EQ(twin.current.train.optimizer.learningRate, 0.3f);
    // In memory too the branch starts with the parent's confusion matrices; and where it resumed from is not a
    // setting: its twin, duplicate, seeds or forks never start from that checkpoint.
    ASSERT_EQ(twin.confusions.size(), parent.confusions.size());
    for (std::size_t i = 0; i < parent.confusions.size(); ++i) EXPECT_EQ(twin.confusions[i].counts, parent.confusions[i].counts);
    EXPECT_TRUE(twin.config.train.resumeFrom.empty());
    EXPECT_TRUE(twin.current.train.resumeFrom.empty());
    EXPECT_TRUE(forkConfig(twin, 80, {}).train.resumeFrom.empty());

    // With a change it is the parent up to step 60 and differs after.
    const ForkPlan changed = planFork(parent, parentFolder, 60, {"learning_rate=0.05"});
    const RunData branch = trainAlone(changed.config, {}, tmp.filePath("branch"), changed.past);
    ASSERT_EQ(branch.steps.size(), 120u);
    for (std::size_t i = 50; i < 60; ++i) EXPECT_EQ(branch.steps[i].loss, parent.steps[i].loss) << "step " << i + 1;
    EXPECT_EQ(branch.steps[60].loss, parent.steps[60].loss) << "step 61 is measured before its update";
    EXPECT_NE(branch.steps[61].loss, parent.steps[61].loss);
    EXPECT_FLOAT_EQ(branch.current.train.optimizer.learningRate, 0.05f);

    // Forking at a checkpoint's step replays nothing.
    EXPECT_EQ(planFork(parent, parentFolder, 75, {}).note.toStdString(), "continues from the checkpoint of step 75");
}

// A parent that is still training thins its checkpoints out: the one a plan chose may be deleted before the
// branch starts. The branch uses the checkpoint the plan read, not the file.
TEST(Fork, TheBranchDoesNotNeedThePlannedCheckpointFileAnyMore) {
    QTemporaryDir tmp;
    const QString folder = tmp.filePath("parent");
    const RunData parent = trainAlone(smallConfig(80), {}, folder);
    const ForkPlan plan = planFork(parent, folder, 60, {});
    ASSERT_EQ(plan.resumeStep, 50);
    ASSERT_TRUE(QFile::remove(folder + "/checkpoints/step-00000050.bnckpt"));
    const RunData branch = trainAlone(plan.config, {}, tmp.filePath("branch"), plan.past);
    EXPECT_EQ(branch.error.toStdString(), "");
    expectSameRecords(branch, parent, "from the checkpoint read by the plan");
    EXPECT_FALSE(branch.config.train.resumeState) << "not a setting either";
}

TEST(Fork, ACorruptOrMissingCheckpointIsPassedOverForAnEarlierOneOrAReplay) {
    QTemporaryDir tmp;
    const QString folder = tmp.filePath("parent");
    const RunData parent = trainAlone(smallConfig(80), {}, folder);
    const QString file = folder + "/checkpoints/step-00000050.bnckpt";
    QFile f(file);
    ASSERT_TRUE(f.open(QIODevice::ReadWrite));
    ASSERT_TRUE(f.resize(f.size() / 2));
    f.close();

    const ForkPlan plan = planFork(parent, folder, 60, {});
    EXPECT_EQ(plan.resumeStep, 25);
    EXPECT_TRUE(plan.note.startsWith("continues from the checkpoint of step 25, replays steps 26..60; passed over: " + file))
        << plan.note.toStdString();
    EXPECT_TRUE(plan.note.contains("truncated")) << plan.note.toStdString();
    expectSameRecords(trainAlone(plan.config, {}, tmp.filePath("branch"), plan.past), parent, "from the earlier one");

    const ForkPlan none = planFork(parent, QString(), 60, {});
    EXPECT_EQ(none.resumeStep, 0);
    EXPECT_TRUE(none.config.train.resumeFrom.empty());
    EXPECT_TRUE(none.past.steps.empty());
    EXPECT_TRUE(none.note.startsWith("replays steps 1..60")) << none.note.toStdString();
}

}  // namespace

