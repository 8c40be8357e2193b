// The chart widgets (ui/*_chart.h) on empty, short, long and broken runs: no crash, placeholders when there
// is nothing to show, decimated series, settings that point nowhere.

#include "activation_chart.h"
#include "bn_stats_chart.h"
#include "grad_norm_chart.h"
#include "landscape_chart.h"
#include "loss_chart.h"
#include "network_diagram.h"
#include "presets.h"
#include "synthetic_run.h"

#include <QApplication>
#include <QAreaSeries>
#include <QElapsedTimer>
#include <QKeyEvent>
#include <QToolTip>
#include <QWheelEvent>
#include <QValueAxis>
#include <QChartView>
#include <QXYSeries>

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace bnlab::ui {
namespace {

std::vector<QChart*> chartsOf(QWidget& widget) {
    std::vector<QChart*> charts;
    for (QChartView* view : widget.findChildren<QChartView*>()) charts.push_back(view->chart());
    return charts;
}

// Every line of every chart, the lines inside area series included.
std::vector<QXYSeries*> linesOf(QWidget& widget) {
    std::vector<QXYSeries*> lines;
    for (QChart* chart : chartsOf(widget)) {
        for (QAbstractSeries* series : chart->series()) {
            if (auto* xy = qobject_cast<QXYSeries*>(series)) lines.push_back(xy);
            if (auto* area = qobject_cast<QAreaSeries*>(series)) {
                lines.push_back(area->upperSeries());
                if (area->lowerSeries()) lines.push_back(area->lowerSeries());
            }
        }
    }
    return lines;
}

qsizetype pointsIn(QWidget& widget) {
    qsizetype n = 0;
    for (QXYSeries* line : linesOf(widget)) n += line->count();
    return n;
}

bool titlesContain(QWidget& widget, const QString& text) {
    for (QChart* chart : chartsOf(widget))
        if (chart->title().contains(text)) return true;
    return false;
}

template <class Chart>
void expectEmptyThenFilled(Chart& chart) {
    chart.refresh(app::RunData{});
    EXPECT_EQ(pointsIn(chart), 0);
    EXPECT_TRUE(titlesContain(chart, QStringLiteral("yet")));
    const app::RunData run = makeRun(400);
    chart.refresh(run);
    EXPECT_GT(pointsIn(chart), 0);
    EXPECT_FALSE(titlesContain(chart, QStringLiteral("yet")));
}

TEST(Charts, ShowPlaceholdersForAnEmptyRunThenData) {
    LossChart loss;
    expectEmptyThenFilled(loss);
    GradNormChart grads;
    expectEmptyThenFilled(grads);
    ActivationChart activations;
    expectEmptyThenFilled(activations);
    BnStatsChart bn;
    expectEmptyThenFilled(bn);
}

TEST(Charts, LongRunsAreDecimated) {
    const app::RunData run = makeRun(50000);
    LossChart loss;
    loss.refresh(run);
    GradNormChart grads;
    grads.refresh(run);
    for (QWidget* widget : std::initializer_list<QWidget*>{&loss, &grads}) {
        for (QXYSeries* line : linesOf(*widget)) {
            EXPECT_LE(line->count(), 2000)
                << line->name().toStdString();  // widgets not laid out: 2000 at most
        }
    }
    EXPECT_GT(pointsIn(loss), 1000);
}

TEST(Charts, SettingsThatPointNowhereShowNothing) {
    const app::RunData run = makeRun(200);
    ActivationChart activations;
    activations.setBlock(5);
    activations.refresh(run);
    EXPECT_EQ(pointsIn(activations), 0);
    EXPECT_TRUE(titlesContain(activations, QStringLiteral("no such block")));
    activations.setBlock(1);
    activations.setPostActivation(true);
    activations.refresh(run);
    EXPECT_GT(pointsIn(activations), 0);
    EXPECT_TRUE(titlesContain(activations, QStringLiteral("output post-activation")));

    BnStatsChart bn;
    bn.setFeature(2);  // only two features are followed
    bn.refresh(run);
    EXPECT_EQ(pointsIn(bn), 0);
    bn.setFeature(1);
    bn.refresh(run);
    EXPECT_GT(pointsIn(bn), 0);
    EXPECT_TRUE(titlesContain(bn, QStringLiteral("bn1, feature 7")));
    bn.setLayer(QStringLiteral("bn9"));
    bn.refresh(run);
    EXPECT_EQ(pointsIn(bn), 0);
}

TEST(Charts, SkipNonFiniteAndNonPositiveValues) {
    app::RunData run = makeRun(200);
    run.steps.back().loss = std::numeric_limits<double>::quiet_NaN();
    run.steps.back().lossEma = std::numeric_limits<double>::infinity();
    run.probes.back().params[0].gradNorm = 0;
    run.probes.back().params[1].gradNorm = std::numeric_limits<double>::quiet_NaN();
    run.probes.back().activations[0].pre.percentiles[engine::percentileIndex(50)] = std::numeric_limits<float>::infinity();
    LossChart loss;
    GradNormChart grads;
    ActivationChart activations;
    loss.refresh(run);
    grads.refresh(run);
    activations.refresh(run);
    for (QWidget* widget : std::initializer_list<QWidget*>{&loss, &grads, &activations})
        for (QXYSeries* line : linesOf(*widget))
            for (const QPointF& p : line->points()) EXPECT_TRUE(std::isfinite(p.x()) && std::isfinite(p.y()));
    EXPECT_FALSE(titlesContain(loss, QStringLiteral("nan")));
    EXPECT_FALSE(titlesContain(loss, QStringLiteral("inf")));
}

TEST(Charts, SettingsApplyAtTheNextRefresh) {
    const app::RunData run = makeRun(938);  // two epochs of 469 steps
    LossChart loss;
    loss.refresh(run);
    loss.setXAxis(XAxis::Epoch);
    loss.refresh(run);
    for (QXYSeries* line : linesOf(loss))
        for (const QPointF& p : line->points()) EXPECT_LE(p.x(), 2.0 + 1e-9);

    GradNormChart grads;
    grads.refresh(run);
    grads.setShowUpdateRatio(true);
    grads.refresh(run);
    for (QXYSeries* line : linesOf(grads))
        for (const QPointF& p : line->points()) EXPECT_DOUBLE_EQ(p.y(), 1e-3);
}

// The same probes drawn as the BN paper's bands or as TensorBoard's nine lines (four nested bands and the median);
// a run saved before TensorBoard's levels were recorded says so instead of drawing nothing silently.
TEST(Charts, ActivationBandsInThePapersOrTensorBoardsStyle) {
    app::RunData run = makeRun(200);
    ActivationChart chart;
    chart.resize(800, 300);
    auto visibleBands = [&] {
        std::vector<QAreaSeries*> out;
        for (QAbstractSeries* s : chart.bandsChart()->series())
            if (auto* a = qobject_cast<QAreaSeries*>(s); a && a->isVisible()) out.push_back(a);
        return out;
    };
    chart.refresh(run);
    ASSERT_EQ(visibleBands().size(), 3u);
    EXPECT_EQ(visibleBands()[2]->name(), "15–85 %");
    EXPECT_TRUE(chart.bandsChart()->title().endsWith("percentiles")) << chart.bandsChart()->title().toStdString();

    chart.setBandStyle(BandStyle::TensorBoard);
    chart.refresh(run);
    const auto bands = visibleBands();
    ASSERT_EQ(bands.size(), 4u);
    EXPECT_EQ(bands[1]->name(), "±1.5σ (6.7–93.3 %)");
    // The innermost band is the ±0.5σ levels of the last probe.
    const engine::Distribution& last = run.probes.back().activations[0].pre;
    ASSERT_GT(bands[3]->upperSeries()->count(), 0);
    EXPECT_FLOAT_EQ(float(bands[3]->upperSeries()->points().back().y()), last.percentiles[engine::percentileIndex(69.146f)]);
    EXPECT_FLOAT_EQ(float(bands[3]->lowerSeries()->points().back().y()), last.percentiles[engine::percentileIndex(30.854f)]);
    EXPECT_TRUE(chart.bandsChart()->title().contains("TensorBoard")) << chart.bandsChart()->title().toStdString();

    for (auto& p : run.probes)
        for (auto& a : p.activations)
            for (engine::Distribution* d : {&a.pre, &a.post})
                for (std::size_t k : engine::kTensorBoardLines)
                    if (k != 0 && k + 1 != engine::kPercentiles.size() && k != engine::percentileIndex(50))
                        d->percentiles[k] = std::numeric_limits<float>::quiet_NaN();
    ActivationChart older;
    older.setBandStyle(BandStyle::TensorBoard);
    older.refresh(run);
    EXPECT_TRUE(older.bandsChart()->title().contains("saved without TensorBoard's levels")) << older.bandsChart()->title().toStdString();
    older.setBandStyle(BandStyle::Paper);
    older.refresh(run);
    EXPECT_TRUE(older.bandsChart()->title().endsWith("percentiles")) << "the paper's levels are all there";
    EXPECT_EQ(bandStyleFromName("tensorboard"), BandStyle::TensorBoard);
    EXPECT_THROW((void)bandStyleFromName("tufte"), std::exception);
}

// The configuration panel's diagram: BN before each sigmoid, and with bn_noise a noise box after each BN.
TEST(NetworkDiagram, DrawsTheBlocksTheirNormalisationAndBatchNormNoise) {
    NetworkDiagram diagram;
    diagram.setSpec(app::findPreset("bn-paper-mlp").config.train.network);
    const QString plain = QStringLiteral("Dense 100,BN,σ,Dense 100,BN,σ,Dense 100,BN,σ,Dense → softmax");
    EXPECT_EQ(diagram.boxTexts().join(","), plain);
    diagram.setBatchNormNoise(true);
    EXPECT_EQ(diagram.boxTexts().join(","),
              QStringLiteral("Dense 100,BN,+noise,σ,Dense 100,BN,+noise,σ,Dense 100,BN,+noise,σ,Dense → softmax"));
    diagram.setBatchNormNoise(false);
    EXPECT_EQ(diagram.boxTexts().join(","), plain);
}

TEST(Charts, ParameterSeriesFollowTheRun) {
    GradNormChart grads;
    app::RunData run = makeRun(200);
    grads.refresh(run);
    EXPECT_EQ(linesOf(grads).size(), 4u);
    for (engine::ProbeSnapshot& p : run.probes) p.params.resize(2);
    run.name = QStringLiteral("another");
    grads.refresh(run);
    EXPECT_EQ(linesOf(grads).size(), 2u);
}

}  // namespace
}  // namespace bnlab::ui

