#include "chart_style.h"

#include "decimate.h"

#include <QApplication>
#include <QFont>
#include <QFontMetricsF>
#include <QGraphicsLayout>
#include <QLegend>
#include <QPalette>

#include <array>

namespace bnlab::ui {

double xValue(XAxis axis, long step, double epoch, std::int64_t samples) {
    switch (axis) {
        case XAxis::Step:
            return static_cast<double>(step);
        case XAxis::Epoch:
            return epoch;
        case XAxis::Samples:
            return static_cast<double>(samples) / 1000.0;
    }
    return static_cast<double>(step);
}

QString xAxisTitle(XAxis axis) {
    switch (axis) {
        case XAxis::Step:
            return QStringLiteral("step");
        case XAxis::Epoch:
            return QStringLiteral("epoch");
        case XAxis::Samples:
            return QStringLiteral("training samples (thousands)");
    }
    return {};
}

namespace palette {

QColor category(int index) {
    static const std::array<QColor, 10> kColors = {QColor(0x4e, 0x79, 0xa7), QColor(0xf2, 0x8e, 0x2b),
                                                   QColor(0x59, 0xa1, 0x4f), QColor(0xe1, 0x57, 0x59),
                                                   QColor(0xb0, 0x7a, 0xa1), QColor(0x76, 0xb7, 0xb2),
                                                   QColor(0x9c, 0x75, 0x5f), QColor(0xed, 0xc9, 0x48),
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

constexpr const char* kSuffixProperty = "bnlabLabelSuffix";

double lengthOf(const QChart* chart, const QAbstractAxis* axis) {
    const QRectF area = chart->plotArea();
    return axis->orientation() == Qt::Vertical ? area.height() : area.width();
}

// The smallest round interval (1, 2 or 5 times a power of ten) that splits span into at most `parts` parts.
double niceInterval(double span, double parts) {
    const double raw = span / parts;
    const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
    const double r = raw / magnitude;
    const double step = r <= 1 ? 1 : r <= 2 ? 2 : r <= 5 ? 5 : 10;
    return step * magnitude;
}

int decimalsFor(double interval) {
    return std::max(0, static_cast<int>(-std::floor(std::log10(interval) + 1e-9)));
}

QString labelFormat(int decimals, const QString& suffix) {
    return QStringLiteral("%.%1f").arg(decimals) + suffix;
}

// Ticks for [lo, hi] on an axis `pixels` long: as many intervals as fit with the labels apart (at most 8).
void setTicks(QValueAxis* axis, double lo, double hi, double pixels) {
    const QString suffix = axis->property(kSuffixProperty).toString();
    double interval = niceInterval(hi - lo, 5);
    if (pixels >= 1) {
        const QFontMetricsF metrics(axis->labelsFont());
        double spacing = metrics.height() * 2;
        if (axis->orientation() != Qt::Vertical) {
            const QByteArray format = labelFormat(decimalsFor(interval), suffix).toLatin1();
            auto width = [&](double v) {
                return metrics.horizontalAdvance(QString::asprintf(format.constData(), v));
            };
            spacing = std::max(width(lo), width(hi)) + 2 * metrics.averageCharWidth();
        }
        // Ticks at least `spacing` apart, at most 8 intervals.
        interval = niceInterval(hi - lo, std::clamp(pixels / spacing, 1.0, 8.0));
    }
    // Qt lays the ticks out at each change: never let the range of one fit meet the interval of another, or
    // a range 1000 times wider than the old one gets thousands of labels (seconds of work).
    axis->setTickInterval(std::max(interval, axis->tickInterval()));
    axis->setRange(lo, hi);
    axis->setTickInterval(interval);
    axis->setTickAnchor(std::ceil(lo / interval) * interval);
    axis->setLabelFormat(labelFormat(decimalsFor(interval), suffix));
}

// Labels every k-th decade of [lo, hi] (rounded out to whole decades), k as small as the length allows.
void setLogTicks(QLogValueAxis* axis, double lo, double hi, double pixels) {
    double loDecade = std::floor(std::log10(lo) + 1e-6);
    double hiDecade = std::ceil(std::log10(hi) - 1e-6);
    if (hiDecade <= loDecade) hiDecade = loDecade + 1;
    int step = 1;
    if (pixels >= 1) {
        const int labels =
            std::max(2, static_cast<int>(pixels / (QFontMetricsF(axis->labelsFont()).height() * 1.8)));
        step = std::max(1, static_cast<int>(std::ceil((hiDecade - loDecade) / (labels - 1))));
    }
    loDecade = std::floor(loDecade / step) * step;
    hiDecade = std::ceil(hiDecade / step) * step;
    axis->setBase(std::pow(10.0, step));
    axis->setMinorTickCount(step == 1 ? 8 : 0);  // 2..9 within a decade
    // Slightly outside the decades, so that rounding cannot drop the label of the end ones.
    axis->setRange(std::pow(10.0, loDecade) * (1 - 1e-9), std::pow(10.0, hiDecade) * (1 + 1e-9));
}

// Sets the ticks again for the current ranges, when the plot area has changed size.
void refitTicks(QChart* chart) {
    for (QAbstractAxis* axis : chart->axes()) {
        if (auto* value = qobject_cast<QValueAxis*>(axis))
            setTicks(value, value->min(), value->max(), lengthOf(chart, value));
        else if (auto* log = qobject_cast<QLogValueAxis*>(axis))
            setLogTicks(log, log->min(), log->max(), lengthOf(chart, log));
    }
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
    QObject::connect(chart, &QChart::plotAreaChanged, chart, [chart] { refitTicks(chart); });
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

void fitAxis(QChart* chart, QValueAxis* axis, Extent extent, const AxisFit& fit) {
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
    axis->setProperty(kSuffixProperty, fit.suffix);
    setTicks(axis, lo, hi, lengthOf(chart, axis));
}

AxisFit xAxisFit(XAxis axis) {
    AxisFit fit;
    fit.margin = 0.015;  // room for the last marker; the lower side stops at zero
    fit.lowerBound = 0;
    fit.fromZero = true;
    fit.fallbackHi = axis == XAxis::Step ? 100 : axis == XAxis::Epoch ? 1 : 10;
    return fit;
}

void fitLogAxis(QChart* chart, QLogValueAxis* axis, Extent extent) {
    if (extent.empty() || extent.lo <= 0)
        setLogTicks(axis, 1e-3, 1, lengthOf(chart, axis));
    else
        setLogTicks(axis, extent.lo, extent.hi, lengthOf(chart, axis));
}

QLabel* newLegendLabel(QWidget* parent) {
    auto* label = new QLabel(parent);
    label->setFont(smallFont(-1));
    label->setAlignment(Qt::AlignCenter);
    label->setTextFormat(Qt::RichText);
    label->setContentsMargins(0, 0, 0, 4);
    return label;
}

void setLegend(QLabel* label, const std::vector<LegendEntry>& entries) {
    QStringList parts;
    for (const LegendEntry& e : entries)
        parts << QStringLiteral("<span style='color:%1'>%2</span>&nbsp;%3")
                     .arg(e.color.name(), e.symbol.toHtmlEscaped(), e.text.toHtmlEscaped());
    label->setText(QStringLiteral("<span style='color:%1'>%2</span>")
                       .arg(kText.name(), parts.join(QStringLiteral("&nbsp;&nbsp;&nbsp;&nbsp;"))));
}

void paintWhite(QWidget* widget) {
    QPalette palette = widget->palette();
    palette.setColor(QPalette::Window, Qt::white);
    widget->setPalette(palette);
    widget->setAutoFillBackground(true);
}

void showPoints(QXYSeries* series, const QList<QPointF>& points, qsizetype budget) {
    series->replace(decimate(points, budget));
}

qsizetype budgetOf(const QChart* chart) { return pointBudget(chart->plotArea().width()); }

RunStamp stampOf(const app::RunData& run, qsizetype budget) {
    const double lastSeconds = run.steps.empty() ? 0 : run.steps.back().seconds;
    return {&run, run.name, run.steps.size(), run.evals.size(), run.probes.size(), lastSeconds, budget};
}

}  // namespace bnlab::ui
