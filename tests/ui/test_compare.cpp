// Comparing runs: the comparison charts (several runs on shared axes, seed groups as mean and band,
// activations as small multiples with one y axis or overlaid) and, in the real window, several runs training
// side by side with the run list, the table, duplicate / with-without-BN / seeds, and the metrics as CSV.

#include "bn_stats_compare.h"
#include "chart_export.h"
#include "experiments.h"
#include "compare_charts.h"
#include "config_panel.h"
#include "main_window.h"
#include "run_list.h"
#include "synthetic_run.h"

#include <QApplication>
#include <QCheckBox>
#include <QComboBox>
#include <QDialog>
#include <QDoubleSpinBox>
#include <QLineEdit>
#include <QSpinBox>
#include <QTimer>
#include <QElapsedTimer>
#include <QFile>
#include <QHeaderView>
#include <QImage>
#include <QLineSeries>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QTreeWidget>

#include "wait.h"

#include <gtest/gtest.h>

#include <set>
#include <functional>

namespace bnlab::test {
namespace {

using namespace bnlab::ui;

std::vector<const QLineSeries*> linesOf(const QChart* chart) {
    std::vector<const QLineSeries*> out;
    for (QAbstractSeries* s : chart->series())
        if (auto* l = qobject_cast<QLineSeries*>(s)) out.push_back(l);
    return out;
}

TEST(SeedSpread, MeanAndBandsOfSeveralCurves) {
    const std::vector<QList<QPointF>> curves = {{{0, 1}, {1, 2}, {2, 3}}, {{0, 3}, {1, 4}}, {{0, 2}, {1, 3}, {2, 9}}};
    const Spread minMax = spreadOf(curves, SeedBand::MinMax);
    ASSERT_EQ(minMax.mean.size(), 2);  // the points every curve has
    EXPECT_DOUBLE_EQ(minMax.mean[0].y(), 2);
    EXPECT_DOUBLE_EQ(minMax.mean[1].y(), 3);
    EXPECT_DOUBLE_EQ(minMax.lower[1].y(), 2);
    EXPECT_DOUBLE_EQ(minMax.upper[1].y(), 4);
    const Spread sd = spreadOf(curves, SeedBand::StdDev);
    EXPECT_DOUBLE_EQ(sd.lower[0].y(), 1);  // 2 - 1 (sample std of 1, 3, 2)
    EXPECT_DOUBLE_EQ(sd.upper[0].y(), 3);
    const Spread one = spreadOf({curves[0]}, SeedBand::MinMax);
    EXPECT_EQ(one.mean, curves[0]);
    EXPECT_TRUE(one.lower.isEmpty());
}

TEST(CompareCharts, OneColouredLinePerRunAndOneMeanPerSeedGroup) {
    app::RunData a = makeRun(300), b = makeRun(300), c = makeRun(300);
    for (auto& s : b.steps) s.loss += 0.5;
    for (auto& s : c.steps) s.loss += 1.0;
    CompareCharts charts;
    charts.resize(900, 400);
    charts.show();
    charts.refresh({{&a, Qt::red, "a"}, {&b, Qt::blue, "b"}, {&c, Qt::green, "c"}});
    EXPECT_EQ(charts.lineCount(), 3);
    std::vector<const QLineSeries*> lines = linesOf(charts.lossChart());
    ASSERT_EQ(lines.size(), 6u);  // training and validation of each run
    EXPECT_EQ(lines[0]->pen().color(), QColor(Qt::red));
    EXPECT_EQ(lines[2]->pen().color(), QColor(Qt::blue));
    // Runs b and c as one seed group: one mean line (between them) and a band.
    charts.refresh({{&a, Qt::red, "a"}, {&b, Qt::blue, "b", 1}, {&c, Qt::green, "c", 1}});
    EXPECT_EQ(charts.lineCount(), 2);
    lines = linesOf(charts.lossChart());
    ASSERT_EQ(lines.size(), 4u);
    const QLineSeries* mean = lines[2];
    ASSERT_GT(mean->count(), 0);
    EXPECT_TRUE(mean->name().contains("2 seeds")) << mean->name().toStdString();
    EXPECT_EQ(mean->pen().color(), QColor(Qt::blue));
    const double smoothedA = linesOf(charts.lossChart())[0]->points().back().y();
    EXPECT_NEAR(mean->points().back().y(), smoothedA + 0.75, 1e-6);  // (0.5 + 1.0) / 2 above run a
    int bands = 0;
    for (QAbstractSeries* s : charts.lossChart()->series()) bands += s->type() == QAbstractSeries::SeriesTypeArea;
    EXPECT_EQ(bands, 2);  // training and validation spread of the group
    // "Every run" draws the group's runs again one by one.
    charts.setSeedBand(SeedBand::EveryRun);
    charts.refresh({{&a, Qt::red, "a"}, {&b, Qt::blue, "b", 1}, {&c, Qt::green, "c", 1}});
    EXPECT_EQ(charts.lineCount(), 3);
}

TEST(ActivationCompare, SmallMultiplesShareOneYAxisAndOverlayIsOneChart) {
    app::RunData a = makeRun(300), b = makeRun(300);
    for (auto& p : b.probes)
        for (auto& act : p.activations)
            for (float& q : act.pre.percentiles) q *= 3;  // b's distribution three times as wide
    ActivationCompare compare;
    compare.resize(900, 400);
    compare.show();
    compare.setBlock("dense1");
    compare.refresh({{&a, Qt::red, "a"}, {&b, Qt::blue, "b"}});
    ASSERT_EQ(compare.chartCount(), 2);
    auto yRange = [](QChart* chart) {
        auto* y = qobject_cast<QValueAxis*>(chart->axes(Qt::Vertical).front());
        return std::pair(y->min(), y->max());
    };
    EXPECT_EQ(yRange(compare.charts()[0]), yRange(compare.charts()[1]));
    EXPECT_LE(yRange(compare.charts()[0]).first, 3 * a.probes.back().activations[0].pre.percentiles[0]);
    compare.setOverlay(true);
    compare.refresh({{&a, Qt::red, "a"}, {&b, Qt::blue, "b"}});
    EXPECT_EQ(compare.chartCount(), 1);
    EXPECT_EQ(linesOf(compare.charts()[0]).size(), 2u);  // two medians
    EXPECT_EQ(ActivationCompare::blocks({{&a, Qt::red, "a"}}), (QStringList{"dense1", "output"}));
}

TEST(CompareExport, SeveralRunsInOneImageWithContent) {
    QTemporaryDir tmp;
    std::vector<app::RunData> runs{makeRun(300), makeRun(300)};
    runs[1].name = "other";
    for (auto& s : runs[1].steps) s.loss *= 0.5;
    for (auto& p : runs[1].probes)
        for (auto& b : p.batchNorm)
            for (auto* v : {&b.batchMean, &b.runningMean, &b.batchVar, &b.runningVar})
                for (float& x : *v) x *= 1.5f;
    const std::vector<ComparedRun> compared = comparedRuns(runs);
    ASSERT_EQ(compared.size(), 2u);
    EXPECT_NE(compared[0].colour, compared[1].colour);
    for (const QString chart : {"loss-accuracy", "activations", "bn-stats"}) {
        ChartRequest request;
        request.chart = chart;
        auto widget = makeComparison(request, compared, QSize(800, 400));
        const QString png = tmp.filePath(chart + ".png");
        exportWidget(widget.get(), chart, png, 1.0);
        const QImage image(png);
        ASSERT_FALSE(image.isNull());
        EXPECT_EQ(image.size(), QSize(800, 430));
        // Both runs' colours are in the image: lines in the colour, bands in lighter shades of it.
        auto shadesOf = [](const QColor& c) {
            return std::vector<QColor>{c, c.darker(115), c.darker(120), palette::mix(c, Qt::white, 0.45),
                                       palette::mix(c, Qt::white, 0.8)};
        };
        auto near = [](const QColor& a, const std::vector<QColor>& shades) {
            for (const QColor& b : shades)
                if (std::abs(a.red() - b.red()) + std::abs(a.green() - b.green()) + std::abs(a.blue() - b.blue()) <= 6)
                    return true;
            return false;
        };
        const auto shades0 = shadesOf(compared[0].colour), shades1 = shadesOf(compared[1].colour);
        int first = 0, second = 0;
        for (int y = 0; y < image.height(); ++y)
            for (int x = 0; x < image.width(); ++x) {
                const QColor c = image.pixelColor(x, y);
                first += near(c, shades0);
                second += near(c, shades1);
            }
        EXPECT_GT(first, 50) << chart.toStdString();
        EXPECT_GT(second, 50) << chart.toStdString();
    }
    ChartRequest request;
    request.chart = "bn-stats";
    request.layer = "bn9";
    try {
        (void)makeComparison(request, compared, QSize(400, 300));
        ADD_FAILURE() << "a BN layer no run has";
    } catch (const std::exception& e) {
        EXPECT_STREQ(e.what(), "layer: no BN layer 'bn9' in the runs (their BN layers: bn1)");
    }
    request.chart = "grad-norms";  // without a parameter: drawn one run at a time
    request.layer.clear();
    EXPECT_THROW((void)makeComparison(request, compared, QSize(400, 300)), std::exception);
}

// BN statistics of several runs: a batch and a running line per run on each panel; a run without the layer is
// named in the legend, not drawn; the titles name the layer and the feature number.
TEST(BnStatsCompare, BatchAndRunningLinesPerRunThatHasTheLayer) {
    app::RunData a = makeRun(200), b = makeRun(200), none = makeRun(200);
    for (auto& p : b.probes)
        for (auto& bn : p.batchNorm) bn.runningMean[1] = 0.5f;
    for (auto& p : none.probes) p.batchNorm.clear();
    const std::vector<ComparedRun> runs{{&a, Qt::red, "a"}, {&b, Qt::blue, "b"}, {&none, Qt::green, "no BN"}};
    EXPECT_EQ(BnStatsCompare::layers(runs), QStringList{"bn1"});
    BnStatsCompare compare;
    compare.resize(800, 300);
    compare.setFeature(1);
    compare.refresh(runs);
    EXPECT_EQ(compare.drawnRuns(), 2);
    for (QChart* chart : {compare.meanChart(), compare.varianceChart()}) {
        const auto lines = linesOf(chart);
        ASSERT_EQ(lines.size(), 4u) << "batch and running of a and b";
        for (const QLineSeries* l : lines) EXPECT_EQ(l->count(), int(a.probes.size())) << l->name().toStdString();
        EXPECT_TRUE(chart->title().startsWith("bn1, feature 7")) << chart->title().toStdString();
    }
    // b's running mean of feature 7 is 0.5 at every probe; a's is the synthetic 0.19.
    const auto means = linesOf(compare.meanChart());
    EXPECT_FLOAT_EQ(float(means[1]->at(0).y()), 0.19f);
    EXPECT_FLOAT_EQ(float(means[3]->at(0).y()), 0.5f);
    compare.setLayer("bn2");
    compare.refresh(runs);
    EXPECT_EQ(compare.drawnRuns(), 0);
    EXPECT_TRUE(compare.meanChart()->title().contains("no run has bn2")) << compare.meanChart()->title().toStdString();
}

// The window with several runs: a short bn-paper-mlp run on 2,000 images.
void shortRuns(MainWindow& w) {
    ASSERT_TRUE(w.openDataset(QStringLiteral(BNLAB_TEST_DATASETS "/mnist"))) << w.errorText().toStdString();
    w.selectPreset(QStringLiteral("bn-paper-mlp"));
    w.applySettings({"train_size=2000", "validation_size=500", "max_steps=60", "probe_interval=5", "eval_interval=20",
                     "threads=1"});
}

bool allFinished(MainWindow& w) {
    for (const auto& e : w.runs().entries())
        if (e->run().state != app::RunState::Finished) return false;
    return true;
}

TEST(MainWindowCompare, RunsSideBySideInTheListTheComparisonAndTheTable) {
    MainWindow w;
    w.resize(1400, 900);
    w.show();
    shortRuns(w);
    w.startRun();
    const int first = w.currentRunId();
    ASSERT_NE(first, 0) << w.errorText().toStdString();
    // A second run while the first trains: New Run, a change, Start.
    w.newRun();
    EXPECT_FALSE(w.configPanel()->isLive()) << "the panel is for the new run, not the running one";
    w.applySettings({"norm=none"});
    w.startRun();
    const int second = w.currentRunId();
    ASSERT_NE(second, first);
    ASSERT_EQ(w.runs().entries().size(), 2u);
    EXPECT_NE(w.runs().find(first)->colour, w.runs().find(second)->colour);
    ASSERT_TRUE(waitUntil([&] { return allFinished(w); }, 120000));
    EXPECT_EQ(w.runs().find(first)->run().steps.size(), 60u);
    EXPECT_EQ(w.runs().find(second)->run().steps.size(), 60u);
    EXPECT_EQ(w.runs().find(second)->run().config.train.network.blocks[0].norm, engine::NormPlacement::None);

    // The list: a row per run, the second naming what it changes.
    ASSERT_TRUE(waitUntil([&] { return w.runList()->tree()->topLevelItemCount() == 2; }, 5000));
    EXPECT_EQ(w.runList()->tree()->topLevelItem(1)->text(1), "BN before → none");
    // Selecting the first run makes it current; its finished configuration is in the panel.
    w.runList()->tree()->setCurrentItem(w.runList()->tree()->topLevelItem(0));
    EXPECT_EQ(w.currentRunId(), first);
    EXPECT_EQ(w.configPanel()->config().train.network.blocks[0].norm, engine::NormPlacement::Before);

    // The comparison draws both.
    w.showTab(1);
    ASSERT_TRUE(waitUntil([&] { return w.compareCharts()->lineCount() == 2 && w.compareActivations()->chartCount() == 2; }, 10000));
    // The lower panel compares one parameter's gradient norm instead: a line per run, with points.
    ASSERT_TRUE(w.showCompareView("grad-norms"));
    ASSERT_TRUE(waitUntil([&] { return w.compareGradients()->chart()->series().size() == 2; }, 10000));
    for (QAbstractSeries* series : w.compareGradients()->chart()->series())
        EXPECT_GT(qobject_cast<QLineSeries*>(series)->count(), 5) << series->name().toStdString();
    EXPECT_TRUE(w.compareGradients()->chart()->title().contains("dense1.weight")) << w.compareGradients()->chart()->title().toStdString();
    // Or one BN layer's statistics: only the first run has bn1; two lines (batch, running) on each panel.
    EXPECT_FALSE(w.showCompareView("bn-stat")) << "not a chart name";
    ASSERT_TRUE(w.showCompareView("bn-stats"));
    ASSERT_TRUE(waitUntil([&] { return w.compareBnStats()->drawnRuns() == 1; }, 10000));
    ASSERT_EQ(w.compareBnStats()->meanChart()->series().size(), 2);
    for (QAbstractSeries* series : w.compareBnStats()->meanChart()->series())
        EXPECT_EQ(qobject_cast<QLineSeries*>(series)->count(), int(w.runs().find(first)->run().probes.size()));
    EXPECT_EQ(w.runs().find(first)->run().probes.size(), 13u) << "at step 1 and every 5 steps to 60";
    EXPECT_TRUE(w.compareBnStats()->meanChart()->title().startsWith("bn1, feature")) << w.compareBnStats()->meanChart()->title().toStdString();

    // File › Export Chart: the dialog's choices (chart, both runs, size, scale, file) give that image.
    QTemporaryDir exported;
    const QString bnPng = exported.filePath("bn.png");
    bool dialogSeen = false;
    QTimer::singleShot(0, [&] {
        auto* dialog = qobject_cast<QDialog*>(QApplication::activeModalWidget());
        if (!dialog || dialog->objectName() != "exportChartDialog") return;
        dialogSeen = true;
        dialog->findChild<QComboBox*>("chart")->setCurrentText("bn-stats");
        dialog->findChild<QCheckBox*>("compare")->setChecked(true);
        dialog->findChild<QSpinBox*>("width")->setValue(640);
        dialog->findChild<QSpinBox*>("height")->setValue(320);
        dialog->findChild<QDoubleSpinBox*>("scale")->setValue(1.5);
        EXPECT_TRUE(dialog->findChild<QLineEdit*>("path")->text().endsWith("/bn-stats.png")) << "the name follows the chart";
        dialog->findChild<QLineEdit*>("path")->setText(bnPng);
        dialog->accept();
    });
    w.exportChart();
    EXPECT_TRUE(dialogSeen);
    const QImage bnImage(bnPng);
    ASSERT_FALSE(bnImage.isNull()) << w.errorText().toStdString();
    EXPECT_EQ(bnImage.size(), QSize(960, 525)) << "640 x (320 + the title) at 1.5x";
    EXPECT_EQ(w.errorText(), "");
    EXPECT_FALSE(w.exportChartTo("loss", true, QSize(400, 300), 1, "/nonexistent-folder/loss.png"));
    EXPECT_TRUE(w.errorText().contains("/nonexistent-folder/loss.png: cannot write")) << w.errorText().toStdString();
    EXPECT_FALSE(w.exportChartTo("nonsense", false, QSize(400, 300), 1, exported.filePath("x.png")));
    EXPECT_TRUE(w.errorText().contains("unknown chart 'nonsense'")) << w.errorText().toStdString();
    ASSERT_TRUE(w.showCompareView("activations"));
    // The table: a row per run, the differing setting as a column, sortable by test accuracy.
    w.showTab(2);
    QTableWidget* table = w.runTable()->table();
    ASSERT_TRUE(waitUntil([&] { return table->rowCount() == 2; }, 10000));
    QStringList headers;
    for (int c = 0; c < table->columnCount(); ++c) headers << table->horizontalHeaderItem(c)->text();
    EXPECT_TRUE(headers.contains("norm")) << headers.join(",").toStdString();
    const int test = int(headers.indexOf("test accuracy"));
    ASSERT_GE(test, 0);
    table->sortByColumn(test, Qt::DescendingOrder);
    EXPECT_GE(table->item(0, test)->data(Qt::UserRole).toDouble(), table->item(1, test)->data(Qt::UserRole).toDouble());

    // Metrics as CSV: a header and a row per step and per evaluation of both runs.
    QTemporaryDir tmp;
    w.exportMetrics(tmp.filePath("metrics.csv"));
    QFile csv(tmp.filePath("metrics.csv"));
    ASSERT_TRUE(csv.open(QIODevice::ReadOnly));
    const QList<QByteArray> rows = csv.readAll().trimmed().split('\n');
    std::size_t expected = 1;
    for (const auto& e : w.runs().entries()) expected += e->run().steps.size() + e->run().evals.size();
    EXPECT_EQ(std::size_t(rows.size()), expected);
    EXPECT_EQ(rows[0], "run,differences,split,step,epoch,samples,seconds,loss,accuracy");
    EXPECT_TRUE(rows.back().contains("BN before → none"));
    EXPECT_THROW(w.exportMetrics("/nonexistent-folder/metrics.csv"), std::exception);

    // Removing a run keeps the other.
    w.removeRun(second);
    EXPECT_EQ(w.runs().entries().size(), 1u);
    EXPECT_EQ(w.currentRunId(), first);
}

// Runs started within the same second (before their threads have created their folders) get folders of their
// own: sharing one, a fork took its checkpoint from the other run.
TEST(MainWindowCompare, RunsStartedInTheSameSecondGetFoldersOfTheirOwn) {
    MainWindow w;
    shortRuns(w);
    w.startRun(true);  // paused: nothing is written yet
    const int first = w.currentRunId();
    w.repeatWithSeeds(first, 4);
    ASSERT_EQ(w.runs().entries().size(), 4u) << w.errorText().toStdString();
    std::set<QString> folders;
    for (const auto& e : w.runs().entries()) folders.insert(e->folder);
    EXPECT_EQ(folders.size(), 4u);
    for (const auto& e : w.runs().entries()) w.runs().find(e->id)->controller->stop();
    ASSERT_TRUE(waitUntil([&] { return allFinished(w); }, 60000));
}

TEST(MainWindowCompare, WithWithoutBnAndSeedsStartTheirRunsInOneClick) {
    MainWindow w;
    w.resize(1400, 900);
    w.show();
    shortRuns(w);
    w.startRun();
    const int first = w.currentRunId();
    const int twin = w.toggleBatchNorm(first);
    ASSERT_NE(twin, 0) << w.errorText().toStdString();
    const app::RunConfig& twinConfig = w.runs().find(twin)->run().config;
    for (const auto& b : twinConfig.train.network.blocks) EXPECT_EQ(b.norm, engine::NormPlacement::None);
    EXPECT_EQ(twinConfig.train.seed, w.runs().find(first)->run().config.train.seed);
    // And back: the twin of a run without BN has BN before every activation.
    const int back = w.toggleBatchNorm(twin);
    ASSERT_NE(back, 0);
    for (const auto& b : w.runs().find(back)->run().config.train.network.blocks)
        if (b.isLinear() && b.activation) EXPECT_EQ(b.norm, engine::NormPlacement::Before);

    w.repeatWithSeeds(first, 3);
    ASSERT_EQ(w.runs().entries().size(), 5u);
    const int group = w.runs().find(first)->group;
    EXPECT_NE(group, 0);
    std::vector<std::uint64_t> seeds;
    for (const auto& e : w.runs().entries())
        if (e->group == group) seeds.push_back(e->run().config.train.seed);
    const std::uint64_t seed = w.runs().find(first)->run().config.train.seed;
    EXPECT_EQ(seeds, (std::vector<std::uint64_t>{seed, seed + 1, seed + 2}));
    ASSERT_TRUE(waitUntil([&] { return allFinished(w); }, 180000));
    // Five runs, drawn as three lines and a group: first + two seeds as one mean.
    w.showTab(1);
    ASSERT_TRUE(waitUntil([&] { return w.compareCharts()->lineCount() == 3; }, 10000)) << w.compareCharts()->lineCount();

    // Fork the first run after step 30 with BN off in the first block: the branch shares the first 30 steps.
    EXPECT_EQ(w.forkRun(first, 0, {}), 0);
    EXPECT_TRUE(w.errorText().contains("not in the run")) << w.errorText().toStdString();
    const int branch = w.forkRun(first, 30, {"block.1.norm=none"});
    ASSERT_NE(branch, 0) << w.errorText().toStdString();
    EXPECT_TRUE(w.runs().find(branch)->run().name.contains("fork of #1 at 30")) << w.runs().find(branch)->run().name.toStdString();
    ASSERT_TRUE(waitUntil([&] { return allFinished(w); }, 120000));
    const auto& parentSteps = w.runs().find(first)->run().steps;
    const auto& branchSteps = w.runs().find(branch)->run().steps;
    ASSERT_EQ(branchSteps.size(), parentSteps.size());
    for (std::size_t i = 0; i < 30; ++i) EXPECT_EQ(branchSteps[i].loss, parentSteps[i].loss) << "step " << i + 1;
    EXPECT_NE(branchSteps[30].loss, parentSteps[30].loss);
}

}  // namespace
}  // namespace bnlab::test

