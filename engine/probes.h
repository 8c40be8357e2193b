#pragma once

// What the charts show, as plain value types that are copied across threads (never shared).

#include "network.h"

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace bnlab::engine {

// Percentiles reported for every distribution (as the BN paper's Figure 1 and TensorBoard's bands).
inline constexpr std::array<float, 7> kPercentiles = {0, 2, 15, 50, 85, 98, 100};
inline constexpr int kHistogramBins = 30;

struct Distribution {
    std::array<float, 7> percentiles{};        // at kPercentiles
    double mean = 0, stddev = 0;
    float histogramMin = 0, histogramMax = 0;  // the bins split [min, max] evenly
    std::vector<std::uint32_t> histogram;      // kHistogramBins counts
    std::int64_t count = 0;                    // values described (a fixed stratified sample of at most kMaxProbeValues)
};
inline constexpr std::int64_t kMaxProbeValues = 1 << 13;  // 8192: percentiles within ~0.2 points

// Describes values; when there are more than kMaxProbeValues, a fixed stratified sample of them.
// scratch is reused between calls.
[[nodiscard]] Distribution describe(const float* values, std::int64_t n, std::vector<float>& scratch);

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
void probeActivations(Network& net, const Matrix& probeBatch, ProbeSnapshot& out, std::vector<float>& scratch);

}  // namespace bnlab::engine
