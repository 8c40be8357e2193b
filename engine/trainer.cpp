#include "trainer.h"

#include "batch_sampler.h"
#include "checkpoint.h"
#include "error.h"
#include "parallel.h"
#include "softmax_cross_entropy.h"

#include <charconv>
#include <chrono>
#include <algorithm>
#include <cmath>
#include <optional>
#include <utility>

namespace bnlab::engine {
namespace {

using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// Whether some block normalises with batch statistics (BN or Batch Renormalization; not LayerNorm or GroupNorm).
bool hasBatchNorm(const NetworkSpec& spec) {
    for (const BlockSpec& b : spec.blocks)
        if (b.norm != NormPlacement::None && usesBatchStatistics(b.normKind)) return true;
    return false;
}

void require(bool ok, const std::string& message) {
    if (!ok) throw ConfigError(message);
}

bool finitePositive(double v) { return std::isfinite(v) && v > 0; }
bool inUnitInterval(double v) { return std::isfinite(v) && v >= 0 && v < 1; }  // [0, 1)

// The shortest text that reads back as the same value ("1", "0.1", "nan", "inf").
template <typename T>
std::string num(T v) {
    if (std::isnan(v)) return "nan";  // to_chars would keep the sign bit ("-nan")
    char buf[32];
    const auto r = std::to_chars(buf, buf + sizeof buf, v);
    return std::string(buf, r.ptr);
}

// Exponential moving average with bias correction (as Adam's), so the first values are not pulled to 0.
struct Ema {
    double add(double x) {
        value = kDecay * value + (1 - kDecay) * x;
        power *= kDecay;
        return value / (1 - power);
    }