namespace bnlab::test {
namespace {

TEST(MainWindowExperiments, AnExperimentStartsItsRunsExplainsItselfAndRespectsTheLimit) {
    ui::MainWindow w;
    w.resize(1400, 900);
    w.show();
    ASSERT_TRUE(w.openDataset(QStringLiteral(BNLAB_TEST_DATASETS "/mnist"))) << w.errorText().toStdString();
    const app::Experiment& e = app::findExperiment("learning-rate");
    const std::vector<int> ids = w.startExperiment("learning-rate", true);
    ASSERT_EQ(ids.size(), e.runs.size()) << w.errorText().toStdString();
    for (std::size_t i = 0; i < ids.size(); ++i) {
        const auto* entry = w.runs().find(ids[i]);
        ASSERT_NE(entry, nullptr);
        EXPECT_TRUE(entry->run().name.endsWith(e.runs[i].label)) << entry->run().name.toStdString();
        EXPECT_EQ(entry->run().config.train.maxSteps, 3000) << "the quick version";
    }
    EXPECT_FLOAT_EQ(w.runs().find(ids[2])->run().config.train.optimizer.learningRate, 3.0f);
    EXPECT_TRUE(w.experimentText().contains(e.claim)) << w.experimentText().toStdString();
    ASSERT_TRUE(waitUntil([&] { return w.compareCharts()->lineCount() == int(ids.size()); }, 20000));
    // Six are training (a diverging run ends early: paused runs stand in for it): a second experiment of four
    // would pass the limit of eight and starts nothing.
    while (w.runs().activeCount() < 6) w.startRun(true);
    const std::size_t before = w.runs().entries().size();
    EXPECT_TRUE(w.startExperiment("momentum", true).empty());
    EXPECT_TRUE(w.errorText().contains("at most 8")) << w.errorText().toStdString();
    EXPECT_EQ(w.runs().entries().size(), before);
    w.runs().stopAll();
    ASSERT_TRUE(waitUntil([&] { return w.runs().activeCount() == 0; }, 30000));
}

}  // namespace
}  // namespace bnlab::test
