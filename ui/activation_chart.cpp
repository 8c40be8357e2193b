#include "activation_chart.h"

#include "error.h"

#include <QHBoxLayout>
#include <QVBoxLayout>

namespace bnlab::ui {

namespace {

using engine::percentileIndex;
constexpr std::size_t kMedian = percentileIndex(50);

QColor baseColor(bool post) { return post ? palette::kOrange : palette::kBlue; }

}  // namespace

QString toString(BandStyle style) { return style == BandStyle::TensorBoard ? QStringLiteral("tensorboard") : QStringLiteral("paper"); }

BandStyle bandStyleFromName(const QString& name) {
    if (name == "paper") return BandStyle::Paper;
    if (name == "tensorboard") return BandStyle::TensorBoard;
    throw Error("bands: unknown style '" + name.toStdString() + "' (paper or tensorboard)");
}

std::vector<PercentileBand> bandsOf(BandStyle style) {
    if (style == BandStyle::Paper)
        return {{percentileIndex(0), percentileIndex(100), "0–100 %"},
                {percentileIndex(2), percentileIndex(98), "2–98 %"},
                {percentileIndex(15), percentileIndex(85), "15–85 %"}};
    return {{percentileIndex(0), percentileIndex(100), "min–max"},
            {percentileIndex(6.681f), percentileIndex(93.319f), "±1.5σ (6.7–93.3 %)"},
            {percentileIndex(15.866f), percentileIndex(84.134f), "±1σ (15.9–84.1 %)"},
            {percentileIndex(30.854f), percentileIndex(69.146f), "±0.5σ (30.9–69.1 %)"}};
}

ActivationChart::ActivationChart(QWidget* parent) : QWidget(parent) {
    // No legends: the label under the charts says what the shades are.
    const AxesChart bandsAxes = newAxesChart(xAxisTitle(m_xAxis), QStringLiteral("activation"));
    m_bandsChart = bandsAxes.chart;
    m_bandsX = bandsAxes.x;
    m_bandsY = bandsAxes.y;
    for (Band& band : m_bands) {
        band = newBand(QString(), Qt::gray);
        addSeries(m_bandsChart, band.area, m_bandsX, m_bandsY);
    }
    m_median = new QLineSeries;
    m_median->setName(QStringLiteral("median"));
    addSeries(m_bandsChart, m_median, m_bandsX, m_bandsY);

    const AxesChart histogram = newAxesChart(QStringLiteral("activation"), QStringLiteral("share of values"));
    m_histogramChart = histogram.chart;
    m_histogramX = histogram.x;
    m_histogramY = histogram.y;
    m_histogram = newBand(QStringLiteral("histogram"), Qt::gray);
    addSeries(m_histogramChart, m_histogram.area, m_histogramX, m_histogramY);

    m_legend = newLegendLabel(this);
    auto* bands = new QVBoxLayout;
    bands->setSpacing(0);
    ChartView* bandsView = newChartView(m_bandsChart, this);
    refitOnZoomReset(bandsView, this, m_stamp);
    bands->addWidget(bandsView, 1);
    m_marks.push_back(std::make_unique<ChangeMarks>(m_bandsChart, m_bandsX, m_bandsY));
    bands->addWidget(m_legend);
    auto* layout = new QHBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->setSpacing(2);
    layout->addLayout(bands, 3);
    ChartView* histogramView = newChartView(m_histogramChart, this);
    refitOnZoomReset(histogramView, this, m_stamp);
    layout->addWidget(histogramView, 2);
    paintWhite(this);
    refresh(app::RunData{});
}

void ActivationChart::setBlock(int index) {
    if (index == m_block) return;
    m_block = index;
    m_stamp = {};
}

void ActivationChart::setPostActivation(bool post) {
    if (post == m_post) return;
    m_post = post;
    m_stamp = {};
}

void ActivationChart::setBandStyle(BandStyle style) {
    if (style == m_style) return;
    m_style = style;
    m_stamp = {};
}

void ActivationChart::setXAxis(XAxis axis) {
    if (axis == m_xAxis) return;
    m_xAxis = axis;
    m_bandsX->setTitleText(xAxisTitle(axis));
    m_stamp = {};
}

const engine::Distribution* ActivationChart::distribution(const engine::ProbeSnapshot& snapshot) const {
    if (m_block < 0 || static_cast<std::size_t>(m_block) >= snapshot.activations.size()) return nullptr;
    const engine::ActivationProbe& probe = snapshot.activations[static_cast<std::size_t>(m_block)];
    return m_post ? &probe.post : &probe.pre;
}

QString ActivationChart::placeholder(const app::RunData& run) const {
    if (run.probes.empty()) return QStringLiteral(" — no probe yet");
    if (!distribution(run.probes.back())) return QStringLiteral(" — no such block");
    return QStringLiteral(" — no finite values");
}

QString ActivationChart::blockName(const app::RunData& run) const {
    if (!run.probes.empty() && m_block >= 0 &&
        static_cast<std::size_t>(m_block) < run.probes.back().activations.size())
        return QString::fromStdString(run.probes.back().activations[static_cast<std::size_t>(m_block)].block);
    if (m_block >= 0 && static_cast<std::size_t>(m_block) < run.info.blocks.size())
        return QString::fromStdString(run.info.blocks[static_cast<std::size_t>(m_block)]);
    return QStringLiteral("block %1").arg(m_block + 1);
}

void ActivationChart::refresh(const app::RunData& run) {
    const RunStamp stamp = stampOf(run, budgetOf(m_bandsChart));
    if (stamp == m_stamp) return;
    m_stamp = stamp;

    // Colours follow pre (blue) or post (orange): opaque shades, lighter outside.
    const QColor base = baseColor(m_post);
    const std::vector<PercentileBand> bands = bandsOf(m_style);
    const std::array<double, 4> whiteness = bands.size() == 3 ? std::array{0.82, 0.6, 0.3, 0.0}
                                                              : std::array{0.85, 0.68, 0.48, 0.25};
    std::vector<LegendEntry> legend;
    for (std::size_t i = 0; i < m_bands.size(); ++i) {
        m_bands[i].area->setVisible(i < bands.size());
        if (i >= bands.size()) continue;
        const QColor fill = palette::mix(base, Qt::white, whiteness[i]);
        m_bands[i].area->setName(QString::fromUtf8(bands[i].name));
        m_bands[i].area->setBrush(fill);
        legend.push_back({QStringLiteral("■"), fill, m_bands[i].area->name(), {m_bands[i].area}});
    }
    m_median->setPen(linePen(base.darker(170), 1.8));
    legend.push_back({QStringLiteral("━━"), base.darker(170), m_median->name(), {m_median}});
    setLegend(m_legend, legend);
    m_histogram.area->setBrush(palette::mix(base, Qt::white, 0.3));
    m_histogram.area->setPen(QPen(base.darker(130), 1));

    fillBands(run);
    fillHistogram(run);
}

void ActivationChart::fillBands(const app::RunData& run) {
    const std::vector<PercentileBand> bands = bandsOf(m_style);
    std::array<QList<QPointF>, 4> lower, upper;
    QList<QPointF> median;
    Extent xs, ys;
    bool unrecorded = false;  // a probe without the style's levels (an older run folder and TensorBoard's)
    for (const engine::ProbeSnapshot& snapshot : run.probes) {
        const engine::Distribution* d = distribution(snapshot);
        if (!d) continue;
        const auto& p = d->percentiles;
        const bool finite = std::isfinite(p[kMedian]) && std::all_of(bands.begin(), bands.end(), [&](const PercentileBand& b) {
                                return std::isfinite(p[b.lower]) && std::isfinite(p[b.upper]);
                            });
        if (!finite) {
            unrecorded |= std::isfinite(p.front()) && std::isfinite(p.back());
            continue;
        }
        const double x = xOf(m_xAxis, snapshot);
        xs.add(x);
        ys.add(p.front());
        ys.add(p.back());
        for (std::size_t i = 0; i < bands.size(); ++i) {
            lower[i].append(QPointF(x, p[bands[i].lower]));
            upper[i].append(QPointF(x, p[bands[i].upper]));
        }
        median.append(QPointF(x, p[kMedian]));
    }
    const qsizetype budget = budgetOf(m_bandsChart);
    for (std::size_t i = 0; i < m_bands.size(); ++i) {
        showPoints(m_bands[i].lower, lower[i], budget);
        showPoints(m_bands[i].upper, upper[i], budget);
    }
    showPoints(m_median, median, budget);
    fitAxis(m_bandsChart, m_bandsX, xs, xAxisFit(m_xAxis));
    fitAxis(m_bandsChart, m_bandsY, ys, {.fallbackLo = -1, .fallbackHi = 1});
    m_marks.front()->update(run, m_xAxis);

    const QString what = m_post ? QStringLiteral("post-activation") : QStringLiteral("pre-activation");
    if (median.isEmpty() && unrecorded)
        m_bandsChart->setTitle(what + QStringLiteral(" — this run was saved without TensorBoard's levels: choose the paper's bands"));
    else if (median.isEmpty())
        m_bandsChart->setTitle(what + placeholder(run));
    else
        m_bandsChart->setTitle(blockName(run) + QStringLiteral(" ") + what +
                               (m_style == BandStyle::Paper ? QStringLiteral(" percentiles")
                                                            : QStringLiteral(" — TensorBoard's nine lines")));
}

void ActivationChart::fillHistogram(const app::RunData& run) {
    const engine::Distribution* d = run.probes.empty() ? nullptr : distribution(run.probes.back());
    QList<QPointF> steps;  // the outline of the bars, as a step function
    Extent ys;
    if (d && !d->histogram.empty() && d->count > 0 && std::isfinite(d->histogramMin) &&
        std::isfinite(d->histogramMax)) {
        const double lo = d->histogramMin;
        const double width =
            (static_cast<double>(d->histogramMax) - lo) / static_cast<double>(d->histogram.size());
        for (std::size_t i = 0; i < d->histogram.size(); ++i) {
            const double share = 100.0 * d->histogram[i] / static_cast<double>(d->count);
            const double x0 = lo + width * static_cast<double>(i);
            steps.append(QPointF(x0, share));
            steps.append(QPointF(x0 + width, share));
            ys.add(share);
        }
    }
    m_histogram.upper->replace(steps);
    if (steps.isEmpty()) {
        m_histogram.lower->clear();
        fitAxis(m_histogramChart, m_histogramX, {}, {.fallbackLo = -1, .fallbackHi = 1});
        fitAxis(m_histogramChart, m_histogramY, {},
                {.lowerBound = 0, .fallbackHi = 10, .suffix = QStringLiteral(" %%")});
        m_histogramChart->setTitle(QStringLiteral("Histogram") + placeholder(run));
        return;
    }
    m_histogram.lower->replace({QPointF(steps.front().x(), 0), QPointF(steps.back().x(), 0)});
    Extent xs;
    xs.add(steps.front().x());
    xs.add(steps.back().x());
    fitAxis(m_histogramChart, m_histogramX, xs, {.margin = 0.02});
    fitAxis(m_histogramChart, m_histogramY, ys,
            {.fromZero = true, .lowerBound = 0, .suffix = QStringLiteral(" %%")});
    const engine::ProbeSnapshot& last = run.probes.back();
    m_histogramChart->setTitle(QStringLiteral("Step %1 · μ %2 · σ %3")
                                   .arg(last.step)
                                   .arg(d->mean, 0, 'f', 2)
                                   .arg(d->stddev, 0, 'f', 2));
}

}  // namespace bnlab::ui