    static constexpr double kDecay = 0.98;
    double value = 0, power = 1;
};

}  // namespace

std::string toString(EvalStatistics s) { return s == EvalStatistics::Batch ? "batch" : "running"; }

std::int64_t ConfusionRecord::total() const {
    std::int64_t sum = 0;
    for (std::int64_t c : counts) sum += c;
    return sum;
}

std::int64_t ConfusionRecord::correct() const {
    std::int64_t sum = 0;
    for (int c = 0; c < classes; ++c) sum += at(c, c);
    return sum;
}

std::int64_t ConfusionRecord::rowTotal(int trueClass) const {
    std::int64_t sum = 0;
    for (int p = 0; p < classes; ++p) sum += at(trueClass, p);
    return sum;
}

std::string toString(StopReason reason) {
    switch (reason) {
        case StopReason::Completed: return "completed";
        case StopReason::MaxSteps: return "max_steps";
        case StopReason::Stopped: return "stopped";
        case StopReason::Diverged: return "diverged";
    }
    return "?";
}

void validate(const TrainOptions& o, const Dataset& data) {
    require(o.batchSize >= 1, "batch_size: must be at least 1, got " + std::to_string(o.batchSize));
    require(o.epochs >= 1, "epochs: must be at least 1, got " + std::to_string(o.epochs));
    require(o.maxSteps >= 0, "max_steps: must be 0 (no limit) or more, got " + std::to_string(o.maxSteps));
    require(finitePositive(o.optimizer.learningRate),
            "learning_rate: must be a positive finite number, got " + num(o.optimizer.learningRate));
    require(inUnitInterval(o.optimizer.momentum), "momentum: must be in [0, 1), got " + num(o.optimizer.momentum));
    require(inUnitInterval(o.optimizer.beta1), "adam_beta1: must be in [0, 1), got " + num(o.optimizer.beta1));
    require(inUnitInterval(o.optimizer.beta2), "adam_beta2: must be in [0, 1), got " + num(o.optimizer.beta2));
    require(finitePositive(o.optimizer.adamEpsilon), "adam_epsilon: must be positive, got " + num(o.optimizer.adamEpsilon));
    require(std::isfinite(o.optimizer.weightDecay) && o.optimizer.weightDecay >= 0,
            "weight_decay: must be 0 or positive, got " + num(o.optimizer.weightDecay));
    require(inUnitInterval(o.batchNorm.momentum),
            "bn_momentum: must be in [0, 1) (Keras convention: the weight kept on the running value), got " +
                num(o.batchNorm.momentum));
    require(finitePositive(o.batchNorm.epsilon), "bn_epsilon: must be a positive number, got " + num(o.batchNorm.epsilon));
    require(std::isfinite(o.batchNorm.rMax) && o.batchNorm.rMax >= 1,
            "renorm_rmax: must be 1 or more (r is clipped to [1/rmax, rmax]), got " + num(o.batchNorm.rMax));
    require(std::isfinite(o.batchNorm.dMax) && o.batchNorm.dMax >= 0,
            "renorm_dmax: must be 0 or more (d is clipped to [-dmax, dmax]), got " + num(o.batchNorm.dMax));
    require(std::isfinite(o.batchNorm.noiseMean) && o.batchNorm.noiseMean >= 0,
            "bn_noise_mean: must be 0 or more (the noise mean of a feature is drawn from U(-n, n) at every step), got " +
                num(o.batchNorm.noiseMean));
    require(std::isfinite(o.batchNorm.noiseScale) && o.batchNorm.noiseScale >= 1,
            "bn_noise_scale: must be 1 or more (the noise scale of a feature is drawn from U(1, n) at every step), got " +
                num(o.batchNorm.noiseScale));
    require(o.landscapeInterval >= 0,
            "landscape_interval: must be 0 (off) or more, got " + std::to_string(o.landscapeInterval));
    require(o.batchNorm.groups >= 1, "group_norm_groups: must be at least 1, got " + std::to_string(o.batchNorm.groups));
    require(finitePositive(o.init.scale), "init_scale: must be a positive number, got " + num(o.init.scale));
    require(o.probeInterval >= 0, "probe_interval: must be 0 (off) or more, got " + std::to_string(o.probeInterval));
    require(o.probeBatchSize >= 2, "probe_batch_size: must be at least 2, got " + std::to_string(o.probeBatchSize));
    require(o.evalInterval >= 0, "eval_interval: must be 0 (epoch ends) or more, got " + std::to_string(o.evalInterval));
    require(o.evalBatchSize >= 1, "eval_batch_size: must be at least 1, got " + std::to_string(o.evalBatchSize));
    if (o.evalStatistics == EvalStatistics::Batch)  // whatever the network: a BN may be switched on mid-run
        require(o.evalBatchSize >= 2,
                "eval_batch_size: evaluating with batch statistics (eval_statistics=batch) needs chunks of at least 2 "
                "images (the variance of one sample is 0); got 1");
    require(o.threads >= 0 && o.threads <= 256, "threads: must be 0 (all cores) to 256, got " + std::to_string(o.threads));
    validate(o.network, data.inputShape());
    for (const ScheduledChange& c : o.schedule) {
        require(c.step >= 0, "at: the step of a planned change must be 0 or more, got " + std::to_string(c.step));
        Trainer::checkChange(c.change, o);
    }

    const Splits splits = makeSplits(data, o.validationSize, o.trainSize);
    const Index n = splits.train.size();
    require(o.batchSize <= n, "batch_size: " + std::to_string(o.batchSize) + " is larger than the training split (" +
                                  std::to_string(n) + " images)");
    if (hasBatchNorm(o.network)) {
        require(o.batchSize >= 2,
                "batch_size: Batch Normalization in training mode needs at least 2 samples per batch (the variance "
                "of one sample is 0, so every normalised value would be 0); got 1");
        require(n % o.batchSize != 1,
                "batch_size: with " + std::to_string(n) + " training images and batches of " +
                    std::to_string(o.batchSize) + ", the last batch of each epoch has 1 sample, which Batch "
                    "Normalization cannot normalise; change batch_size or train_size by one");
    }
    if (o.evalStatistics == EvalStatistics::Batch) {
        require(splits.validation.size() != 1,
                "validation_size: evaluating with batch statistics (eval_statistics=batch) needs 0 or at least 2 "
                "validation images; got 1");
        require(splits.test.size() != 1,
                "eval_statistics: evaluating with batch statistics needs at least 2 test images; the test split has 1");
    }
}

Trainer::Trainer(const Dataset& data, TrainOptions options, MetricsSink& sink)
    : m_data(data), m_options(std::move(options)), m_sink(sink) {
    std::stable_sort(m_options.schedule.begin(), m_options.schedule.end(),
                     [](const ScheduledChange& a, const ScheduledChange& b) { return a.step < b.step; });
}

Trainer::~Trainer() = default;

void Trainer::requestStop() {
    {
        std::lock_guard lock(m_pauseMutex);
        m_stop.store(true);
    }
    m_pauseCv.notify_all();
}

void Trainer::setPaused(bool paused) {
    {
        std::lock_guard lock(m_pauseMutex);
        m_paused.store(paused);
        m_stepBudget = 0;  // single steps not taken yet do not carry over into a later pause
    }
    m_pauseCv.notify_all();
}

void Trainer::stepWhilePaused(int steps) {
    {
        std::lock_guard lock(m_pauseMutex);
        m_stepBudget += std::max(0, steps);
    }
    m_pauseCv.notify_all();
}

void Trainer::requestChange(const LiveChange& c) {
    checkChange(c, m_options);
    {
        std::lock_guard lock(m_pauseMutex);
        m_changes.push_back(c);
    }
    m_pauseCv.notify_all();
}

void Trainer::checkChange(const LiveChange& c, const TrainOptions& options) {
    switch (c.kind) {
        case LiveChange::Kind::LearningRate:
            require(finitePositive(c.value), "learning_rate: must be a positive finite number, got " + num(c.value));
            break;
        case LiveChange::Kind::BatchNormMomentum:
            require(inUnitInterval(c.value),
                    "bn_momentum: must be in [0, 1) (Keras convention: the weight kept on the running value), got " +
                        num(c.value));
            break;
        case LiveChange::Kind::BatchSize:
            require(std::isfinite(c.value) && c.value >= 1 && c.value == std::floor(c.value) && c.value <= 1e9,
                    "batch_size: must be a whole number of at least 1, got " + num(c.value));
            break;
        case LiveChange::Kind::Norm:
            require(c.block >= 0 && c.block < int(options.network.blocks.size()) &&
                        options.network.blocks[std::size_t(c.block)].isLinear(),
                    "norm: block " + std::to_string(c.block + 1) + " is not a dense or conv block of this network");
            break;
    }
}

std::vector<LiveChange> Trainer::takeChanges() {
    std::lock_guard lock(m_pauseMutex);
    return std::exchange(m_changes, {});
}

bool Trainer::waitWhilePaused(const std::function<void(const LiveChange&)>& apply) {
    for (const LiveChange& c : takeChanges()) apply(c);
    if (m_paused.load()) {
        m_sink.onPause();
        std::unique_lock lock(m_pauseMutex);
        for (;;) {
            m_pauseCv.wait(lock, [&] {
                return !m_paused.load() || m_stop.load() || m_stepBudget > 0 || !m_changes.empty();
            });
            if (m_changes.empty()) break;
            std::vector<LiveChange> changes = std::exchange(m_changes, {});
            lock.unlock();
            for (const LiveChange& c : changes) apply(c);
            m_sink.onPause();  // hand the change records over while still paused
            lock.lock();
        }
        if (m_paused.load() && m_stepBudget > 0) --m_stepBudget;  // one single step while paused
    }
    return !m_stop.load();
}

StepResult trainStep(Network& net, SoftmaxCrossEntropy& loss, Optimizer& optimizer, const Matrix& x,
                     const std::vector<std::uint8_t>& labels) {
    StepResult r;
    r.loss = loss.forward(net.forward(x, Mode::Train), labels);
    r.correct = loss.correct();
    r.finite = std::isfinite(r.loss);
    if (!r.finite) return r;
    net.backward(loss.backward());
    optimizer.step();
    return r;
}

Index evalRows(const Network& net, Index batchSize) {
    constexpr double kBudget = 64.0 * 1024 * 1024;  // bytes of layer outputs
    double perSample = 0;
    for (const auto& layer : net.layers()) perSample += double(layer->outputShape().size()) * sizeof(float);
    return std::max(batchSize, Index(kBudget / perSample));
}

std::vector<std::pair<Index, Index>> evalChunks(Index samples, Index chunkSize, bool joinSingle) {
    std::vector<std::pair<Index, Index>> chunks;
    for (Index b = 0; b < samples; b += chunkSize) chunks.emplace_back(b, std::min(samples, b + chunkSize));
    const bool lastIsSingle = chunks.size() >= 2 && chunks.back().second - chunks.back().first == 1;
    if (joinSingle && lastIsSingle) {
        chunks.pop_back();
        chunks.back().second = samples;
    }
    return chunks;
}

Evaluation evaluate(Network& net, const DataView& view, Index chunkSize, Index maxRows, EvalStatistics statistics,
                    SamplePredictions* predictions) {
    Evaluation result;
    const int classes = net.classes();
    result.classes = classes;
    result.confusion.assign(std::size_t(classes) * std::size_t(classes), 0);
    if (predictions) {
        predictions->classes = classes;
        predictions->labels.clear();
        predictions->predicted.clear();
        predictions->probabilities.clear();
        predictions->labels.reserve(std::size_t(view.size()));
        predictions->predicted.reserve(std::size_t(view.size()));
        predictions->probabilities.reserve(std::size_t(view.size()) * std::size_t(classes));
    }
    if (chunkSize < 1) throw ConfigError("eval_batch_size: must be at least 1, got " + std::to_string(chunkSize));
    if (view.size() == 0) return result;
    const bool batchStats = statistics == EvalStatistics::Batch;
    if (batchStats && (chunkSize < 2 || view.size() < 2))
        throw ConfigError("eval_statistics: evaluating with batch statistics needs chunks of at least 2 images, got " +
                          std::to_string(std::min(chunkSize, view.size())));
    const Index piece = batchStats || maxRows <= 0 ? view.size() : std::min(maxRows, chunkSize);
    const Mode mode = batchStats ? Mode::EvalBatch : Mode::Eval;
    Matrix x, logits;  // logits (chunk, classes)
    std::vector<std::uint8_t> labels, pieceLabels;
    SoftmaxCrossEntropy ce;
    double lossSum = 0;
    Index correct = 0;
    for (const auto& [b, e] : evalChunks(view.size(), chunkSize, batchStats)) {
        labels.clear();
        logits.resize(e - b, net.classes());
        for (Index p = b; p < e; p += piece) {
            const Index q = std::min(e, p + piece);
            gatherRange(view, p, q, x, pieceLabels);
            logits.middleRows(p - b, q - p) = net.forward(x, mode);
            labels.insert(labels.end(), pieceLabels.begin(), pieceLabels.end());
        }
        lossSum += ce.forward(logits, labels) * double(e - b);
        correct += ce.correct();
        const std::vector<Index>& predicted = ce.predicted();
        for (std::size_t n = 0; n < labels.size(); ++n)
            ++result.confusion[std::size_t(labels[n]) * std::size_t(classes) + std::size_t(predicted[n])];
        if (predictions) {
            predictions->labels.insert(predictions->labels.end(), labels.begin(), labels.end());
            for (Index p : predicted) predictions->predicted.push_back(std::uint8_t(p));
            const Matrix& prob = ce.probabilities();  // (chunk, classes), row-major
            predictions->probabilities.insert(predictions->probabilities.end(), prob.data(), prob.data() + prob.size());
        }
    }
    result.loss = lossSum / double(view.size());
    result.accuracy = double(correct) / double(view.size());
    return result;
}

RunSummary Trainer::run() {
    validate(m_options, m_data);
    RunSummary summary;
    parallel::runWithThreads(m_options.threads, [&] { summary = runInArena(); });
    return summary;
}

RunSummary Trainer::runInArena() {
    TrainOptions& o = m_options;  // live changes update it (on this thread)
    auto t0 = Clock::now();
    const Splits splits = makeSplits(m_data, o.validationSize, o.trainSize);
    std::optional<Checkpoint> resume;
    if (!o.resumeFrom.empty()) {  // the live settings first: the network is built with the placements of then
        resume = o.resumeState ? *o.resumeState : readCheckpoint(o.resumeFrom);
        o.resumeState.reset();  // this copy is enough
        applyCheckpointSettings(*resume, o, splits.train.size(), o.resumeFrom.string());
    }
    Network net(o.network, m_data.inputShape(), m_data.numClasses, o.batchNorm, o.init, o.seed);
    Optimizer optimizer(o.optimizer);
    optimizer.bind(net.optimizerParams());
    BatchSampler sampler(splits.train, o.batchSize, Random::derive(o.seed, 2));
    if (resume) restoreCheckpoint(*resume, net, optimizer, sampler, o.resumeFrom.string());
    std::vector<NamedParam> params = net.params();

    // The fixed probe batch: drawn once from the validation split (the training split if there is none).
    const DataView probeSource = splits.validation.size() >= 2 ? splits.validation : splits.train;
    Matrix probeBatch;
    const bool probing = o.probeInterval > 0 && probeSource.size() >= 2;
    if (probing) {
        Random random(Random::derive(o.seed, 3));
        const Index count = std::min<Index>(o.probeBatchSize, probeSource.size());
        std::vector<std::uint32_t> pick(std::size_t(probeSource.size()));
        for (std::size_t i = 0; i < pick.size(); ++i) pick[i] = std::uint32_t(i);
        for (Index i = 0; i < count; ++i)  // partial Fisher-Yates: the first `count` are a uniform sample
            std::swap(pick[std::size_t(i)], pick[std::size_t(i + Index(random.below(std::uint64_t(probeSource.size() - i))))]);
        std::vector<std::uint8_t> unused;
        gatherBatch(probeSource, pick, 0, count, probeBatch, unused);
    }

    RunInfo info;
    auto describeNetwork = [&] {
        info.layers.clear();
        info.blocks.clear();
        info.params.clear();
        for (std::size_t i = 0; i < net.layers().size(); ++i) info.layers.push_back(net.layerName(int(i)));
        for (const BlockInfo& b : net.blocks())
            if (b.linear >= 0) info.blocks.push_back(b.name);
        for (const NamedParam& p : params) info.params.push_back(p.name);
    };
    describeNetwork();
    info.trainSamples = splits.train.size();
    info.validationSamples = splits.validation.size();
    info.testSamples = splits.test.size();
    info.stepsPerEpoch = sampler.batchesPerEpoch();
    info.totalSteps = long(o.epochs) * long(info.stepsPerEpoch);
    if (o.maxSteps > 0) info.totalSteps = std::min(info.totalSteps, o.maxSteps);
    info.threads = o.threads > 0 ? o.threads : parallel::defaultThreadCount();

    RunSummary summary;
    summary.reason = info.totalSteps < long(o.epochs) * long(info.stepsPerEpoch) ? StopReason::MaxSteps
                                                                                   : StopReason::Completed;
    Matrix x;
    std::vector<std::uint8_t> labels;
    SoftmaxCrossEntropy ce;
    Ema lossEma, accEma;
    std::vector<std::vector<float>> scratch;  // the probes' samples
    std::int64_t samples = 0;
    long step = 0;
    double epochsCompleted = 0;  // as of the last completed step (a diverged step does not count)
    long lastValidationStep = -1;
    bool changedSinceStep = false;  // a live change was applied after the latest step
    auto epochsDone = [&] { return double(sampler.epoch() - 1) + double(sampler.position()) / double(splits.train.size()); };
    PredictionRecord predicted;  // reused: its buffers keep their capacity between evaluations
    auto emitEval = [&](const DataView& view, const std::string& split, bool epochEnd) {
        Evaluation e = evaluate(net, view, o.evalBatchSize, evalRows(net, o.batchSize), o.evalStatistics,
                                &predicted.predictions);
        const double seconds = secondsSince(t0), epoch = epochsDone();
        m_sink.onEval({step, epoch, samples, seconds, split, e.loss, e.accuracy, epochEnd});
        predicted.predictions.firstImage = view.begin;  // where the split starts in its file
        predicted.confusion = {step, epoch, samples, seconds, split, e.classes, std::move(e.confusion)};
        m_sink.onPredictions(predicted);
        return e;
    };

    // The live changes (see requestChange), applied between steps on this thread.
    auto anyBatchNorm = [&] { return net.batchNormLayerCount() > 0; };
    auto checkBatchSize = [&](Index bs) {
        const Index n = splits.train.size();
        require(bs <= n, "batch_size: " + std::to_string(bs) + " is larger than the training split (" +
                             std::to_string(n) + " images)");
        require(bs >= 2, "batch_size: Batch Normalization in training mode needs at least 2 samples per batch");
        const Index rest = sampler.epoch() >= 1 ? n - sampler.position() : 0;  // still to come in this epoch
        require(n % bs != 1 && (rest == 0 || rest % bs != 1),
                "batch_size: with batches of " + std::to_string(bs) + ", a batch of 1 sample would come (" +
                    std::to_string(n % bs == 1 ? n : rest) + " images to split), which Batch Normalization cannot "
                    "normalise; choose a batch size one larger or smaller");
    };
    auto plannedSteps = [&] {
        const Index n = splits.train.size(), bs = sampler.batchSize();
        const long perEpoch = long((n + bs - 1) / bs);
        const long thisEpoch = sampler.epoch() >= 1 ? long((n - sampler.position() + bs - 1) / bs) : 0;
        const long later = long(o.epochs) - std::max<long>(sampler.epoch(), 0);
        const long total = step + thisEpoch + later * perEpoch;
        summary.reason = o.maxSteps > 0 && total > o.maxSteps ? StopReason::MaxSteps : StopReason::Completed;
        return o.maxSteps > 0 ? std::min(total, o.maxSteps) : total;
    };
    auto applyChange = [&](const LiveChange& c) {
        ChangeRecord r{step, epochsDone(), samples, secondsSince(t0), "", "", "", true, false, {}};
        try {
            switch (c.kind) {
                case LiveChange::Kind::LearningRate: {
                    const float lr = float(c.value);
                    r.key = "learning_rate";
                    r.value = num(lr);
                    r.description = "learning rate " + num(o.optimizer.learningRate) + " → " + r.value;
                    optimizer.setLearningRate(lr);
                    o.optimizer.learningRate = lr;
                    break;
                }
                case LiveChange::Kind::BatchNormMomentum: {
                    const float k = float(c.value);
                    r.key = "bn_momentum";
                    r.value = num(k);
                    r.description = "BN momentum " + num(o.batchNorm.momentum) + " → " + r.value + " (PyTorch: " +
                                    num(1 - double(o.batchNorm.momentum)) + " → " + num(1 - double(k)) + ")";
                    o.batchNorm.momentum = k;
                    for (BatchNorm* bn : net.batchNormLayers()) bn->setOptions(o.batchNorm);
                    break;
                }
                case LiveChange::Kind::BatchSize: {
                    const Index bs = Index(c.value);
                    r.key = "batch_size";
                    r.value = std::to_string(bs);
                    if (anyBatchNorm()) checkBatchSize(bs);
                    else require(bs <= splits.train.size(), "batch_size: " + r.value + " is larger than the training split");
                    r.description = "batch size " + std::to_string(o.batchSize) + " → " + r.value;
                    sampler.setBatchSize(bs);
                    o.batchSize = int(bs);
                    info.stepsPerEpoch = sampler.batchesPerEpoch();
                    info.totalSteps = plannedSteps();
                    break;
                }
                case LiveChange::Kind::Norm: {
                    int ordinal = 0;  // block.N counts the dense and conv blocks from 1
                    for (int i = 0; i <= c.block; ++i) ordinal += o.network.blocks[std::size_t(i)].isLinear();
                    r.key = "block." + std::to_string(ordinal) + ".norm";
                    r.value = toString(c.norm);
                    require(!o.batchNorm.noise, r.key + ": BN cannot be switched during a run with BN noise "
                                                       "(bn_noise=on); compare two runs instead");
                    const NormPlacement current = net.normPlacement(c.block);
                    require(current != c.norm, r.key + ": block " + net.blocks()[std::size_t(c.block)].name +
                                                   " already has BN " + toString(c.norm));
                    const NormKind kind = o.network.blocks[std::size_t(c.block)].normKind;
                    if (c.norm != NormPlacement::None && usesBatchStatistics(kind)) checkBatchSize(sampler.batchSize());
                    // The current batch: the latest training batch (the first one before any step).
                    Matrix first;
                    const Matrix* batch = &x;
                    if (x.rows() < 2) {
                        std::vector<std::uint8_t> unused;
                        gatherRange(splits.train, 0, std::min<Index>(splits.train.size(), sampler.batchSize()), first, unused);
                        batch = &first;
                    }
                    std::string text;
                    if (current != NormPlacement::None) text = net.removeBatchNorm(c.block);
                    std::vector<std::string> fresh;
                    if (c.norm != NormPlacement::None) {
                        text += (text.empty() ? "" : "; ") +
                                net.insertBatchNorm(c.block, c.norm, *batch, o.batchNorm, kind);
                        const std::string bn = net.layerName(net.blocks()[std::size_t(c.block)].norm);
                        fresh = {bn + ".gamma", bn + ".beta"};
                    }
                    params = net.params();
                    optimizer.rebind(net.optimizerParams(), fresh);
                    o.network.blocks[std::size_t(c.block)].norm = c.norm;
                    describeNetwork();
                    r.description = text;
                    r.structural = true;
                    break;
                }
            }
        } catch (const ConfigError& e) {
            r.applied = false;
            r.description = e.what();
        }
        r.info = info;
        changedSinceStep = changedSinceStep || r.applied;
        m_sink.onChange(r);
    };

    // Checkpoints: the state after a step, before any change applied between it and the next.
    long lastCheckpointStep = 0;
    std::string checkpointProblem;  // the first failure to write one; no more are tried after it
    auto saveCheckpoint = [&] {
        if (o.checkpointFolder.empty() || !checkpointProblem.empty() || step == lastCheckpointStep || changedSinceStep)
            return;
        try {
            const LoopState loop{step, samples, epochsCompleted, lastValidationStep, secondsSince(t0),
                                 summary.trainingSeconds, {lossEma.value, lossEma.power, accEma.value, accEma.power},
                                 summary.hasValidation, summary.valLoss, summary.valAccuracy};
            const std::filesystem::path file = checkpointFile(o.checkpointFolder, step);
            std::filesystem::create_directories(file.parent_path());
            writeCheckpoint(file, captureCheckpoint(net, optimizer, sampler, o, loop));
            lastCheckpointStep = step;
            const std::uint64_t size = std::max<std::uint64_t>(std::filesystem::file_size(file), 1);
            thinCheckpoints(o.checkpointFolder, std::size_t(std::max<std::uint64_t>(2, o.checkpointBudget / size)));
        } catch (const std::exception& e) {
            checkpointProblem = e.what();
        }
    };

    std::size_t nextScheduled = 0;
    if (resume) {  // continue where the checkpoint's run was after its step
        const LoopState& l = resume->loop;
        step = lastCheckpointStep = l.step;
        samples = l.samples;
        epochsCompleted = l.epochs;
        lastValidationStep = l.lastValidationStep;
        t0 -= std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(l.seconds));
        summary.trainingSeconds = l.trainingSeconds;
        lossEma = {l.ema[0], l.ema[1]};
        accEma = {l.ema[2], l.ema[3]};
        summary.hasValidation = l.hasValidation;
        summary.valLoss = l.valLoss;
        summary.valAccuracy = l.valAccuracy;
        sampler.latest(x, labels);  // the batch a BN inserted before the next step takes its statistics from
        info.totalSteps = plannedSteps();
        while (nextScheduled < o.schedule.size() && o.schedule[nextScheduled].step < step) ++nextScheduled;
    }
    m_sink.onStart(info);

