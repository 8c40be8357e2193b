#pragma once

// What the chart widgets share: the look (palette, fonts, margins), axes that fit their data with nice
// ticks, the x coordinate of a record, and a stamp that lets refresh() skip work when nothing changed.

#include "run_data.h"

#include <QChart>
#include <QChartView>
#include <QColor>
#include <QLabel>
#include <QLogValueAxis>
#include <QPen>
#include <QString>
#include <QValueAxis>
#include <QXYSeries>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

namespace bnlab::ui {

// What the horizontal axis counts. Samples are shown in thousands.
enum class XAxis { Step, Epoch, Samples };

[[nodiscard]] double xValue(XAxis axis, long step, double epoch, std::int64_t samples);
[[nodiscard]] QString xAxisTitle(XAxis axis);

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
[[nodiscard]] QChartView* newChartView(QChart* chart, QWidget* parent);
[[nodiscard]] QValueAxis* newValueAxis(const QString& title);
[[nodiscard]] QLogValueAxis* newLogAxis(const QString& title);
// Adds series to chart and attaches it to both axes (which must already be on the chart).
void addSeries(QChart* chart, QAbstractSeries* series, QAbstractAxis* x, QAbstractAxis* y);

// The smallest and largest of the values added; non-finite values are ignored.
struct Extent {
    double lo = std::numeric_limits<double>::infinity();
    double hi = -std::numeric_limits<double>::infinity();
    void add(double v) {
        if (!std::isfinite(v)) return;
        lo = std::min(lo, v);
        hi = std::max(hi, v);
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
struct LegendEntry {
    QString symbol;
    QColor color;
    QString text;
};
[[nodiscard]] QLabel* newLegendLabel(QWidget* parent);
void setLegend(QLabel* label, const std::vector<LegendEntry>& entries);

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
    std::size_t steps = 0, evals = 0, probes = 0;
    double lastSeconds = 0;  // of the last step: tells a new run that reached the same sizes from the old
    qsizetype budget = 0;
    bool operator==(const RunStamp&) const = default;
};
[[nodiscard]] RunStamp stampOf(const app::RunData& run, qsizetype budget);

}  // namespace bnlab::ui
