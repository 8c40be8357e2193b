#pragma once

// A training state (checkpoint): everything the Trainer needs to continue a run after step S exactly as the
// run itself went on, bit for bit: every parameter, the optimizer's state (step counts, SGD's velocity or Adam's
// moments), the running statistics of the BN and Batch Renorm layers, the sampler (epoch, position, the current
// order and the shuffle generator), the loop's counters (step, samples, the moving averages, the latest
// validation), the settings that live changes alter (learning rate, BN momentum, batch size, each block's BN
// placement) and the names of the norm layers. Nothing else carries state from one step to the next: Dropout
// masks are a function of (seed, step), the probe batch is drawn again from the seed, the latest batch is
// gathered again from the sampler.
//
// File (native little-endian; a CRC-32 guards the state):
//   bytes 0-7    "BNLABCKP"
//   bytes 8-11   format version (1)
//   bytes 12-15  0
//   bytes 16-23  size of the state in bytes
//   bytes 24-27  CRC-32 (zlib) of the state
//   bytes 28-31  0
//   then the state: what the run must share with the one that wrote it (seed, training samples, optimizer,
//   each layer's name, kind and shapes), the live settings, the norm names, the loop counters, the sampler,
//   the parameters by name, the optimizer state, the running statistics.

#include "batch_sampler.h"
#include "network.h"
#include "optimizer.h"
#include "trainer.h"

#include <array>
#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace bnlab::engine {

// One layer as the checkpoint describes the network it was taken from.
struct LayerSignature {
    std::string name, kind;  // "bn2", "batchnorm"
    Shape input, output;
    bool operator==(const LayerSignature&) const = default;
};

// What the Trainer's loop keeps besides the network, the optimizer and the sampler.
struct LoopState {
    long step = 0;                 // steps done
    std::int64_t samples = 0;      // training samples seen
    double epochs = 0;             // fractional epochs done after `step`
    long lastValidationStep = -1;
    double seconds = 0;            // wall-clock since the run started, at `step`
    double trainingSeconds = 0;    // time inside training steps so far
    std::array<double, 4> ema{};   // the loss and accuracy moving averages: value and decay power of each
    bool hasValidation = false;
    double valLoss = 0, valAccuracy = 0;
};

struct RunningStatistics {
    std::string layer;  // "bn1"
    Vector mean, var;   // (F)
};

struct Checkpoint {
    // What a run continuing from it must share with the run that wrote it.
    std::uint64_t seed = 0;
    Index trainSamples = 0;
    OptimizerKind optimizer = OptimizerKind::SGD;
    std::vector<LayerSignature> layers;
    // The settings that live changes alter, as they were after step `loop.step`.
    float learningRate = 0, batchNormMomentum = 0;
    Index batchSize = 0;
    std::vector<NormPlacement> placements;  // per spec block
    Network::NormNames names;
    LoopState loop;
    BatchSampler::State sampler;
    std::vector<std::pair<std::string, Matrix>> params;  // every parameter by name ("dense1.weight"), network order
    Optimizer::State optimizerState;
    std::vector<RunningStatistics> runningStatistics;   // per BatchNorm layer, network order
};

// Writes the file atomically (a temporary file renamed over it). Throws Error naming the file.
void writeCheckpoint(const std::filesystem::path& file, const Checkpoint& checkpoint);
// Throws DataError naming the file: missing, not a checkpoint, another format version, truncated, corrupt.
[[nodiscard]] Checkpoint readCheckpoint(const std::filesystem::path& file);

// The state of a run after `loop.step` steps, with `options` holding its live settings as they are now.
[[nodiscard]] Checkpoint captureCheckpoint(Network& net, const Optimizer& optimizer, const BatchSampler& sampler,
                                           const TrainOptions& options, const LoopState& loop);
// Before the network is built: checks that the checkpoint belongs to a run of these options (seed, training
// split, optimizer, blocks) and sets the live settings in `options` to the checkpoint's. Throws ConfigError
// naming `source` (the file) and what differs.
void applyCheckpointSettings(const Checkpoint& checkpoint, TrainOptions& options, Index trainSamples,
                             const std::string& source);
// Restores the network (norm names, parameters, running statistics), the optimizer (bound to the network's
// parameters first) and the sampler. Throws ConfigError naming `source` and the first layer or parameter that
// differs; nothing is half-restored in a run that goes on, since the Trainer then stops before any step.
void restoreCheckpoint(const Checkpoint& checkpoint, Network& net, Optimizer& optimizer, BatchSampler& sampler,
                       const std::string& source);

// The checkpoints of a run folder: FOLDER/checkpoints/step-00000120.bnckpt.
[[nodiscard]] std::filesystem::path checkpointFile(const std::filesystem::path& folder, long step);
// The step and file of each checkpoint in the folder, by step (none: empty, also when there is no folder).
[[nodiscard]] std::vector<std::pair<long, std::filesystem::path>> listCheckpoints(const std::filesystem::path& folder);
// Deletes checkpoints until at most `keep` (≥ 1) remain: never the latest, and each time the one whose removal
// leaves the shortest replay gap (counting step 0, where a replay starts), so the kept ones stay spread over
// the run and a fork anywhere replays at most about 2·steps/keep steps.
void thinCheckpoints(const std::filesystem::path& folder, std::size_t keep);

}  // namespace bnlab::engine
