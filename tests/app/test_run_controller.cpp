// The GUI's run controller: training on its own thread, metric batches delivered to the owning thread's
// event loop, pause/resume/stop, restart and destruction mid-run. Run these under TSan too (tsan preset).

#include "dataset.h"
#include "error.h"
#include "presets.h"
#include "run_controller.h"
#include "trainer.h"
#include "run_helpers.h"

#include <QCoreApplication>
#include <QDeadlineTimer>
#include <QElapsedTimer>
#include <QTemporaryDir>

#include <gtest/gtest.h>

#include <memory>

namespace {

using namespace bnlab;
using namespace bnlab::app;
using namespace bnlab::app::testing;

TEST(RunController, DeliversEveryRecordAndTheSummaryToTheOwningThread) {
    RunController controller;
    int updates = 0;
    QObject::connect(&controller, &RunController::updated, [&] { ++updates; });
    controller.start(smallConfig(120), mnist(), "test", QString());
    ASSERT_TRUE(waitFor([&] { return controller.run().state == RunState::Finished; }));
    const RunData& run = controller.run();
    ASSERT_TRUE(run.summary.has_value()) << run.error.toStdString();
    EXPECT_EQ(run.summary->reason, engine::StopReason::MaxSteps);
    ASSERT_EQ(run.steps.size(), 120u);
    for (std::size_t i = 0; i < run.steps.size(); ++i) EXPECT_EQ(run.steps[i].step, long(i + 1));
    EXPECT_EQ(run.probes.size(), 13u);  // step 1 and every 10th
    EXPECT_GE(run.evals.size(), 5u);    // every 25 steps, the end, and the test split
    EXPECT_EQ(run.evals.back().split, "test");
    EXPECT_EQ(run.info.totalSteps, 120);
    // Records arrive in batches: at most one delivery per record. (How many fewer depends on the machine's
    // speed, since a batch closes every 50 ms, so no tighter bound is asserted.)
    EXPECT_GT(updates, 0);
    EXPECT_LE(std::size_t(updates), 1 + run.steps.size() + 2 * run.evals.size() + run.probes.size() + 1);
    EXPECT_TRUE(waitFor([&] { return !controller.isActive(); }));  // the thread was joined
}

TEST(RunController, DeliversAConfusionMatrixPerEvaluationAndTheLatestPredictionsOfEachSplit) {
    RunController controller;
    controller.start(smallConfig(60), mnist(), "test", QString());
    ASSERT_TRUE(waitFor([&] { return controller.run().state == RunState::Finished; }));
    const RunData& run = controller.run();
    ASSERT_TRUE(run.summary.has_value()) << run.error.toStdString();
    ASSERT_EQ(run.confusions.size(), run.evals.size());
    for (std::size_t i = 0; i < run.evals.size(); ++i) {
        EXPECT_EQ(run.confusions[i].step, run.evals[i].step);
        EXPECT_EQ(run.confusions[i].split, run.evals[i].split);
        EXPECT_EQ(double(run.confusions[i].correct()) / double(run.confusions[i].total()), run.evals[i].accuracy);
    }
    const engine::PredictionRecord* validation = run.latestPredictions("validation");
    const engine::PredictionRecord* test = run.latestPredictions("test");
    ASSERT_NE(validation, nullptr);
    ASSERT_NE(test, nullptr);
    EXPECT_EQ(validation->predictions.size(), 500);
    EXPECT_EQ(validation->confusion.step, 60) << "the latest validation evaluation";
    EXPECT_EQ(test->predictions.size(), 10000);
    EXPECT_EQ(test->confusion.counts, run.confusions.back().counts);
}

TEST(RunController, PauseStopsProgressAndResumeContinues) {
    RunController controller;
    controller.start(smallConfig(100000), mnist(), "test", QString());
    ASSERT_TRUE(waitFor([&] { return controller.run().steps.size() >= 5; }));
    controller.setPaused(true);
    EXPECT_EQ(controller.run().state, RunState::Paused);
    // Let what was already queued arrive, then check that nothing more does.
    waitFor([] { return false; }, 300);
    const std::size_t paused = controller.run().steps.size();
    waitFor([] { return false; }, 400);
    EXPECT_EQ(controller.run().steps.size(), paused);
    controller.setPaused(false);
    EXPECT_EQ(controller.run().state, RunState::Running);
    ASSERT_TRUE(waitFor([&] { return controller.run().steps.size() > paused + 5; }));
    controller.stop();
    ASSERT_TRUE(waitFor([&] { return controller.run().state == RunState::Finished; }));
    EXPECT_EQ(controller.run().summary->reason, engine::StopReason::Stopped);
    EXPECT_EQ(long(controller.run().steps.size()), controller.run().summary->steps);
}

TEST(RunController, StopWhilePausedEndsTheRun) {
    RunController controller;
    controller.start(smallConfig(100000), mnist(), "test", QString());
    ASSERT_TRUE(waitFor([&] { return controller.run().steps.size() >= 3; }));
    controller.setPaused(true);
    controller.stop();
    ASSERT_TRUE(waitFor([&] { return controller.run().state == RunState::Finished; }, 10000));
    EXPECT_EQ(controller.run().summary->reason, engine::StopReason::Stopped);
}

TEST(RunController, RestartMidRunReplacesTheRunAndDropsTheOldRecords) {
    RunController controller;
    controller.start(smallConfig(100000), mnist(), "first", QString());
    ASSERT_TRUE(waitFor([&] { return controller.run().steps.size() >= 20; }));
    controller.start(smallConfig(30), mnist(), "second", QString());
    EXPECT_EQ(controller.run().name, "second");
    ASSERT_TRUE(waitFor([&] { return controller.run().state == RunState::Finished; }));
    // Every step belongs to the second run: 1..30 exactly once, nothing left over from the first.
    const RunData& run = controller.run();
    ASSERT_EQ(run.steps.size(), 30u);
    for (std::size_t i = 0; i < run.steps.size(); ++i) EXPECT_EQ(run.steps[i].step, long(i + 1));
    EXPECT_EQ(run.summary->reason, engine::StopReason::MaxSteps);
}

TEST(RunController, DestroyingMidRunStopsCleanlyAndSavesWhatWasMeasured) {
    QTemporaryDir dir;
    ASSERT_TRUE(dir.isValid());
    const QString folder = dir.filePath("run");
    {
        RunController controller;
        controller.start(smallConfig(100000), mnist(), "test", folder);
        ASSERT_TRUE(waitFor([&] { return controller.run().steps.size() >= 10; }));
    }  // the destructor stops the trainer and joins its thread
    QFile summary(folder + "/summary.json");
    ASSERT_TRUE(summary.open(QIODevice::ReadOnly)) << "the run folder must hold a summary after a stop";
    EXPECT_TRUE(summary.readAll().contains("\"stopped\""));
    QFile steps(folder + "/steps.csv");
    ASSERT_TRUE(steps.open(QIODevice::ReadOnly));
    EXPECT_GT(steps.readAll().count('\n'), 10);
}

TEST(RunController, ABadSettingIsReportedAndNothingRuns) {
    RunController controller;
    QString message;
    QObject::connect(&controller, &RunController::failed, [&](const QString& m) { message = m; });
    RunConfig c = smallConfig(10);
    c.train.batchSize = 0;
    controller.start(c, mnist(), "bad", QString());
    ASSERT_TRUE(waitFor([&] { return !message.isEmpty(); }));
    EXPECT_TRUE(message.contains("batch_size")) << message.toStdString();
    EXPECT_EQ(controller.run().state, RunState::Finished);
    EXPECT_TRUE(controller.run().steps.empty());
}

}  // namespace

