#include "probes.h"

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

}  // namespace

Distribution describe(const float* values, std::int64_t n, std::vector<float>& scratch) {
    Distribution d;
    d.histogram.assign(kHistogramBins, 0);
    if (n <= 0) return d;
    const std::int64_t m = std::min(n, kMaxProbeValues);
    scratch.resize(std::size_t(m));
    // Stratified sample: one value from each of m equal strata, at a position within the stratum that a
    // fixed hash of i chooses. Evenly spaced positions would alias with the layout (for a conv layer they hit
    // the same image column of every map, which for MNIST is the all-zero border).
    const double stride = double(n) / double(m);
    for (std::int64_t i = 0; i < m; ++i) {
        std::int64_t pos = i;
        if (m < n) {
            std::uint64_t h = std::uint64_t(i) * 0x9e3779b97f4a7c15ULL;
            h = (h ^ (h >> 31)) * 0xbf58476d1ce4e5b9ULL;
            const double frac = double(h >> 11) * 0x1.0p-53;
            pos = std::min(n - 1, std::int64_t((double(i) + frac) * stride));
        }
        scratch[std::size_t(i)] = values[pos];
    }
    d.count = m;
    double sum = 0;
    for (float v : scratch) sum += v;
    d.mean = sum / double(m);
    double sq = 0;
    for (float v : scratch) sq += (v - d.mean) * (v - d.mean);
    d.stddev = std::sqrt(sq / double(m));
    // Percentiles by linear interpolation between order statistics (numpy's default).
    radixSort(scratch);
    for (std::size_t k = 0; k < kPercentiles.size(); ++k) {
        const double pos = kPercentiles[k] / 100.0 * double(m - 1);
        const std::size_t lo = std::size_t(std::floor(pos));
        const std::size_t hi = std::min(lo + 1, std::size_t(m - 1));
        const double frac = pos - double(lo);
        d.percentiles[k] = float(scratch[lo] + frac * (scratch[hi] - scratch[lo]));
    }
    d.histogramMin = scratch.front();
    d.histogramMax = scratch.back();
    const double width = double(d.histogramMax) - d.histogramMin;
    for (float v : scratch) {
        int bin = width > 0 ? int((v - d.histogramMin) / width * kHistogramBins) : 0;
        d.histogram[std::size_t(std::clamp(bin, 0, kHistogramBins - 1))]++;
    }
    return d;
}

void probeParams(const std::vector<NamedParam>& params, const std::vector<double>& updateNorms, ProbeSnapshot& out) {
    out.params.clear();
    for (std::size_t i = 0; i < params.size(); ++i) {
        ParamProbe p;
        p.name = params[i].name;
        p.gradNorm = params[i].param.grad->cast<double>().norm();
        p.weightNorm = params[i].param.value->cast<double>().norm();
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

void probeActivations(Network& net, const Matrix& probeBatch, ProbeSnapshot& out, std::vector<float>& scratch) {
    std::vector<BatchNorm*> bns = net.batchNormLayers();
    std::vector<std::pair<Vector, Vector>> saved;
    for (BatchNorm* bn : bns) saved.emplace_back(bn->runningMean(), bn->runningVar());
    out.activations.clear();
    std::vector<const BlockInfo*> probed;  // the block of each entry of out.activations
    for (const BlockInfo& b : net.blocks()) {
        if (b.linear < 0) continue;  // pooling and flatten blocks have no activation of their own
        out.activations.emplace_back().block = b.name;
        probed.push_back(&b);
    }
    // Each output is described as soon as its layer has run: an activation in place overwrites the one before.
    net.forward(probeBatch, Mode::Train, [&](int layer, const Matrix& output) {
        for (std::size_t i = 0; i < probed.size(); ++i) {
            if (layer == probed[i]->preActivation) out.activations[i].pre = describe(output.data(), output.size(), scratch);
            if (layer == probed[i]->postActivation) out.activations[i].post = describe(output.data(), output.size(), scratch);
        }
    });
    for (std::size_t i = 0; i < bns.size(); ++i) {
        bns[i]->runningMean() = saved[i].first;
        bns[i]->runningVar() = saved[i].second;
    }
}

}  // namespace bnlab::engine
