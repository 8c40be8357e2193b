#include "probes.h"

#include "parallel.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <utility>

namespace bnlab::engine {
namespace {

// The float's bits as an unsigned key in the same order (negative values reversed below the positive ones).
std::uint32_t sortKey(float f) {
    std::uint32_t u;
    std::memcpy(&u, &f, sizeof u);
    return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}
float fromSortKey(std::uint32_t k) {
    const std::uint32_t u = (k & 0x80000000u) ? (k & 0x7fffffffu) : ~k;
    float f;
    std::memcpy(&f, &u, sizeof f);
    return f;
}

// Sorts ascending by a least-significant-digit radix sort on those keys, three passes of 11 bits: O(n), about
// a tenth of std::sort's time on the 8192 values of a probe (which made the probes of the BN-paper MLP cost a
// fifth of its training time). The same order as std::sort, except that −0 comes before +0 and NaNs go to the
// ends (positive ones last) instead of anywhere.
void radixSort(std::vector<float>& values) {
    thread_local std::vector<std::uint32_t> keys, other;
    const std::size_t n = values.size();
    if (n == 0) return;
    keys.resize(n);
    other.resize(n);
    std::array<std::array<std::uint32_t, 2048>, 3> start{};  // per pass: the count, then the start, of each digit
    for (std::size_t i = 0; i < n; ++i) {
        const std::uint32_t k = sortKey(values[i]);
        keys[i] = k;
        ++start[0][k & 2047u];
        ++start[1][(k >> 11) & 2047u];
        ++start[2][k >> 22];
    }
    for (int pass = 0; pass < 3; ++pass) {
        const int shift = 11 * pass;
        std::array<std::uint32_t, 2048>& s = start[std::size_t(pass)];
        if (s[(keys[0] >> shift) & 2047u] == n) continue;  // every key has the same digit: nothing to move
        std::uint32_t sum = 0;
        for (std::uint32_t& c : s) sum += std::exchange(c, sum);
        for (std::uint32_t k : keys) other[s[(k >> shift) & 2047u]++] = k;
        keys.swap(other);
    }
    for (std::size_t i = 0; i < n; ++i) values[i] = fromSortKey(keys[i]);
}

// The stratified sample's positions among n values (a function of n alone): one position in each of m equal
// strata, where in the stratum a fixed hash of its index chooses. Evenly spaced positions would alias with the
// layout (for a conv layer they hit the same image column of every map, which for MNIST is the all-zero
// border). Cached: a probe describes the same few layer sizes every time, and hashing costs more than copying.
const std::vector<std::int64_t>& samplePositions(std::int64_t n, std::int64_t m) {
    thread_local std::vector<std::pair<std::int64_t, std::vector<std::int64_t>>> cache;
    for (const auto& [size, positions] : cache)
        if (size == n) return positions;
    if (cache.size() >= 16) cache.clear();  // bounded: 16 sizes of 64 KB
    std::vector<std::int64_t> positions(static_cast<std::size_t>(m));
    const double stride = double(n) / double(m);
    for (std::int64_t i = 0; i < m; ++i) {
        std::uint64_t h = std::uint64_t(i) * 0x9e3779b97f4a7c15ULL;
        h = (h ^ (h >> 31)) * 0xbf58476d1ce4e5b9ULL;
        const double frac = double(h >> 11) * 0x1.0p-53;
        positions[std::size_t(i)] = std::min(n - 1, std::int64_t((double(i) + frac) * stride));
    }
    return cache.emplace_back(n, std::move(positions)).second;
}

// Selection of order statistics through buckets of equal width over [lo, hi], instead of a full sort: one pass
// counts the values of each bucket, a second copies out the values of the buckets that hold a wanted rank, and
// only those are sorted (a few values each, unless the distribution has a point mass or far outliers, when a
// bucket is sorted by radix like the whole sample would have been). A bucket is a monotonic function of the
// value, so the ranks are exactly those of a full sort. kBucketsPerBin buckets make one histogram bin.
constexpr int kBucketsPerBin = 32;
constexpr int kBuckets = kBucketsPerBin * kHistogramBins;

// The values at the given ranks of `values` (unsorted, finite, lo the least), written to out, and the values'
// histogram of kHistogramBins; scale (finite, > 0) is kBuckets over their range.
void selectRanks(const std::vector<float>& values, float lo, float scale, const std::vector<std::size_t>& ranks,
                 std::vector<float>& out, std::vector<std::uint32_t>& histogram) {
    thread_local std::vector<std::uint16_t> bucketOf;
    thread_local std::vector<float> picked, bucket;
    const std::size_t n = values.size();
    bucketOf.resize(n);
    std::array<std::uint32_t, kBuckets + 1> start{};  // counts, then (a prefix sum) where each bucket starts
    for (std::size_t i = 0; i < n; ++i) {
        const int b = std::min(int((values[i] - lo) * scale), kBuckets - 1);
        bucketOf[i] = std::uint16_t(b);
        ++start[std::size_t(b) + 1];
    }
    for (int b = 0; b < kBuckets; ++b) {
        histogram[std::size_t(b / kBucketsPerBin)] += start[std::size_t(b) + 1];
        start[std::size_t(b) + 1] += start[std::size_t(b)];
    }
    const auto bucketOfRank = [&](std::size_t r) {
        return std::size_t(std::upper_bound(start.begin(), start.end(), std::uint32_t(r)) - start.begin()) - 1;
    };
    // The wanted buckets, and where each one's values go in `picked`.
    std::array<std::int32_t, kBuckets> slot;
    slot.fill(-1);
    std::int32_t total = 0;
    std::vector<std::size_t> wanted;
    for (std::size_t r : ranks) {
        const std::size_t b = bucketOfRank(r);
        if (slot[b] >= 0) continue;
        slot[b] = total;
        total += std::int32_t(start[b + 1] - start[b]);
        wanted.push_back(b);
    }
    picked.resize(std::size_t(total));
    std::array<std::uint32_t, kBuckets> fill{};
    for (std::size_t i = 0; i < n; ++i) {
        const std::uint16_t b = bucketOf[i];
        if (slot[b] >= 0) picked[std::size_t(slot[b]) + fill[b]++] = values[i];
    }
    for (std::size_t b : wanted) {
        const auto first = picked.begin() + slot[b], last = first + fill[b];
        if (fill[b] > 256) {
            bucket.assign(first, last);
            radixSort(bucket);
            std::copy(bucket.begin(), bucket.end(), first);
        } else {
            std::sort(first, last);
        }
    }
    out.clear();
    for (std::size_t r : ranks) {
        const std::size_t b = bucketOfRank(r);
        out.push_back(picked[std::size_t(slot[b]) + (r - start[b])]);
    }
}

// ‖m‖ accumulated in double without a double copy of m (cast<double>().norm() does not vectorise: it cost a
// tenth of a probe of the BN-paper MLP): float sums of squares over blocks, a block in double when its float sum
// overflows (values beyond about 1e18) or is so small that its squares lose precision as subnormals.
double norm(const Matrix& m) {
    constexpr Index kBlock = 1024;
    double total = 0;
    for (Index begin = 0; begin < m.size(); begin += kBlock) {
        const Eigen::Map<const Eigen::VectorXf> block(m.data() + begin, std::min(kBlock, m.size() - begin));
        const float sum = block.squaredNorm();
        // Overflow, or squares below float's normal range (elements under about 1e-19, as a vanishing
        // gradient's): this block in double.
        total += std::isfinite(sum) && sum >= 1e-20f ? double(sum) : block.cast<double>().squaredNorm();
    }
    return std::sqrt(total);
}

}  // namespace

void sample(const float* values, std::int64_t n, std::vector<float>& out) {
    const std::int64_t m = std::clamp<std::int64_t>(n, 0, kMaxProbeValues);
    out.resize(std::size_t(m));
    if (m < n) {
        const std::vector<std::int64_t>& positions = samplePositions(n, m);
        for (std::int64_t i = 0; i < m; ++i) out[std::size_t(i)] = values[positions[std::size_t(i)]];
    } else {
        std::copy(values, values + m, out.begin());
    }
}

Distribution describe(const float* values, std::int64_t n, std::vector<float>& scratch) {
    sample(values, n, scratch);
    return describeAll(scratch);
}

Distribution describeAll(const std::vector<float>& scratch) {
    Distribution d;
    d.histogram.assign(kHistogramBins, 0);
    const std::int64_t m = std::int64_t(scratch.size());
    if (m == 0) return d;
    d.count = m;
    // Sums in double over four independent chains of additions, not one chain of dependent ones.
    const auto sumOver = [&](auto term) {
        double a0 = 0, a1 = 0, a2 = 0, a3 = 0;
        std::size_t i = 0;
        for (; i + 4 <= scratch.size(); i += 4) {
            a0 += term(scratch[i]);
            a1 += term(scratch[i + 1]);
            a2 += term(scratch[i + 2]);
            a3 += term(scratch[i + 3]);
        }
        for (; i < scratch.size(); ++i) a0 += term(scratch[i]);
        return (a0 + a1) + (a2 + a3);
    };
    const double sum = sumOver([](float v) { return double(v); });
    d.mean = sum / double(m);
    d.stddev = std::sqrt(sumOver([&](float v) { return (v - d.mean) * (v - d.mean); }) / double(m));
    // Vectorised; with NaNs among the values these are unspecified, and the sum (NaN) sends them to the sort below.
    const Eigen::Map<const Eigen::VectorXf> all(scratch.data(), m);
    float lo = all.minCoeff(), hi = all.maxCoeff();
    // Percentiles by linear interpolation between order statistics (numpy's default): the ranks each needs.
    std::array<double, kPercentiles.size()> frac{};
    std::vector<std::size_t> ranks;
    for (std::size_t k = 0; k < kPercentiles.size(); ++k) {
        const double pos = kPercentiles[k] / 100.0 * double(m - 1);
        const std::size_t below = std::size_t(std::floor(pos));
        frac[k] = pos - double(below);
        ranks.push_back(below);
        ranks.push_back(std::min(below + 1, std::size_t(m - 1)));
    }
    std::vector<float> order;  // the values at `ranks`
    const float scale = float(kBuckets) / (hi - lo);
    if (std::isfinite(sum) && std::isfinite(scale) && scale > 0) {
        selectRanks(scratch, lo, scale, ranks, order, d.histogram);
    } else {
        // One value repeated, a range too narrow or too wide for buckets, infinities or NaNs: a full sort (NaNs
        // go to the ends) and the histogram from the ends it gives.
        thread_local std::vector<float> sorted;
        sorted = scratch;
        radixSort(sorted);
        lo = sorted.front();
        hi = sorted.back();
        for (std::size_t r : ranks) order.push_back(sorted[r]);
        const double width = double(hi) - lo;
        const double binsPerUnit = width > 0 ? kHistogramBins / width : 0.0;
        for (float v : scratch) {
            const double t = (double(v) - lo) * binsPerUnit;
            // Comparisons, not a cast, decide the ends: NaN (a NaN value, an infinite width) goes to bin 0.
            const int bin = t >= 1 ? (t < kHistogramBins ? int(t) : kHistogramBins - 1) : 0;
            d.histogram[std::size_t(bin)]++;
        }
    }
    for (std::size_t k = 0; k < kPercentiles.size(); ++k) {
        const float a = order[2 * k], b = order[2 * k + 1];
        // In double (b − a of ±3e38 overflows a float); equal ends (two equal infinities) give that value, not NaN.
        d.percentiles[k] = a == b || frac[k] == 0 ? a : float(double(a) + frac[k] * (double(b) - double(a)));
    }
    d.histogramMin = lo;
    d.histogramMax = hi;
    return d;
}

void probeParams(const std::vector<NamedParam>& params, const std::vector<double>& updateNorms, ProbeSnapshot& out) {
    out.params.clear();
    for (std::size_t i = 0; i < params.size(); ++i) {
        ParamProbe p;
        p.name = params[i].name;
        p.gradNorm = norm(*params[i].param.grad);
        p.weightNorm = norm(*params[i].param.value);
        const double update = i < updateNorms.size() ? updateNorms[i] : 0.0;
        p.updateRatio = p.weightNorm > 0 ? update / p.weightNorm : 0.0;
        out.params.push_back(std::move(p));
    }
}

void probeBatchNorm(Network& net, ProbeSnapshot& out) {
    out.batchNorm.clear();
    for (std::size_t i = 0; i < net.layers().size(); ++i) {
        auto* bn = dynamic_cast<BatchNorm*>(net.layers()[i].get());
        if (!bn) continue;
        BatchNormProbe p;
        p.layer = net.layerName(int(i));
        // Up to four features spread over the layer, always the same ones.
        const int f = bn->features(), shown = std::min(4, f);
        for (int k = 0; k < shown; ++k) {
            const int feature = k * f / shown;
            p.features.push_back(feature);
            p.batchMean.push_back(bn->batchMean()[feature]);
            p.batchVar.push_back(bn->batchVar()[feature]);
            p.runningMean.push_back(bn->runningMean()[feature]);
            p.runningVar.push_back(bn->runningVar()[feature]);
        }
        out.batchNorm.push_back(std::move(p));
    }
}

void probeActivations(Network& net, const Matrix& probeBatch, ProbeSnapshot& out,
                      std::vector<std::vector<float>>& scratch) {
    out.activations.clear();
    std::vector<const BlockInfo*> probed;  // the block of each entry of out.activations
    for (const BlockInfo& b : net.blocks()) {
        if (b.linear < 0) continue;  // pooling and flatten blocks have no activation of their own
        out.activations.emplace_back().block = b.name;
        probed.push_back(&b);
    }
    // Each output is sampled as soon as its layer has run (an activation in place overwrites the one before);
    // the samples are described afterwards, in parallel (the forward leaves a thread idle between layers).
    std::vector<std::vector<float>>& samples = scratch;  // pre and post of each probed block
    samples.resize(2 * probed.size());
    std::vector<char> sampled(samples.size(), 0);
    net.forwardKeepingRunningStatistics(probeBatch, Mode::Train, [&](int layer, const Matrix& output) {
        for (std::size_t i = 0; i < probed.size(); ++i)
            for (std::size_t k : {2 * i, 2 * i + 1})
                if (layer == (k % 2 ? probed[i]->postActivation : probed[i]->preActivation)) {
                    sample(output.data(), output.size(), samples[k]);
                    sampled[k] = 1;
                }
    });
    parallel::forChunks(std::ptrdiff_t(samples.size()), 1, [&](std::ptrdiff_t begin, std::ptrdiff_t end) {
        for (std::ptrdiff_t k = begin; k < end; ++k) {
            if (!sampled[std::size_t(k)]) continue;
            ActivationProbe& a = out.activations[std::size_t(k / 2)];
            (k % 2 ? a.post : a.pre) = describeAll(samples[std::size_t(k)]);
        }
    });
}

}  // namespace bnlab::engine
