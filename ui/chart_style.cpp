#include "chart_style.h"

#include "decimate.h"

#include <QApplication>
#include <QFont>
#include <QFontMetricsF>
#include <QGraphicsLayout>
#include <QAreaSeries>
#include <QCursor>
#include <QKeyEvent>
#include <QLegend>
#include <QLegendMarker>
#include <QMouseEvent>
#include <QToolTip>
#include <QWheelEvent>
#include <QPalette>

#include <QScopeGuard>

#include <array>
#include <utility>

namespace bnlab::ui {

double xValue(XAxis axis, long step, double epoch, std::int64_t samples, double seconds) {
    switch (axis) {
        case XAxis::Step:
            return static_cast<double>(step);
        case XAxis::Epoch:
            return epoch;
        case XAxis::Samples:
            return static_cast<double>(samples) / 1000.0;
        case XAxis::Seconds:
            return seconds;
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
        case XAxis::Seconds:
            return QStringLiteral("wall-clock time (s)");
    }
    return {};
}

namespace {
constexpr std::array<std::pair<XAxis, const char*>, 4> kXAxisNames = {
    {{XAxis::Step, "step"}, {XAxis::Epoch, "epoch"}, {XAxis::Samples, "samples"}, {XAxis::Seconds, "time"}}};
}  // namespace

QString xAxisName(XAxis axis) {
    for (const auto& [a, name] : kXAxisNames)
        if (a == axis) return QString::fromLatin1(name);
    return {};
}

bool xAxisFromName(const QString& name, XAxis& axis) {
    for (const auto& [a, n] : kXAxisNames)
        if (name == QLatin1String(n)) {
            axis = a;
            return true;
        }
    return false;
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
// keepRange: only the labelling changes (a range the user zoomed to stays as it is; rounding it out to whole
// decades would move the plot area, which refits the ticks again, without end).
void setLogTicks(QLogValueAxis* axis, double lo, double hi, double pixels, bool keepRange = false) {
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
    if (keepRange) return;
    // Slightly outside the decades, so that rounding cannot drop the label of the end ones.
    axis->setRange(std::pow(10.0, loDecade) * (1 - 1e-9), std::pow(10.0, hiDecade) * (1 + 1e-9));
}

bool isZoomed(const QChart* chart);

// Sets the ticks again for the current ranges, when the plot area has changed size or the user zoomed.
void refitTicks(QChart* chart) {
    // New ticks can change the labels' width and so the plot area, which calls this again: one pass is enough
    // (without this guard a zoomed range could make the two layouts alternate without end).
    static thread_local bool active = false;
    if (active) return;
    active = true;
    const auto done = qScopeGuard([] { active = false; });
    for (QAbstractAxis* axis : chart->axes()) {
        if (auto* value = qobject_cast<QValueAxis*>(axis))
            setTicks(value, value->min(), value->max(), lengthOf(chart, value));
        else if (auto* log = qobject_cast<QLogValueAxis*>(axis))
            setLogTicks(log, log->min(), log->max(), lengthOf(chart, log), isZoomed(chart));
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

namespace {
constexpr const char* kZoomedProperty = "bnlabZoomed";
bool isZoomed(const QChart* chart) { return chart->property(kZoomedProperty).toBool(); }

QRectF ranges(const QChart* chart) {
    QRectF r;
    for (QAbstractAxis* axis : chart->axes()) {
        double lo = 0, hi = 0;
        if (auto* v = qobject_cast<QValueAxis*>(axis)) lo = v->min(), hi = v->max();
        else if (auto* l = qobject_cast<QLogValueAxis*>(axis)) lo = l->min(), hi = l->max();
        if (axis->orientation() == Qt::Horizontal) r.setLeft(lo), r.setRight(hi);
        else r.setTop(lo), r.setBottom(hi);
    }
    return r;
}
}  // namespace

ChartView::ChartView(QChart* chart, QWidget* parent) : QChartView(chart, parent) {
    setRenderHint(QPainter::Antialiasing);
    setFrameShape(QFrame::NoFrame);
    setMinimumSize(220, 160);
    setRubberBand(zoomable() ? QChartView::RectangleRubberBand : QChartView::NoRubberBand);
    setFocusPolicy(Qt::ClickFocus);
    setToolTip(QStringLiteral("Drag a rectangle to zoom, wheel to zoom, Shift+drag to pan; double-click or "
                              "right-click to follow the data again. Hover a line for its values."));
}

bool ChartView::zoomed() const { return isZoomed(chart()); }

// Qt Charts 6.4's zoomIn/zoom/scroll on a chart with a log axis can loop forever between the axis and its
// domain (seen: the gradient chart hung on one turn of the wheel), so such charts are not zoomed or panned.
bool ChartView::zoomable() const {
    for (QAbstractAxis* axis : chart()->axes())
        if (qobject_cast<QLogValueAxis*>(axis)) return false;
    return true;
}

void ChartView::markZoomed() {
    chart()->setProperty(kZoomedProperty, true);
    refitTicks(chart());
}

void ChartView::resetZoom() {
    chart()->setProperty(kZoomedProperty, false);
    Q_EMIT zoomReset();
}

void ChartView::wheelEvent(QWheelEvent* event) {
    const double steps = event->angleDelta().y() / 120.0;
    if (steps == 0 || !zoomable()) return;
    const double f = std::pow(0.8, steps);  // < 1 zooms in
    const QRectF area = chart()->plotArea();
    const QPointF p = chart()->mapFromScene(mapToScene(event->position().toPoint()));
    if (!area.contains(p)) return;
    chart()->zoomIn(QRectF(p.x() - (p.x() - area.left()) * f, p.y() - (p.y() - area.top()) * f, area.width() * f,
                           area.height() * f));
    markZoomed();
    event->accept();
}

void ChartView::mousePressEvent(QMouseEvent* event) {
    if (!zoomable()) {
        QGraphicsView::mousePressEvent(event);  // hover and legend clicks still work
        return;
    }
    if (event->button() == Qt::MiddleButton ||
        (event->button() == Qt::LeftButton && (event->modifiers() & Qt::ShiftModifier))) {
        m_panning = true;
        m_panFrom = event->position();
        setCursor(Qt::ClosedHandCursor);
        event->accept();
        return;
    }
    if (event->button() == Qt::RightButton) {  // not QChartView's zoom-out: back to following the data
        event->accept();
        return;
    }
    m_rangeAtPress = ranges(chart());
    QChartView::mousePressEvent(event);
}

void ChartView::mouseMoveEvent(QMouseEvent* event) {
    if (m_panning) {
        const QPointF d = event->position() - m_panFrom;
        m_panFrom = event->position();
        chart()->scroll(-d.x(), d.y());
        markZoomed();
        event->accept();
        return;
    }
    QChartView::mouseMoveEvent(event);
}

void ChartView::mouseReleaseEvent(QMouseEvent* event) {
    if (m_panning) {
        m_panning = false;
        unsetCursor();
        event->accept();
        return;
    }
    if (event->button() == Qt::RightButton) {
        resetZoom();
        event->accept();
        return;
    }
    QChartView::mouseReleaseEvent(event);
    if (event->button() == Qt::LeftButton && ranges(chart()) != m_rangeAtPress) markZoomed();
}

void ChartView::mouseDoubleClickEvent(QMouseEvent* event) {
    resetZoom();
    event->accept();
}

void ChartView::keyPressEvent(QKeyEvent* event) {
    if (!zoomable()) {
        QChartView::keyPressEvent(event);
        return;
    }
    const QRectF area = chart()->plotArea();
    switch (event->key()) {
        case Qt::Key_Left: chart()->scroll(-area.width() / 10, 0); break;
        case Qt::Key_Right: chart()->scroll(area.width() / 10, 0); break;
        case Qt::Key_Up: chart()->scroll(0, area.height() / 10); break;
        case Qt::Key_Down: chart()->scroll(0, -area.height() / 10); break;
        case Qt::Key_Plus:
        case Qt::Key_Equal: chart()->zoom(1.25); break;
        case Qt::Key_Minus: chart()->zoom(0.8); break;
        case Qt::Key_Home:
        case Qt::Key_0: resetZoom(); return;
        default: QChartView::keyPressEvent(event); return;
    }
    markZoomed();
}

ChartView* newChartView(QChart* chart, QWidget* parent) { return new ChartView(chart, parent); }

QValueAxis* newValueAxis(const QString& title) {
    auto* axis = new QValueAxis;
    styleAxis(axis, title);
    axis->setTickType(QValueAxis::TicksDynamic);
    axis->setTickAnchor(0);
    return axis;
}

AxesChart newAxesChart(const QString& xTitle, const QString& yTitle) {
    AxesChart a{newChart(), newValueAxis(xTitle), newValueAxis(yTitle)};
    a.chart->legend()->hide();
    a.chart->addAxis(a.x, Qt::AlignBottom);
    a.chart->addAxis(a.y, Qt::AlignLeft);
    return a;
}

QLogValueAxis* newLogAxis(const QString& title) {
    auto* axis = new QLogValueAxis;
    styleAxis(axis, title);
    axis->setBase(10);
    axis->setLabelFormat(QStringLiteral("%g"));
    axis->setMinorTickCount(8);  // 2..9 within each decade
    return axis;
}

namespace {
QString axisTitle(const QAbstractAxis* axis) {
    const QString t = axis->titleText();
    return t.isEmpty() ? (axis->orientation() == Qt::Horizontal ? QStringLiteral("x") : QStringLiteral("y")) : t;
}
}  // namespace

void addSeries(QChart* chart, QAbstractSeries* series, QAbstractAxis* x, QAbstractAxis* y) {
    chart->addSeries(series);
    series->attachAxis(x);
    series->attachAxis(y);
    auto showValue = [series, x, y](const QPointF& p, bool state) {
        if (!state || !series->isVisible()) {
            QToolTip::hideText();
            return;
        }
        QToolTip::showText(QCursor::pos(), QStringLiteral("<b>%1</b><br>%2: %3<br>%4: %5")
                                               .arg(series->name().toHtmlEscaped(), axisTitle(x).toHtmlEscaped())
                                               .arg(p.x(), 0, 'g', 6)
                                               .arg(axisTitle(y).toHtmlEscaped())
                                               .arg(p.y(), 0, 'g', 6));
    };
    if (auto* xy = qobject_cast<QXYSeries*>(series))
        QObject::connect(xy, &QXYSeries::hovered, xy, showValue);
    else if (auto* area = qobject_cast<QAreaSeries*>(series))
        QObject::connect(area, &QAreaSeries::hovered, area, showValue);
    for (QLegendMarker* marker : chart->legend()->markers(series)) {
        QObject::connect(marker, &QLegendMarker::clicked, marker, [marker, series] {
            series->setVisible(!series->isVisible());
            marker->setVisible(true);  // the marker stays, greyed, so the series can be shown again
            QColor label = marker->labelBrush().color();
            label.setAlphaF(series->isVisible() ? 1.0 : 0.35);
            marker->setLabelBrush(label);
        });
    }
}

Band newBand(const QString& name, const QColor& fill) {
    Band band;
    band.area = new QAreaSeries;
    band.upper = new QLineSeries(band.area);
    band.lower = new QLineSeries(band.area);
    band.area->setUpperSeries(band.upper);
    band.area->setLowerSeries(band.lower);
    band.area->setName(name);
    band.area->setBrush(fill);
    band.area->setPen(Qt::NoPen);
    return band;
}

void showBand(const Band& band, const QList<QPointF>& lower, const QList<QPointF>& upper, qsizetype budget) {
    showPoints(band.lower, lower, budget);
    showPoints(band.upper, upper, budget);
}

void ChangeMarks::update(const app::RunData& run, XAxis axis) {
    double lo = 0, hi = 1;
    if (auto* v = qobject_cast<QValueAxis*>(m_y)) lo = v->min(), hi = v->max();
    else if (auto* l = qobject_cast<QLogValueAxis*>(m_y)) lo = l->min(), hi = l->max();
    int n = 0;
    for (const engine::ChangeRecord& c : run.changes) {
        if (!c.applied) continue;
        if (n == int(m_lines.size())) {
            auto* line = new QLineSeries;
            line->setPen(linePen(QColor(0x55, 0x55, 0x55), 1.2, Qt::DashLine));
            m_chart->addSeries(line);
            line->attachAxis(m_x);
            line->attachAxis(m_y);
            for (QLegendMarker* m : m_chart->legend()->markers(line)) m->setVisible(false);
            QObject::connect(line, &QLineSeries::hovered, line, [line](const QPointF&, bool state) {
                if (state) QToolTip::showText(QCursor::pos(), line->name());
                else QToolTip::hideText();
            });
            m_lines.push_back(line);
        }
        QLineSeries* line = m_lines[std::size_t(n++)];
        const double x = xOf(axis, c);
        line->setName(QStringLiteral("step %1: %2").arg(c.step).arg(QString::fromStdString(c.description)));
        line->replace(QList<QPointF>{{x, lo}, {x, hi}});
        line->setVisible(true);
    }
    for (std::size_t i = std::size_t(n); i < m_lines.size(); ++i) m_lines[i]->setVisible(false);
    m_shown = n;
}

void fitAxis(QChart* chart, QValueAxis* axis, Extent extent, const AxisFit& fit) {
    if (isZoomed(chart)) return;  // the user's range stays until they reset it
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
    fit.fallbackHi = axis == XAxis::Step ? 100 : axis == XAxis::Epoch ? 1 : 10;  // seconds: 10 too
    return fit;
}

void fitLogAxis(QChart* chart, QLogValueAxis* axis, Extent extent) {
    if (isZoomed(chart)) return;
    if (extent.empty() || extent.lo <= 0)
        setLogTicks(axis, 1e-3, 1, lengthOf(chart, axis));
    else
        setLogTicks(axis, extent.lo, extent.hi, lengthOf(chart, axis));
}

LegendLabel::LegendLabel(QWidget* parent) : QLabel(parent) {
    setFont(smallFont(-1));
    setAlignment(Qt::AlignCenter);
    setTextFormat(Qt::RichText);
    setContentsMargins(0, 0, 0, 4);
    setWordWrap(true);  // long entries (run names with what they change) wrap between entries, never widen the window
    setTextInteractionFlags(Qt::LinksAccessibleByMouse);
    connect(this, &QLabel::linkActivated, this, [this](const QString& link) { toggle(link.toInt()); });
}

void LegendLabel::setEntries(std::vector<LegendEntry> entries) {
    m_entries = std::move(entries);
    render();
}

void LegendLabel::toggle(int index) {
    if (index < 0 || index >= int(m_entries.size()) || m_entries[std::size_t(index)].series.empty()) return;
    auto& series = m_entries[std::size_t(index)].series;
    const bool show = !series.front()->isVisible();
    for (QAbstractSeries* s : series) s->setVisible(show);
    render();
}

void LegendLabel::render() {
    QStringList parts;
    for (std::size_t i = 0; i < m_entries.size(); ++i) {
        const LegendEntry& e = m_entries[i];
        const bool hidden = !e.series.empty() && !e.series.front()->isVisible();
        const QString text = QStringLiteral("<span style='color:%1'>%2</span>&nbsp;%3")
                                 .arg(hidden ? QStringLiteral("#bbbbbb") : e.color.name(), e.symbol.toHtmlEscaped(),
                                      hidden ? QStringLiteral("<s>%1</s>").arg(e.text.toHtmlEscaped()) : e.text.toHtmlEscaped());
        parts << (e.series.empty() ? text
                                   : QStringLiteral("<a href='%1' style='text-decoration:none; color:%2'>%3</a>")
                                         .arg(i)
                                         .arg(hidden ? QStringLiteral("#bbbbbb") : kText.name(), text));
    }
    setText(QStringLiteral("<span style='color:%1'>%2</span>")
                .arg(kText.name(), parts.join(QStringLiteral("&nbsp;&nbsp;&nbsp; "))));
    setToolTip(std::any_of(m_entries.begin(), m_entries.end(), [](const LegendEntry& e) { return !e.series.empty(); })
                   ? QStringLiteral("Click an entry to hide or show its lines.")
                   : QString());
}

LegendLabel* newLegendLabel(QWidget* parent) { return new LegendLabel(parent); }

void setLegend(LegendLabel* label, const std::vector<LegendEntry>& entries) { label->setEntries(entries); }

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
    return {&run,          run.name,          run.steps.size(),     run.evals.size(), run.probes.size(),
            run.changes.size(), run.landscape.size(), lastSeconds, budget};
}

}  // namespace bnlab::ui
