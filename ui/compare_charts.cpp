#include "compare_charts.h"

#include <QGridLayout>
#include <QHBoxLayout>
#include <QVBoxLayout>

#include <algorithm>
#include <array>
#include <cmath>
#include <map>

namespace bnlab::ui {
namespace {

const QColor kStyleGrey(0x66, 0x66, 0x66);

QString bandText(SeedBand band) {
    return band == SeedBand::StdDev ? QStringLiteral("mean ± 1 std") : QStringLiteral("mean, min–max band");
}

QColor translucent(QColor c, double alpha) {
    c.setAlphaF(float(alpha));
    return c;
}

// The distribution of block in a snapshot (pre- or post-activation), or null.
const engine::Distribution* findDistribution(const engine::ProbeSnapshot& s, const std::string& block, bool post) {
    for (const engine::ActivationProbe& a : s.activations)
        if (a.block == block) return post ? &a.post : &a.pre;
    return nullptr;
}

}  // namespace

// What identifies a drawing of lines: the runs, their colours and labels.
QString signatureOf(const std::vector<ComparedLine>& lines) {
    QString s;
    for (const ComparedLine& l : lines) {
        s += l.colour.name() + l.label;
        for (const app::RunData* r : l.runs) s += QString::number(quintptr(r), 16) + ",";
        s += ";";
    }
    return s;
}

std::vector<RunStamp> stampsOf(const std::vector<ComparedLine>& lines, qsizetype budget) {
    std::vector<RunStamp> out;
    for (const ComparedLine& l : lines)
        for (const app::RunData* r : l.runs) out.push_back(stampOf(*r, budget));
    return out;
}

std::vector<ComparedLine> comparedLines(const std::vector<ComparedRun>& runs, SeedBand band) {
    std::map<int, int> groupSize;
    for (const ComparedRun& r : runs)
        if (r.group != 0) ++groupSize[r.group];
    std::vector<ComparedLine> lines;
    std::map<int, std::size_t> lineOfGroup;
    for (const ComparedRun& r : runs) {
        if (!r.run) continue;
        const bool grouped = band != SeedBand::EveryRun && r.group != 0 && groupSize[r.group] > 1;
        if (grouped) {
            if (const auto it = lineOfGroup.find(r.group); it != lineOfGroup.end()) {
                lines[it->second].runs.push_back(r.run);
                continue;
            }
            lineOfGroup[r.group] = lines.size();
        }
        lines.push_back({r.colour, r.label, {r.run}});
    }
    for (ComparedLine& l : lines)
        if (l.runs.size() > 1) l.label += QStringLiteral(" · %1 seeds (%2)").arg(l.runs.size()).arg(bandText(band));
    return lines;
}

Spread spreadOf(const std::vector<QList<QPointF>>& curves, SeedBand band) {
    Spread s;
    if (curves.empty()) return s;
    if (curves.size() == 1) {
        s.mean = curves.front();
        return s;
    }
    qsizetype n = curves.front().size();
    for (const auto& c : curves) n = std::min(n, c.size());
    const double k = double(curves.size());
    for (qsizetype i = 0; i < n; ++i) {
        double x = 0, sum = 0, lo = INFINITY, hi = -INFINITY;
        for (const auto& c : curves) {
            x += c[i].x();
            sum += c[i].y();
            lo = std::min(lo, c[i].y());
            hi = std::max(hi, c[i].y());
        }
        x /= k;
        const double mean = sum / k;
        if (band == SeedBand::StdDev) {
            double var = 0;
            for (const auto& c : curves) var += (c[i].y() - mean) * (c[i].y() - mean);
            const double sd = std::sqrt(var / (k - 1));  // the sample standard deviation of the runs
            lo = mean - sd;
            hi = mean + sd;
        }
        s.mean.append({x, mean});
        s.lower.append({x, lo});
        s.upper.append({x, hi});
    }
    return s;
}

QList<QPointF> smoothedTraining(const app::RunData& run, XAxis axis, double smoothing, bool accuracy) {
    QList<QPointF> out;
    out.reserve(qsizetype(run.steps.size()));
    const double scale = accuracy ? 100.0 : 1.0;
    double ema = 0, power = 1;
    for (const engine::StepRecord& r : run.steps) {
        const double v = accuracy ? r.accuracy : r.loss;
        if (!std::isfinite(v)) continue;
        ema = smoothing * ema + (1 - smoothing) * v;
        power *= smoothing;
        out.append({xOf(axis, r), scale * ema / (1 - power)});
    }
    return out;
}

QList<QPointF> validationCurve(const app::RunData& run, XAxis axis, bool accuracy) {
    QList<QPointF> out;
    for (const engine::EvalRecord& r : run.evals) {
        const double v = accuracy ? r.accuracy : r.loss;
        if (r.split == "validation" && std::isfinite(v)) out.append({xOf(axis, r), (accuracy ? 100.0 : 1.0) * v});
    }
    return out;
}

// --- CompareCharts ---------------------------------------------------------------------------------------

CompareCharts::CompareCharts(QWidget* parent) : QWidget(parent) {
    m_loss = makePanel(QStringLiteral("loss"));
    m_accuracy = makePanel(QStringLiteral("accuracy"));
    m_legend = newLegendLabel(this);
    auto* charts = new QHBoxLayout;
    charts->setSpacing(2);
    charts->addWidget(m_loss.view);
    charts->addWidget(m_accuracy.view);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->setSpacing(0);
    layout->addLayout(charts, 1);
    layout->addWidget(m_legend);
    paintWhite(this);
    refresh({});
}

CompareCharts::Panel CompareCharts::makePanel(const QString& yTitle) {
    Panel p;
    const AxesChart a = newAxesChart(xAxisTitle(m_xAxis), yTitle);  // one legend under both charts
    p.chart = a.chart;
    p.x = a.x;
    p.y = a.y;
    auto* view = newChartView(p.chart, this);
    connect(view, &ChartView::zoomReset, this, [this] { m_stamps.clear(); });
    p.view = view;
    return p;
}

void CompareCharts::setXAxis(XAxis axis) {
    if (axis == m_xAxis) return;
    m_xAxis = axis;
    m_loss.x->setTitleText(xAxisTitle(axis));
    m_accuracy.x->setTitleText(xAxisTitle(axis));
    m_stamps.clear();
}

void CompareCharts::setSmoothing(double weight) {
    weight = std::clamp(weight, 0.0, 0.999);
    if (weight == m_smoothing) return;
    m_smoothing = weight;
    m_stamps.clear();
}

void CompareCharts::setSeedBand(SeedBand band) { changeAndRedraw(m_band, band, m_signature); }

void CompareCharts::setPanels(bool loss, bool accuracy) {
    m_loss.view->setVisible(loss);
    m_accuracy.view->setVisible(accuracy);
}

void CompareCharts::rebuild() {
    for (auto [panel, drawn] : {std::pair{&m_loss, &m_lossLines}, std::pair{&m_accuracy, &m_accuracyLines}}) {
        panel->chart->removeAllSeries();
        drawn->assign(m_lines.size(), {});
        // Bands first, so that every line is drawn over them.
        for (std::size_t i = 0; i < m_lines.size(); ++i) {
            if (m_lines[i].runs.size() < 2) continue;
            Drawn& d = (*drawn)[i];
            d.trainBand = newBand(m_lines[i].label + QStringLiteral(" (training, spread)"), translucent(m_lines[i].colour, 0.18));
            d.validationBand = newBand(m_lines[i].label + QStringLiteral(" (validation, spread)"),
                                       translucent(m_lines[i].colour, 0.12));
            addSeries(panel->chart, d.trainBand.area, panel->x, panel->y);
            addSeries(panel->chart, d.validationBand.area, panel->x, panel->y);
        }
        for (std::size_t i = 0; i < m_lines.size(); ++i) {
            Drawn& d = (*drawn)[i];
            d.train = new QLineSeries;
            d.train->setName(m_lines[i].label + QStringLiteral(" (training)"));
            d.train->setPen(linePen(m_lines[i].colour, 2.0));
            d.validation = new QLineSeries;
            d.validation->setName(m_lines[i].label + QStringLiteral(" (validation)"));
            d.validation->setPen(linePen(m_lines[i].colour.darker(115), 1.4, Qt::DashLine));
            d.validation->setPointsVisible(true);
            d.validation->setMarkerSize(4);
            addSeries(panel->chart, d.train, panel->x, panel->y);
            addSeries(panel->chart, d.validation, panel->x, panel->y);
        }
    }
}

void CompareCharts::refresh(const std::vector<ComparedRun>& runs) {
    std::vector<ComparedLine> lines = comparedLines(runs, m_band);
    const QString signature = signatureOf(lines);
    if (signature != m_signature || m_lossLines.size() != lines.size()) {
        m_lines = std::move(lines);
        m_signature = signature;
        rebuild();
        m_stamps.clear();
    }
    std::vector<RunStamp> stamps = stampsOf(m_lines, budgetOf(m_loss.chart));
    if (!m_stamps.empty() && stamps == m_stamps) return;
    m_stamps = std::move(stamps);
    fill(m_loss, m_lossLines, false);
    fill(m_accuracy, m_accuracyLines, true);

    std::vector<LegendEntry> entries;
    for (std::size_t i = 0; i < m_lines.size(); ++i) {
        std::vector<QAbstractSeries*> series{m_lossLines[i].train, m_lossLines[i].validation, m_accuracyLines[i].train,
                                             m_accuracyLines[i].validation};
        for (const Drawn* d : {&m_lossLines[i], &m_accuracyLines[i]})
            if (d->trainBand.area) series.insert(series.end(), {d->trainBand.area, d->validationBand.area});
        entries.push_back({QStringLiteral("■"), m_lines[i].colour, m_lines[i].label, series});
    }
    if (!m_lines.empty()) {
        entries.push_back({QStringLiteral("━━"), kStyleGrey,
                           m_smoothing > 0 ? QStringLiteral("training (moving average %1)").arg(m_smoothing, 0, 'g', 3)
                                           : QStringLiteral("training (raw)")});
        entries.push_back({QStringLiteral("╌●╌"), kStyleGrey, QStringLiteral("validation")});
    }
    setLegend(m_legend, entries);
}

void CompareCharts::fill(Panel& p, std::vector<Drawn>& drawn, bool accuracy) {
    const qsizetype budget = budgetOf(p.chart);
    Extent xs, ys;
    auto extend = [&](const QList<QPointF>& points) {
        for (const QPointF& q : points) {
            xs.add(q.x());
            ys.add(q.y());
        }
    };
    for (std::size_t i = 0; i < m_lines.size(); ++i) {
        std::vector<QList<QPointF>> train, validation;
        for (const app::RunData* r : m_lines[i].runs) {
            train.push_back(smoothedTraining(*r, m_xAxis, m_smoothing, accuracy));
            validation.push_back(validationCurve(*r, m_xAxis, accuracy));
        }
        const Spread t = spreadOf(train, m_band), v = spreadOf(validation, m_band);
        showPoints(drawn[i].train, t.mean, budget);
        showPoints(drawn[i].validation, v.mean, budget);
        extend(t.mean);
        extend(v.mean);
        if (drawn[i].trainBand.area) {
            showBand(drawn[i].trainBand, t.lower, t.upper, budget);
            showBand(drawn[i].validationBand, v.lower, v.upper, budget);
            for (const auto* band : {&t.lower, &t.upper, &v.lower, &v.upper}) extend(*band);
        }
    }
    fitAxis(p.chart, p.x, xs, xAxisFit(m_xAxis));
    if (accuracy)
        fitAxis(p.chart, p.y, ys, {.lowerBound = 0, .upperBound = 100, .fallbackHi = 100, .suffix = QStringLiteral(" %%")});
    else
        fitAxis(p.chart, p.y, ys, {.lowerBound = 0, .fallbackHi = 2.5});
    const QString what = accuracy ? QStringLiteral("Accuracy") : QStringLiteral("Loss");
    p.chart->setTitle(m_lines.empty() ? what + QStringLiteral(" — no run to compare: tick runs in the Runs list")
                                      : what + QStringLiteral(" of %1 %2").arg(m_lines.size()).arg(m_lines.size() == 1 ? "run" : "runs"));
}

// --- ActivationCompare -----------------------------------------------------------------------------------

ActivationCompare::ActivationCompare(QWidget* parent) : QWidget(parent) {
    m_grid = new QGridLayout;
    m_grid->setSpacing(2);
    m_legend = newLegendLabel(this);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->setSpacing(0);
    layout->addLayout(m_grid, 1);
    layout->addWidget(m_legend);
    paintWhite(this);
}

void ActivationCompare::setBlock(const QString& block) { changeAndRedraw(m_block, block, m_signature); }

void ActivationCompare::setPostActivation(bool post) { changeAndRedraw(m_post, post, m_signature); }

void ActivationCompare::setOverlay(bool overlay) { changeAndRedraw(m_overlay, overlay, m_signature); }

void ActivationCompare::setXAxis(XAxis axis) { changeAndRedraw(m_xAxis, axis, m_signature); }

QStringList ActivationCompare::blocks(const std::vector<ComparedRun>& runs) {
    return distinctNames(runs, [](const app::RunData& run, auto add) {
        if (!run.probes.empty())
            for (const engine::ActivationProbe& a : run.probes.back().activations) add(a.block);
    });
}

void ActivationCompare::clear() {
    for (QWidget* v : m_views) {
        m_grid->removeWidget(v);
        delete v;  // and its chart
    }
    m_views.clear();
    m_charts.clear();
}

QChart* ActivationCompare::addChart(const QString& title, int total) {
    QChart* chart = newChart();
    chart->legend()->hide();
    chart->setTitle(title);
    auto* x = newValueAxis(xAxisTitle(m_xAxis));
    auto* y = newValueAxis(m_post ? QStringLiteral("post-activation") : QStringLiteral("pre-activation"));
    chart->addAxis(x, Qt::AlignBottom);
    chart->addAxis(y, Qt::AlignLeft);
    auto* view = newChartView(chart, this);
    view->setMinimumSize(160, 90);  // four or more panels still leave room for the legend under them
    connect(view, &ChartView::zoomReset, this, [this] { m_stamps.clear(); });
    const int n = int(m_views.size());
    m_views.push_back(view);
    m_charts.push_back(chart);
    // Small multiples side by side in one row for up to four runs (the panel is wide and short), then rows of 4.
    const int columns = std::min(total, 4);
    m_grid->addWidget(view, n / columns, n % columns);
    return chart;
}

void ActivationCompare::refresh(const std::vector<ComparedRun>& runs) {
    std::vector<ComparedLine> lines = comparedLines(runs, SeedBand::EveryRun);  // each run its own distribution
    const QString signature = signatureOf(lines) + m_block + (m_post ? "post" : "pre") + (m_overlay ? "overlay" : "") +
                              QString::number(int(m_xAxis));
    const bool rebuilt = signature != m_signature;
    if (rebuilt) {
        m_signature = signature;
        clear();
        if (m_overlay && !lines.empty()) addChart(QStringLiteral("%1 — 15th to 85th percentile and median of each run").arg(m_block), 1);
        else
            for (const ComparedLine& l : lines) addChart(l.label, int(lines.size()));
        m_stamps.clear();
    }
    std::vector<RunStamp> stamps = stampsOf(lines, m_charts.empty() ? 0 : budgetOf(m_charts.front()));
    if (!rebuilt && stamps == m_stamps) return;
    m_stamps = std::move(stamps);

    const std::string block = m_block.toStdString();
    Extent xs, ys;
    for (QChart* chart : m_charts) chart->removeAllSeries();
    for (std::size_t i = 0; i < lines.size(); ++i) {
        QList<QPointF> lo, p15, median, p85, hi;
        for (const engine::ProbeSnapshot& s : lines[i].runs.front()->probes) {
            const engine::Distribution* d = findDistribution(s, block, m_post);
            if (!d) continue;
            const double x = xOf(m_xAxis, s);
            using engine::percentileIndex;
            lo.append({x, d->percentiles[percentileIndex(0)]});
            p15.append({x, d->percentiles[percentileIndex(15)]});
            median.append({x, d->percentiles[percentileIndex(50)]});
            p85.append({x, d->percentiles[percentileIndex(85)]});
            hi.append({x, d->percentiles[percentileIndex(100)]});
        }
        // The axis holds what is drawn: the 15-85 bands when overlaid, the min-max bands otherwise.
        const std::array<QList<QPointF>*, 2> edges = m_overlay ? std::array{&p15, &p85} : std::array{&lo, &hi};
        for (const QList<QPointF>* c : edges)
            for (const QPointF& q : *c) {
                xs.add(q.x());
                ys.add(q.y());
            }
        QChart* chart = m_overlay ? m_charts.front() : m_charts[i];
        auto* x = chart->axes(Qt::Horizontal).front();
        auto* y = chart->axes(Qt::Vertical).front();
        const qsizetype budget = budgetOf(chart);
        const QColor c = lines[i].colour;
        if (!m_overlay) {
            Band outer = newBand(QStringLiteral("min–max"), palette::mix(c, Qt::white, 0.8));
            addSeries(chart, outer.area, x, y);
            showBand(outer, lo, hi, budget);
        }
        Band inner = newBand(lines[i].label + QStringLiteral(" (15–85th percentile)"),
                             m_overlay ? translucent(c, 0.25) : palette::mix(c, Qt::white, 0.45));
        addSeries(chart, inner.area, x, y);
        showBand(inner, p15, p85, budget);
        auto* med = new QLineSeries;
        med->setName(lines[i].label + QStringLiteral(" (median)"));
        med->setPen(linePen(c.darker(120), 1.6));
        addSeries(chart, med, x, y);
        showPoints(med, median, budget);
        if (!m_overlay && median.isEmpty())
            chart->setTitle(lines[i].label + QStringLiteral(" — no %1 in this run").arg(m_block));
    }
    // One y range for every panel: the distributions are compared by their height.
    for (QChart* chart : m_charts) {
        fitAxis(chart, qobject_cast<QValueAxis*>(chart->axes(Qt::Horizontal).front()), xs, xAxisFit(m_xAxis));
        fitAxis(chart, qobject_cast<QValueAxis*>(chart->axes(Qt::Vertical).front()), ys, {.fallbackLo = -1});
    }
    std::vector<LegendEntry> entries;
    if (!m_overlay) {
        entries.push_back({QStringLiteral("■"), QColor(0xcc, 0xcc, 0xcc), QStringLiteral("min–max")});
        entries.push_back({QStringLiteral("■"), QColor(0x99, 0x99, 0x99), QStringLiteral("15th–85th percentile")});
        entries.push_back({QStringLiteral("━━"), kStyleGrey, QStringLiteral("median")});
        entries.push_back({QStringLiteral(""), kStyleGrey, QStringLiteral("one y axis for all panels")});
    } else {
        for (const ComparedLine& l : lines) entries.push_back({QStringLiteral("■"), l.colour, l.label});
        entries.push_back({QStringLiteral("━━"), kStyleGrey, QStringLiteral("median; band: 15th–85th percentile")});
    }
    if (lines.empty()) entries.push_back({QString(), kStyleGrey, QStringLiteral("No run to compare: tick runs in the Runs list.")});
    setLegend(m_legend, entries);
}

// --- GradientCompare -------------------------------------------------------------------------------------

GradientCompare::GradientCompare(QWidget* parent) : QWidget(parent) {
    m_chart = newChart();
    m_chart->legend()->hide();
    m_x = newValueAxis(xAxisTitle(m_xAxis));
    m_y = newLogAxis(QStringLiteral("gradient norm ‖g‖"));
    m_chart->addAxis(m_x, Qt::AlignBottom);
    m_chart->addAxis(m_y, Qt::AlignLeft);
    m_legend = newLegendLabel(this);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->setSpacing(0);
    layout->addWidget(newChartView(m_chart, this), 1);
    layout->addWidget(m_legend);
    paintWhite(this);
}

void GradientCompare::setParam(const QString& param) { changeAndRedraw(m_param, param, m_signature); }

void GradientCompare::setShowUpdateRatio(bool ratio) {
    if (changeAndRedraw(m_ratio, ratio, m_signature))
        m_y->setTitleText(ratio ? QStringLiteral("update / weight ‖Δw‖/‖w‖") : QStringLiteral("gradient norm ‖g‖"));
}

void GradientCompare::setXAxis(XAxis axis) {
    if (axis == m_xAxis) return;
    m_xAxis = axis;
    m_x->setTitleText(xAxisTitle(axis));
    m_signature.clear();
}

QStringList GradientCompare::params(const std::vector<ComparedRun>& runs) {
    return distinctNames(runs, [](const app::RunData& run, auto add) {
        if (!run.probes.empty())
            for (const engine::ParamProbe& p : run.probes.back().params) add(p.name);
    });
}

void GradientCompare::refresh(const std::vector<ComparedRun>& runs) {
    const std::vector<ComparedLine> lines = comparedLines(runs, SeedBand::EveryRun);
    const QString signature = signatureOf(lines) + m_param + (m_ratio ? "ratio" : "norm") + QString::number(int(m_xAxis));
    std::vector<RunStamp> stamps = stampsOf(lines, budgetOf(m_chart));
    if (signature == m_signature && stamps == m_stamps) return;
    m_signature = signature;
    m_stamps = std::move(stamps);
    m_chart->removeAllSeries();
    const std::string param = m_param.toStdString();
    Extent xs, ys;
    std::vector<LegendEntry> entries;
    for (const ComparedLine& l : lines) {
        QList<QPointF> points;
        for (const engine::ProbeSnapshot& s : l.runs.front()->probes)
            for (const engine::ParamProbe& p : s.params) {
                const double v = m_ratio ? p.updateRatio : p.gradNorm;
                if (p.name != param || !(v > 0) || !std::isfinite(v)) continue;  // a log axis has no place for them
                points.append({xOf(m_xAxis, s), v});
                xs.add(points.back().x());
                ys.add(v);
            }
        auto* series = new QLineSeries;
        series->setName(l.label);
        series->setPen(linePen(l.colour, 1.8));
        addSeries(m_chart, series, m_x, m_y);
        showPoints(series, points, budgetOf(m_chart));
        entries.push_back({QStringLiteral("━━"), l.colour, l.label, {series}});
    }
    fitAxis(m_chart, m_x, xs, xAxisFit(m_xAxis));
    fitLogAxis(m_chart, m_y, ys);
    m_chart->setTitle(lines.empty() ? QStringLiteral("No run to compare: tick runs in the Runs list")
                                    : QStringLiteral("%1 of %2").arg(m_ratio ? QStringLiteral("Update ratio") : QStringLiteral("Gradient norm"), m_param));
    setLegend(m_legend, entries);
}

}  // namespace bnlab::ui
