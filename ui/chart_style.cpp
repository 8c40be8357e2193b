#include "chart_style.h"

#include "decimate.h"

#include <QApplication>
#include <QFont>
#include <QGraphicsLayout>
#include <QLegend>
#include <QLegendMarker>

#include <array>

namespace bnlab::ui {

double xValue(XAxis axis, long step, double epoch, std::int64_t samples) {
    switch (axis) {
        case XAxis::Step: return static_cast<double>(step);
        case XAxis::Epoch: return epoch;
        case XAxis::Samples: return static_cast<double>(samples) / 1000.0;
    }
    return static_cast<double>(step);
}

QString xAxisTitle(XAxis axis) {
    switch (axis) {
        case XAxis::Step: return QStringLiteral("step");
        case XAxis::Epoch: return QStringLiteral("epoch");
        case XAxis::Samples: return QStringLiteral("training samples (thousands)");
    }
    return {};
}

namespace palette {

QColor category(int index) {
    static const std::array<QColor, 10> kColors = {
        QColor(0x4e, 0x79, 0xa7), QColor(0xf2, 0x8e, 0x2b), QColor(0x59, 0xa1, 0x4f), QColor(0xe1, 0x57, 0x59),
        QColor(0xb0, 0x7a, 0xa1), QColor(0x76, 0xb7, 0xb2), QColor(0x9c, 0x75, 0x5f), QColor(0xed, 0xc9, 0x48),
        QColor(0xff, 0x9d, 0xa7), QColor(0xba, 0xb0, 0xac)};
    const int n = static_cast<int>(kColors.size());
    return kColors[static_cast<std::size_t>(((index % n) + n) % n)];
}

QColor mix(const QColor& a, const QColor& b, double t) {
    auto lerp = [t](int x, int y) { return static_cast<int>(std::lround(x + (y - x) * t)); };
    return QColor(lerp(a.red(), b.red()), lerp(a.green(), b.green()), lerp(a.blue(), b.blue()));
}

}  // namespace palette

QPen linePen(const QColor& color, qreal width, Qt::PenStyle style) {
    QPen pen(color, width, style);
    pen.setCapStyle(Qt::RoundCap);
    pen.setJoinStyle(Qt::RoundJoin);
    return pen;
}

namespace {

QFont smallFont(int delta, bool bold = false) {
    QFont font = QApplication::font();
    const int size = font.pointSize() > 0 ? font.pointSize() : 9;
    font.setPointSize(std::max(6, size + delta));
    font.setBold(bold);
    return font;
}

const QColor kText(0x33, 0x33, 0x33);
const QColor kGrid(0xe4, 0xe4, 0xe4);
const QColor kAxisLine(0xb0, 0xb0, 0xb0);

void styleAxis(QAbstractAxis* axis, const QString& title) {
    axis->setTitleText(title);
    axis->setTitleFont(smallFont(-1));
    axis->setTitleBrush(kText);
    axis->setLabelsFont(smallFont(-1));
    axis->setLabelsColor(kText);
    axis->setLinePen(QPen(kAxisLine, 1));
    axis->setGridLinePen(QPen(kGrid, 1));
    axis->setMinorGridLinePen(QPen(kGrid.lighter(106), 1, Qt::DotLine));
}

}  // namespace

QChart* newChart() {
    auto* chart = new QChart;
    chart->setTheme(QChart::ChartThemeLight);
    chart->setDropShadowEnabled(false);
    chart->setBackgroundRoundness(0);
    chart->setBackgroundBrush(Qt::white);
    chart->setBackgroundPen(Qt::NoPen);
    chart->setMargins(QMargins(4, 2, 8, 2));
    chart->layout()->setContentsMargins(0, 0, 0, 0);
    chart->setAnimationOptions(QChart::NoAnimation);
    chart->setTitleFont(smallFont(0, true));
    chart->setTitleBrush(kText);
    QLegend* legend = chart->legend();
    legend->setAlignment(Qt::AlignBottom);
    legend->setFont(smallFont(-1));
    legend->setLabelColor(kText);
    legend->setMarkerShape(QLegend::MarkerShapeFromSeries);
    return chart;
}

QChartView* newChartView(QChart* chart, QWidget* parent) {
    auto* view = new QChartView(chart, parent);
    view->setRenderHint(QPainter::Antialiasing);
    view->setFrameShape(QFrame::NoFrame);
    view->setMinimumSize(220, 160);
    return view;
}

QValueAxis* newValueAxis(const QString& title) {
    auto* axis = new QValueAxis;
    styleAxis(axis, title);
    axis->setTickType(QValueAxis::TicksDynamic);
    axis->setTickAnchor(0);
    return axis;
}

QLogValueAxis* newLogAxis(const QString& title) {
    auto* axis = new QLogValueAxis;
    styleAxis(axis, title);
    axis->setBase(10);
    axis->setLabelFormat(QStringLiteral("%g"));
    axis->setMinorTickCount(8);  // 2..9 within each decade
    return axis;
}

void addSeries(QChart* chart, QAbstractSeries* series, QAbstractAxis* x, QAbstractAxis* y) {
    chart->addSeries(series);
    series->attachAxis(x);
    series->attachAxis(y);
}

namespace {

// A round tick interval giving about `ticks` intervals over span: 1, 2 or 5 times a power of ten.
double niceInterval(double span, int ticks) {
    const double raw = span / ticks;
    const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
    const double r = raw / magnitude;
    const double step = r < 1.5 ? 1 : r < 3.5 ? 2 : r < 7.5 ? 5 : 10;
    return step * magnitude;
}

}  // namespace

void fitAxis(QValueAxis* axis, Extent extent, const AxisFit& fit) {
    if (fit.fromZero && !extent.empty()) extent.add(0);
    double lo = extent.empty() ? fit.fallbackLo : extent.lo;
    double hi = extent.empty() ? fit.fallbackHi : extent.hi;
    if (hi - lo <= std::abs(hi) * 1e-9) {  // a flat series: show a small band around it
        const double pad = std::abs(hi) > 0 ? std::abs(hi) * 0.1 : 1.0;
        lo -= pad;
        hi += pad;
    } else {
        const double pad = (hi - lo) * fit.margin;
        lo -= pad;
        hi += pad;
    }
    lo = std::max(lo, fit.lowerBound);
    hi = std::min(hi, fit.upperBound);
    if (!(hi > lo)) hi = lo + 1;
    axis->setRange(lo, hi);
    const double interval = niceInterval(hi - lo, 5);
    axis->setTickInterval(interval);
    axis->setTickAnchor(std::ceil(lo / interval) * interval);
    const int decimals = std::max(0, static_cast<int>(-std::floor(std::log10(interval) + 1e-9)));
    axis->setLabelFormat(QStringLiteral("%.%1f").arg(decimals) + fit.suffix);
    axis->setMinorTickCount(0);
}

AxisFit xAxisFit(XAxis axis) {
    AxisFit fit;
    fit.margin = 0.015;  // room for the last marker; the lower side stops at zero
    fit.lowerBound = 0;
    fit.fromZero = true;
    fit.fallbackHi = axis == XAxis::Step ? 100 : axis == XAxis::Epoch ? 1 : 10;
    return fit;
}

void fitLogAxis(QLogValueAxis* axis, Extent extent) {
    if (extent.empty() || extent.lo <= 0) {
        axis->setRange(1e-3, 1);
        return;
    }
    double lo = std::pow(10.0, std::floor(std::log10(extent.lo)));
    double hi = std::pow(10.0, std::ceil(std::log10(extent.hi)));
    if (hi <= lo) hi = lo * 10;
    // Slightly outside the decades, so that rounding cannot drop the label of the end ones.
    axis->setRange(lo * (1 - 1e-9), hi * (1 + 1e-9));
}

void showInLegend(QChart* chart, QAbstractSeries* series, bool show) {
    bool changed = false;
    for (QLegendMarker* marker : chart->legend()->markers(series)) {
        changed = changed || marker->isVisible() != show;
        marker->setVisible(show);
    }
    // The legend does not lay itself out again when a marker's visibility changes (Qt 6.4).
    if (changed) chart->legend()->layout()->invalidate();
}

void showPoints(QXYSeries* series, const QList<QPointF>& points, qsizetype budget) {
    series->replace(decimate(points, budget));
}

qsizetype budgetOf(const QChart* chart) { return pointBudget(chart->plotArea().width()); }

RunStamp stampOf(const app::RunData& run, qsizetype budget) {
    return {&run, run.name, run.steps.size(), run.evals.size(), run.probes.size(), budget};
}

}  // namespace bnlab::ui
