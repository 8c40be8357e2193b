#pragma once

// Decimation for line charts: Qt Charts draws every point it is given, so a chart gets a copy of its series
// reduced to about two points per horizontal pixel. The extremes survive: the points are split into
// consecutive buckets of equal count and each bucket keeps its lowest and its highest point, in their
// original order, so a spike in the loss or a dip in the accuracy stays visible however long the run.

#include <QList>
#include <QPointF>

namespace bnlab::ui {

// At most maxPoints of points (sorted by x), always with the first and the last point. Returns points
// unchanged when they already fit (or when maxPoints < 4, too few to bucket). Values must be finite.
[[nodiscard]] QList<QPointF> decimate(const QList<QPointF>& points, qsizetype maxPoints);

// The point budget for a plot area pixelWidth pixels wide: two per pixel, with a floor for charts not laid
// out yet (width 0) so that they still get a useful copy.
[[nodiscard]] qsizetype pointBudget(qreal pixelWidth);

}  // namespace bnlab::ui
