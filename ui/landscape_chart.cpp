#include "landscape_chart.h"

#include "landscape.h"

#include <QVBoxLayout>

#include <algorithm>
#include <cmath>

namespace bnlab::ui {
namespace {

bool logScale(LandscapeMeasure m) { return m != LandscapeMeasure::LossRange && m != LandscapeMeasure::ShiftCosine; }

QString yTitle(LandscapeMeasure m) {
    switch (m) {
        case LandscapeMeasure::LossRange: return QStringLiteral("loss L(w − η∇L)");
        case LandscapeMeasure::Predictiveness: return QStringLiteral("max ‖∇L(w) − ∇L(w − η∇L)‖");
        case LandscapeMeasure::BetaSmoothness: return QStringLiteral("max ‖Δ∇L‖ / ‖η∇L‖");
        case LandscapeMeasure::Shift: return QStringLiteral("ICS ‖G − G′‖");
        case LandscapeMeasure::ShiftCosine: return QStringLiteral("ICS cos(G, G′)");
    }
    return {};
}

// "0.25–4": the range of kLandscapeSteps
QString gridText() {
    return QString::number(engine::kLandscapeSteps.front()) + QStringLiteral("–") +
           QString::number(engine::kLandscapeSteps.back());
}

const Qt::PenStyle kStyles[] = {Qt::SolidLine, Qt::DashLine, Qt::DotLine, Qt::DashDotLine, Qt::DashDotDotLine};

}  // namespace

const QStringList& landscapeChartNames() {
    static const QStringList names = {"loss-landscape", "gradient-predictiveness", "beta-smoothness", "ics", "ics-cosine"};
    return names;
}

QString landscapeChartTitle(LandscapeMeasure m) {
    switch (m) {
        case LandscapeMeasure::LossRange: return QStringLiteral("Loss along the gradient");
        case LandscapeMeasure::Predictiveness: return QStringLiteral("Gradient predictiveness");
        case LandscapeMeasure::BetaSmoothness: return QStringLiteral("Effective β-smoothness");
        case LandscapeMeasure::Shift: return QStringLiteral("ICS ‖G − G′‖ (gradients)");
        case LandscapeMeasure::ShiftCosine: return QStringLiteral("ICS cos(G, G′) (gradients)");
    }
    return {};
}

LandscapeChart::LandscapeChart(QWidget* parent) : QWidget(parent) {
    m_chart = newChart();
    m_chart->legend()->hide();
    m_x = newValueAxis(xAxisTitle(m_xAxis));
    m_chart->addAxis(m_x, Qt::AlignBottom);
    m_legend = newLegendLabel(this);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->setSpacing(0);
    layout->addWidget(newChartView(m_chart, this), 1);
    layout->addWidget(m_legend);
    paintWhite(this);
    m_measure = LandscapeMeasure::Shift;  // differs, so that setMeasure builds the y axis
    setMeasure(LandscapeMeasure::LossRange);
}

void LandscapeChart::setMeasure(LandscapeMeasure measure) {
    if (measure == m_measure && m_y) return;
    m_measure = measure;
    m_chart->removeAllSeries();
    if (m_y) {
        m_chart->removeAxis(m_y);
        delete m_y;
    }
    m_y = logScale(measure) ? static_cast<QAbstractAxis*>(newLogAxis(yTitle(measure)))
                            : static_cast<QAbstractAxis*>(newValueAxis(yTitle(measure)));
    m_chart->addAxis(m_y, Qt::AlignLeft);
    m_signature.clear();
}

void LandscapeChart::setLayer(const QString& layer) { changeAndRedraw(m_layer, layer, m_signature); }

void LandscapeChart::setXAxis(XAxis axis) {
    if (changeAndRedraw(m_xAxis, axis, m_signature)) m_x->setTitleText(xAxisTitle(axis));
}

QStringList LandscapeChart::layers(const std::vector<ComparedRun>& runs) {
    return distinctNames(runs, [](const app::RunData& run, auto add) {
        if (!run.landscape.empty())
            for (const engine::LayerShift& s : run.landscape.back().layers) add(s.layer);
    });
}

void LandscapeChart::refresh(const app::RunData& run) {
    draw({ComparedLine{palette::kBlue, run.name, {&run}}}, true);
}

void LandscapeChart::refresh(const std::vector<ComparedRun>& runs) {
    draw(comparedLines(runs, SeedBand::EveryRun), runs.size() == 1);
}

void LandscapeChart::draw(const std::vector<ComparedLine>& lines, bool single) {
    const QString signature = signatureOf(lines) + m_layer + QString::number(int(m_measure)) +
                              QString::number(int(m_xAxis)) + (single ? "1" : "n");
    std::vector<RunStamp> stamps = stampsOf(lines, budgetOf(m_chart));
    if (signature == m_signature && stamps == m_stamps) return;
    m_signature = signature;
    m_stamps = std::move(stamps);
    m_chart->removeAllSeries();
    const qsizetype budget = budgetOf(m_chart);
    const bool log = logScale(m_measure);
    Extent xs, ys;
    std::vector<LegendEntry> entries;
    auto addLine = [&](const QList<QPointF>& points, const QColor& colour, Qt::PenStyle style, const QString& name) {
        auto* series = new QLineSeries;
        series->setName(name);
        series->setPen(linePen(colour, 1.8, style));
        addSeries(m_chart, series, m_x, m_y);
        showPoints(series, points, budget);
        return series;
    };
    auto usable = [&](double v) { return std::isfinite(v) && (!log || v > 0); };
    bool any = false;
    for (const ComparedLine& l : lines) {
        const std::vector<engine::LandscapeRecord>& records = l.runs.front()->landscape;
        any = any || !records.empty();
        if (m_measure == LandscapeMeasure::LossRange) {
            QList<QPointF> lower, upper, loss;
            for (const engine::LandscapeRecord& r : records) {
                const double x = xOf(m_xAxis, r);
                xs.add(x);
                if (usable(r.lossMin) && usable(r.lossMax)) {
                    lower.append({x, r.lossMin});
                    upper.append({x, r.lossMax});
                    ys.add(r.lossMin);
                    ys.add(r.lossMax);
                }
                if (usable(r.loss)) loss.append({x, r.loss});
            }
            QColor fill = l.colour;
            fill.setAlphaF(0.3f);
            const Band band = newBand(l.label + QStringLiteral(": range"), fill);
            addSeries(m_chart, band.area, m_x, m_y);
            showBand(band, lower, upper, budget);
            QLineSeries* line = addLine(loss, l.colour, Qt::SolidLine, l.label);
            entries.push_back({QStringLiteral("■"), l.colour, l.label, {band.area, line}});
            continue;
        }
        if (m_measure == LandscapeMeasure::Predictiveness || m_measure == LandscapeMeasure::BetaSmoothness) {
            QList<QPointF> points;
            for (const engine::LandscapeRecord& r : records) {
                const double v = m_measure == LandscapeMeasure::Predictiveness ? r.predictiveness : r.betaSmoothness;
                xs.add(xOf(m_xAxis, r));
                if (!usable(v)) continue;
                points.append({xOf(m_xAxis, r), v});
                ys.add(v);
            }
            entries.push_back({QStringLiteral("━━"), l.colour, l.label, {addLine(points, l.colour, Qt::SolidLine, l.label)}});
            continue;
        }
        // ICS: a line per weight layer (or the chosen one), the first layer (always 0 and 1) left out.
        QStringList names;
        for (const engine::LandscapeRecord& r : records)
            for (std::size_t k = 1; k < r.layers.size(); ++k) {
                const QString name = QString::fromStdString(r.layers[k].layer);
                if (!names.contains(name) && (m_layer.isEmpty() || name == m_layer)) names << name;
            }
        for (int n = 0; n < names.size(); ++n) {
            QList<QPointF> points;
            for (const engine::LandscapeRecord& r : records)
                for (const engine::LayerShift& s : r.layers) {
                    if (QString::fromStdString(s.layer) != names[n]) continue;
                    const double v = m_measure == LandscapeMeasure::Shift ? s.distance : s.cosine;
                    xs.add(xOf(m_xAxis, r));
                    if (!usable(v)) continue;
                    points.append({xOf(m_xAxis, r), v});
                    ys.add(v);
                }
            // One run: a colour per layer. Several: the run's colour, a dash per layer.
            const QColor colour = single ? palette::category(n) : l.colour;
            const Qt::PenStyle style = single ? Qt::SolidLine : kStyles[n % 5];
            const QString name = single ? names[n] : l.label + QStringLiteral(" · ") + names[n];
            entries.push_back({QStringLiteral("━━"), colour, name, {addLine(points, colour, style, name)}});
        }
    }
    fitAxis(m_chart, m_x, xs, xAxisFit(m_xAxis));
    if (auto* logAxis = qobject_cast<QLogValueAxis*>(m_y)) fitLogAxis(m_chart, logAxis, ys);
    else if (auto* valueAxis = qobject_cast<QValueAxis*>(m_y)) {
        AxisFit fit;
        if (m_measure == LandscapeMeasure::ShiftCosine) fit.upperBound = 1.0;
        fitAxis(m_chart, valueAxis, ys, fit);
    }
    // Short enough for the window's panel; the grid is 0.25, 0.5, 1, 2, 4 × the learning rate (kLandscapeSteps).
    QString title = landscapeChartTitle(m_measure);
    if (m_measure == LandscapeMeasure::LossRange) title = QStringLiteral("Loss along −∇L, η = %1 × lr").arg(gridText());
    else if (m_measure == LandscapeMeasure::Predictiveness || m_measure == LandscapeMeasure::BetaSmoothness)
        title += QStringLiteral(", η = %1 × lr").arg(gridText());
    else if (!m_layer.isEmpty()) title += QStringLiteral(" of ") + m_layer;
    if (lines.empty()) title = QStringLiteral("No run to compare: tick runs in the Runs list");
    else if (!any) title = landscapeChartTitle(m_measure) + QStringLiteral(" — no measure yet (set landscape_interval, e.g. 50)");
    m_chart->setTitle(title);
    setLegend(m_legend, entries);
}

}  // namespace bnlab::ui