    auto applyScheduled = [&] {
        while (nextScheduled < o.schedule.size() && o.schedule[nextScheduled].step <= step)
            applyChange(o.schedule[nextScheduled++].change);
    };
    while (step < info.totalSteps) {
        applyScheduled();
        if (!waitWhilePaused(applyChange)) {
            summary.reason = StopReason::Stopped;
            summary.message = "stopped by request after step " + std::to_string(step);
            break;
        }
        sampler.next(x, labels);
        auto stepStart = Clock::now();
        ++step;
        changedSinceStep = false;
        const bool probeNow = probing && (step == 1 || step % o.probeInterval == 0);
        optimizer.setRecordUpdates(probeNow);
        net.setStep(step);  // the Dropout masks and BN noise of this step (its probe forward sees them too)
        std::optional<LandscapeRecord> landscape;
        if (o.landscapeInterval > 0 && (step == 1 || step % o.landscapeInterval == 0)) {
            const auto measureStart = Clock::now();
            landscape = measureLandscape(net, optimizer, x, labels);  // before the update; changes nothing
            stepStart += Clock::now() - measureStart;  // not training time
        }
        const StepResult result = trainStep(net, ce, optimizer, x, labels);
        if (!result.finite) {
            const int layer = net.firstNonFiniteLayer(x, Mode::Train);
            summary.reason = StopReason::Diverged;
            summary.divergedStep = step;
            summary.divergedLayer = layer >= 0 ? net.layerName(layer) : "loss";
            summary.message = "diverged at step " + std::to_string(step) + ": the loss is " + num(result.loss) +
                              (layer >= 0 ? "; the first non-finite values appear in the output of layer '" +
                                                summary.divergedLayer + "'"
                                          : "") +
                              " (try a smaller learning rate)";
            --step;  // the step did not complete: no update was applied
            break;
        }
        const double loss = result.loss;
        const double accuracy = double(result.correct) / double(x.rows());
        samples += x.rows();
        const double stepSeconds = secondsSince(stepStart);
        summary.trainingSeconds += stepSeconds;
        summary.sessionTrainingSeconds += stepSeconds;

        StepRecord rec{step, epochsDone(), samples, secondsSince(t0), loss, accuracy, lossEma.add(loss), accEma.add(accuracy)};
        epochsCompleted = rec.epoch;
        m_sink.onStep(rec);
        if (landscape) {
            landscape->step = step;
            landscape->epoch = rec.epoch;
            landscape->samples = samples;
            landscape->seconds = rec.seconds;
            m_sink.onLandscape(*landscape);
        }

        if (probeNow && !m_stop.load()) {  // a stop skips the probe and the evaluation: it should be prompt
            const auto probeStart = Clock::now();
            ProbeSnapshot snap;
            snap.step = step;
            snap.epoch = rec.epoch;
            snap.samples = samples;
            snap.seconds = rec.seconds;
            std::vector<double> updates(params.size());
            for (std::size_t i = 0; i < params.size(); ++i) updates[i] = optimizer.lastUpdateNorm(i);
            probeParams(params, updates, snap);
            probeBatchNorm(net, snap);  // before the probe forward replaces the batch statistics
            probeActivations(net, probeBatch, snap, scratch);
            m_sink.onProbe(snap);
            ++summary.probes;
            summary.probeSeconds += secondsSince(probeStart);
        }
        const bool epochEnd = sampler.epochDone();
        if (splits.validation.size() > 0 && !m_stop.load() &&
            (epochEnd || (o.evalInterval > 0 && step % o.evalInterval == 0))) {
            const Evaluation e = emitEval(splits.validation, "validation", epochEnd);
            lastValidationStep = step;
            summary.hasValidation = true;
            summary.valLoss = e.loss;
            summary.valAccuracy = e.accuracy;
            saveCheckpoint();
        }
    }
    if (summary.reason != StopReason::Diverged) saveCheckpoint();  // a diverged step has touched the BN statistics

