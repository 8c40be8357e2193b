#pragma once

// The records a training run produces, and the interface that receives them.

#include "landscape.h"
#include "probes.h"

#include <cstdint>
#include <string>
#include <vector>

namespace bnlab::engine {

struct StepRecord {
    long step = 0;            // 1-based
    double epoch = 0;         // fractional epochs done after this step
    std::int64_t samples = 0; // training samples seen after this step
    double seconds = 0;       // wall-clock time since the run started
    double loss = 0;          // mean cross-entropy of this batch
    double accuracy = 0;      // fraction of this batch classified right (before the update)
    double lossEma = 0;       // exponential moving average (0.98), bias-corrected
    double accuracyEma = 0;
};

struct EvalRecord {
    long step = 0;
    double epoch = 0;
    std::int64_t samples = 0;
    double seconds = 0;
    std::string split;        // "validation" or "test"
    double loss = 0;
    double accuracy = 0;      // fraction in [0, 1]
    bool epochEnd = false;
};

// The confusion matrix of one evaluation (validation or test): counts[t·classes + p] is the number of samples of
// true class t whose logits' argmax is p, the prediction the evaluation's accuracy counts. So the counts sum to
// the split's size and the trace over that sum is the evaluation's accuracy, exactly.
struct ConfusionRecord {
    long step = 0;
    double epoch = 0;
    std::int64_t samples = 0;
    double seconds = 0;
    std::string split;                   // "validation" or "test", as EvalRecord::split
    int classes = 0;
    std::vector<std::int64_t> counts;    // (classes, classes): row = true class, column = predicted class

    [[nodiscard]] std::int64_t at(int trueClass, int predicted) const {
        return counts[std::size_t(trueClass) * std::size_t(classes) + std::size_t(predicted)];
    }
    [[nodiscard]] std::int64_t total() const;
    [[nodiscard]] std::int64_t correct() const;  // the trace
    [[nodiscard]] std::int64_t rowTotal(int trueClass) const;
};

// Every sample of one evaluation, in split order: its true class, the predicted one and the softmax
// probabilities. About 12 bytes + 4 per class per sample: 250 KB for 5,000 validation images, 500 KB for the
// 10,000 test images; so only the latest evaluation of each split is kept (RunData, the run folder).
struct SamplePredictions {
    int classes = 0;
    Index firstImage = 0;                  // sample i is image firstImage + i of its file: the training file for
                                           // validation (its last images), the t10k file for test
    std::vector<std::uint8_t> labels;      // (N) the true class
    std::vector<std::uint8_t> predicted;   // (N) the argmax of the logits
    std::vector<float> probabilities;      // (N, classes) softmax, each row sums to 1

    [[nodiscard]] Index size() const { return Index(labels.size()); }
    [[nodiscard]] float probability(Index sample, int c) const {
        return probabilities[std::size_t(sample) * std::size_t(classes) + std::size_t(c)];
    }
};

// What one evaluation predicted: sent right after its EvalRecord.
struct PredictionRecord {
    ConfusionRecord confusion;
    SamplePredictions predictions;
};

// How a run ended.
enum class StopReason { Completed, MaxSteps, Stopped, Diverged };
[[nodiscard]] std::string toString(StopReason reason);  // "completed", "max_steps", "stopped", "diverged"

struct RunSummary {
    StopReason reason = StopReason::Completed;
    std::string message;           // for people: why it stopped, e.g. where it diverged
    long steps = 0;
    double epochs = 0;             // fractional epochs done
    std::int64_t samples = 0;
    double seconds = 0;            // wall-clock of the whole run
    double trainingSeconds = 0;    // time inside training steps only
    double samplesPerSecond = 0;   // samples / trainingSeconds
    // The probes' cost on the training thread (snapshots taken, computed and handed to the sink), against the
    // training steps' time, both of this session only (a resumed run starts them again at 0).
    long probes = 0;
    double probeSeconds = 0;
    double sessionTrainingSeconds = 0;
    bool hasValidation = false;
    double valLoss = 0, valAccuracy = 0;    // the latest validation evaluation
    bool hasTest = false;
    double testLoss = 0, testAccuracy = 0;  // evaluated when the run completes or reaches max_steps
    long divergedStep = 0;         // with Diverged: the step whose loss was not finite
    std::string divergedLayer;     // with Diverged: the first layer whose output was not finite
};

struct RunInfo {
    std::vector<std::string> layers;   // layer names in order
    std::vector<std::string> blocks;   // block names, as in ActivationProbe::block
    std::vector<std::string> params;   // parameter names, as in ParamProbe::name
    Index trainSamples = 0, validationSamples = 0, testSamples = 0;
    Index stepsPerEpoch = 0;
    long totalSteps = 0;               // planned (epochs × steps per epoch, capped by max_steps)
    int threads = 0;
};

// A setting changed while the run was going (the window's mid-run changes): applied after `step` steps, i.e.
// from step `step` + 1 on; the charts mark it at `step`.
struct ChangeRecord {
    long step = 0;
    double epoch = 0;
    std::int64_t samples = 0;
    double seconds = 0;
    std::string key;          // as bnlab-cli's --set spells it: "learning_rate", "bn_momentum", "batch_size", "block.2.norm"
    std::string value;        // the new value as text: "0.5", "128", "none", "before"
    std::string description;  // for people: "learning rate 0.1 → 0.5", "bn2 removed: ... folded into dense2 ..."
    bool applied = true;      // false: refused; description says why and nothing changed
    bool structural = false;  // the layers changed: `info` holds the new layers, blocks and parameters
    RunInfo info;             // the run's description after the change (also for the total steps)
};

// Receives the records of a run, on the training thread. Implementations copy what they keep.
class MetricsSink {
public:
    virtual ~MetricsSink() = default;
    virtual void onStart(const RunInfo&) {}
    virtual void onStep(const StepRecord&) {}
    virtual void onEval(const EvalRecord&) {}
    virtual void onPredictions(const PredictionRecord&) {}  // after each onEval, for the same evaluation
    virtual void onProbe(const ProbeSnapshot&) {}
    virtual void onLandscape(const LandscapeRecord&) {}  // every landscape_interval steps (off by default)
    virtual void onChange(const ChangeRecord&) {}
    virtual void onFinish(const RunSummary&) {}
    // The run is about to wait (paused): a sink that batches records should hand them over now.
    virtual void onPause() {}
};

}  // namespace bnlab::engine
