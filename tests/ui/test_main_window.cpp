// The real window, offscreen, driven as a user would: start a short run and watch the charts fill; pause,
// step, resume; change the BN momentum and the batch size mid-run from the configuration panel (applied, and
// refused with a message when impossible); invalid input in every field of the panel; close mid-run.
// Settings and run folders go to a temporary home (see test_main.cpp).

#include "config_panel.h"
#include "loss_chart.h"
#include "main_window.h"
#include "presets.h"
#include "run_writer.h"
#include "trainer.h"

#include <QAction>
#include <QApplication>
#include <QComboBox>
#include <QDir>
#include <QDragEnterEvent>
#include <QDropEvent>
#include <QFileInfo>
#include <QMenu>
#include <QMenuBar>
#include <QMimeData>
#include <QUrl>
#include <QDoubleSpinBox>
#include <QElapsedTimer>
#include <QLineEdit>
#include <QLineSeries>
#include <QSpinBox>
#include <QStandardPaths>
#include <QTemporaryDir>

#include "wait.h"

#include <gtest/gtest.h>

#include <functional>

#ifndef BNLAB_TEST_DATASETS
#error "BNLAB_TEST_DATASETS must be defined as the path of the repository's datasets/ folder"
#endif

namespace bnlab::test {
namespace {

using ui::MainWindow;

QAction* action(MainWindow& w, const QString& text) {
    for (QAction* a : w.findChildren<QAction*>())
        if (a->text() == text) return a;
    return nullptr;
}

template <typename T>
T* control(MainWindow& w, const char* name) {
    T* c = w.configPanel()->findChild<T*>(QString::fromLatin1(name));
    EXPECT_NE(c, nullptr) << name;
    return c;
}


// A short bn-paper-mlp run on 2,000 images: 34 steps of 60 per epoch, probes every 5 steps.
void shortRun(MainWindow& w, int epochs = 1) {
    ASSERT_TRUE(w.openDataset(QStringLiteral(BNLAB_TEST_DATASETS "/mnist"))) << w.errorText().toStdString();
    w.selectPreset(QStringLiteral("bn-paper-mlp"));
    w.applySettings({"train_size=2000", "validation_size=500", "epochs=" + QString::number(epochs),
                     "probe_interval=5", "eval_interval=10", "threads=1"});
}

TEST(MainWindowRun, StartFillsTheChartsAndPauseStepResumeWork) {
    MainWindow w;
    w.resize(1400, 900);
    w.show();
    shortRun(w, 20);
    w.startRun();
    ASSERT_TRUE(w.errorText().isEmpty()) << w.errorText().toStdString();
    ASSERT_TRUE(waitUntil([&] { return w.currentRun().steps.size() >= 12 && !w.currentRun().probes.empty(); }));

    QAction* pause = action(w, "Pause");
    ASSERT_NE(pause, nullptr);
    pause->trigger();
    EXPECT_EQ(w.currentRun().state, app::RunState::Paused);
    ASSERT_NE(action(w, "Resume"), nullptr) << "the Pause action turns into Resume";
    processFor(400);  // the step in progress arrives
    const std::size_t atPause = w.currentRun().steps.size();
    processFor(400);
    EXPECT_EQ(w.currentRun().steps.size(), atPause) << "steps went on while paused";

    w.stepRun();
    ASSERT_TRUE(waitUntil([&] { return w.currentRun().steps.size() == atPause + 1; }, 30000));
    processFor(300);
    EXPECT_EQ(w.currentRun().steps.size(), atPause + 1) << "Step trains exactly one batch";
    EXPECT_EQ(w.currentRun().state, app::RunState::Paused);

    action(w, "Resume")->trigger();
    EXPECT_EQ(w.currentRun().state, app::RunState::Running);
    ASSERT_TRUE(waitUntil([&] { return w.currentRun().steps.size() >= atPause + 10; }));

    // The charts have drawn what arrived (a redraw tick is 50 ms; four charts take turns).
    processFor(600);
    qsizetype drawn = 0;
    for (QChartView* view : w.findChildren<QChartView*>())
        for (QAbstractSeries* s : view->chart()->series())
            if (auto* xy = qobject_cast<QXYSeries*>(s)) drawn += xy->count();
    EXPECT_GT(drawn, 100);

    action(w, "Stop")->trigger();
    ASSERT_TRUE(waitUntil([&] { return w.currentRun().state == app::RunState::Finished; }));
    ASSERT_TRUE(w.currentRun().summary.has_value());
    EXPECT_EQ(w.currentRun().summary->reason, engine::StopReason::Stopped);
}

TEST(MainWindowRun, MomentumAndBatchSizeChangeMidRunAndAnImpossibleChangeIsRefused) {
    MainWindow w;
    w.show();
    shortRun(w, 20);
    w.startRun(true);  // paused: the changes land at known steps
    w.stepRun();
    ASSERT_TRUE(waitUntil([&] { return w.currentRun().steps.size() == 1; }));
    EXPECT_TRUE(w.configPanel()->isLive());
    EXPECT_FALSE(control<QSpinBox>(w, "epochs")->isEnabled()) << "settings that cannot change mid-run are locked";
    EXPECT_FALSE(control<QComboBox>(w, "eval_statistics")->isEnabled());
    EXPECT_TRUE(control<QDoubleSpinBox>(w, "bn_momentum")->isEnabled());

    control<QDoubleSpinBox>(w, "bn_momentum")->setValue(0.9);
    ASSERT_TRUE(waitUntil([&] { return w.currentRun().changes.size() == 1; }, 5000)) << w.errorText().toStdString() << " live " << w.configPanel()->isLive() << " value " << control<QDoubleSpinBox>(w, "bn_momentum")->value();
    const engine::ChangeRecord& momentum = w.currentRun().changes[0];
    EXPECT_TRUE(momentum.applied) << momentum.description;
    EXPECT_EQ(momentum.key, "bn_momentum");
    EXPECT_EQ(momentum.step, 1);
    EXPECT_FLOAT_EQ(w.currentRun().current.train.batchNorm.momentum, 0.9f);
    EXPECT_FLOAT_EQ(w.currentRun().config.train.batchNorm.momentum, 0.99f) << "the start configuration is kept";

    // 2,000 images in batches of 1,999 would leave a batch of one sample for BN: refused, and the panel shows
    // the batch size the run really uses.
    control<QSpinBox>(w, "batch_size")->setValue(1999);
    ASSERT_TRUE(waitUntil([&] { return w.currentRun().changes.size() == 2; }));
    EXPECT_FALSE(w.currentRun().changes[1].applied);
    ASSERT_TRUE(waitUntil([&] { return !w.errorText().isEmpty(); }, 5000));
    EXPECT_TRUE(w.errorText().contains("batch of 1 sample")) << w.errorText().toStdString();
    EXPECT_EQ(control<QSpinBox>(w, "batch_size")->value(), 60);

    control<QSpinBox>(w, "batch_size")->setValue(100);
    ASSERT_TRUE(waitUntil([&] { return w.currentRun().changes.size() == 3; }));
    EXPECT_TRUE(w.currentRun().changes[2].applied) << w.currentRun().changes[2].description;
    w.stepRun();
    ASSERT_TRUE(waitUntil([&] { return w.currentRun().steps.size() == 2; }));
    EXPECT_EQ(w.currentRun().steps[1].samples - w.currentRun().steps[0].samples, 100);

    // BN off for the second block, from the per-layer table: folded, and the network goes on training.
    control<QComboBox>(w, "block.2.norm")->setCurrentText("none");
    ASSERT_TRUE(waitUntil([&] { return w.currentRun().changes.size() == 4; }));
    const engine::ChangeRecord& off = w.currentRun().changes[3];
    EXPECT_TRUE(off.applied) << off.description;
    EXPECT_EQ(off.key, "block.2.norm");
    EXPECT_EQ(w.currentRun().current.train.network.blocks[1].norm, engine::NormPlacement::None);
    w.stepRun();
    ASSERT_TRUE(waitUntil([&] { return w.currentRun().steps.size() == 3; }));
    EXPECT_TRUE(std::isfinite(w.currentRun().steps[2].loss));
    w.resetRun();
    EXPECT_FALSE(w.configPanel()->isLive());
    EXPECT_TRUE(control<QSpinBox>(w, "epochs")->isEnabled());
}

TEST(MainWindowInput, TheLayerTableSetsEachBlocksNormKindAndDropout) {
    MainWindow w;
    shortRun(w);
    // Rebuilding the layer table replaces its widgets with deleteLater(): let the old ones go before looking up
    // controls by name.
    auto settle = [] { QCoreApplication::sendPostedEvents(nullptr, QEvent::DeferredDelete); };
    settle();
    control<QComboBox>(w, "block.2.norm_kind")->setCurrentText("layer");
    control<QDoubleSpinBox>(w, "block.3.dropout")->setValue(0.25);
    const engine::NetworkSpec spec = w.configPanel()->config().train.network;
    EXPECT_EQ(spec.blocks[0].normKind, engine::NormKind::Batch);
    EXPECT_EQ(spec.blocks[1].normKind, engine::NormKind::Layer);
    EXPECT_EQ(spec.blocks[1].dropout, 0.0f);
    EXPECT_EQ(spec.blocks[2].dropout, 0.25f);

    // A configuration shows its kinds and rates; a rate finer than the box's two decimals is kept as it is.
    w.applySettings({"block.1.norm_kind=renorm", "block.1.dropout=0.123"});
    settle();
    EXPECT_EQ(control<QComboBox>(w, "block.1.norm_kind")->currentText().toStdString(), "renorm");
    EXPECT_EQ(control<QComboBox>(w, "block.2.norm_kind")->currentText().toStdString(), "layer");
    EXPECT_EQ(w.configPanel()->config().train.network.blocks[0].dropout, 0.123f);
    EXPECT_EQ(w.configPanel()->config().train.network.blocks[0].normKind, engine::NormKind::Renorm);
}

TEST(MainWindowInput, TheEvalStatisticsComboSetsTheKeyAndShowsTheConfiguration) {
    MainWindow w;
    shortRun(w);
    auto* box = control<QComboBox>(w, "eval_statistics");
    ASSERT_NE(box, nullptr);
    EXPECT_EQ(box->currentData().toString().toStdString(), "running");
    EXPECT_EQ(w.configPanel()->config().train.evalStatistics, engine::EvalStatistics::Running);
    box->setCurrentIndex(box->findData(QStringLiteral("batch")));
    EXPECT_EQ(w.configPanel()->config().train.evalStatistics, engine::EvalStatistics::Batch);
    EXPECT_FALSE(box->toolTip().isEmpty());

    w.applySettings({"eval_statistics=running"});
    EXPECT_EQ(box->currentData().toString().toStdString(), "running");
    w.applySettings({"eval_statistics=batch"});
    EXPECT_EQ(box->currentData().toString().toStdString(), "batch");
}

TEST(MainWindowInput, InvalidInputInEveryFieldIsExplainedAndStartsNothing) {
    MainWindow w;
    shortRun(w);
    struct Case {
        const char* field;
        QString text;
        const char* mentions;  // the key the message must name
    };
    const Case lineEdits[] = {
        {"learning_rate", "", "learning_rate"},   {"learning_rate", "0", "learning_rate"},
        {"learning_rate", "nan", "learning_rate"}, {"learning_rate", "-1", "learning_rate"},
        {"bn_epsilon", "0", "bn_epsilon"},         {"bn_epsilon", "", "bn_epsilon"},
        {"init_scale", "0", "init_scale"},         {"init_scale", "inf", "init_scale"},
        {"seed", "", "seed"},
    };
    for (const Case& c : lineEdits) {
        SCOPED_TRACE(std::string(c.field) + " = '" + c.text.toStdString() + "'");
        auto* edit = control<QLineEdit>(w, c.field);
        const QString good = edit->text();
        edit->setText(c.text);
        w.startRun();
        EXPECT_TRUE(w.errorText().contains(c.mentions)) << w.errorText().toStdString();
        EXPECT_EQ(w.currentRun().state, app::RunState::Idle);
        EXPECT_TRUE(edit->styleSheet().contains("border")) << "the field itself is marked";
        EXPECT_TRUE(edit->toolTip().startsWith(w.errorText().section(": ", 0, 0))) << edit->toolTip().toStdString();
        edit->setText(good);
        EXPECT_TRUE(edit->styleSheet().isEmpty()) << "the mark goes when the value changes";
    }
    // Spin boxes cannot hold a value outside their range; what is left are combinations.
    control<QSpinBox>(w, "batch_size")->setValue(5000);  // more than the 2,000 training images
    w.startRun();
    EXPECT_TRUE(w.errorText().contains("batch_size")) << w.errorText().toStdString();
    control<QSpinBox>(w, "batch_size")->setValue(1);  // BN cannot normalise one sample
    w.startRun();
    EXPECT_TRUE(w.errorText().contains("at least 2 samples")) << w.errorText().toStdString();
    control<QSpinBox>(w, "batch_size")->setValue(60);
    control<QSpinBox>(w, "validation_size")->setValue(59999);  // leaves one training image
    w.startRun();
    EXPECT_FALSE(w.errorText().isEmpty());
    EXPECT_EQ(w.currentRun().state, app::RunState::Idle);
    control<QSpinBox>(w, "validation_size")->setValue(500);
    w.startRun();
    EXPECT_TRUE(w.errorText().isEmpty()) << w.errorText().toStdString();
    EXPECT_NE(w.currentRun().state, app::RunState::Idle);
}

TEST(MainWindowRun, ClosingMidRunStopsTheRunAndKeepsItsMetrics) {
    QString folder;
    {
        MainWindow w;
        w.show();
        shortRun(w, 50);
        w.startRun();
        ASSERT_TRUE(waitUntil([&] { return w.currentRun().steps.size() >= 5; }));
        QElapsedTimer timer;
        timer.start();
        w.close();
        ASSERT_TRUE(waitUntil([&] { return w.currentRun().state == app::RunState::Finished; }, 30000));
        EXPECT_LT(timer.elapsed(), 10000);
        ASSERT_TRUE(w.currentRun().summary.has_value());
        EXPECT_EQ(w.currentRun().summary->reason, engine::StopReason::Stopped);
        EXPECT_GE(w.currentRun().steps.size(), 5u);
    }  // destroying the window joins the finished thread: no hang, no leak (ASan run)
    const QDir runs(QStandardPaths::writableLocation(QStandardPaths::AppDataLocation) + "/runs");
    bool found = false;
    for (const QString& name : runs.entryList(QDir::Dirs | QDir::NoDotAndDotDot))
        found |= QFile::exists(runs.filePath(name + "/summary.json")) && QFile::exists(runs.filePath(name + "/steps.csv"));
    EXPECT_TRUE(found) << "the stopped run is saved with its summary";
}

}  // namespace
}  // namespace bnlab::test