namespace bnlab::ui {
namespace {

QValueAxis* xAxisOf(QChart* chart) {
    for (QAbstractAxis* a : chart->axes(Qt::Horizontal))
        if (auto* v = qobject_cast<QValueAxis*>(a)) return v;
    return nullptr;
}

// Zoom by keyboard (as the wheel and a rubber band do), the range kept while new data arrives, and reset back
// to following the data; a click on a shared legend entry hides and shows its lines.
TEST(Charts, LandscapeChartsDrawEachMeasureLiveAndPerLayer) {
    app::RunData run = makeRun(200);
    run.landscape.clear();  // added below, as they would arrive
    LandscapeChart chart;
    chart.refresh(run);
    EXPECT_EQ(pointsIn(chart), 0);
    EXPECT_TRUE(titlesContain(chart, QStringLiteral("no measure yet")));
    // Measures every 50 steps: the chart follows the run as they arrive (live).
    for (long s = 50; s <= 200; s += 50) {
        engine::LandscapeRecord r;
        r.step = s;
        r.samples = s * 128;
        r.loss = 1.0 / double(s);
        r.lossMin = 0.5 / double(s);
        r.lossMax = 2.0 / double(s);
        r.predictiveness = 0.1 * double(s);
        r.betaSmoothness = s == 100 ? std::numeric_limits<double>::quiet_NaN() : 2.0;  // left out
        r.layers = {{"dense1", 0, 1, 1}, {"dense2", 0.01, 0.99, 1}, {"output", 0.02, 0.98, 1}};
        run.landscape.push_back(r);
        chart.refresh(run);
    }
    EXPECT_EQ(pointsIn(chart), 4 + 4 + 4);  // the band's two lines and the loss at w
    chart.setMeasure(LandscapeMeasure::BetaSmoothness);
    chart.refresh(run);
    EXPECT_EQ(pointsIn(chart), 3);
    // ICS: a line per weight layer after the first (whose shift is 0 by definition), or the chosen one.
    chart.setMeasure(LandscapeMeasure::Shift);
    chart.refresh(run);
    EXPECT_EQ(linesOf(chart).size(), 2u);
    EXPECT_EQ(pointsIn(chart), 8);
    chart.setLayer(QStringLiteral("output"));
    chart.refresh(run);
    EXPECT_EQ(pointsIn(chart), 4);
    EXPECT_TRUE(titlesContain(chart, QStringLiteral("of output")));
    EXPECT_TRUE(titlesContain(chart, QStringLiteral("ICS")));
    // Two runs: one line per run.
    app::RunData other = run;
    other.name = QStringLiteral("other");
    chart.refresh(std::vector<ComparedRun>{{&run, palette::kBlue, "a"}, {&other, palette::kOrange, "b"}});
    EXPECT_EQ(linesOf(chart).size(), 2u);
    EXPECT_EQ(pointsIn(chart), 8);
}

TEST(ChartInteraction, AZoomedChartKeepsItsRangeUntilResetAndLegendEntriesToggleTheirLines) {
    LossChart chart;
    chart.resize(900, 400);
    chart.show();
    chart.refresh(makeRun(400));
    auto* view = chart.findChildren<ChartView*>().front();
    QValueAxis* x = xAxisOf(view->chart());
    ASSERT_NE(x, nullptr);
    const double fullMax = x->max();
    EXPECT_GE(fullMax, 400);

    QKeyEvent plus(QEvent::KeyPress, Qt::Key_Plus, Qt::NoModifier);
    QApplication::sendEvent(view, &plus);
    EXPECT_TRUE(view->zoomed());
    const double zoomedMin = x->min(), zoomedMax = x->max();
    EXPECT_LT(zoomedMax - zoomedMin, 0.9 * fullMax);

    const app::RunData longer = makeRun(800);
    chart.refresh(longer);
    EXPECT_EQ(x->min(), zoomedMin) << "new data does not undo the user's zoom";
    EXPECT_EQ(x->max(), zoomedMax);

    QKeyEvent home(QEvent::KeyPress, Qt::Key_Home, Qt::NoModifier);
    QApplication::sendEvent(view, &home);  // reset: refits to the run last drawn
    EXPECT_FALSE(view->zoomed());
    EXPECT_GE(x->max(), 800);

    auto* legend = chart.findChild<LegendLabel*>();
    ASSERT_NE(legend, nullptr);
    auto visibleLines = [&] {
        int n = 0;
        for (ChartView* v : chart.findChildren<ChartView*>())
            for (QAbstractSeries* s : v->chart()->series()) n += s->isVisible() && s->name() == "training batch";
        return n;
    };
    EXPECT_EQ(visibleLines(), 2);  // in the loss and the accuracy chart
    legend->toggle(0);
    EXPECT_EQ(visibleLines(), 0);
    EXPECT_TRUE(legend->text().contains("<s>training batch</s>"));
    legend->toggle(0);
    EXPECT_EQ(visibleLines(), 2);
}

}  // namespace
}  // namespace bnlab::ui