    if (summary.reason == StopReason::Completed || summary.reason == StopReason::MaxSteps) {
        // Planned changes the run never reached are reported, not silently dropped.
        for (; nextScheduled < o.schedule.size(); ++nextScheduled) {
            ChangeRecord r{step, epochsDone(), samples, secondsSince(t0), "", "", "", false, false, info};
            r.description = "the change planned after step " + std::to_string(o.schedule[nextScheduled].step) +
                            " never came: the run ended after step " + std::to_string(step);
            m_sink.onChange(r);
        }
        if (splits.validation.size() > 0 && step > 0 && lastValidationStep != step) {  // a run cut mid-epoch
            const Evaluation e = emitEval(splits.validation, "validation", false);
            summary.hasValidation = true;
            summary.valLoss = e.loss;
            summary.valAccuracy = e.accuracy;
        }
        const Evaluation e = emitEval(splits.test, "test", false);
        summary.hasTest = true;
        summary.testLoss = e.loss;
        summary.testAccuracy = e.accuracy;
        if (summary.message.empty())
            summary.message = summary.reason == StopReason::Completed ? "completed " + std::to_string(o.epochs) + " epochs"
                                                                      : "reached max_steps " + std::to_string(o.maxSteps);
    }
    if (!checkpointProblem.empty()) summary.message += " (no more checkpoints were saved: " + checkpointProblem + ")";
    summary.steps = step;
    summary.samples = samples;
    summary.epochs = epochsCompleted;
    summary.seconds = secondsSince(t0);
    summary.samplesPerSecond = summary.trainingSeconds > 0 ? double(samples) / summary.trainingSeconds : 0;
    m_sink.onFinish(summary);
    return summary;
}

}  // namespace bnlab::engine