namespace bnlab::test {
namespace {

TEST(MainWindowRun, OpenRunShowsASavedRunAndACorruptOneIsExplained) {
    QTemporaryDir tmp;
    const QString folder = tmp.filePath("saved");
    app::RunConfig config = app::findPreset("bn-paper-mlp").config;
    for (const char* s : {"train_size=1200", "validation_size=300", "epochs=1", "probe_interval=5", "batch_size=40"})
        app::applySetting(config, s);
    {
        const engine::Dataset data = engine::loadDataset(BNLAB_TEST_DATASETS "/mnist");
        app::RunWriter writer(folder, config, "mnist");
        engine::Trainer(data, config.train, writer).run();
    }
    MainWindow w;
    ASSERT_TRUE(w.openRun(folder)) << w.errorText().toStdString();
    EXPECT_EQ(w.currentRun().name, "saved");
    EXPECT_EQ(w.currentRun().steps.size(), 30u);
    EXPECT_EQ(w.currentRun().state, app::RunState::Finished);
    EXPECT_TRUE(w.currentRun().summary.has_value());
    EXPECT_EQ(w.configPanel()->findChild<QSpinBox*>("batch_size")->value(), 40) << "the panel shows its configuration";
    processFor(400);  // the charts draw it
    qsizetype drawn = 0;
    for (QChartView* view : w.findChildren<QChartView*>())
        for (QAbstractSeries* s : view->chart()->series())
            if (auto* xy = qobject_cast<QXYSeries*>(s)) drawn += xy->count();
    EXPECT_GT(drawn, 30);

    // It is the first of File › Recent Runs; choosing it there opens it again, beside the first.
    QMenu* recent = nullptr;
    for (QMenu* m : w.menuBar()->findChildren<QMenu*>())
        if (m->title() == "Recent R&uns") recent = m;
    ASSERT_NE(recent, nullptr);
    ASSERT_FALSE(recent->actions().isEmpty());
    EXPECT_EQ(recent->actions().front()->text(), "saved");
    EXPECT_EQ(recent->actions().front()->toolTip(), QFileInfo(folder).absoluteFilePath());
    const std::size_t opened = w.runs().entries().size();
    recent->actions().front()->trigger();
    EXPECT_EQ(w.runs().entries().size(), opened + 1);
    // A run folder dropped on the window opens; a dropped file is not a run and changes nothing.
    auto drop = [&](const QString& path) {
        QMimeData mime;
        mime.setUrls({QUrl::fromLocalFile(path)});
        QDragEnterEvent enter(QPoint(10, 10), Qt::CopyAction, &mime, Qt::LeftButton, Qt::NoModifier);
        QApplication::sendEvent(&w, &enter);
        EXPECT_TRUE(enter.isAccepted());
        QDropEvent event(QPointF(10, 10), Qt::CopyAction, &mime, Qt::LeftButton, Qt::NoModifier);
        QApplication::sendEvent(&w, &event);
    };
    drop(folder);
    EXPECT_EQ(w.runs().entries().size(), opened + 2);
    EXPECT_EQ(w.currentRun().steps.size(), 30u);
    drop(folder + "/steps.csv");
    EXPECT_EQ(w.runs().entries().size(), opened + 2);

    QFile steps(folder + "/steps.csv");
    ASSERT_TRUE(steps.open(QIODevice::Append));
    steps.write("31,oops\n");
    steps.close();
    EXPECT_FALSE(w.openRun(folder));
    EXPECT_TRUE(w.errorText().contains("steps.csv line 32")) << w.errorText().toStdString();
    EXPECT_EQ(w.currentRun().steps.size(), 30u) << "what was shown stays";
}

}  // namespace
}  // namespace bnlab::test
