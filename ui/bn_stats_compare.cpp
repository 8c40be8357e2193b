#include "bn_stats_compare.h"

#include "bn_stats_chart.h"

#include <QHBoxLayout>
#include <QLineSeries>
#include <QVBoxLayout>

#include <tuple>

namespace bnlab::ui {

BnStatsCompare::BnStatsCompare(QWidget* parent) : QWidget(parent) {
    m_mean = makePanel(QStringLiteral("mean"));
    m_variance = makePanel(QStringLiteral("variance"));
    auto* charts = new QHBoxLayout;
    charts->setSpacing(2);
    charts->addWidget(newChartView(m_mean.chart, this));
    charts->addWidget(newChartView(m_variance.chart, this));
    m_legend = newLegendLabel(this);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->setSpacing(0);
    layout->addLayout(charts, 1);
    layout->addWidget(m_legend);
    paintWhite(this);
}

BnStatsCompare::Panel BnStatsCompare::makePanel(const QString& what) {
    Panel p;
    const AxesChart a = newAxesChart(xAxisTitle(m_xAxis), what);  // one legend under both charts
    p.chart = a.chart;
    p.x = a.x;
    p.y = a.y;
    return p;
}

void BnStatsCompare::setLayer(const QString& layer) { changeAndRedraw(m_layer, layer, m_signature); }

void BnStatsCompare::setFeature(int index) { changeAndRedraw(m_feature, index, m_signature); }

void BnStatsCompare::setXAxis(XAxis axis) {
    if (!changeAndRedraw(m_xAxis, axis, m_signature)) return;
    m_mean.x->setTitleText(xAxisTitle(axis));
    m_variance.x->setTitleText(xAxisTitle(axis));
}

QStringList BnStatsCompare::layers(const std::vector<ComparedRun>& runs) {
    return distinctNames(runs, [](const app::RunData& run, auto add) {
        for (const engine::ProbeSnapshot& s : run.probes)
            for (const engine::BatchNormProbe& b : s.batchNorm) add(b.layer);
    });
}

void BnStatsCompare::refresh(const std::vector<ComparedRun>& runs) {
    const std::vector<ComparedLine> lines = comparedLines(runs, SeedBand::EveryRun);
    const QString layerName = m_layer.isEmpty() ? layers(runs).value(0) : m_layer;
    const QString signature = signatureOf(lines) + layerName + QString::number(m_feature) + QString::number(int(m_xAxis));
    std::vector<RunStamp> stamps = stampsOf(lines, budgetOf(m_mean.chart));
    if (signature == m_signature && stamps == m_stamps) return;
    m_signature = signature;
    m_stamps = std::move(stamps);
    m_mean.chart->removeAllSeries();
    m_variance.chart->removeAllSeries();

    const std::string layer = layerName.toStdString();
    const qsizetype budget = budgetOf(m_mean.chart);
    Extent xs, means, variances;
    std::vector<LegendEntry> entries;
    int featureShown = -1;  // the feature number of the first run that has it: the titles name it
    m_drawn = 0;
    for (const ComparedLine& l : lines) {
        const BnPoints points = bnPoints(*l.runs.front(), layer, m_feature, m_xAxis);
        const int feature = points.last ? points.last->features[std::size_t(m_feature)] : -1;
        xs.add(points.xs);
        means.add(points.means);
        variances.add(points.variances);
        if (feature < 0) {
            entries.push_back({QStringLiteral("□"), l.colour, l.label + QStringLiteral(" — no %1 here").arg(layerName)});
            continue;
        }
        ++m_drawn;
        if (featureShown < 0) featureShown = feature;
        std::vector<QAbstractSeries*> series;
        for (auto [panel, batch, running] : {std::tuple{&m_mean, &points.batchMean, &points.runningMean},
                                             std::tuple{&m_variance, &points.batchVar, &points.runningVar}}) {
            auto* b = new QLineSeries;
            b->setName(l.label + QStringLiteral(" (batch)"));
            b->setPen(linePen(palette::mix(l.colour, Qt::white, 0.45), 1.0));
            auto* r = new QLineSeries;
            r->setName(l.label + QStringLiteral(" (running)"));
            r->setPen(linePen(l.colour, 2.2));
            addSeries(panel->chart, b, panel->x, panel->y);
            addSeries(panel->chart, r, panel->x, panel->y);
            showPoints(b, *batch, budget);
            showPoints(r, *running, budget);
            series.push_back(b);
            series.push_back(r);
        }
        const QString which = feature == featureShown ? QString() : QStringLiteral(" (feature %1)").arg(feature);
        entries.push_back({QStringLiteral("■"), l.colour, l.label + which, series});
    }
    for (Panel* p : {&m_mean, &m_variance}) fitAxis(p->chart, p->x, xs, xAxisFit(m_xAxis));
    fitAxis(m_mean.chart, m_mean.y, means, {.fallbackLo = -1, .fallbackHi = 1});
    fitAxis(m_variance.chart, m_variance.y, variances, {.fromZero = true, .lowerBound = 0, .fallbackHi = 2});

    if (lines.empty()) {
        m_mean.chart->setTitle(QStringLiteral("No run to compare: tick runs in the Runs list"));
        m_variance.chart->setTitle(QString());
    } else if (featureShown < 0) {
        const QString why = layerName.isEmpty() ? QStringLiteral("no BN layer in these runs")
                                                : QStringLiteral("no run has %1 feature index %2").arg(layerName).arg(m_feature);
        m_mean.chart->setTitle(QStringLiteral("BN mean — ") + why);
        m_variance.chart->setTitle(QStringLiteral("BN variance — ") + why);
    } else {
        const QString name = QStringLiteral("%1, feature %2").arg(layerName).arg(featureShown);
        m_mean.chart->setTitle(name + QStringLiteral(": mean"));
        m_variance.chart->setTitle(name + QStringLiteral(": variance"));
    }
    const QColor grey(0x66, 0x66, 0x66);
    entries.push_back({QStringLiteral("━━"), grey, QStringLiteral("running statistic (Eval mode normalises with it)")});
    entries.push_back({QStringLiteral("──"), palette::mix(grey, Qt::white, 0.45),
                       QStringLiteral("batch statistic (training normalises with it)")});
    setLegend(m_legend, entries);
}

}  // namespace bnlab::ui