namespace {

TEST(RunController, StepAdvancesAPausedRunByExactlyOneStep) {
    RunController controller;
    controller.start(smallConfig(100000), mnist(), "test", QString(), /*paused=*/true);
    EXPECT_EQ(controller.run().state, RunState::Paused);
    waitFor([] { return false; }, 200);
    EXPECT_TRUE(controller.run().steps.empty()) << "a run started paused must not train";
    for (int i = 1; i <= 3; ++i) {
        controller.step();
        ASSERT_TRUE(waitFor([&] { return controller.run().steps.size() >= std::size_t(i); }));
        waitFor([] { return false; }, 150);  // no further step may follow
        EXPECT_EQ(controller.run().steps.size(), std::size_t(i));
        EXPECT_EQ(controller.run().state, RunState::Paused);
    }
    controller.setPaused(false);  // resuming after single steps trains on
    ASSERT_TRUE(waitFor([&] { return controller.run().steps.size() > 10; }));
    controller.stop();
    ASSERT_TRUE(waitFor([&] { return controller.run().state == RunState::Finished; }));
}

TEST(RunController, ResetStopsAndClears) {
    RunController controller;
    controller.start(smallConfig(100000), mnist(), "test", QString());
    ASSERT_TRUE(waitFor([&] { return controller.run().steps.size() >= 5; }));
    controller.reset();
    EXPECT_FALSE(controller.isActive());
    EXPECT_EQ(controller.run().state, RunState::Idle);
    waitFor([] { return false; }, 200);  // nothing queued by the old worker may arrive
    EXPECT_TRUE(controller.run().steps.empty());
}

}  // namespace