namespace bnlab::ui {
namespace {

// Hover shows the series and the exact values under the cursor; the wheel zooms around the cursor, except on
// the log-scale gradient chart, where Qt Charts 6.4 would loop forever (it did, in this test).
TEST(ChartInteraction, HoverShowsExactValuesAndTheWheelZooms) {
    GradNormChart chart;
    chart.resize(900, 400);
    chart.show();
    const app::RunData run = makeRun(400);
    chart.refresh(run);
    auto* view = chart.findChild<ChartView*>();
    QXYSeries* series = nullptr;
    for (QAbstractSeries* s : view->chart()->series())
        if (s->name() == "bn1.gamma") series = qobject_cast<QXYSeries*>(s);
    ASSERT_NE(series, nullptr);
    Q_EMIT series->hovered(QPointF(250, 0.0779), true);
    EXPECT_TRUE(QToolTip::isVisible());
    EXPECT_TRUE(QToolTip::text().contains("bn1.gamma")) << QToolTip::text().toStdString();
    EXPECT_TRUE(QToolTip::text().contains("step: 250")) << QToolTip::text().toStdString();
    EXPECT_TRUE(QToolTip::text().contains("0.0779")) << QToolTip::text().toStdString();
    Q_EMIT series->hovered(QPointF(250, 0.0779), false);
    QElapsedTimer timer;  // the tooltip may fade out
    timer.start();
    while (QToolTip::isVisible() && timer.elapsed() < 2000) QApplication::processEvents(QEventLoop::AllEvents, 20);
    EXPECT_FALSE(QToolTip::isVisible());

    auto turnWheel = [](ChartView* v) {
        const QPointF centre = v->mapFromScene(v->chart()->mapToScene(v->chart()->plotArea().center()));
        QWheelEvent wheel(centre, v->mapToGlobal(centre), QPoint(), QPoint(0, 120), Qt::NoButton, Qt::NoModifier,
                          Qt::NoScrollPhase, false);
        QApplication::sendEvent(v->viewport(), &wheel);
    };
    EXPECT_FALSE(view->zoomable());
    turnWheel(view);  // returns (it hung before zoom was disabled on log charts)
    EXPECT_FALSE(view->zoomed());

    LossChart loss;
    loss.resize(900, 400);
    loss.show();
    loss.refresh(run);
    auto* lossView = loss.findChild<ChartView*>();
    QValueAxis* x = xAxisOf(lossView->chart());
    const double span = x->max() - x->min();
    turnWheel(lossView);
    EXPECT_TRUE(lossView->zoomed());
    EXPECT_NEAR(x->max() - x->min(), 0.8 * span, 0.05 * span);
}

}  // namespace
}  // namespace bnlab::ui
