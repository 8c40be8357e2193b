#include "bn_stats_chart.h"

#include <QHBoxLayout>
#include <QVBoxLayout>

#include <algorithm>

namespace bnlab::ui {

BnPoints bnPoints(const app::RunData& run, const std::string& layer, int featureIndex, XAxis axis) {
    BnPoints out;
    if (featureIndex < 0) return out;
    const auto f = static_cast<std::size_t>(featureIndex);
    for (const engine::ProbeSnapshot& snapshot : run.probes) {
        const auto it = std::find_if(snapshot.batchNorm.begin(), snapshot.batchNorm.end(),
                                     [&](const engine::BatchNormProbe& b) { return b.layer == layer; });
        if (it == snapshot.batchNorm.end()) continue;
        const engine::BatchNormProbe& p = *it;
        if (f >= p.features.size() || f >= p.batchMean.size() || f >= p.batchVar.size() || f >= p.runningMean.size() ||
            f >= p.runningVar.size())
            continue;
        out.last = &p;
        const double x = xOf(axis, snapshot);
        out.xs.add(x);
        auto add = [x](QList<QPointF>& list, Extent& extent, float v) {
            if (!std::isfinite(v)) return;
            list.append(QPointF(x, v));
            extent.add(v);
        };
        add(out.batchMean, out.means, p.batchMean[f]);
        add(out.runningMean, out.means, p.runningMean[f]);
        add(out.batchVar, out.variances, p.batchVar[f]);
        add(out.runningVar, out.variances, p.runningVar[f]);
    }
    return out;
}

BnStatsChart::BnStatsChart(QWidget* parent) : QWidget(parent) {
    m_mean = makePanel(QStringLiteral("mean"));
    m_variance = makePanel(QStringLiteral("variance"));
    auto* charts = new QHBoxLayout;
    charts->setSpacing(2);
    for (Panel* p : {&m_mean, &m_variance}) {
        ChartView* view = newChartView(p->chart, this);
        refitOnZoomReset(view, this, m_stamp);
        charts->addWidget(view);
        m_marks.push_back(std::make_unique<ChangeMarks>(p->chart, p->x, p->y));
    }
    auto* legend = newLegendLabel(this);
    setLegend(legend, {{QStringLiteral("─●─"), palette::kOrange,
                        QStringLiteral("batch statistic (normalises in training)"), {m_mean.batch, m_variance.batch}},
                       {QStringLiteral("━━"), palette::kBlue,
                        QStringLiteral("running statistic (used in Eval mode)"), {m_mean.running, m_variance.running}}});
    legend->setWordWrap(true);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->setSpacing(0);
    layout->addLayout(charts, 1);
    layout->addWidget(legend);
    paintWhite(this);
    refresh(app::RunData{});
}

BnStatsChart::Panel BnStatsChart::makePanel(const QString& what) {
    Panel p;
    const AxesChart a = newAxesChart(xAxisTitle(m_xAxis), what);  // one legend under both charts
    p.chart = a.chart;
    p.x = a.x;
    p.y = a.y;
    p.batch = new QLineSeries;
    p.batch->setName(QStringLiteral("batch ") + what);
    p.batch->setPen(linePen(palette::kOrange, 1.2));
    p.batch->setPointsVisible(true);
    p.batch->setMarkerSize(4);
    p.running = new QLineSeries;
    p.running->setName(QStringLiteral("running ") + what);
    p.running->setPen(linePen(palette::kBlue, 2.4));
    addSeries(p.chart, p.batch, p.x, p.y);
    addSeries(p.chart, p.running, p.x, p.y);
    return p;
}

void BnStatsChart::setLayer(const QString& name) {
    if (name == m_layer) return;
    m_layer = name;
    m_layerName = name.toStdString();
    m_stamp = {};
}

void BnStatsChart::setFeature(int index) {
    if (index == m_feature) return;
    m_feature = index;
    m_stamp = {};
}

void BnStatsChart::setXAxis(XAxis axis) {
    if (axis == m_xAxis) return;
    m_xAxis = axis;
    m_mean.x->setTitleText(xAxisTitle(axis));
    m_variance.x->setTitleText(xAxisTitle(axis));
    m_stamp = {};
}

void BnStatsChart::refresh(const app::RunData& run) {
    const RunStamp stamp = stampOf(run, budgetOf(m_mean.chart));
    if (stamp == m_stamp) return;
    m_stamp = stamp;

    // No layer chosen: the first BN layer of the latest snapshot.
    const std::string layer = !m_layerName.empty() || run.probes.empty() || run.probes.back().batchNorm.empty()
                                  ? m_layerName
                                  : run.probes.back().batchNorm.front().layer;
    const BnPoints points = bnPoints(run, layer, m_feature, m_xAxis);
    const engine::BatchNormProbe* last = points.last;
    const qsizetype budget = budgetOf(m_mean.chart);
    showPoints(m_mean.batch, points.batchMean, budget);
    showPoints(m_mean.running, points.runningMean, budget);
    showPoints(m_variance.batch, points.batchVar, budget);
    showPoints(m_variance.running, points.runningVar, budget);
    for (Panel* p : {&m_mean, &m_variance}) fitAxis(p->chart, p->x, points.xs, xAxisFit(m_xAxis));
    fitAxis(m_mean.chart, m_mean.y, points.means, {.fallbackLo = -1, .fallbackHi = 1});
    // Variances are seen against zero, not magnified wiggles.
    fitAxis(m_variance.chart, m_variance.y, points.variances, {.fromZero = true, .lowerBound = 0, .fallbackHi = 2});
    for (auto& marks : m_marks) marks->update(run, m_xAxis);

    if (!last) {
        const QString why = run.probes.empty()                    ? QStringLiteral(" — no probe yet")
                            : run.probes.back().batchNorm.empty() ? QStringLiteral(" — no BN layer here")
                                                                  : QStringLiteral(" — no such feature");
        m_mean.chart->setTitle(QStringLiteral("BN mean") + why);
        m_variance.chart->setTitle(QStringLiteral("BN variance") + why);
        return;
    }
    const QString name = QStringLiteral("%1, feature %2")
                             .arg(QString::fromStdString(last->layer))
                             .arg(last->features[std::size_t(m_feature)]);
    m_mean.chart->setTitle(name + QStringLiteral(": mean"));
    m_variance.chart->setTitle(name + QStringLiteral(": variance"));
}

}  // namespace bnlab::ui
