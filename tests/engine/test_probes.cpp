// describe(): percentiles, histogram and the fixed sample of large layers.

#include "probes.h"

#include <gtest/gtest.h>

#include <vector>

namespace {

using namespace bnlab::engine;

TEST(Describe, SmallInputsAreDescribedExactly) {
    std::vector<float> v = {4, 1, 3, 2, 5};
    std::vector<float> scratch;
    const Distribution d = describe(v.data(), std::int64_t(v.size()), scratch);
    EXPECT_EQ(d.count, 5);
    EXPECT_FLOAT_EQ(d.percentiles[0], 1);   // 0th
    EXPECT_FLOAT_EQ(d.percentiles[3], 3);   // median
    EXPECT_FLOAT_EQ(d.percentiles[6], 5);   // 100th
    EXPECT_FLOAT_EQ(d.percentiles[2], 1.6f);  // 15th: 1 + 0.15·4·(2 − 1)
    EXPECT_DOUBLE_EQ(d.mean, 3);
    std::uint32_t total = 0;
    for (auto c : d.histogram) total += c;
    EXPECT_EQ(total, 5u);
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
    EXPECT_FLOAT_EQ(d.percentiles[3], 1.0f);
}

}  // namespace
