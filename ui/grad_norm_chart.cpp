#include "grad_norm_chart.h"

#include <QVBoxLayout>

#include <algorithm>

namespace bnlab::ui {

namespace {

const QString kNormTitle = QStringLiteral("gradient L2 norm");
const QString kRatioTitle = QStringLiteral("update / weight norm");

// "dense1.weight" -> "dense1"; biases and β are drawn dashed beside the weights and γ of their layer.
std::string layerOf(const std::string& name) { return name.substr(0, name.rfind('.')); }
bool isOffset(const std::string& name) {
    const std::string kind = name.substr(name.rfind('.') + 1);
    return kind == "bias" || kind == "beta";
}

}  // namespace

GradNormChart::GradNormChart(QWidget* parent) : QWidget(parent) {
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    m_chart = newChart();
    m_chart->legend()->setAlignment(Qt::AlignRight);  // parameter names are long; a column keeps them whole
    m_x = newValueAxis(xAxisTitle(m_xAxis));
    m_y = newLogAxis(kNormTitle);
    m_chart->addAxis(m_x, Qt::AlignBottom);
    m_chart->addAxis(m_y, Qt::AlignLeft);
    ChartView* view = newChartView(m_chart, this);
    refitOnZoomReset(view, this, m_stamp);
    layout->addWidget(view);
    m_marks.push_back(std::make_unique<ChangeMarks>(m_chart, m_x, m_y));
    refresh(app::RunData{});
}

void GradNormChart::setShowUpdateRatio(bool show) {
    if (show == m_showUpdateRatio) return;
    m_showUpdateRatio = show;
    m_y->setTitleText(show ? kRatioTitle : kNormTitle);
    m_stamp = {};
}

void GradNormChart::setXAxis(XAxis axis) {
    if (axis == m_xAxis) return;
    m_xAxis = axis;
    m_x->setTitleText(xAxisTitle(axis));
    m_stamp = {};
}

void GradNormChart::setParams(const std::vector<std::string>& names) {
    if (names == m_names) return;
    for (QLineSeries* s : m_series) {
        m_chart->removeSeries(s);
        delete s;
    }
    m_series.clear();
    m_names = names;
    std::vector<std::string> layers;  // in order of first appearance, for the colours
    for (const std::string& name : names) {
        const std::string layer = layerOf(name);
        auto it = std::find(layers.begin(), layers.end(), layer);
        if (it == layers.end()) it = layers.insert(layers.end(), layer);
        auto* series = new QLineSeries;
        series->setName(QString::fromStdString(name));
        const QColor color = palette::category(static_cast<int>(it - layers.begin()));
        series->setPen(linePen(color, 1.6, isOffset(name) ? Qt::DashLine : Qt::SolidLine));
        addSeries(m_chart, series, m_x, m_y);
        m_series.push_back(series);
    }
}

void GradNormChart::refresh(const app::RunData& run) {
    const RunStamp stamp = stampOf(run, budgetOf(m_chart));
    if (stamp == m_stamp) return;
    m_stamp = stamp;

    // Every parameter that was ever probed, in order of first appearance (BN switched on mid-run adds γ and β).
    std::vector<std::string> names;
    for (const engine::ProbeSnapshot& snapshot : run.probes)
        for (const engine::ParamProbe& p : snapshot.params)
            if (std::find(names.begin(), names.end(), p.name) == names.end()) names.push_back(p.name);
    setParams(names);

    std::vector<QList<QPointF>> points(names.size());
    Extent xs, ys;
    for (const engine::ProbeSnapshot& snapshot : run.probes) {
        const double x = xOf(m_xAxis, snapshot);
        xs.add(x);
        for (std::size_t i = 0; i < snapshot.params.size(); ++i) {
            const engine::ParamProbe& p = snapshot.params[i];
            // Snapshots list the parameters in the same order; look the name up if one ever does not.
            std::size_t k = i;
            if (k >= names.size() || names[k] != p.name)
                k = static_cast<std::size_t>(std::find(names.begin(), names.end(), p.name) - names.begin());
            if (k >= names.size()) continue;
            const double value = m_showUpdateRatio ? p.updateRatio : p.gradNorm;
            if (!(value > 0) || !std::isfinite(value)) continue;
            ys.add(value);
            points[k].append(QPointF(x, value));
        }
    }
    const qsizetype budget = budgetOf(m_chart);
    for (std::size_t k = 0; k < m_series.size(); ++k) showPoints(m_series[k], points[k], budget);
    fitAxis(m_chart, m_x, xs, xAxisFit(m_xAxis));
    fitLogAxis(m_chart, m_y, ys);
    m_marks.front()->update(run, m_xAxis);

    const QString what =
        m_showUpdateRatio ? QStringLiteral("Update-to-weight ratio") : QStringLiteral("Gradient norms");
    m_chart->setTitle(run.probes.empty() ? what + QStringLiteral(" — no probe yet")
                                         : what + QStringLiteral(" per parameter"));
}

}  // namespace bnlab::ui
