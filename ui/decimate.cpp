#include "decimate.h"

#include <algorithm>

namespace bnlab::ui {

QList<QPointF> decimate(const QList<QPointF>& points, qsizetype maxPoints) {
    const qsizetype n = points.size();
    if (n <= maxPoints || maxPoints < 4) return points;

    // The first and last points are kept as they are; the n - 2 between them go into `buckets` runs of
    // (almost) equal length, each giving its minimum and maximum (one point when they coincide).
    const qsizetype inner = n - 2;
    const qsizetype buckets = (maxPoints - 2) / 2;
    QList<QPointF> out;
    out.reserve(2 + 2 * buckets);
    out.append(points.front());
    for (qsizetype b = 0; b < buckets; ++b) {
        const qsizetype begin = 1 + b * inner / buckets;
        const qsizetype end = 1 + (b + 1) * inner / buckets;
        if (begin == end) continue;
        qsizetype lo = begin, hi = begin;
        for (qsizetype i = begin + 1; i < end; ++i) {
            if (points[i].y() < points[lo].y()) lo = i;
            if (points[i].y() > points[hi].y()) hi = i;
        }
        out.append(points[std::min(lo, hi)]);
        if (lo != hi) out.append(points[std::max(lo, hi)]);
    }
    out.append(points.back());
    return out;
}

qsizetype pointBudget(qreal pixelWidth) {
    constexpr qsizetype kUnlaidOut = 2000;  // a chart that has no size yet: generous, as for a wide screen
    if (!(pixelWidth >= 1)) return kUnlaidOut;
    return std::max<qsizetype>(16, static_cast<qsizetype>(2 * pixelWidth));
}

}  // namespace bnlab::ui
