#pragma once

// What the chart widgets share: the look (palette, fonts, margins), axes that fit their data with nice
// ticks, the x coordinate of a record, and a stamp that lets refresh() skip work when nothing changed.

#include "run_data.h"

#include <QAreaSeries>
#include <QChart>
#include <QChartView>
#include <QColor>
#include <QLabel>
#include <QLogValueAxis>
#include <QPen>
#include <QString>
#include <QValueAxis>
#include <QLineSeries>
#include <QXYSeries>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

namespace bnlab::ui {

// What the horizontal axis counts. Samples are shown in thousands, time in seconds since the run started
// (wall-clock: fair between runs that train at different speeds, e.g. with and without BN).
enum class XAxis { Step, Epoch, Samples, Seconds };

[[nodiscard]] double xValue(XAxis axis, long step, double epoch, std::int64_t samples, double seconds);
// The x of any record with step, epoch, samples and seconds (StepRecord, EvalRecord, ProbeSnapshot, ChangeRecord).
template <typename Record>
[[nodiscard]] double xOf(XAxis axis, const Record& r) {
    return xValue(axis, r.step, r.epoch, r.samples, r.seconds);
}
[[nodiscard]] QString xAxisTitle(XAxis axis);
// "step", "epoch", "samples", "time" and back (bnlab-cli plot --x); fromName returns false for another name.
[[nodiscard]] QString xAxisName(XAxis axis);
[[nodiscard]] bool xAxisFromName(const QString& name, XAxis& axis);

// The palette (Tableau 10): training blue, validation orange, then the others for categories.
namespace palette {
inline const QColor kBlue{0x4e, 0x79, 0xa7};
inline const QColor kOrange{0xf2, 0x8e, 0x2b};
inline const QColor kRed{0xe1, 0x57, 0x59};
[[nodiscard]] QColor category(int index);  // cycles through the ten colours
// a blended toward b by t in [0, 1] (opaque shades for nested bands).
[[nodiscard]] QColor mix(const QColor& a, const QColor& b, double t);
}  // namespace palette

[[nodiscard]] QPen linePen(const QColor& color, qreal width, Qt::PenStyle style = Qt::SolidLine);

// A chart in the house style (light, flat, compact margins, small fonts, legend at the bottom drawn
// with each series' own line), and a view on it with antialiasing. The view owns the chart. The chart
// keeps the ticks of its axes readable when its plot area is resized (see fitAxis).
[[nodiscard]] QChart* newChart();

// The view of every chart, for exploring it: the wheel zooms around the cursor, dragging a rectangle zooms
// into it, Shift+drag or the middle button pans, the arrow keys pan and +/− zoom; a double-click, a right-click
// or Home goes back to the automatic range that follows the data. While zoomed, refreshes keep the user's range
// (fitAxis and fitLogAxis leave a zoomed chart's axes alone).
class ChartView final : public QChartView {
    Q_OBJECT
public:
    ChartView(QChart* chart, QWidget* parent);
    [[nodiscard]] bool zoomed() const;
    [[nodiscard]] bool zoomable() const;  // false for charts with a log axis (see chart_style.cpp)
    void resetZoom();  // back to the automatic range; emits zoomReset

Q_SIGNALS:
    void zoomReset();  // the owner should refit the axes to the data

protected:
    void wheelEvent(QWheelEvent* event) override;
    void mousePressEvent(QMouseEvent* event) override;
    void mouseMoveEvent(QMouseEvent* event) override;
    void mouseReleaseEvent(QMouseEvent* event) override;
    void mouseDoubleClickEvent(QMouseEvent* event) override;
    void keyPressEvent(QKeyEvent* event) override;

private:
    void markZoomed();
    QPointF m_panFrom;
    bool m_panning = false;
    QRectF m_rangeAtPress;  // x and y ranges when a rubber band started
};
[[nodiscard]] ChartView* newChartView(QChart* chart, QWidget* parent);
struct RunStamp;
// When the user resets a view's zoom: widget->refresh(the run last drawn, as stamp says) with a cleared stamp.
template <typename Widget>
void refitOnZoomReset(ChartView* view, Widget* widget, RunStamp& stamp);
[[nodiscard]] QValueAxis* newValueAxis(const QString& title);
[[nodiscard]] QLogValueAxis* newLogAxis(const QString& title);
// A chart (newChart) with its legend hidden and value axes at the bottom and left under these titles: the
// panels whose widget draws one legend for all of them, or a label saying what the shades are.
struct AxesChart {
    QChart* chart;
    QValueAxis* x;
    QValueAxis* y;
};
[[nodiscard]] AxesChart newAxesChart(const QString& xTitle, const QString& yTitle);
// Adds series to chart and attaches it to both axes (which must already be on the chart). Hovering over the
// series shows its name and the exact values under the cursor; clicking its entry in the chart's legend hides
// or shows it.
void addSeries(QChart* chart, QAbstractSeries* series, QAbstractAxis* x, QAbstractAxis* y);

// A filled band between two lines (percentile bands, a histogram, the spread of runs with other seeds).
struct Band {
    QAreaSeries* area = nullptr;
    QLineSeries* upper = nullptr;  // owned by area
    QLineSeries* lower = nullptr;
};
[[nodiscard]] Band newBand(const QString& name, const QColor& fill);
// Shows the band between lower and upper (same x values), decimated to budget points.
void showBand(const Band& band, const QList<QPointF>& lower, const QList<QPointF>& upper, qsizetype budget);

// Dashed vertical lines at the live changes of a run (learning rate, BN momentum, batch size or BN placement
// changed mid-run), each with the change as its tooltip, from the bottom to the top of the y axis.
class ChangeMarks {
public:
    ChangeMarks(QChart* chart, QAbstractAxis* x, QAbstractAxis* y) : m_chart(chart), m_x(x), m_y(y) {}
    // Call after the axes were fitted.
    void update(const app::RunData& run, XAxis axis);
    [[nodiscard]] int count() const { return m_shown; }

private:
    QChart* m_chart;
    QAbstractAxis* m_x;
    QAbstractAxis* m_y;
    std::vector<QLineSeries*> m_lines;
    int m_shown = 0;
};

// The smallest and largest of the values added; non-finite values are ignored.
struct Extent {
    double lo = std::numeric_limits<double>::infinity();
    double hi = -std::numeric_limits<double>::infinity();
    void add(double v) {
        if (!std::isfinite(v)) return;
        lo = std::min(lo, v);
        hi = std::max(hi, v);
    }
    void add(const Extent& other) {  // the union (an empty other adds nothing)
        add(other.lo);
        add(other.hi);
    }
    [[nodiscard]] bool empty() const { return lo > hi; }
};

// Fits axis (on chart) to extent (and zero with fromZero): margin (a fraction of the span) added on both
// sides but not past the bounds, ticks at round values (1, 2 or 5 times a power of ten) as dense as the
// plot area's size allows without the labels touching, with as many decimals as they need and suffix
// after each label ("%%" for percent). An empty extent gives [fallbackLo, fallbackHi].
struct AxisFit {
    double margin = 0.05;
    bool fromZero = false;
    double lowerBound = -std::numeric_limits<double>::infinity();
    double upperBound = std::numeric_limits<double>::infinity();
    double fallbackLo = 0, fallbackHi = 1;
    QString suffix{};
};
void fitAxis(QChart* chart, QValueAxis* axis, Extent extent, const AxisFit& fit = {});
// The fit of a horizontal axis: from zero (where training started) to just past the last record.
[[nodiscard]] AxisFit xAxisFit(XAxis axis);
// Fits a log axis to whole decades around extent (positive values only; [1e-3, 1] when empty), labelling
// every decade, or every second, third... when the plot is too short for all of them.
void fitLogAxis(QChart* chart, QLogValueAxis* axis, Extent extent);

// A legend shared by charts drawn side by side, as one line of text under them: each entry a symbol
// ("━━", "●", "■") in its colour and a name.
// Clicking an entry that names its series hides them (the entry is greyed) or shows them again.
struct LegendEntry {
    QString symbol;
    QColor color;
    QString text;
    std::vector<QAbstractSeries*> series{};  // hidden and shown by a click on the entry
};
class LegendLabel final : public QLabel {
    Q_OBJECT
public:
    explicit LegendLabel(QWidget* parent);
    void setEntries(std::vector<LegendEntry> entries);
    void toggle(int index);  // as a click on entry index

private:
    void render();
    std::vector<LegendEntry> m_entries;
};
[[nodiscard]] LegendLabel* newLegendLabel(QWidget* parent);
void setLegend(LegendLabel* label, const std::vector<LegendEntry>& entries);

// White background for a widget that holds charts, so that charts and shared legend read as one panel.
void paintWhite(QWidget* widget);

// Shows a decimated copy of points in series, for the width of its chart's plot area.
void showPoints(QXYSeries* series, const QList<QPointF>& points, qsizetype budget);
[[nodiscard]] qsizetype budgetOf(const QChart* chart);

// Identifies what a widget last drew, so that a refresh with the same run, sizes and width does nothing.
// Widgets reset theirs to {} when a setting changes.
struct RunStamp {
    const app::RunData* run = nullptr;
    QString name;
    std::size_t steps = 0, evals = 0, probes = 0, changes = 0, landscape = 0;
    double lastSeconds = 0;  // of the last step: tells a new run that reached the same sizes from the old
    qsizetype budget = 0;
    bool operator==(const RunStamp&) const = default;
};
[[nodiscard]] RunStamp stampOf(const app::RunData& run, qsizetype budget);

template <typename Widget>
void refitOnZoomReset(ChartView* view, Widget* widget, RunStamp& stamp) {
    QObject::connect(view, &ChartView::zoomReset, widget, [widget, &stamp] {
        const app::RunData* run = stamp.run;
        stamp = {};
        if (run) widget->refresh(*run);
    });
}

}  // namespace bnlab::ui
