// describe(): percentiles, histogram and the fixed sample of large layers.

#include "probes.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

namespace {

using namespace bnlab::engine;

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
        EXPECT_EQ(d.percentiles[k], float(sorted[lo] + (pos - double(lo)) * (sorted[hi] - sorted[lo])))
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

}  // namespace
