#pragma once

// Trains a network on a dataset: epochs of shuffled mini-batches, evaluation on the validation split in
// Eval mode, probes, and the final test accuracy. run() blocks; stop and pause may be requested from any
// other thread and take effect between steps.

#include "dataset.h"
#include "metrics.h"
#include "network.h"
#include "optimizer.h"
#include "softmax_cross_entropy.h"

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace bnlab::engine {

struct Checkpoint;  // checkpoint.h

// A change to a run while it trains (the window's mid-run controls), applied between two steps.
struct LiveChange {
    enum class Kind { LearningRate, BatchNormMomentum, BatchSize, Norm };
    Kind kind = Kind::LearningRate;
    double value = 0;  // LearningRate, BatchNormMomentum (Keras convention), BatchSize
    int block = -1;    // Norm: an index into TrainOptions::network.blocks (a dense or conv block)
    NormPlacement norm = NormPlacement::None;  // Norm: the new placement (None folds BN away; see Network)

    static LiveChange learningRate(double lr) { return {Kind::LearningRate, lr, -1, NormPlacement::None}; }
    static LiveChange batchNormMomentum(double k) { return {Kind::BatchNormMomentum, k, -1, NormPlacement::None}; }
    static LiveChange batchSize(int n) { return {Kind::BatchSize, double(n), -1, NormPlacement::None}; }
    static LiveChange normPlacement(int block, NormPlacement p) { return {Kind::Norm, 0, block, p}; }
};

// A change planned in the configuration: applied after `step` steps (0: before the first), as if requested
// live at that moment (bnlab-cli train --at STEP:KEY=VALUE).
struct ScheduledChange {
    long step = 0;
    LiveChange change;
};

// The statistics with which validation and test evaluations normalise BatchNorm (and Batch Renormalization)
// layers. Running: the running statistics (inference mode, the default). Batch: the statistics of each evaluation
// chunk of eval_batch_size images, as a training-mode forward computes them (renorm with its r and d), without
// updating the running statistics or anything else: training is bit-identical either way. It shows directly how
// far the inference-mode network lags behind the training-mode one (e.g. early in training with momentum 0.999).
// LayerNorm and GroupNorm have no running statistics and are unaffected; Dropout stays off.
enum class EvalStatistics { Running, Batch };
[[nodiscard]] std::string toString(EvalStatistics s);  // "running", "batch"

struct TrainOptions {
    NetworkSpec network;
    BatchNormOptions batchNorm;
    OptimizerOptions optimizer;
    InitOptions init;
    int batchSize = 60;
    int epochs = 5;
    long maxSteps = 0;             // 0 = no limit
    std::uint64_t seed = 1;
    Index validationSize = 5000;   // carved from the end of the training files
    Index trainSize = 0;           // 0 = all remaining training images
    int probeInterval = 100;       // steps between probes; 0 = none
    int probeBatchSize = 256;      // the fixed probe batch, drawn once from the validation split
    int landscapeInterval = 0;     // steps between loss-landscape measures (landscape.h); 0 = none
    int evalInterval = 0;          // steps between validation evaluations; 0 = at epoch ends only
    int evalBatchSize = 500;       // evaluation runs in chunks of this many samples
    EvalStatistics evalStatistics = EvalStatistics::Running;  // validation/test: running or batch statistics
    int threads = 0;               // 0 = all cores
    std::vector<ScheduledChange> schedule;  // in order of step

    // Training states (engine/checkpoint.h). Not part of config.json: whether and where a run keeps them is the
    // program's business, and a run continued from one gives the records it would have given anyway.
    // checkpointFolder: save one into checkpointFolder/checkpoints/ after every validation evaluation and when
    // the run ends (completed, max_steps or stopped; not after a divergence, nor after a stop that came with
    // changes the checkpoint could not tell apart); empty: none. Old ones are thinned out (thinCheckpoints) so
    // that at most max(2, checkpointBudget / size of one) stay.
    std::filesystem::path checkpointFolder;
    std::uint64_t checkpointBudget = std::uint64_t(128) << 20;  // bytes (keras-cnn: 8 of 14.6 MB; bn-paper-mlp: 214 of 0.6 MB)
    // A checkpoint of a run of these options: the run continues after its step S (records from step S + 1 on,
    // bit-identical to those of the run that wrote it when nothing else changes); planned changes before step S
    // are taken to be in it, those at S and later are applied. Empty: the run starts at step 0.
    std::filesystem::path resumeFrom;
    // The checkpoint of resumeFrom, already read (a fork plan reads it to check it): the run uses this one and
    // does not read the file again, so a parent that is still training may thin it out meanwhile. resumeFrom
    // still names it in messages.
    std::shared_ptr<const Checkpoint> resumeState;
};

// Checks every setting and its consistency with the data; throws ConfigError naming the key
// (as bnlab-cli's --set spells it) and the allowed range.
void validate(const TrainOptions& options, const Dataset& data);

struct Evaluation {
    double loss = 0;
    double accuracy = 0;  // fraction in [0, 1]
    int classes = 0;
    std::vector<std::int64_t> confusion;  // (classes, classes) counts, row = true class, column = predicted (argmax)
};

struct StepResult {
    double loss = 0;
    Index correct = 0;  // samples of the batch classified right before the update
    bool finite = true; // false: the loss was NaN/Inf and no update was applied
};

// One training step: forward in Train mode, loss, backward, optimizer update (skipped when the loss is not
// finite). Shared by the Trainer and the benchmark.
StepResult trainStep(Network& net, SoftmaxCrossEntropy& loss, Optimizer& optimizer, const Matrix& x,
                     const std::vector<std::uint8_t>& labels);

// Evaluates a split in Eval mode (running statistics), chunkSize samples at a time. The network is given at
// most maxRows samples per forward (0: the whole chunk), so that its activation buffers need not grow past
// what training uses. The result does not depend on maxRows: in Eval mode a sample's logits do not depend on
// the other samples of the forward, and each chunk's loss is computed on its gathered logits.
// The exception: an exp-based activation (sigmoid, tanh) computes a row chunk's last few values on Eigen's
// scalar path, so its last bits can follow the forward's size.
//
// With EvalStatistics::Batch (Mode::EvalBatch) the chunks are the batches whose statistics BN uses, so each is
// forwarded whole (maxRows is ignored): samples [0, c), [c, 2c), ... with c = chunkSize, the last one shorter; a
// last chunk of 1 sample, which BN cannot normalise, is joined to the one before (c + 1 samples). chunkSize must
// then be at least 2 and the split must not hold exactly 1 sample (ConfigError).
//
// The confusion matrix comes with every evaluation (its trace / the split size is the accuracy, exactly). With
// predictions, every sample's true class, predicted class and softmax probabilities are stored there too, from
// the probabilities the loss computes anyway (predictions->firstImage is left to the caller).
[[nodiscard]] Evaluation evaluate(Network& net, const DataView& view, Index chunkSize, Index maxRows = 0,
                                  EvalStatistics statistics = EvalStatistics::Running,
                                  SamplePredictions* predictions = nullptr);

// The chunks of evaluate() as [begin, end) pairs; joinSingle (batch statistics) joins a last chunk of 1 sample
// to the one before.
[[nodiscard]] std::vector<std::pair<Index, Index>> evalChunks(Index samples, Index chunkSize, bool joinSingle);

// The trainer's maxRows for evaluate(): the training batch size, or more while the layer outputs of one
// forward stay within 64 MB. So keras-cnn evaluates in forwards of 128 (the 500 of eval_batch_size took its
// peak memory from about 300 to 620 MB), and the MLPs, whose outputs are a few kB per sample, are not split.
[[nodiscard]] Index evalRows(const Network& net, Index batchSize);

class Trainer final {
public:
    Trainer(const Dataset& data, TrainOptions options, MetricsSink& sink);
    ~Trainer();

    // Trains until done, stopped or diverged; emits every record to the sink. Throws ConfigError or
    // Error before the first step for bad settings. Call from one thread.
    RunSummary run();

    void requestStop();         // any thread; the run ends after the current step
    void setPaused(bool paused);  // any thread
    void stepWhilePaused(int steps = 1);  // any thread: while paused, let this many more steps run
    // Any thread: applies the change before the next step (at once while paused) and reports it to the sink
    // with onChange, applied or refused with the reason (e.g. a batch size that would leave a batch of one
    // sample for BN, a BN that cannot be folded exactly). Throws ConfigError at once for a value that is
    // never valid (NaN learning rate, momentum outside [0, 1), batch size 0, a block that is not dense/conv).
    void requestChange(const LiveChange& change);
    // The checks requestChange makes at once, against the run's options.
    static void checkChange(const LiveChange& change, const TrainOptions& options);
    [[nodiscard]] bool isPaused() const { return m_paused.load(); }
    [[nodiscard]] const TrainOptions& options() const { return m_options; }

private:
    RunSummary runInArena();
    // Applies pending changes; while paused, waits (applying changes as they come). False when a stop was requested.
    bool waitWhilePaused(const std::function<void(const LiveChange&)>& apply);
    std::vector<LiveChange> takeChanges();

    const Dataset& m_data;
    TrainOptions m_options;
    MetricsSink& m_sink;
    std::atomic<bool> m_stop{false};
    std::atomic<bool> m_paused{false};
    int m_stepBudget = 0;  // guarded by m_pauseMutex
    std::vector<LiveChange> m_changes;  // guarded by m_pauseMutex
    std::mutex m_pauseMutex;
    std::condition_variable m_pauseCv;
};

}  // namespace bnlab::engine