namespace {

// Single steps requested but not yet taken do not survive a Resume: the next Pause really pauses.
TEST(RunController, StepsNotYetTakenDoNotCarryOverIntoTheNextPause) {
    RunController controller;
    controller.start(smallConfig(100000), mnist(), "test", QString(), /*paused=*/true);
    for (int i = 0; i < 50; ++i) controller.step();  // far more than can run before the resume below
    controller.setPaused(false);
    ASSERT_TRUE(waitFor([&] { return controller.run().steps.size() >= 5; }));
    controller.setPaused(true);
    waitFor([] { return false; }, 300);  // what was already queued arrives
    const std::size_t paused = controller.run().steps.size();
    waitFor([] { return false; }, 400);
    EXPECT_EQ(controller.run().steps.size(), paused) << "a paused run kept taking banked single steps";
    controller.stop();
    ASSERT_TRUE(waitFor([&] { return controller.run().state == RunState::Finished; }));
}

}  // namespace

// Live changes from the GUI thread while the run trains on its own: applied between steps and reported back
// through the queued batches; an impossible one arrives as changeRefused; none once the run is over.
TEST(RunController, LiveChangesFromTheGuiThreadReachTheRunningTrainer) {
    RunController controller;
    QStringList refused;
    QObject::connect(&controller, &RunController::changeRefused, [&](const QString& m) { refused << m; });
    controller.start(smallConfig(100000), mnist(), "test", QString());
    ASSERT_TRUE(waitFor([&] { return controller.run().steps.size() >= 3; }));
    controller.requestChange(engine::LiveChange::learningRate(0.05));
    controller.requestChange(engine::LiveChange::batchNormMomentum(0.9));
    controller.requestChange(engine::LiveChange::normPlacement(0, engine::NormPlacement::None));
    controller.requestChange(engine::LiveChange::normPlacement(0, engine::NormPlacement::None));  // already none
    EXPECT_THROW(controller.requestChange(engine::LiveChange::learningRate(-1)), ConfigError);
    ASSERT_TRUE(waitFor([&] { return controller.run().changes.size() == 4 && refused.size() == 1; }));
    const auto& changes = controller.run().changes;
    for (int i = 0; i < 3; ++i) EXPECT_TRUE(changes[std::size_t(i)].applied) << changes[std::size_t(i)].description;
    EXPECT_FALSE(changes[3].applied);
    EXPECT_TRUE(refused.front().contains("already")) << refused.front().toStdString();
    EXPECT_FLOAT_EQ(controller.run().current.train.optimizer.learningRate, 0.05f);
    EXPECT_EQ(controller.run().current.train.network.blocks[0].norm, engine::NormPlacement::None);
    const std::size_t at = controller.run().steps.size();
    ASSERT_TRUE(waitFor([&] { return controller.run().steps.size() > at + 5; })) << "the run goes on";
    controller.stop();
    ASSERT_TRUE(waitFor([&] { return controller.run().state == RunState::Finished; }));
    EXPECT_THROW(controller.requestChange(engine::LiveChange::learningRate(0.1)), Error);
}
