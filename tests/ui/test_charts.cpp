// The chart widgets (ui/*_chart.h) on empty, short, long and broken runs: no crash, placeholders when there
// is nothing to show, decimated series, settings that point nowhere.

#include "activation_chart.h"
#include "bn_stats_chart.h"
#include "grad_norm_chart.h"
#include "loss_chart.h"
#include "synthetic_run.h"

#include <QAreaSeries>
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
    run.probes.back().activations[0].pre.percentiles[3] = std::numeric_limits<float>::infinity();
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
