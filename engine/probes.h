#pragma once

// What the charts show, as plain value types that are copied across threads (never shared).

#include "network.h"

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace bnlab::engine {

// Percentiles reported for every distribution: the BN paper's Figure 1 (15, 50, 85) with 0-100 and 2-98, and
// TensorBoard's distribution lines: the normal distribution's ±1.5σ, ±1σ and ±0.5σ as percentiles
// (6.681/93.319, 15.866/84.134, 30.854/69.146) which, with the minimum, the median and the maximum, are its
// nine lines (the levels TensorBoard's histogram compression uses: basis points 668, 1587, 3085, ...).
inline constexpr std::array<float, 13> kPercentiles = {0,       2,  6.681f,  15,      15.866f, 30.854f, 50,
                                                       69.146f, 84.134f, 85, 93.319f, 98,      100};
// The index of a level in kPercentiles (a compile error for a level that is not one).
consteval std::size_t percentileIndex(float level) {
    for (std::size_t i = 0; i < kPercentiles.size(); ++i)
        if (kPercentiles[i] == level) return i;
    throw "not a level of kPercentiles";
}
// TensorBoard's nine lines, from the minimum to the maximum.
inline constexpr std::array<std::size_t, 9> kTensorBoardLines = {
    percentileIndex(0),       percentileIndex(6.681f),  percentileIndex(15.866f),
    percentileIndex(30.854f), percentileIndex(50),      percentileIndex(69.146f),
    percentileIndex(84.134f), percentileIndex(93.319f), percentileIndex(100)};
inline constexpr int kHistogramBins = 30;

struct Distribution {
    std::array<float, kPercentiles.size()> percentiles{};  // at kPercentiles (NaN: not recorded, older run folders)
    double mean = 0, stddev = 0;
    float histogramMin = 0, histogramMax = 0;  // the bins split [min, max] evenly
    std::vector<std::uint32_t> histogram;      // kHistogramBins counts
    std::int64_t count = 0;                    // values described (a fixed stratified sample of at most kMaxProbeValues)
};
inline constexpr std::int64_t kMaxProbeValues = 1 << 13;  // 8192: percentiles within ~0.2 points

// Describes values; when there are more than kMaxProbeValues, a fixed stratified sample of them.
// scratch is reused between calls.
[[nodiscard]] Distribution describe(const float* values, std::int64_t n, std::vector<float>& scratch);
// The two halves of describe(): the values it describes (all of them, or the fixed sample), and their description.
void sample(const float* values, std::int64_t n, std::vector<float>& out);
[[nodiscard]] Distribution describeAll(const std::vector<float>& values);

struct ActivationProbe {
    std::string block;     // "dense1", "conv2", "output"
    Distribution pre;      // the input of the nonlinearity (BN output when BN is before it)
    Distribution post;     // the output of the nonlinearity
};

struct ParamProbe {
    std::string name;       // "dense1.weight", "bn1.gamma"
    double gradNorm = 0;    // ‖g‖₂ of the latest training step
    double weightNorm = 0;  // ‖w‖₂ after the step
    double updateRatio = 0; // ‖Δw‖₂/‖w‖₂ of the latest step
};

struct BatchNormProbe {
    std::string layer;                // "bn1"
    std::vector<int> features;        // the features (channels) followed, at most 4
    std::vector<float> batchMean, batchVar, runningMean, runningVar;  // per followed feature
};

struct ProbeSnapshot {
    long step = 0;
    double epoch = 0;          // fractional epochs done
    std::int64_t samples = 0;  // training samples seen
    double seconds = 0;        // wall-clock time since the run started, as StepRecord::seconds
    std::vector<ActivationProbe> activations;
    std::vector<ParamProbe> params;
    std::vector<BatchNormProbe> batchNorm;
};

// Gradient and BN statistics of the latest training step. params must have been stepped by an optimizer
// recording its update norms (updateNorms[i] belongs to params[i]).
void probeParams(const std::vector<NamedParam>& params, const std::vector<double>& updateNorms, ProbeSnapshot& out);
void probeBatchNorm(Network& net, ProbeSnapshot& out);

// Runs the probe batch through the network with batch statistics (training-mode behaviour, what training
// sees) and records each block's pre- and post-activation distribution. Running statistics are left
// exactly as they were.
void probeActivations(Network& net, const Matrix& probeBatch, ProbeSnapshot& out,
                      std::vector<std::vector<float>>& scratch);

}  // namespace bnlab::engine
