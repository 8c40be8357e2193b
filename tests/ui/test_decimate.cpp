// The decimation that charts apply before handing points to Qt Charts (ui/decimate.h).

#include "decimate.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

namespace bnlab::ui {
namespace {

QList<QPointF> ramp(qsizetype n) {
    QList<QPointF> points;
    for (qsizetype i = 0; i < n; ++i) points.append(QPointF(double(i), std::sin(0.01 * double(i))));
    return points;
}

// Whether every point of out is a point of in, in the same order.
bool isSubsequence(const QList<QPointF>& out, const QList<QPointF>& in) {
    qsizetype j = 0;
    for (const QPointF& p : out) {
        while (j < in.size() && in[j] != p) ++j;
        if (j == in.size()) return false;
        ++j;
    }
    return true;
}

TEST(Decimate, SmallInputsAreReturnedUnchanged) {
    EXPECT_TRUE(decimate({}, 100).isEmpty());
    const QList<QPointF> one = {QPointF(1, 2)};
    EXPECT_EQ(decimate(one, 100), one);
    const QList<QPointF> points = ramp(100);
    EXPECT_EQ(decimate(points, 100), points);
    EXPECT_EQ(decimate(points, 1000), points);
}

TEST(Decimate, TooSmallABudgetReturnsTheInput) {
    const QList<QPointF> points = ramp(50);
    EXPECT_EQ(decimate(points, 3), points);
    EXPECT_EQ(decimate(points, 0), points);
}

TEST(Decimate, KeepsTheFirstAndLastPoints) {
    for (qsizetype n : {101, 1000, 12345}) {
        for (qsizetype budget : {4, 5, 17, 100}) {
            const QList<QPointF> points = ramp(n);
            const QList<QPointF> out = decimate(points, budget);
            ASSERT_FALSE(out.isEmpty());
            EXPECT_EQ(out.front(), points.front()) << n << " " << budget;
            EXPECT_EQ(out.back(), points.back()) << n << " " << budget;
        }
    }
}

TEST(Decimate, OutputSizeIsBounded) {
    for (qsizetype n : {5, 99, 100, 101, 1000, 100000}) {
        for (qsizetype budget : {4, 5, 10, 99, 100, 2000}) {
            const QList<QPointF> out = decimate(ramp(n), budget);
            EXPECT_LE(out.size(), budget) << n << " " << budget;
            EXPECT_LE(out.size(), n);
        }
    }
}

TEST(Decimate, KeepsTheMinimumAndMaximumOfEachBucketInOrder) {
    // 1000 inner points in 50 buckets of 20 (budget 102 = first + last + 2 per bucket). Bucket b has its
    // minimum -(b+1) and maximum b+1 at offsets that alternate, so the order inside a bucket is checked too.
    constexpr int kBuckets = 50, kWidth = 20;
    QList<QPointF> points;
    points.append(QPointF(0, 0.5));
    QList<QPointF> expected = {points.front()};
    for (int b = 0; b < kBuckets; ++b) {
        const int minAt = b % 2 == 0 ? 3 : 17, maxAt = b % 2 == 0 ? 17 : 3;
        for (int k = 0; k < kWidth; ++k) {
            const double y = k == minAt ? -(b + 1) : k == maxAt ? b + 1 : 0.25 * std::sin(k);
            points.append(QPointF(1 + b * kWidth + k, y));
        }
        const QPointF lo(1 + b * kWidth + minAt, -(b + 1)), hi(1 + b * kWidth + maxAt, b + 1);
        expected.append(minAt < maxAt ? lo : hi);
        expected.append(minAt < maxAt ? hi : lo);
    }
    points.append(QPointF(1 + kBuckets * kWidth, -0.5));
    expected.append(points.back());

    EXPECT_EQ(decimate(points, 2 + 2 * kBuckets), expected);
}

TEST(Decimate, KeepsSpikesAnywhere) {
    std::mt19937 rng(7);
    std::normal_distribution<double> noise(0, 0.1);
    for (int trial = 0; trial < 20; ++trial) {
        QList<QPointF> points;
        for (int i = 0; i < 20000; ++i) points.append(QPointF(i, 1.0 + noise(rng)));
        const int up = std::uniform_int_distribution<int>(0, 19999)(rng);
        const int down = std::uniform_int_distribution<int>(0, 19999)(rng);
        points[up].setY(50);
        if (down != up) points[down].setY(-50);
        const QList<QPointF> out = decimate(points, 800);
        EXPECT_LE(out.size(), 800);
        EXPECT_TRUE(out.contains(points[up]));
        EXPECT_TRUE(out.contains(points[down]));
        EXPECT_TRUE(isSubsequence(out, points));
    }
}

TEST(Decimate, FlatBucketsGiveOnePointEach) {
    QList<QPointF> points;
    for (int i = 0; i < 1002; ++i) points.append(QPointF(i, 3.0));
    const QList<QPointF> out = decimate(points, 102);
    EXPECT_EQ(out.size(), 2 + 50);
    EXPECT_TRUE(isSubsequence(out, points));
}

TEST(PointBudget, TwoPointsPerPixelWithAFloor) {
    EXPECT_EQ(pointBudget(500), 1000);
    EXPECT_EQ(pointBudget(500.7), 1001);
    EXPECT_EQ(pointBudget(3), 16);
    EXPECT_GE(pointBudget(0), 1000);  // not laid out yet: a generous budget
    EXPECT_GE(pointBudget(-1), 1000);
}

}  // namespace
}  // namespace bnlab::ui
