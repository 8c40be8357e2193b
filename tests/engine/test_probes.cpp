// describe(): percentiles, histogram and the fixed sample of large layers.

#include "probes.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <utility>
#include <random>
#include <vector>

namespace {

using namespace bnlab::engine;

// Linear interpolation between order statistics a ≤ b (numpy's default), in double.
float interpolate(float a, float b, double frac) { return float(double(a) + frac * (double(b) - double(a))); }

TEST(Describe, SmallInputsAreDescribedExactly) {
    std::vector<float> v = {4, 1, 3, 2, 5};
    std::vector<float> scratch;
    const Distribution d = describe(v.data(), std::int64_t(v.size()), scratch);
    EXPECT_EQ(d.count, 5);
    EXPECT_FLOAT_EQ(d.percentiles[percentileIndex(0)], 1);
    EXPECT_FLOAT_EQ(d.percentiles[percentileIndex(50)], 3);
    EXPECT_FLOAT_EQ(d.percentiles[percentileIndex(100)], 5);
    EXPECT_FLOAT_EQ(d.percentiles[percentileIndex(15)], 1.6f);  // 1 + 0.15·4·(2 − 1)
    // TensorBoard's lines: the normal's -1.5σ and +0.5σ as percentiles.
    EXPECT_FLOAT_EQ(d.percentiles[percentileIndex(6.681f)], 1 + 0.06681f * 4);
    EXPECT_FLOAT_EQ(d.percentiles[percentileIndex(69.146f)], 3 + (0.69146f * 4 - 2));
    static_assert(kTensorBoardLines.size() == 9 && kTensorBoardLines.front() == 0 &&
                  kTensorBoardLines.back() == kPercentiles.size() - 1);
    for (std::size_t i = 1; i < kPercentiles.size(); ++i) EXPECT_LT(kPercentiles[i - 1], kPercentiles[i]);
    EXPECT_DOUBLE_EQ(d.mean, 3);
    std::uint32_t total = 0;
    for (auto c : d.histogram) total += c;
    EXPECT_EQ(total, 5u);
}

// The percentiles come from a radix sort on the floats' bits: the same order statistics as std::sort, over
// negative and positive values, zeros of both signs, ties and magnitudes from 1e-30 to 1e30.
TEST(Describe, PercentilesAreTheOrderStatisticsOfAllTheValues) {
    std::mt19937 random(7);
    std::normal_distribution<float> normal;
    std::vector<float> v;
    for (int i = 0; i < 6000; ++i) v.push_back(normal(random) * std::pow(10.0f, float(int(random() % 61) - 30)));
    for (int i = 0; i < 500; ++i) v.push_back(i % 2 ? 0.0f : -0.0f);
    for (int i = 0; i < 500; ++i) v.push_back(float(i % 7) - 3.0f);  // ties
    std::shuffle(v.begin(), v.end(), random);
    std::vector<float> sorted = v, scratch;
    std::sort(sorted.begin(), sorted.end());
    const Distribution d = describe(v.data(), std::int64_t(v.size()), scratch);
    ASSERT_EQ(d.count, std::int64_t(v.size()));  // below kMaxProbeValues: every value, no sample
    const double last = double(sorted.size() - 1);
    for (std::size_t k = 0; k < kPercentiles.size(); ++k) {
        const double pos = kPercentiles[k] / 100.0 * last;
        const std::size_t lo = std::size_t(std::floor(pos)), hi = std::min(lo + 1, sorted.size() - 1);
        EXPECT_EQ(d.percentiles[k], interpolate(sorted[lo], sorted[hi], pos - double(lo)))
            << "percentile " << kPercentiles[k];
    }
    EXPECT_EQ(d.histogramMin, sorted.front());
    EXPECT_EQ(d.histogramMax, sorted.back());
}

// A conv layer's activations for 128 images of 26×26 maps: every 26th value (the image's left column) is 0,
// the rest 1. An evenly spaced sample with a stride that is a multiple of 26 would see only zeros.
TEST(Describe, TheSampleOfALargeLayerDoesNotAliasWithItsLayout) {
    const std::int64_t n = 128LL * 32 * 26 * 26;
    std::vector<float> v(static_cast<std::size_t>(n));
    for (std::int64_t i = 0; i < n; ++i) v[std::size_t(i)] = i % 26 == 0 ? 0.0f : 1.0f;
    std::vector<float> scratch;
    const Distribution d = describe(v.data(), n, scratch);
    EXPECT_EQ(d.count, kMaxProbeValues);
    EXPECT_NEAR(d.mean, 25.0 / 26.0, 0.02);
    EXPECT_GT(d.stddev, 0.1);
    EXPECT_FLOAT_EQ(d.percentiles[percentileIndex(50)], 1.0f);
}

// The percentiles come from selecting ranks through buckets of equal width; the cases that put many values
// in one bucket (a point mass at zero as after a ReLU, far outliers) and the ones that must not use buckets
// (one value repeated, a range of two neighbouring floats) give the order statistics of a full sort too.
TEST(Describe, PercentilesAreExactForPointMassesOutliersAndNarrowRanges) {
    std::mt19937 random(11);
    std::normal_distribution<float> normal;
    std::vector<std::pair<std::string, std::vector<float>>> cases(5);
    cases[0].first = "half zeros (a ReLU)";
    for (int i = 0; i < 5000; ++i) cases[0].second.push_back(std::max(0.0f, normal(random)));
    cases[1].first = "far outliers";
    for (int i = 0; i < 5000; ++i) cases[1].second.push_back(normal(random));
    cases[1].second[17] = 1e7f;
    cases[1].second[4000] = -3e6f;
    cases[2].first = "one value";
    cases[2].second.assign(300, 0.25f);
    cases[3].first = "two neighbouring floats";
    for (int i = 0; i < 300; ++i) cases[3].second.push_back(i % 3 ? 1.0f : std::nextafter(1.0f, 2.0f));
    cases[4].first = "a subnormal range";
    for (int i = 0; i < 300; ++i) cases[4].second.push_back(float(i % 5) * 1e-44f);
    for (const auto& [name, v] : cases) {
        std::vector<float> sorted = v, scratch;
        std::sort(sorted.begin(), sorted.end());
        const Distribution d = describe(v.data(), std::int64_t(v.size()), scratch);
        const double last = double(sorted.size() - 1);
        for (std::size_t k = 0; k < kPercentiles.size(); ++k) {
            const double pos = kPercentiles[k] / 100.0 * last;
            const std::size_t lo = std::size_t(std::floor(pos)), hi = std::min(lo + 1, sorted.size() - 1);
            EXPECT_EQ(d.percentiles[k], interpolate(sorted[lo], sorted[hi], pos - double(lo)))
                << name << ", percentile " << kPercentiles[k];
        }
        EXPECT_EQ(d.histogramMin, sorted.front()) << name;
        EXPECT_EQ(d.histogramMax, sorted.back()) << name;
        std::uint32_t total = 0;
        for (auto c : d.histogram) total += c;
        EXPECT_EQ(total, v.size()) << name;
    }
}

// Bin b of the histogram holds the values v with b ≤ (v − min) / (max − min) · bins < b + 1, the maximum in the
// last bin. Values on a grid well away from the bins' edges make the expected counts exact.
TEST(Describe, HistogramBinsSplitTheRangeEvenly) {
    std::vector<float> v;
    std::vector<std::uint32_t> expected(kHistogramBins, 0);
    std::mt19937 random(5);
    for (int i = 0; i < 3000; ++i) {
        // 0.5, 1.5, ..., 29.5 over [0.5, 29.5]: bin floor(k·30/29), at least 1/29 of a bin from an edge
        const int k = int(random() % 30);
        v.push_back(0.5f + float(k));
        expected[std::size_t(std::min(kHistogramBins - 1, k * kHistogramBins / 29))]++;
    }
    v.push_back(0.5f);
    expected[0]++;
    v.push_back(29.5f);
    expected[kHistogramBins - 1]++;
    std::vector<float> scratch;
    const Distribution d = describe(v.data(), std::int64_t(v.size()), scratch);
    EXPECT_EQ(d.histogram, expected);
}

// Infinities and NaNs neither crash nor lose values: every value is counted in the histogram, and the
// infinities are the extreme percentiles.
TEST(Describe, InfinitiesAndNaNsAreCountedWithoutACrash) {
    std::vector<float> v;
    for (int i = 0; i < 1000; ++i) v.push_back(float(i));
    v[3] = std::numeric_limits<float>::infinity();
    v[500] = -std::numeric_limits<float>::infinity();
    std::vector<float> scratch;
    Distribution d = describe(v.data(), std::int64_t(v.size()), scratch);
    EXPECT_EQ(d.percentiles[percentileIndex(0)], -std::numeric_limits<float>::infinity());
    EXPECT_EQ(d.percentiles[percentileIndex(100)], std::numeric_limits<float>::infinity());
    EXPECT_EQ(d.percentiles[percentileIndex(50)], 500.0f);  // 0..999 without 3 and 500: 499 and 501 around
    std::uint32_t total = 0;
    for (auto c : d.histogram) total += c;
    EXPECT_EQ(total, 1000u);
    // 5% of each infinity: the 2nd and 98th percentiles lie between two equal infinities.
    std::vector<float> w(1000, 1.0f);
    for (int i = 0; i < 50; ++i) {
        w[std::size_t(i)] = -std::numeric_limits<float>::infinity();
        w[std::size_t(999 - i)] = std::numeric_limits<float>::infinity();
    }
    const Distribution e = describe(w.data(), std::int64_t(w.size()), scratch);
    EXPECT_EQ(e.percentiles[percentileIndex(2)], -std::numeric_limits<float>::infinity());
    EXPECT_EQ(e.percentiles[percentileIndex(98)], std::numeric_limits<float>::infinity());
    EXPECT_EQ(e.percentiles[percentileIndex(50)], 1.0f);
    v[700] = std::numeric_limits<float>::quiet_NaN();
    d = describe(v.data(), std::int64_t(v.size()), scratch);
    EXPECT_TRUE(std::isnan(d.mean));
    total = 0;
    for (auto c : d.histogram) total += c;
    EXPECT_EQ(total, 1000u);
}

// A large layer's sample has one value in each of kMaxProbeValues equal strata, so for the values 0..n−1 the
// value of rank r lies in stratum r; the positions are cached per size, and alternating sizes does not mix them.
TEST(Describe, TheSampleOfALargeLayerHasOneValuePerStratumForEverySize) {
    std::vector<float> scratch;
    for (std::int64_t n : {std::int64_t(25600), std::int64_t(100000), std::int64_t(25600), std::int64_t(8193)}) {
        std::vector<float> v(static_cast<std::size_t>(n));
        for (std::int64_t i = 0; i < n; ++i) v[std::size_t(i)] = float(i);
        const Distribution d = describe(v.data(), n, scratch);
        ASSERT_EQ(d.count, kMaxProbeValues);
        const double stratum = double(n) / double(kMaxProbeValues);
        for (std::size_t k = 0; k < kPercentiles.size(); ++k) {
            const double rank = std::floor(kPercentiles[k] / 100.0 * double(kMaxProbeValues - 1));
            EXPECT_GE(d.percentiles[k], std::floor(rank * stratum)) << "n " << n << ", percentile " << kPercentiles[k];
            EXPECT_LT(d.percentiles[k], (rank + 2) * stratum) << "n " << n << ", percentile " << kPercentiles[k];
        }
    }
}

// The gradient and weight norms of the probes equal norms computed in double, also for values whose squares
// overflow a float (1e20) and with a NaN (which makes the norm NaN, not a finite number).
TEST(ProbeParams, NormsAreTheNormsInDoubleOfGradientsAndWeights) {
    Matrix w(300, 7), g(300, 7), b(1, 3), gb(1, 3);
    std::mt19937 random(3);
    std::normal_distribution<float> normal;
    for (Index i = 0; i < w.size(); ++i) {
        w.data()[i] = normal(random);
        g.data()[i] = normal(random) * 1e-3f;
    }
    w(5, 2) = 4e19f;  // in the first block of 1024 values
    b << 1, 2, 2;
    gb << 0, std::numeric_limits<float>::quiet_NaN(), 0;
    std::vector<NamedParam> params = {{"dense1.weight", 0, Param{"weight", &w, &g}},
                                      {"dense1.bias", 0, Param{"bias", &b, &gb}}};
    ProbeSnapshot snap;
    probeParams(params, {2.0, 0.5}, snap);
    ASSERT_EQ(snap.params.size(), 2u);
    EXPECT_NEAR(snap.params[0].weightNorm / w.cast<double>().norm(), 1.0, 1e-6);
    EXPECT_NEAR(snap.params[0].gradNorm / g.cast<double>().norm(), 1.0, 1e-6);
    EXPECT_NEAR(snap.params[0].updateRatio, 2.0 / w.cast<double>().norm(), 1e-6 * 2.0 / w.cast<double>().norm());
    EXPECT_DOUBLE_EQ(snap.params[1].weightNorm, 3.0);
    EXPECT_TRUE(std::isnan(snap.params[1].gradNorm));
    EXPECT_DOUBLE_EQ(snap.params[1].updateRatio, 0.5 / 3.0);

    // A vanishing gradient: squares below float's normal range, summed in double all the same.
    Matrix tiny = Matrix::Constant(40, 50, 1e-24f), tinier = Matrix::Constant(40, 50, 3e-21f);
    std::vector<NamedParam> small = {{"dense1.weight", 0, Param{"weight", &tinier, &tiny}}};
    probeParams(small, {0.0}, snap);
    EXPECT_NEAR(snap.params[0].gradNorm / tiny.cast<double>().norm(), 1.0, 1e-6);
    EXPECT_NEAR(snap.params[0].weightNorm / tinier.cast<double>().norm(), 1.0, 1e-6);
}

}  // namespace
