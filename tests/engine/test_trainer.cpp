// The training loop (engine/trainer.h) on the bundled MNIST: determinism across thread counts, the
// validation of every setting, divergence, stop and pause from another thread, the probes, a short
// end-to-end training and chunked evaluation. Runs use small subsets so the whole file takes seconds.

#include "batch_sampler.h"
#include "error.h"
#include "network.h"
#include "optimizer.h"
#include "parallel.h"
#include "probes.h"
#include "recording_sink.h"
#include "test_data.h"
#include "softmax_cross_entropy.h"
#include "trainer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <functional>
#include <future>
#include <limits>
#include <numeric>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

using namespace bnlab::engine;
using bnlab::ConfigError;
using bnlab::test::RecordingSink;
using namespace std::chrono_literals;

namespace {

using bnlab::test::mnist;
using bnlab::test::smallMnist;

// --- network building blocks ------------------------------------------------------------------

constexpr auto kSigmoid = ActivationKind::Sigmoid;
constexpr auto kRelu = ActivationKind::ReLU;
constexpr auto kBefore = NormPlacement::Before;
constexpr auto kAfter = NormPlacement::After;

// dense 100 sigmoid bn-before ×2, SGD 0.1, batch 60: 20 steps per epoch, cut at 50 steps (mid-epoch).
TrainOptions mlpOptions() {
    TrainOptions o;
    o.network.blocks = {denseBlock(100, kSigmoid, kBefore), denseBlock(100, kSigmoid, kBefore)};
    o.optimizer.kind = OptimizerKind::SGD;
    o.optimizer.learningRate = 0.1f;
    o.batchSize = 60;
    o.trainSize = 1200;
    o.validationSize = 500;
    o.epochs = 3;
    o.maxSteps = 50;
    o.probeInterval = 10;
    o.probeBatchSize = 128;
    o.evalInterval = 15;
    o.seed = 7;
    o.threads = 1;
    return o;
}

// conv 8 3x3 relu bn-after, maxpool 2, flatten, dense 32 relu bn-after; Adam 1e-3, batch 32, 15 steps.
TrainOptions cnnOptions() {
    TrainOptions o;
    o.network.blocks = {convBlock(8, 3, kRelu, kAfter), maxPoolBlock(2), flattenBlock(), denseBlock(32, kRelu, kAfter)};
    o.optimizer.kind = OptimizerKind::Adam;
    o.optimizer.learningRate = 1e-3f;
    o.init.kind = InitKind::He;
    o.batchSize = 32;
    o.trainSize = 320;
    o.validationSize = 200;
    o.epochs = 2;
    o.maxSteps = 15;
    o.probeInterval = 5;
    o.probeBatchSize = 64;
    o.seed = 11;
    o.threads = 1;
    return o;
}

RunSummary runTo(const TrainOptions& options, RecordingSink& sink, const Dataset& data = smallMnist()) {
    Trainer trainer(data, options, sink);
    return trainer.run();
}

// Serial mode for the lifetime of the guard, restored even when an assertion returns early.
struct SerialGuard {
    SerialGuard() { parallel::setSerial(true); }
    ~SerialGuard() { parallel::setSerial(false); }
    SerialGuard(const SerialGuard&) = delete;
    SerialGuard& operator=(const SerialGuard&) = delete;
};

// --- bit-exact comparison of two runs ---------------------------------------------------------

// Printing of the vectors Differences::same compares (declared before its template uses them).
template <typename T>
std::ostream& operator<<(std::ostream& out, const std::vector<T>& v) {
    out << "[";
    for (std::size_t i = 0; i < v.size(); ++i) out << (i ? ", " : "") << v[i];
    return out << "]";
}
std::ostream& operator<<(std::ostream& out, const std::vector<std::int64_t>& v) {
    out << "[";
    for (std::size_t i = 0; i < v.size(); ++i) out << (i ? ", " : "") << v[i];
    return out << "]";
}
std::ostream& operator<<(std::ostream& out, const std::vector<std::uint8_t>& v) {
    out << "[";
    for (std::size_t i = 0; i < v.size(); ++i) out << (i ? ", " : "") << int(v[i]);
    return out << "]";
}

// Collects the differences between two runs; reports the count and the first few.
class Differences {
public:
    template <typename T>
    void same(const T& a, const T& b, const std::function<std::string()>& what) {
        ++m_compared;
        if (a == b) return;
        if (m_items.size() < 10) {
            std::ostringstream s;
            s.precision(17);
            s << what() << ": " << a << " vs " << b;
            m_items.push_back(s.str());
        }
        ++m_count;
    }
    [[nodiscard]] ::testing::AssertionResult result() const {
        if (m_compared == 0) return ::testing::AssertionFailure() << "nothing was compared";
        if (m_count == 0) return ::testing::AssertionSuccess() << m_compared << " values identical";
        auto failure = ::testing::AssertionFailure();
        failure << m_count << " of " << m_compared << " values differ, first:";
        for (const std::string& item : m_items) failure << "\n  " << item;
        return failure;
    }

private:
    std::vector<std::string> m_items;
    long m_count = 0, m_compared = 0;
};

std::string at(const std::string& what, std::size_t i) { return what + "[" + std::to_string(i) + "]"; }

void compareDistribution(Differences& d, const Distribution& a, const Distribution& b, const std::string& where) {
    for (std::size_t k = 0; k < a.percentiles.size(); ++k)
        d.same(a.percentiles[k], b.percentiles[k], [&] { return at(where + ".percentile", k); });
    d.same(a.mean, b.mean, [&] { return where + ".mean"; });
    d.same(a.stddev, b.stddev, [&] { return where + ".stddev"; });
    d.same(a.histogramMin, b.histogramMin, [&] { return where + ".histogramMin"; });
    d.same(a.histogramMax, b.histogramMax, [&] { return where + ".histogramMax"; });
    d.same(a.count, b.count, [&] { return where + ".count"; });
    d.same(a.histogram.size(), b.histogram.size(), [&] { return where + ".histogram.size"; });
    for (std::size_t k = 0; k < std::min(a.histogram.size(), b.histogram.size()); ++k)
        d.same(a.histogram[k], b.histogram[k], [&] { return at(where + ".histogram", k); });
}

// Every number two runs delivered, compared with ==.
::testing::AssertionResult sameRecords(const RecordingSink& a, const RecordingSink& b) {
    Differences d;
    d.same(a.steps.size(), b.steps.size(), [] { return std::string("step records"); });
    for (std::size_t i = 0; i < std::min(a.steps.size(), b.steps.size()); ++i) {
        const StepRecord &x = a.steps[i], &y = b.steps[i];
        d.same(x.step, y.step, [&] { return at("step", i); });
        d.same(x.loss, y.loss, [&] { return at("step.loss", i); });
        d.same(x.accuracy, y.accuracy, [&] { return at("step.accuracy", i); });
        d.same(x.lossEma, y.lossEma, [&] { return at("step.lossEma", i); });
        d.same(x.accuracyEma, y.accuracyEma, [&] { return at("step.accuracyEma", i); });
        d.same(x.samples, y.samples, [&] { return at("step.samples", i); });
        d.same(x.epoch, y.epoch, [&] { return at("step.epoch", i); });
    }
    d.same(a.evals.size(), b.evals.size(), [] { return std::string("eval records"); });
    for (std::size_t i = 0; i < std::min(a.evals.size(), b.evals.size()); ++i) {
        const EvalRecord &x = a.evals[i], &y = b.evals[i];
        d.same(x.split, y.split, [&] { return at("eval.split", i); });
        d.same(x.step, y.step, [&] { return at("eval.step", i); });
        d.same(x.loss, y.loss, [&] { return at("eval.loss", i); });
        d.same(x.accuracy, y.accuracy, [&] { return at("eval.accuracy", i); });
        d.same(x.epochEnd, y.epochEnd, [&] { return at("eval.epochEnd", i); });
    }
    d.same(a.predictions.size(), b.predictions.size(), [] { return std::string("prediction records"); });
    for (std::size_t i = 0; i < std::min(a.predictions.size(), b.predictions.size()); ++i) {
        const PredictionRecord &x = a.predictions[i], &y = b.predictions[i];
        d.same(x.confusion.split, y.confusion.split, [&] { return at("predictions.split", i); });
        d.same(x.confusion.step, y.confusion.step, [&] { return at("predictions.step", i); });
        d.same(x.confusion.counts, y.confusion.counts, [&] { return at("predictions.confusion", i); });
        d.same(x.predictions.firstImage, y.predictions.firstImage, [&] { return at("predictions.firstImage", i); });
        d.same(x.predictions.labels, y.predictions.labels, [&] { return at("predictions.labels", i); });
        d.same(x.predictions.predicted, y.predictions.predicted, [&] { return at("predictions.predicted", i); });
        d.same(x.predictions.probabilities, y.predictions.probabilities, [&] { return at("predictions.probabilities", i); });
    }
    d.same(a.probes.size(), b.probes.size(), [] { return std::string("probe snapshots"); });
    for (std::size_t i = 0; i < std::min(a.probes.size(), b.probes.size()); ++i) {
        const ProbeSnapshot &x = a.probes[i], &y = b.probes[i];
        const std::string snap = at("probe", i);
        d.same(x.step, y.step, [&] { return snap + ".step"; });
        d.same(x.activations.size(), y.activations.size(), [&] { return snap + ".activations"; });
        for (std::size_t k = 0; k < std::min(x.activations.size(), y.activations.size()); ++k) {
            const std::string where = snap + "." + x.activations[k].block;
            d.same(x.activations[k].block, y.activations[k].block, [&] { return where + ".block"; });
            compareDistribution(d, x.activations[k].pre, y.activations[k].pre, where + ".pre");
            compareDistribution(d, x.activations[k].post, y.activations[k].post, where + ".post");
        }
        d.same(x.params.size(), y.params.size(), [&] { return snap + ".params"; });
        for (std::size_t k = 0; k < std::min(x.params.size(), y.params.size()); ++k) {
            const std::string where = snap + "." + x.params[k].name;
            d.same(x.params[k].name, y.params[k].name, [&] { return where + ".name"; });
            d.same(x.params[k].gradNorm, y.params[k].gradNorm, [&] { return where + ".gradNorm"; });
            d.same(x.params[k].weightNorm, y.params[k].weightNorm, [&] { return where + ".weightNorm"; });
            d.same(x.params[k].updateRatio, y.params[k].updateRatio, [&] { return where + ".updateRatio"; });
        }
        d.same(x.batchNorm.size(), y.batchNorm.size(), [&] { return snap + ".batchNorm"; });
        for (std::size_t k = 0; k < std::min(x.batchNorm.size(), y.batchNorm.size()); ++k) {
            const BatchNormProbe &p = x.batchNorm[k], &q = y.batchNorm[k];
            const std::string where = snap + "." + p.layer;
            d.same(p.features, q.features, [&] { return where + ".features"; });
            d.same(p.batchMean, q.batchMean, [&] { return where + ".batchMean"; });
            d.same(p.batchVar, q.batchVar, [&] { return where + ".batchVar"; });
            d.same(p.runningMean, q.runningMean, [&] { return where + ".runningMean"; });
            d.same(p.runningVar, q.runningVar, [&] { return where + ".runningVar"; });
        }
    }
    d.same(a.landscape.size(), b.landscape.size(), [] { return std::string("landscape records"); });
    for (std::size_t i = 0; i < std::min(a.landscape.size(), b.landscape.size()); ++i) {
        const LandscapeRecord &x = a.landscape[i], &y = b.landscape[i];
        const std::string where = at("landscape", i);
        d.same(x.step, y.step, [&] { return where + ".step"; });
        d.same(x.loss, y.loss, [&] { return where + ".loss"; });
        d.same(x.losses, y.losses, [&] { return where + ".losses"; });
        d.same(x.gradChanges, y.gradChanges, [&] { return where + ".gradChanges"; });
        d.same(x.betaSmoothness, y.betaSmoothness, [&] { return where + ".betaSmoothness"; });
        d.same(x.layers.size(), y.layers.size(), [&] { return where + ".layers"; });
        for (std::size_t k = 0; k < std::min(x.layers.size(), y.layers.size()); ++k) {
            d.same(x.layers[k].distance, y.layers[k].distance, [&] { return where + "." + x.layers[k].layer + ".distance"; });
            d.same(x.layers[k].cosine, y.layers[k].cosine, [&] { return where + "." + x.layers[k].layer + ".cosine"; });
        }
    }
    d.same(a.finishes.size(), b.finishes.size(), [] { return std::string("finish records"); });
    if (!a.finishes.empty() && !b.finishes.empty()) {
        const RunSummary &x = a.finishes.back(), &y = b.finishes.back();
        d.same(int(x.reason), int(y.reason), [] { return std::string("summary.reason"); });
        d.same(x.steps, y.steps, [] { return std::string("summary.steps"); });
        d.same(x.valLoss, y.valLoss, [] { return std::string("summary.valLoss"); });
        d.same(x.valAccuracy, y.valAccuracy, [] { return std::string("summary.valAccuracy"); });
        d.same(x.testLoss, y.testLoss, [] { return std::string("summary.testLoss"); });
        d.same(x.testAccuracy, y.testAccuracy, [] { return std::string("summary.testAccuracy"); });
    }
    return d.result();
}

// A run that completed its planned steps and produced the records the comparisons rely on.
void expectCompleteRun(const RecordingSink& sink, const RunSummary& summary, long plannedSteps) {
    ASSERT_EQ(sink.starts.size(), 1u);
    ASSERT_EQ(sink.finishes.size(), 1u);
    EXPECT_EQ(summary.steps, plannedSteps);
    EXPECT_EQ(long(sink.steps.size()), plannedSteps);
    EXPECT_TRUE(summary.hasTest);
    EXPECT_FALSE(sink.probes.empty());
    EXPECT_FALSE(sink.evalsOf("validation").empty());
    for (const StepRecord& s : sink.steps) EXPECT_TRUE(std::isfinite(s.loss)) << "step " << s.step;
}

// Runs `options` on 1 thread, on 2 threads and in serial mode, and compares every delivered number.
void expectDeterministicAcrossThreads(TrainOptions options) {
    options.threads = 1;
    RecordingSink one;
    const RunSummary s1 = runTo(options, one);
    ASSERT_NO_FATAL_FAILURE(expectCompleteRun(one, s1, options.maxSteps));
    EXPECT_EQ(one.starts[0].threads, 1);

    options.threads = 2;
    RecordingSink two;
    const RunSummary s2 = runTo(options, two);
    ASSERT_NO_FATAL_FAILURE(expectCompleteRun(two, s2, options.maxSteps));
    EXPECT_EQ(two.starts[0].threads, 2);
    EXPECT_TRUE(sameRecords(one, two)) << "1 thread vs 2 threads";
    EXPECT_EQ(s1.testAccuracy, s2.testAccuracy);

    RecordingSink serial;
    {
        SerialGuard guard;
        ASSERT_TRUE(parallel::isSerial());
        runTo(options, serial);
    }
    EXPECT_FALSE(parallel::isSerial());
    EXPECT_TRUE(sameRecords(one, serial)) << "1 thread vs serial mode";
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Determinism
// ---------------------------------------------------------------------------------------------

TEST(TrainerDeterminism, MlpWithBatchNormBeforeSigmoidIsBitIdenticalOnOneAndTwoThreads) {
    expectDeterministicAcrossThreads(mlpOptions());
}

TEST(TrainerDeterminism, CnnWithBatchNormAfterReluIsBitIdenticalOnOneAndTwoThreads) {
    expectDeterministicAcrossThreads(cnnOptions());
}

// Every norm kind, with Dropout in every block: the masks are drawn from the seed and the step alone.
TEST(TrainerDeterminism, OtherNormKindsWithDropoutAreBitIdenticalOnOneAndTwoThreads) {
    for (const NormKind kind : {NormKind::Layer, NormKind::Group, NormKind::Renorm}) {
        SCOPED_TRACE(toString(kind));
        TrainOptions options = cnnOptions();
        setNormKind(options.network, kind);  // Group: LayerNorm in the dense block
        for (BlockSpec& b : options.network.blocks)
            if (b.isLinear()) b.dropout = 0.25f;
        expectDeterministicAcrossThreads(options);
    }
}

// BN noise and the landscape measures draw from the seed and the step alone.
TEST(TrainerDeterminism, NoisyBatchNormWithLandscapeMeasuresIsBitIdenticalOnOneAndTwoThreads) {
    TrainOptions options = mlpOptions();
    options.batchNorm.noise = true;
    options.landscapeInterval = 10;
    expectDeterministicAcrossThreads(options);
}

TEST(TrainerDeterminism, TheSameSeedRepeatsAndADifferentSeedDiffers) {
    TrainOptions options = mlpOptions();
    options.maxSteps = 20;
    RecordingSink first, again, other;
    runTo(options, first);
    runTo(options, again);
    options.seed += 1;
    runTo(options, other);
    ASSERT_EQ(first.steps.size(), 20u);
    ASSERT_EQ(other.steps.size(), 20u);
    EXPECT_TRUE(sameRecords(first, again));

    std::vector<double> a, b;
    for (const StepRecord& s : first.steps) a.push_back(s.loss);
    for (const StepRecord& s : other.steps) b.push_back(s.loss);
    EXPECT_NE(a, b);
    EXPECT_NE(a.front(), b.front()) << "different seeds should give different weights and batches from step 1";
}

// ---------------------------------------------------------------------------------------------
// Validation of the settings
// ---------------------------------------------------------------------------------------------

namespace {

// True when `key` appears in `message` as a whole word (so "batch_size" is not found in "probe_batch_size").
bool namesKey(const std::string& message, const std::string& key) {
    auto isWordChar = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; };
    for (std::size_t p = message.find(key); p != std::string::npos; p = message.find(key, p + 1)) {
        const bool startOk = p == 0 || !isWordChar(message[p - 1]);
        const bool endOk = p + key.size() == message.size() || !isWordChar(message[p + key.size()]);
        if (startOk && endOk) return true;
    }
    return false;
}

::testing::AssertionResult rejectedNaming(const TrainOptions& options, const std::string& key) {
    try {
        validate(options, mnist());
    } catch (const ConfigError& e) {
        if (namesKey(e.what(), key)) return ::testing::AssertionSuccess() << e.what();
        return ::testing::AssertionFailure() << "the ConfigError does not name '" << key << "': " << e.what();
    } catch (const std::exception& e) {
        return ::testing::AssertionFailure() << "threw something other than ConfigError: " << e.what();
    }
    return ::testing::AssertionFailure() << "validate() accepted the setting (expected a ConfigError naming '" << key
                                         << "')";
}

::testing::AssertionResult accepted(const TrainOptions& options) {
    try {
        validate(options, mnist());
    } catch (const std::exception& e) {
        return ::testing::AssertionFailure() << "rejected: " << e.what();
    }
    return ::testing::AssertionSuccess();
}

struct BadSetting {
    std::string description;
    std::function<void(TrainOptions&)> change;
    std::string key;
};

}  // namespace

TEST(TrainerValidate, TheBaseSettingsOfTheseTestsAreAccepted) {
    EXPECT_TRUE(accepted(mlpOptions()));
    EXPECT_TRUE(accepted(cnnOptions()));
}

TEST(TrainerValidate, EveryBadSettingThrowsAConfigErrorNamingItsKey) {
    constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
    constexpr float kInf = std::numeric_limits<float>::infinity();
    const Index trainFiles = mnist().train.size();
    const std::vector<BadSetting> cases = {
        {"batch_size 0", [](TrainOptions& o) { o.batchSize = 0; }, "batch_size"},
        {"batch_size -5", [](TrainOptions& o) { o.batchSize = -5; }, "batch_size"},
        {"batch_size larger than the training split",
         [](TrainOptions& o) {
             o.trainSize = 100;
             o.batchSize = 101;
         },
         "batch_size"},
        {"epochs 0", [](TrainOptions& o) { o.epochs = 0; }, "epochs"},
        {"bn_noise_mean -1", [](TrainOptions& o) { o.batchNorm.noiseMean = -1; }, "bn_noise_mean"},
        {"bn_noise_mean NaN", [&](TrainOptions& o) { o.batchNorm.noiseMean = kNaN; }, "bn_noise_mean"},
        {"bn_noise_scale 0.5", [](TrainOptions& o) { o.batchNorm.noiseScale = 0.5f; }, "bn_noise_scale"},
        {"bn_noise_scale inf", [&](TrainOptions& o) { o.batchNorm.noiseScale = kInf; }, "bn_noise_scale"},
        {"landscape_interval -1", [](TrainOptions& o) { o.landscapeInterval = -1; }, "landscape_interval"},
        {"learning_rate NaN", [&](TrainOptions& o) { o.optimizer.learningRate = kNaN; }, "learning_rate"},
        {"learning_rate 0", [](TrainOptions& o) { o.optimizer.learningRate = 0; }, "learning_rate"},
        {"learning_rate -0.1", [](TrainOptions& o) { o.optimizer.learningRate = -0.1f; }, "learning_rate"},
        {"learning_rate inf", [&](TrainOptions& o) { o.optimizer.learningRate = kInf; }, "learning_rate"},
        {"learning_rate inf with Adam",
         [&](TrainOptions& o) {
             o.optimizer.kind = OptimizerKind::Adam;
             o.optimizer.learningRate = kInf;
         },
         "learning_rate"},
        {"bn_momentum 1.0", [](TrainOptions& o) { o.batchNorm.momentum = 1.0f; }, "bn_momentum"},
        {"bn_momentum -0.1", [](TrainOptions& o) { o.batchNorm.momentum = -0.1f; }, "bn_momentum"},
        {"bn_momentum NaN", [&](TrainOptions& o) { o.batchNorm.momentum = kNaN; }, "bn_momentum"},
        {"bn_epsilon 0", [](TrainOptions& o) { o.batchNorm.epsilon = 0; }, "bn_epsilon"},
        {"bn_epsilon -1e-3", [](TrainOptions& o) { o.batchNorm.epsilon = -1e-3f; }, "bn_epsilon"},
        {"momentum 1.0", [](TrainOptions& o) { o.optimizer.momentum = 1.0f; }, "momentum"},
        {"weight_decay -1", [](TrainOptions& o) { o.optimizer.weightDecay = -1; }, "weight_decay"},
        {"validation_size equal to the training files", [&](TrainOptions& o) { o.validationSize = trainFiles; },
         "validation_size"},
        {"validation_size bigger than the training files",
         [&](TrainOptions& o) { o.validationSize = trainFiles + 1; }, "validation_size"},
        {"validation_size -1", [](TrainOptions& o) { o.validationSize = -1; }, "validation_size"},
        {"train_size bigger than what validation leaves",
         [&](TrainOptions& o) {
             o.validationSize = 5000;
             o.trainSize = trainFiles - 5000 + 1;
         },
         "train_size"},
        {"train_size -1", [](TrainOptions& o) { o.trainSize = -1; }, "train_size"},
        {"threads -1", [](TrainOptions& o) { o.threads = -1; }, "threads"},
        {"probe_batch_size 1", [](TrainOptions& o) { o.probeBatchSize = 1; }, "probe_batch_size"},
        {"batch_size 1 with Batch Normalization", [](TrainOptions& o) { o.batchSize = 1; }, "batch_size"},
        {"a last batch of 1 sample with Batch Normalization (121 images, batches of 60)",
         [](TrainOptions& o) {
             o.trainSize = 121;
             o.batchSize = 60;
         },
         "batch_size"},
        {"a last batch of 1 sample with Batch Normalization only in a conv block",
         [](TrainOptions& o) {
             o.network.blocks = {convBlock(4, 3, kRelu, kBefore), flattenBlock(), denseBlock(16, kRelu)};
             o.trainSize = 65;
             o.batchSize = 32;
         },
         "batch_size"},
        {"eval_batch_size 1 with eval_statistics=batch",
         [](TrainOptions& o) {
             o.evalStatistics = EvalStatistics::Batch;
             o.evalBatchSize = 1;
         },
         "eval_batch_size"},
        {"a validation split of 1 image with eval_statistics=batch",
         [](TrainOptions& o) {
             o.evalStatistics = EvalStatistics::Batch;
             o.validationSize = 1;
         },
         "validation_size"},
        {"renorm_rmax 0.5", [](TrainOptions& o) { o.batchNorm.rMax = 0.5f; }, "renorm_rmax"},
        {"renorm_rmax NaN", [&](TrainOptions& o) { o.batchNorm.rMax = kNaN; }, "renorm_rmax"},
        {"renorm_dmax -1", [](TrainOptions& o) { o.batchNorm.dMax = -1; }, "renorm_dmax"},
        {"renorm_dmax inf", [&](TrainOptions& o) { o.batchNorm.dMax = kInf; }, "renorm_dmax"},
        {"group_norm_groups 0", [](TrainOptions& o) { o.batchNorm.groups = 0; }, "group_norm_groups"},
        {"dropout 1 in block 2", [](TrainOptions& o) { o.network.blocks[1].dropout = 1; }, "block 2"},
        {"batch_size 1 with Batch Renormalization",
         [](TrainOptions& o) {
             o.network.blocks[1].normKind = NormKind::Renorm;
             o.network.blocks[0].norm = NormPlacement::None;
             o.batchSize = 1;
         },
         "batch_size"},
    };
    for (const BadSetting& c : cases) {
        SCOPED_TRACE(c.description);
        TrainOptions options = mlpOptions();  // valid, with Batch Normalization
        c.change(options);
        EXPECT_TRUE(rejectedNaming(options, c.key));
    }
}

TEST(TrainerValidate, MomentumErrorIsAboutTheOptimizerNotBatchNorm) {
    TrainOptions options = mlpOptions();
    options.optimizer.momentum = 1.0f;
    try {
        validate(options, mnist());
        FAIL() << "momentum 1.0 was accepted";
    } catch (const ConfigError& e) {
        EXPECT_FALSE(namesKey(e.what(), "bn_momentum")) << e.what();
        EXPECT_TRUE(namesKey(e.what(), "momentum")) << e.what();
    }
}

TEST(TrainerValidate, ALastBatchOfOneSampleIsAcceptedWithoutBatchNorm) {
    TrainOptions options = mlpOptions();
    options.network.blocks = {denseBlock(100, kSigmoid), denseBlock(100, kSigmoid)};
    options.trainSize = 121;
    options.batchSize = 60;
    options.epochs = 1;
    options.maxSteps = 0;
    ASSERT_TRUE(accepted(options));

    // And it trains: batches of 60, 60 and 1.
    RecordingSink sink;
    const RunSummary summary = runTo(options, sink);
    EXPECT_EQ(summary.reason, StopReason::Completed);
    ASSERT_EQ(sink.steps.size(), 3u);
    EXPECT_EQ(sink.steps[0].samples, 60);
    EXPECT_EQ(sink.steps[1].samples, 120);
    EXPECT_EQ(sink.steps[2].samples, 121);
    EXPECT_DOUBLE_EQ(sink.steps[2].epoch, 1.0);
    EXPECT_TRUE(std::isfinite(sink.steps[2].loss));
    EXPECT_TRUE(summary.hasTest);
}

TEST(TrainerValidate, LayerAndGroupNormTrainWithBatchesOfOneSample) {
    for (const NormKind kind : {NormKind::Layer, NormKind::Group}) {
        SCOPED_TRACE(toString(kind));
        TrainOptions options = kind == NormKind::Group ? cnnOptions() : mlpOptions();
        setNormKind(options.network, kind);
        options.batchSize = 1;
        options.maxSteps = 30;
        ASSERT_TRUE(accepted(options));
        RecordingSink sink;
        const RunSummary summary = runTo(options, sink);
        EXPECT_EQ(summary.reason, StopReason::MaxSteps) << summary.message;
        for (const StepRecord& s : sink.steps) EXPECT_TRUE(std::isfinite(s.loss)) << "step " << s.step;
    }
}

TEST(TrainerValidate, BoundaryValuesThatAreAllowedAreAccepted) {
    TrainOptions options = mlpOptions();
    options.batchSize = 2;  // the smallest batch Batch Normalization can normalise
    EXPECT_TRUE(accepted(options));
    options = mlpOptions();
    options.batchNorm.momentum = 0;  // running statistics = the latest batch statistics
    EXPECT_TRUE(accepted(options));
    options = mlpOptions();
    options.trainSize = 122;  // last batch of 2 with batches of 60
    EXPECT_TRUE(accepted(options));
    options = mlpOptions();
    options.probeBatchSize = 2;
    options.threads = 0;
    EXPECT_TRUE(accepted(options));
}

TEST(TrainerValidate, RunThrowsBeforeTheFirstStepAndEmitsNothing) {
    TrainOptions options = mlpOptions();
    options.batchSize = 0;
    RecordingSink sink;
    Trainer trainer(mnist(), options, sink);
    EXPECT_THROW(trainer.run(), ConfigError);
    EXPECT_TRUE(sink.starts.empty());
    EXPECT_TRUE(sink.steps.empty());
    EXPECT_TRUE(sink.finishes.empty());
}

// ---------------------------------------------------------------------------------------------
// Divergence
// ---------------------------------------------------------------------------------------------

TEST(TrainerDivergence, AHugeLearningRateStopsWithTheStepAndTheLayer) {
    TrainOptions options;
    options.network.blocks = {denseBlock(100, kRelu), denseBlock(100, kRelu)};
    options.init.kind = InitKind::He;
    options.init.scale = 10;
    options.optimizer.kind = OptimizerKind::SGD;
    options.optimizer.learningRate = 1e6f;
    options.batchSize = 60;
    options.trainSize = 1200;
    options.validationSize = 500;
    options.epochs = 5;
    options.probeInterval = 1;
    options.probeBatchSize = 64;
    options.evalInterval = 1;
    options.threads = 1;
    options.seed = 3;

    RecordingSink sink;
    const RunSummary summary = runTo(options, sink);

    ASSERT_EQ(summary.reason, StopReason::Diverged) << summary.message;
    ASSERT_EQ(sink.starts.size(), 1u);
    const RunInfo& info = sink.starts[0];
    EXPECT_GE(summary.divergedStep, 2) << "the first step should still be finite, so that metrics exist";
    EXPECT_LT(summary.divergedStep, info.totalSteps);
    EXPECT_EQ(summary.divergedStep, summary.steps + 1);
    EXPECT_EQ(long(sink.steps.size()), summary.divergedStep - 1);

    // The layer is a real layer of the network.
    EXPECT_FALSE(summary.divergedLayer.empty());
    EXPECT_NE(std::find(info.layers.begin(), info.layers.end(), summary.divergedLayer), info.layers.end())
        << "'" << summary.divergedLayer << "' is not a layer name";
    // The message names the step and the layer.
    EXPECT_NE(summary.message.find("step " + std::to_string(summary.divergedStep)), std::string::npos)
        << summary.message;
    EXPECT_NE(summary.message.find(summary.divergedLayer), std::string::npos) << summary.message;

    // No test evaluation after a divergence.
    EXPECT_FALSE(summary.hasTest);
    EXPECT_TRUE(sink.evalsOf("test").empty());

    // The metrics up to the step before were delivered: steps, probes and evaluations.
    for (std::size_t i = 0; i < sink.steps.size(); ++i) {
        EXPECT_EQ(sink.steps[i].step, long(i) + 1);
        EXPECT_TRUE(std::isfinite(sink.steps[i].loss)) << "step " << i + 1;
    }
    ASSERT_FALSE(sink.probes.empty());
    EXPECT_EQ(sink.probes.back().step, summary.steps);
    const auto validation = sink.evalsOf("validation");
    ASSERT_FALSE(validation.empty());
    EXPECT_EQ(validation.back().step, summary.steps);

    // The summary agrees with the delivered records and with onFinish.
    ASSERT_EQ(sink.finishes.size(), 1u);
    EXPECT_EQ(sink.finishes[0].reason, StopReason::Diverged);
    EXPECT_EQ(sink.finishes[0].divergedStep, summary.divergedStep);
    EXPECT_EQ(sink.finishes[0].divergedLayer, summary.divergedLayer);
    EXPECT_EQ(summary.samples, sink.steps.back().samples);
    EXPECT_DOUBLE_EQ(summary.epochs, sink.steps.back().epoch)
        << "the diverged step was not completed, so it must not count in the epochs done";
}

// ---------------------------------------------------------------------------------------------
// Stop and pause from another thread
// ---------------------------------------------------------------------------------------------

namespace {

// run() on another thread; the destructor stops and joins it if the test ended early.
class AsyncRun {
public:
    explicit AsyncRun(Trainer& trainer)
        : m_trainer(trainer), m_result(std::async(std::launch::async, [&trainer] { return trainer.run(); })) {}
    ~AsyncRun() {
        if (m_result.valid()) {
            m_trainer.requestStop();
            m_trainer.setPaused(false);  // so that a failing test cannot hang here
            m_result.wait();
        }
    }
    AsyncRun(const AsyncRun&) = delete;
    AsyncRun& operator=(const AsyncRun&) = delete;

    bool finishedWithin(std::chrono::milliseconds timeout) {
        return m_result.wait_for(timeout) == std::future_status::ready;
    }
    RunSummary get() { return m_result.get(); }

private:
    Trainer& m_trainer;
    std::future<RunSummary> m_result;
};

// A small MLP whose steps are slowed by the sink, so the test can act while it runs.
TrainOptions controlOptions(long steps) {
    TrainOptions o = mlpOptions();
    o.trainSize = 1200;
    o.epochs = 1000;
    o.maxSteps = steps;
    o.probeInterval = 10;
    o.evalInterval = 0;
    return o;
}

}  // namespace

TEST(TrainerControl, RequestStopFromAnotherThreadEndsTheRunAndKeepsTheRecords) {
    const TrainOptions options = controlOptions(5000);
    RecordingSink sink;
    sink.stepDelay = 2ms;
    Trainer trainer(smallMnist(), options, sink);
    AsyncRun run(trainer);
    ASSERT_TRUE(sink.waitForSteps(5)) << "the run did not reach 5 steps";
    trainer.requestStop();
    ASSERT_TRUE(run.finishedWithin(60s)) << "the run did not end after requestStop()";
    const RunSummary summary = run.get();

    EXPECT_EQ(summary.reason, StopReason::Stopped) << summary.message;
    EXPECT_GE(summary.steps, 5);
    EXPECT_LT(summary.steps, 5000);
    EXPECT_NE(summary.message.find("stop"), std::string::npos) << summary.message;
    EXPECT_EQ(long(sink.steps.size()), summary.steps);
    EXPECT_EQ(sink.steps.back().step, summary.steps);
    EXPECT_EQ(summary.samples, sink.steps.back().samples);
    EXPECT_FALSE(sink.probes.empty());
    ASSERT_EQ(sink.finishes.size(), 1u);
    EXPECT_EQ(sink.finishes[0].reason, StopReason::Stopped);
    EXPECT_EQ(sink.finishes[0].steps, summary.steps);
    EXPECT_EQ(summary.hasTest, !sink.evalsOf("test").empty());
}

TEST(TrainerControl, PauseHoldsTheRunAndResumeCompletesIt) {
    const long kSteps = 80;
    const TrainOptions options = controlOptions(kSteps);
    RecordingSink sink;
    sink.stepDelay = 2ms;
    Trainer trainer(smallMnist(), options, sink);
    AsyncRun run(trainer);
    ASSERT_TRUE(sink.waitForSteps(3));
    trainer.setPaused(true);
    EXPECT_TRUE(trainer.isPaused());

    std::this_thread::sleep_for(200ms);  // lets the step in progress finish
    const std::size_t atPause = sink.stepCount();
    std::this_thread::sleep_for(250ms);
    EXPECT_EQ(sink.stepCount(), atPause) << "steps went on while paused";
    EXPECT_LT(long(atPause), kSteps) << "the run ended before the pause took effect";
    EXPECT_FALSE(run.finishedWithin(0ms));
    EXPECT_EQ(sink.finishCount(), 0u);

    trainer.setPaused(false);
    EXPECT_FALSE(trainer.isPaused());
    ASSERT_TRUE(run.finishedWithin(120s)) << "the run did not complete after resuming";
    const RunSummary summary = run.get();
    EXPECT_EQ(summary.reason, StopReason::MaxSteps) << summary.message;
    EXPECT_EQ(summary.steps, kSteps);
    ASSERT_EQ(long(sink.steps.size()), kSteps);
    for (std::size_t i = 0; i < sink.steps.size(); ++i) EXPECT_EQ(sink.steps[i].step, long(i) + 1);
    EXPECT_TRUE(summary.hasTest);
    EXPECT_EQ(sink.finishes.size(), 1u);
}

TEST(TrainerControl, RequestStopWhilePausedEndsTheRun) {
    const TrainOptions options = controlOptions(5000);
    RecordingSink sink;
    sink.stepDelay = 2ms;
    Trainer trainer(smallMnist(), options, sink);
    AsyncRun run(trainer);
    ASSERT_TRUE(sink.waitForSteps(3));
    trainer.setPaused(true);
    std::this_thread::sleep_for(200ms);  // lets the step in progress finish
    const std::size_t atPause = sink.stepCount();
    std::this_thread::sleep_for(100ms);
    EXPECT_EQ(sink.stepCount(), atPause) << "steps went on while paused";
    EXPECT_FALSE(run.finishedWithin(0ms));

    trainer.requestStop();  // still paused
    ASSERT_TRUE(run.finishedWithin(30s)) << "requestStop() did not end a paused run";
    const RunSummary summary = run.get();
    EXPECT_EQ(summary.reason, StopReason::Stopped);
    EXPECT_EQ(summary.steps, long(atPause));
    EXPECT_EQ(sink.steps.size(), atPause);
    EXPECT_EQ(sink.finishes.size(), 1u);
}

// ---------------------------------------------------------------------------------------------
// Probes
// ---------------------------------------------------------------------------------------------

namespace {

void expectWellFormed(const Distribution& d, std::int64_t expectedCount, const std::string& where) {
    SCOPED_TRACE(where);
    EXPECT_EQ(d.count, expectedCount);
    for (std::size_t k = 1; k < d.percentiles.size(); ++k)
        EXPECT_LE(d.percentiles[k - 1], d.percentiles[k]) << "percentile " << kPercentiles[k];
    for (float p : d.percentiles) EXPECT_TRUE(std::isfinite(p));
    ASSERT_EQ(d.histogram.size(), std::size_t(kHistogramBins));
    std::int64_t total = 0;
    for (std::uint32_t c : d.histogram) total += c;
    EXPECT_EQ(total, d.count);
    EXPECT_EQ(d.histogramMin, d.percentiles.front());
    EXPECT_EQ(d.histogramMax, d.percentiles.back());
    EXPECT_GE(d.mean, d.percentiles.front());
    EXPECT_LE(d.mean, d.percentiles.back());
    EXPECT_GE(d.stddev, 0);
}

std::int64_t probeValues(std::int64_t probeBatch, std::int64_t perSample) {
    return std::min(probeBatch * perSample, kMaxProbeValues);
}

}  // namespace

TEST(TrainerProbes, MlpSnapshotsArriveOnScheduleAndAreWellFormed) {
    TrainOptions options = mlpOptions();  // 50 steps, probe interval 10, probe batch 128
    RecordingSink sink;
    runTo(options, sink);
    ASSERT_EQ(sink.starts.size(), 1u);
    const RunInfo& info = sink.starts[0];
    EXPECT_EQ(info.blocks, (std::vector<std::string>{"dense1", "dense2", "output"}));
    EXPECT_EQ(info.trainSamples, 1200);
    EXPECT_EQ(info.validationSamples, 500);
    EXPECT_EQ(info.testSamples, 1000);
    EXPECT_EQ(info.stepsPerEpoch, 20);
    EXPECT_EQ(info.totalSteps, 50);

    std::vector<long> probeSteps;
    for (const ProbeSnapshot& s : sink.probes) probeSteps.push_back(s.step);
    EXPECT_EQ(probeSteps, (std::vector<long>{1, 10, 20, 30, 40, 50}));

    for (const ProbeSnapshot& snap : sink.probes) {
        SCOPED_TRACE("probe at step " + std::to_string(snap.step));
        // Step, epoch and samples as in the step record of the same step.
        ASSERT_GE(snap.step, 1);
        const StepRecord& rec = sink.steps[std::size_t(snap.step - 1)];
        EXPECT_EQ(rec.step, snap.step);
        EXPECT_EQ(snap.samples, rec.samples);
        EXPECT_EQ(snap.epoch, rec.epoch);

        ASSERT_EQ(snap.activations.size(), 3u);
        const int units[3] = {100, 100, 10};
        for (std::size_t b = 0; b < 3; ++b) {
            const ActivationProbe& a = snap.activations[b];
            EXPECT_EQ(a.block, info.blocks[b]);
            expectWellFormed(a.pre, probeValues(128, units[b]), a.block + ".pre");
            expectWellFormed(a.post, probeValues(128, units[b]), a.block + ".post");
        }
        for (std::size_t b = 0; b < 2; ++b) {  // sigmoid outputs
            EXPECT_GE(snap.activations[b].post.percentiles.front(), 0.0f);
            EXPECT_LE(snap.activations[b].post.percentiles.back(), 1.0f);
            EXPECT_GE(snap.activations[b].post.histogramMin, 0.0f);
            EXPECT_LE(snap.activations[b].post.histogramMax, 1.0f);
        }
        // The output block has no nonlinearity: pre and post are the same values (the logits).
        EXPECT_EQ(snap.activations[2].pre.percentiles, snap.activations[2].post.percentiles);
        EXPECT_EQ(snap.activations[2].pre.histogram, snap.activations[2].post.histogram);

        // One parameter probe per parameter, as announced in RunInfo.
        ASSERT_EQ(snap.params.size(), info.params.size());
        for (std::size_t p = 0; p < snap.params.size(); ++p) {
            const ParamProbe& pp = snap.params[p];
            EXPECT_EQ(pp.name, info.params[p]);
            EXPECT_TRUE(std::isfinite(pp.gradNorm) && pp.gradNorm >= 0) << pp.name;
            EXPECT_TRUE(std::isfinite(pp.updateRatio) && pp.updateRatio >= 0) << pp.name;
            if (pp.name.find(".weight") != std::string::npos) {
                EXPECT_GT(pp.gradNorm, 0) << pp.name;
                EXPECT_GT(pp.weightNorm, 0) << pp.name;
                EXPECT_GT(pp.updateRatio, 0) << pp.name;
            }
        }
        ASSERT_EQ(snap.batchNorm.size(), 2u);
        EXPECT_EQ(snap.batchNorm[0].layer, "bn1");
        EXPECT_EQ(snap.batchNorm[1].layer, "bn2");
    }
}

TEST(TrainerProbes, CnnSnapshotsHaveOneProbePerConvAndDenseBlock) {
    const TrainOptions options = cnnOptions();  // 15 steps, probe interval 5, probe batch 64
    RecordingSink sink;
    runTo(options, sink);
    ASSERT_EQ(sink.starts.size(), 1u);
    const RunInfo& info = sink.starts[0];
    EXPECT_EQ(info.blocks, (std::vector<std::string>{"conv1", "dense1", "output"}));

    std::vector<long> probeSteps;
    for (const ProbeSnapshot& s : sink.probes) probeSteps.push_back(s.step);
    EXPECT_EQ(probeSteps, (std::vector<long>{1, 5, 10, 15}));

    const std::int64_t perSample[3] = {8 * 26 * 26, 32, 10};
    for (const ProbeSnapshot& snap : sink.probes) {
        SCOPED_TRACE("probe at step " + std::to_string(snap.step));
        ASSERT_EQ(snap.activations.size(), 3u);
        for (std::size_t b = 0; b < 3; ++b) {
            const ActivationProbe& a = snap.activations[b];
            EXPECT_EQ(a.block, info.blocks[b]);
            expectWellFormed(a.pre, probeValues(64, perSample[b]), a.block + ".pre");
            expectWellFormed(a.post, probeValues(64, perSample[b]), a.block + ".post");
        }
        for (std::size_t b = 0; b < 2; ++b) {  // ReLU outputs are never negative
            EXPECT_GE(snap.activations[b].post.percentiles.front(), 0.0f);
        }
        // BN after ReLU: the pre-activation is the linear output, which has negative values.
        EXPECT_LT(snap.activations[0].pre.percentiles.front(), 0.0f);
        ASSERT_EQ(snap.batchNorm.size(), 2u);
    }
}

TEST(TrainerProbes, BatchNormBeforeSigmoidNormalisesThePreActivationAtStepOne) {
    TrainOptions options = mlpOptions();
    options.probeBatchSize = 256;
    RecordingSink sink;
    runTo(options, sink);
    ASSERT_FALSE(sink.probes.empty());
    const ProbeSnapshot& first = sink.probes.front();
    ASSERT_EQ(first.step, 1);
    ASSERT_EQ(first.activations.size(), 3u);
    for (std::size_t b = 0; b < 2; ++b) {
        const Distribution& pre = first.activations[b].pre;
        SCOPED_TRACE(first.activations[b].block);
        // γ = 1, β = 0 after one small step: every feature normalised over the probe batch.
        EXPECT_NEAR(pre.mean, 0.0, 0.05);
        EXPECT_NEAR(pre.stddev, 1.0, 0.1);
        // And the sigmoid of a standard-normal-like input sits around 0.5.
        EXPECT_NEAR(first.activations[b].post.percentiles[percentileIndex(50)], 0.5, 0.1);
    }
}

TEST(TrainerProbes, ProbingDoesNotChangeTraining) {
    // The probe forward uses batch statistics and the step's Dropout masks; it must leave the running
    // statistics (which Batch Renormalization's r and d read in training) and the masks to come as they were.
    TrainOptions renormDropout = mlpOptions();
    for (BlockSpec& b : renormDropout.network.blocks) {
        b.normKind = NormKind::Renorm;
        b.dropout = 0.2f;
    }
    for (const TrainOptions& base : {mlpOptions(), cnnOptions(), renormDropout}) {
        SCOPED_TRACE(describe(base.network));
        TrainOptions everyStep = base;
        everyStep.probeInterval = 1;
        everyStep.evalInterval = 5;
        TrainOptions never = everyStep;
        never.probeInterval = 0;

        RecordingSink probed, plain;
        const RunSummary a = runTo(everyStep, probed);
        const RunSummary b = runTo(never, plain);
        ASSERT_EQ(long(probed.probes.size()), everyStep.maxSteps);
        ASSERT_TRUE(plain.probes.empty());
        ASSERT_GE(probed.evalsOf("validation").size(), 3u);
        // The summary counts the snapshots and times them (against the steps' own time, this session's).
        EXPECT_EQ(a.probes, everyStep.maxSteps);
        EXPECT_GT(a.probeSeconds, 0.0);
        EXPECT_EQ(a.sessionTrainingSeconds, a.trainingSeconds);  // not resumed
        EXPECT_EQ(b.probes, 0);
        EXPECT_EQ(b.probeSeconds, 0.0);

        plain.probes = probed.probes;  // compare everything else
        EXPECT_TRUE(sameRecords(probed, plain));
        EXPECT_EQ(a.valAccuracy, b.valAccuracy);
        EXPECT_EQ(a.valLoss, b.valLoss);
        EXPECT_EQ(a.testAccuracy, b.testAccuracy);
        EXPECT_EQ(a.testLoss, b.testLoss);
    }
}

TEST(TrainerProbes, BatchNormNoiseWidensAndShiftsThePreActivationFromProbeToProbe) {
    // BN before the sigmoid, noise after BN: the sigmoid's input of each feature is s_j·BN(x) + m_j with m_j and s_j
    // drawn at every step. Pooled over the layer's 100 features this widens the distribution (its standard
    // deviation is about √(E[s²] + Var m) = √(7/3 + 1/3) ≈ 1.6 at γ = 1 instead of 1) and moves its mean from
    // probe to probe (by the mean of 100 draws of m, about 0.06), where BN alone keeps it still.
    TrainOptions plain = mlpOptions();
    plain.probeInterval = 2;
    plain.maxSteps = 40;
    TrainOptions noisy = plain;
    noisy.batchNorm.noise = true;
    RecordingSink a, b;
    runTo(plain, a);
    runTo(noisy, b);
    ASSERT_EQ(a.probes.size(), 21u);
    ASSERT_EQ(b.probes.size(), 21u);
    for (std::size_t block = 0; block < 2; ++block) {
        SCOPED_TRACE("block " + std::to_string(block + 1));
        EXPECT_LT(a.probes[0].activations[block].pre.stddev, 1.05);
        EXPECT_GT(b.probes[0].activations[block].pre.stddev, 1.3);
        auto spreadOfMeans = [&](const RecordingSink& sink) {
            std::vector<double> means;
            for (const ProbeSnapshot& p : sink.probes) means.push_back(p.activations[block].pre.mean);
            const double mu = std::accumulate(means.begin(), means.end(), 0.0) / double(means.size());
            double sq = 0;
            for (double m : means) sq += (m - mu) * (m - mu);
            return std::sqrt(sq / double(means.size()));
        };
        EXPECT_GT(spreadOfMeans(b), 0.02);
        EXPECT_GT(spreadOfMeans(b), 5 * spreadOfMeans(a));
    }
}

TEST(TrainerLandscape, MeasuringDoesNotChangeTraining) {
    // The extra passes run the training batch forward in training mode (which updates BN's running statistics),
    // step a copy of the optimizer and move the weights; all of it must be put back bit for bit.
    TrainOptions noisyRenormDropout = mlpOptions();
    noisyRenormDropout.batchNorm.noise = true;
    for (BlockSpec& b : noisyRenormDropout.network.blocks) {
        b.normKind = NormKind::Renorm;
        b.dropout = 0.2f;
    }
    TrainOptions momentum = mlpOptions();
    momentum.optimizer.momentum = 0.9f;
    momentum.optimizer.weightDecay = 1e-3f;
    for (const TrainOptions& base : {mlpOptions(), cnnOptions(), noisyRenormDropout, momentum}) {
        SCOPED_TRACE(describe(base.network));
        TrainOptions measured = base;
        measured.landscapeInterval = 3;
        measured.evalInterval = 5;
        TrainOptions never = measured;
        never.landscapeInterval = 0;
        RecordingSink with, without;
        const RunSummary a = runTo(measured, with);
        const RunSummary b = runTo(never, without);
        ASSERT_EQ(long(with.landscape.size()), 1 + measured.maxSteps / 3);
        ASSERT_TRUE(without.landscape.empty());
        without.landscape = with.landscape;  // compare everything else
        EXPECT_TRUE(sameRecords(with, without));
        EXPECT_EQ(a.testAccuracy, b.testAccuracy);
        EXPECT_EQ(a.testLoss, b.testLoss);
    }
}

TEST(TrainerLandscape, RecordsArriveOnScheduleWithOneShiftPerWeightLayer) {
    TrainOptions options = mlpOptions();
    options.landscapeInterval = 10;
    RecordingSink sink;
    runTo(options, sink);
    ASSERT_EQ(sink.landscape.size(), 6u);  // steps 1, 10, ..., 50
    for (std::size_t i = 0; i < sink.landscape.size(); ++i) {
        const LandscapeRecord& r = sink.landscape[i];
        SCOPED_TRACE("step " + std::to_string(r.step));
        EXPECT_EQ(r.step, i == 0 ? 1 : long(10 * i));
        const StepRecord& step = sink.steps[std::size_t(r.step - 1)];
        EXPECT_EQ(r.samples, step.samples);
        EXPECT_EQ(r.epoch, step.epoch);
        // The loss at w is the step's own training loss: the same batch, weights, masks and statistics.
        EXPECT_EQ(r.loss, step.loss);
        ASSERT_EQ(r.layers.size(), 3u);
        EXPECT_EQ(r.layers[0].layer, "dense1");
        EXPECT_EQ(r.layers[1].layer, "dense2");
        EXPECT_EQ(r.layers[2].layer, "output");
        EXPECT_EQ(r.layers[0].distance, 0.0);  // no earlier layer
        EXPECT_EQ(r.layers[0].cosine, 1.0);
        for (std::size_t k = 1; k < 3; ++k) {
            EXPECT_GT(r.layers[k].distance, 0.0) << r.layers[k].layer;
            EXPECT_LE(r.layers[k].cosine, 1.0 + 1e-12);
            EXPECT_GT(r.layers[k].cosine, -1.0 - 1e-12);
        }
        ASSERT_EQ(r.stepSizes.size(), kLandscapeSteps.size());
        for (std::size_t k = 0; k < kLandscapeSteps.size(); ++k) {
            EXPECT_DOUBLE_EQ(r.stepSizes[k], kLandscapeSteps[k] * double(options.optimizer.learningRate));
            EXPECT_LE(r.lossMin, r.losses[k]);
            EXPECT_GE(r.lossMax, r.losses[k]);
            EXPECT_LE(r.gradChanges[k], r.predictiveness);
        }
        EXPECT_GT(r.betaSmoothness, 0.0);
        EXPECT_GT(r.gradNorm, 0.0);
    }
}

// ---------------------------------------------------------------------------------------------
// Batch Normalization probes
// ---------------------------------------------------------------------------------------------

namespace {

// Values per feature of each BN layer: N for a dense layer, N·H·W for a conv layer.
void expectRunningEqualsBatch(const RecordingSink& sink, const std::vector<Index>& valuesPerFeature) {
    ASSERT_FALSE(sink.probes.empty());
    for (const ProbeSnapshot& snap : sink.probes) {
        ASSERT_EQ(snap.batchNorm.size(), valuesPerFeature.size());
        for (std::size_t l = 0; l < snap.batchNorm.size(); ++l) {
            const BatchNormProbe& p = snap.batchNorm[l];
            SCOPED_TRACE(p.layer + " at step " + std::to_string(snap.step));
            ASSERT_FALSE(p.features.empty());
            EXPECT_LE(p.features.size(), 4u);
            ASSERT_EQ(p.batchMean.size(), p.features.size());
            ASSERT_EQ(p.batchVar.size(), p.features.size());
            ASSERT_EQ(p.runningMean.size(), p.features.size());
            ASSERT_EQ(p.runningVar.size(), p.features.size());
            const double m = double(valuesPerFeature[l]);
            for (std::size_t k = 0; k < p.features.size(); ++k) {
                EXPECT_EQ(p.runningMean[k], p.batchMean[k]) << "feature " << p.features[k];
                const double unbiased = double(p.batchVar[k]) * m / (m - 1);
                EXPECT_NEAR(p.runningVar[k], unbiased, 1e-5 * unbiased + 1e-7) << "feature " << p.features[k];
                EXPECT_GT(p.batchVar[k], 0.0f);
            }
        }
    }
}

}  // namespace

TEST(TrainerBatchNormProbe, WithMomentumZeroTheRunningStatisticsAreTheBatchStatistics) {
    TrainOptions mlp = mlpOptions();
    mlp.batchNorm.momentum = 0;
    RecordingSink mlpSink;
    runTo(mlp, mlpSink);
    {
        SCOPED_TRACE("mlp");
        expectRunningEqualsBatch(mlpSink, {60, 60});
    }

    TrainOptions cnn = cnnOptions();
    cnn.batchNorm.momentum = 0;
    RecordingSink cnnSink;
    runTo(cnn, cnnSink);
    {
        SCOPED_TRACE("cnn");
        expectRunningEqualsBatch(cnnSink, {32 * 26 * 26, 32});
    }
}

TEST(TrainerBatchNormProbe, FeaturesAreFixedAndRunningStatisticsFollowTheKerasMomentum) {
    TrainOptions options = mlpOptions();  // bn_momentum 0.99 (default)
    RecordingSink sink;
    runTo(options, sink);
    ASSERT_FALSE(sink.probes.empty());
    const ProbeSnapshot& first = sink.probes.front();
    ASSERT_EQ(first.step, 1);
    ASSERT_EQ(first.batchNorm.size(), 2u);
    for (const BatchNormProbe& p : first.batchNorm) {
        SCOPED_TRACE(p.layer);
        ASSERT_EQ(p.features.size(), 4u);
        for (int f : p.features) {
            EXPECT_GE(f, 0);
            EXPECT_LT(f, 100);
        }
        for (std::size_t k = 0; k < p.features.size(); ++k) {
            // After one step from running_mean = 0, running_var = 1:
            //   running_mean = 0.01·μ,  running_var = 0.99 + 0.01·σ²·m/(m − 1)
            const double mean = p.batchMean[k], var = p.batchVar[k];
            EXPECT_NEAR(p.runningMean[k], 0.01 * mean, 1e-6 + 1e-5 * std::abs(mean));
            EXPECT_NEAR(p.runningVar[k], 0.99 + 0.01 * var * 60.0 / 59.0, 1e-6);
            EXPECT_NE(p.runningMean[k], p.batchMean[k]);
        }
    }
    // The same features are followed in every snapshot.
    for (const ProbeSnapshot& snap : sink.probes) {
        ASSERT_EQ(snap.batchNorm.size(), first.batchNorm.size());
        for (std::size_t l = 0; l < snap.batchNorm.size(); ++l)
            EXPECT_EQ(snap.batchNorm[l].features, first.batchNorm[l].features);
    }
}

// ---------------------------------------------------------------------------------------------
// End to end
// ---------------------------------------------------------------------------------------------

TEST(TrainerEndToEnd, BatchNormPaperMlpLearnsMnist) {
    TrainOptions options;
    options.network.blocks = {denseBlock(100, kSigmoid, kBefore), denseBlock(100, kSigmoid, kBefore),
                              denseBlock(100, kSigmoid, kBefore)};
    options.optimizer.kind = OptimizerKind::SGD;
    options.optimizer.learningRate = 0.5f;
    options.batchSize = 60;
    options.seed = 1;
    options.trainSize = 6000;
    options.validationSize = 1000;
    options.epochs = 2;
    options.probeInterval = 50;
    options.threads = 0;
    // PyTorch's default (Keras 0.99 would still hold 0.99^200 = 13 % of the initial running statistics
    // after these 200 steps, and evaluation, which uses them, would lag training; see the next test).
    options.batchNorm.momentum = 0.9f;

    RecordingSink sink;
    const RunSummary summary = runTo(options, sink, mnist());
    EXPECT_EQ(summary.reason, StopReason::Completed) << summary.message;
    EXPECT_EQ(summary.steps, 200);
    EXPECT_EQ(summary.samples, 12000);
    EXPECT_DOUBLE_EQ(summary.epochs, 2.0);
    ASSERT_TRUE(summary.hasTest);
    ASSERT_TRUE(summary.hasValidation);
    EXPECT_GT(summary.testAccuracy, 0.85);
    EXPECT_GT(summary.valAccuracy, 0.85);
    EXPECT_LT(summary.testLoss, 0.6);

    // Validation at each epoch end, then the test split once.
    const auto validation = sink.evalsOf("validation");
    ASSERT_EQ(validation.size(), 2u);
    EXPECT_EQ(validation[0].step, 100);
    EXPECT_EQ(validation[1].step, 200);
    EXPECT_TRUE(validation[0].epochEnd && validation[1].epochEnd);
    EXPECT_EQ(validation[1].accuracy, summary.valAccuracy);
    const auto test = sink.evalsOf("test");
    ASSERT_EQ(test.size(), 1u);
    EXPECT_EQ(test[0].accuracy, summary.testAccuracy);
    EXPECT_EQ(sink.evals.back().split, "test");

    // The training loss went down.
    ASSERT_EQ(sink.steps.size(), 200u);
    double early = 0, late = 0;
    for (std::size_t i = 0; i < 20; ++i) {
        early += sink.steps[i].loss;
        late += sink.steps[sink.steps.size() - 1 - i].loss;
    }
    EXPECT_LT(late, 0.5 * early);
    EXPECT_GT(summary.samplesPerSecond, 0);
    EXPECT_EQ(sink.probes.size(), 5u);  // steps 1, 50, 100, 150, 200
}

TEST(TrainerEndToEnd, NoisyBatchNormStillLearnsMnist) {
    // Santurkar et al.'s point: BN with noise that shifts every layer's input distribution at every step still
    // trains. The noise is off in evaluation. Two epochs of 6,000 images, as BatchNormPaperMlpLearnsMnist.
    TrainOptions options;
    options.network.blocks = {denseBlock(100, kSigmoid, kBefore), denseBlock(100, kSigmoid, kBefore),
                              denseBlock(100, kSigmoid, kBefore)};
    options.optimizer.learningRate = 0.5f;
    options.batchSize = 60;
    options.trainSize = 6000;
    options.validationSize = 1000;
    options.epochs = 2;
    options.probeInterval = 0;
    options.threads = 0;
    options.batchNorm.momentum = 0.9f;
    options.batchNorm.noise = true;
    RecordingSink sink;
    const RunSummary summary = runTo(options, sink, mnist());
    EXPECT_EQ(summary.reason, StopReason::Completed) << summary.message;
    ASSERT_TRUE(summary.hasTest);
    EXPECT_GT(summary.testAccuracy, 0.8);
    double early = 0, late = 0;
    for (std::size_t i = 0; i < 20; ++i) {
        early += sink.steps[i].loss;
        late += sink.steps[sink.steps.size() - 1 - i].loss;
    }
    EXPECT_LT(late, 0.6 * early);
}

TEST(TrainerEndToEnd, TinyCnnLearnsMnist) {
    TrainOptions options = cnnOptions();
    options.trainSize = 4800;
    options.validationSize = 1000;
    options.epochs = 1;
    options.maxSteps = 0;  // 150 steps of 32
    options.probeInterval = 50;
    options.threads = 0;

    RecordingSink sink;
    const RunSummary summary = runTo(options, sink, mnist());
    EXPECT_EQ(summary.reason, StopReason::Completed) << summary.message;
    EXPECT_EQ(summary.steps, 150);
    ASSERT_TRUE(summary.hasTest);
    EXPECT_GT(summary.testAccuracy, 0.8);
    EXPECT_GT(summary.valAccuracy, 0.8);
}

TEST(TrainerEndToEnd, EveryNormKindWithAndWithoutDropoutLearnsMnist) {
    // 100 steps of the MLP and of the CNN per kind on a small MNIST cut: the training loss of the last 10 steps
    // is well below that of the first 10, and validation accuracy is far above chance.
    for (const NormKind kind : {NormKind::Batch, NormKind::Layer, NormKind::Group, NormKind::Renorm}) {
        for (const float dropout : {0.0f, 0.2f}) {
            for (TrainOptions options : {mlpOptions(), cnnOptions()}) {
                SCOPED_TRACE(toString(kind) + " dropout " + std::to_string(dropout) + "\n" + describe(options.network));
                setNormKind(options.network, kind);  // Group: LayerNorm in dense blocks
                for (BlockSpec& b : options.network.blocks)
                    if (b.isLinear()) b.dropout = dropout;
                // PyTorch's BN momentum, as in the test above: with Keras' 0.99 the running statistics, which
                // Batch Renormalization normalises towards from the first step (no ramp of rmax and dmax), lag
                // for hundreds of steps.
                options.batchNorm.momentum = 0.9f;
                options.trainSize = 3000;
                options.maxSteps = 100;
                options.probeInterval = 50;
                options.evalInterval = 0;
                options.threads = 0;
                RecordingSink sink;
                const RunSummary summary = runTo(options, sink);
                ASSERT_EQ(summary.reason, StopReason::MaxSteps) << summary.message;
                ASSERT_EQ(sink.steps.size(), 100u);
                double early = 0, late = 0;
                for (std::size_t i = 0; i < 10; ++i) {
                    early += sink.steps[i].loss;
                    late += sink.steps[sink.steps.size() - 1 - i].loss;
                }
                EXPECT_LT(late, 0.6 * early);
                EXPECT_GT(summary.valAccuracy, 0.6);
                // The probes describe every block, and BN-like layers only for the batch-statistics kinds.
                ASSERT_FALSE(sink.probes.empty());
                EXPECT_EQ(sink.probes.back().batchNorm.empty(), !usesBatchStatistics(kind));
            }
        }
    }
}

TEST(TrainerEndToEnd, BatchNormMomentumChangesEvaluationButNotTraining) {
    // bn_momentum only weighs the running statistics, which training never reads: the step losses are
    // bit-identical, while the validation results (Eval mode, running statistics) differ.
    TrainOptions keras = mlpOptions();
    keras.maxSteps = 40;
    keras.evalInterval = 20;
    keras.probeInterval = 0;
    TrainOptions pytorch = keras;
    pytorch.batchNorm.momentum = 0.9f;
    RecordingSink a, b;
    runTo(keras, a);
    runTo(pytorch, b);
    ASSERT_EQ(a.steps.size(), 40u);
    ASSERT_EQ(b.steps.size(), 40u);
    for (std::size_t i = 0; i < a.steps.size(); ++i) EXPECT_EQ(a.steps[i].loss, b.steps[i].loss) << "step " << i + 1;
    const auto va = a.evalsOf("validation"), vb = b.evalsOf("validation");
    ASSERT_EQ(va.size(), vb.size());
    ASSERT_FALSE(va.empty());
    EXPECT_NE(va.back().loss, vb.back().loss);
    // After 40 steps, 0.99^40 = 67 % of the initial statistics (mean 0, variance 1) remain with Keras'
    // default, so evaluation is worse than with 0.9 (1.5 %).
    EXPECT_GT(vb.back().accuracy, va.back().accuracy);
}

// ---------------------------------------------------------------------------------------------
// Evaluation in chunks
// ---------------------------------------------------------------------------------------------

namespace {

// A network trained for a few steps by hand, so its running statistics are not the initial ones.
void trainBriefly(Network& net, const DataView& train, OptimizerOptions optimizerOptions, int batch, int steps) {
    Optimizer optimizer(optimizerOptions);
    optimizer.bind(net.optimizerParams());
    BatchSampler sampler(train, batch, 5);
    SoftmaxCrossEntropy ce;
    Matrix x;
    std::vector<std::uint8_t> labels;
    for (int i = 0; i < steps; ++i) {
        sampler.next(x, labels);
        ce.forward(net.forward(x, Mode::Train), labels);
        net.backward(ce.backward());
        optimizer.step();
    }
}

// exactPieces: forwards of fewer rows than the chunk give the very same numbers (not with sigmoid, whose
// scalar tail values follow the forward's size: there within 1e-6).
void expectChunkingDoesNotMatter(Network& net, const DataView& view, bool exactPieces) {
    std::vector<Vector> means, vars;
    for (BatchNorm* bn : net.batchNormLayers()) {
        means.push_back(bn->runningMean());
        vars.push_back(bn->runningVar());
    }
    const Evaluation whole = evaluate(net, view, view.size());
    EXPECT_GT(whole.accuracy, 0.3) << "the briefly trained network should be better than chance";
    EXPECT_GT(whole.loss, 0);
    for (Index chunk : {Index(7), Index(100), Index(1000), view.size() + 1}) {
        SCOPED_TRACE("chunk " + std::to_string(chunk));
        const Evaluation e = evaluate(net, view, chunk);
        EXPECT_EQ(e.accuracy, whole.accuracy);
        EXPECT_NEAR(e.loss, whole.loss, 1e-6 * whole.loss);
        for (Index rows : {Index(3), Index(64)}) {  // forwards of fewer rows (the trainer's memory bound)
            const Evaluation pieces = evaluate(net, view, chunk, rows);
            EXPECT_EQ(pieces.accuracy, e.accuracy) << "rows " << rows;
            if (exactPieces) EXPECT_EQ(pieces.loss, e.loss) << "rows " << rows;
            else EXPECT_NEAR(pieces.loss, e.loss, 1e-6 * e.loss) << "rows " << rows;
        }
    }
    // Evaluation changes nothing: running statistics as before.
    const std::vector<BatchNorm*> bns = net.batchNormLayers();
    ASSERT_EQ(bns.size(), means.size());
    for (std::size_t i = 0; i < bns.size(); ++i) {
        EXPECT_EQ(bns[i]->runningMean(), means[i]);
        EXPECT_EQ(bns[i]->runningVar(), vars[i]);
    }

    // An independent count: one Eval forward of the whole view.
    Matrix x;
    std::vector<std::uint8_t> labels;
    gatherRange(view, 0, view.size(), x, labels);
    const Matrix& logits = net.forward(x, Mode::Eval);
    Index correct = 0;
    for (Index r = 0; r < logits.rows(); ++r) {
        Index argmax = 0;
        logits.row(r).maxCoeff(&argmax);
        correct += argmax == labels[std::size_t(r)];
    }
    EXPECT_EQ(whole.accuracy, double(correct) / double(view.size()));
}
// The sigmoid MLP with BN (momentum bnMomentum) after 40 steps of SGD on 3,000 images, and its validation
// split of 1,000 images, given to `check`.
void withBrieflyTrainedMlp(float bnMomentum, const std::function<void(Network&, const DataView&)>& check) {
    const Dataset& data = mnist();
    const Splits splits = makeSplits(data, 1000, 3000);
    NetworkSpec spec;
    spec.blocks = {denseBlock(100, kSigmoid, kBefore), denseBlock(100, kSigmoid, kBefore)};
    Network net(spec, data.inputShape(), data.numClasses, BatchNormOptions{bnMomentum, 1e-3f}, InitOptions{}, 4);
    OptimizerOptions sgd;
    sgd.learningRate = 0.5f;
    trainBriefly(net, splits.train, sgd, 60, 40);
    ASSERT_EQ(splits.validation.size(), 1000);
    check(net, splits.validation);
}

}  // namespace

TEST(TrainerEvaluate, ChunkSizeDoesNotChangeTheResultMlp) {
    withBrieflyTrainedMlp(0.9f, [](Network& net, const DataView& validation) {
        expectChunkingDoesNotMatter(net, validation, false);
    });
}

TEST(TrainerEvaluate, ChunkSizeDoesNotChangeTheResultCnn) {
    const Dataset& data = mnist();
    const Splits splits = makeSplits(data, 500, 3000);
    NetworkSpec spec;
    spec.blocks = cnnOptions().network.blocks;
    Network net(spec, data.inputShape(), data.numClasses, BatchNormOptions{0.9f, 1e-3f}, InitOptions{InitKind::He, 1.0f}, 4);
    OptimizerOptions adam;
    adam.kind = OptimizerKind::Adam;
    adam.learningRate = 3e-3f;
    trainBriefly(net, splits.train, adam, 32, 40);
    expectChunkingDoesNotMatter(net, splits.validation, true);
}

TEST(TrainerEvaluate, EvalRowsSplitOnlyLargeActivations) {
    const Dataset& data = mnist();
    NetworkSpec cnn;  // the Keras convnet: about 0.8 MB of layer outputs per sample
    cnn.blocks = {convBlock(32, 3, kRelu, kAfter), convBlock(64, 3, kRelu, kAfter), maxPoolBlock(2), flattenBlock(),
                  denseBlock(128, kRelu, kAfter)};
    Network big(cnn, data.inputShape(), data.numClasses, BatchNormOptions{}, InitOptions{}, 1);
    EXPECT_EQ(evalRows(big, 128), 128);  // no more than a training batch
    EXPECT_GT(evalRows(big, 8), 8);      // but not tiny forwards either
    EXPECT_LT(evalRows(big, 8), 128);
    NetworkSpec mlp;
    mlp.blocks = {denseBlock(100, kSigmoid, kBefore), denseBlock(100, kSigmoid, kBefore), denseBlock(100, kSigmoid, kBefore)};
    Network small(mlp, data.inputShape(), data.numClasses, BatchNormOptions{}, InitOptions{}, 1);
    EXPECT_GT(evalRows(small, 60), 10000);  // the MLPs evaluate their chunks whole
}

TEST(TrainerEvaluate, AnEmptySplitGivesZeros) {
    const Dataset& data = mnist();
    const Splits splits = makeSplits(data, 0, 100);
    ASSERT_EQ(splits.validation.size(), 0);
    NetworkSpec spec;
    spec.blocks = {denseBlock(10, kRelu)};
    Network net(spec, data.inputShape(), data.numClasses, BatchNormOptions{}, InitOptions{}, 1);
    const Evaluation e = evaluate(net, splits.validation, 100);
    EXPECT_EQ(e.accuracy, 0);
    EXPECT_EQ(e.loss, 0);
}

// ---------------------------------------------------------------------------------------------
// Evaluation with batch statistics (eval_statistics=batch)
// ---------------------------------------------------------------------------------------------

namespace {

struct RunningStatistics {
    std::vector<Vector> mean, var, batchMean, batchVar;
};

RunningStatistics statisticsOf(Network& net) {
    RunningStatistics s;
    for (BatchNorm* bn : net.batchNormLayers()) {
        s.mean.push_back(bn->runningMean());
        s.var.push_back(bn->runningVar());
        s.batchMean.push_back(bn->batchMean());
        s.batchVar.push_back(bn->batchVar());
    }
    return s;
}

void restore(Network& net, const RunningStatistics& s) {
    const std::vector<BatchNorm*> bns = net.batchNormLayers();
    for (std::size_t i = 0; i < bns.size(); ++i) {
        bns[i]->runningMean() = s.mean[i];
        bns[i]->runningVar() = s.var[i];
    }
}

// The evaluation written out by hand: chunks of `chunk` samples (a last chunk of 1 joined to the one before),
// each forwarded in Train mode, the running statistics put back after each so that every chunk sees the same
// ones (Batch Renormalization's r and d depend on them).
Evaluation trainModeEvaluation(Network& net, const DataView& view, Index chunk) {
    const RunningStatistics saved = statisticsOf(net);
    std::vector<Index> starts;
    for (Index b = 0; b < view.size(); b += chunk) starts.push_back(b);
    if (starts.size() >= 2 && view.size() - starts.back() == 1) starts.pop_back();
    starts.push_back(view.size());
    SoftmaxCrossEntropy ce;
    Matrix x;
    std::vector<std::uint8_t> labels;
    double lossSum = 0;
    Index correct = 0;
    for (std::size_t i = 0; i + 1 < starts.size(); ++i) {
        gatherRange(view, starts[i], starts[i + 1], x, labels);
        lossSum += ce.forward(net.forward(x, Mode::Train), labels) * double(x.rows());
        correct += ce.correct();
        restore(net, saved);
    }
    Evaluation e;
    e.loss = lossSum / double(view.size());
    e.accuracy = double(correct) / double(view.size());
    return e;
}

void expectBatchStatisticsEvaluationIsATrainingModeForward(Network& net, const DataView& view, Index chunk) {
    const RunningStatistics before = statisticsOf(net);
    ASSERT_FALSE(before.mean.empty());
    const Evaluation batch = evaluate(net, view, chunk, 16, EvalStatistics::Batch);  // maxRows is ignored
    // Nothing of the training state moved: running statistics, nor the latest Train batch's (the probes').
    const RunningStatistics after = statisticsOf(net);
    for (std::size_t i = 0; i < before.mean.size(); ++i) {
        EXPECT_EQ(after.mean[i], before.mean[i]) << "layer " << i;
        EXPECT_EQ(after.var[i], before.var[i]) << "layer " << i;
        EXPECT_EQ(after.batchMean[i], before.batchMean[i]) << "layer " << i;
        EXPECT_EQ(after.batchVar[i], before.batchVar[i]) << "layer " << i;
    }
    const Evaluation manual = trainModeEvaluation(net, view, chunk);
    EXPECT_EQ(batch.accuracy, manual.accuracy);
    EXPECT_EQ(batch.loss, manual.loss);
    // And it is not the running-statistics evaluation.
    const Evaluation running = evaluate(net, view, chunk, 16);
    EXPECT_NE(batch.loss, running.loss);
}

}  // namespace

TEST(TrainerEvaluateBatchStatistics, ChunksAreEvalBatchSizeWithALastChunkOfOneJoinedToThePrevious) {
    using Chunks = std::vector<std::pair<Index, Index>>;
    EXPECT_EQ(evalChunks(1000, 111, true).back(), std::make_pair(Index(888), Index(1000)));
    EXPECT_EQ(evalChunks(1000, 111, true).size(), 9u);  // 8 of 111, then 112
    EXPECT_EQ(evalChunks(1000, 111, false).back(), std::make_pair(Index(999), Index(1000)));
    EXPECT_EQ(evalChunks(10, 4, true), (Chunks{{0, 4}, {4, 8}, {8, 10}}));
    EXPECT_EQ(evalChunks(9, 4, true), (Chunks{{0, 4}, {4, 9}}));
    EXPECT_EQ(evalChunks(3, 500, true), (Chunks{{0, 3}}));
}

TEST(TrainerEvaluateBatchStatistics, EqualsATrainingModeForwardOverTheSameChunksMlp) {
    withBrieflyTrainedMlp(0.99f, [](Network& net, const DataView& validation) {
        expectBatchStatisticsEvaluationIsATrainingModeForward(net, validation, 111);  // a last chunk of 1 joined
    });
}

TEST(TrainerEvaluateBatchStatistics, EqualsATrainingModeForwardOverTheSameChunksCnnAndRenorm) {
    const Dataset& data = mnist();
    const Splits splits = makeSplits(data, 500, 3000);
    for (const NormKind kind : {NormKind::Batch, NormKind::Renorm}) {
        SCOPED_TRACE(toString(kind));
        NetworkSpec spec;
        spec.blocks = cnnOptions().network.blocks;
        setNormKind(spec, kind);
        Network net(spec, data.inputShape(), data.numClasses, BatchNormOptions{0.99f, 1e-3f},
                    InitOptions{InitKind::He, 1.0f}, 4);
        OptimizerOptions adam;
        adam.kind = OptimizerKind::Adam;
        adam.learningRate = 3e-3f;
        trainBriefly(net, splits.train, adam, 32, 20);
        expectBatchStatisticsEvaluationIsATrainingModeForward(net, splits.validation, 64);
    }
}

TEST(TrainerEvaluateBatchStatistics, LayerNormIsUnaffected) {
    const Dataset& data = mnist();
    const Splits splits = makeSplits(data, 300, 1000);
    NetworkSpec spec;
    spec.blocks = {denseBlock(50, kRelu, kBefore)};
    spec.blocks[0].normKind = NormKind::Layer;
    Network net(spec, data.inputShape(), data.numClasses, BatchNormOptions{}, InitOptions{}, 4);
    OptimizerOptions sgd;
    trainBriefly(net, splits.train, sgd, 60, 10);
    const Evaluation running = evaluate(net, splits.validation, 64);
    const Evaluation batch = evaluate(net, splits.validation, 64, 0, EvalStatistics::Batch);
    EXPECT_EQ(batch.accuracy, running.accuracy);
    EXPECT_EQ(batch.loss, running.loss);
}

TEST(TrainerEvaluateBatchStatistics, ChunksOfOneSampleAreRefused) {
    const Dataset& data = mnist();
    const Splits splits = makeSplits(data, 100, 1000);
    NetworkSpec spec;
    spec.blocks = {denseBlock(10, kRelu, kBefore)};
    Network net(spec, data.inputShape(), data.numClasses, BatchNormOptions{}, InitOptions{}, 1);
    EXPECT_THROW((void)evaluate(net, splits.validation, 1, 0, EvalStatistics::Batch), ConfigError);
    EXPECT_NO_THROW((void)evaluate(net, splits.validation, 1));  // running statistics: any chunk size
    EXPECT_NO_THROW((void)evaluate(net, splits.validation, 99, 0, EvalStatistics::Batch));  // 99 + a last 1 joined
}

TEST(TrainerEvaluateBatchStatistics, TrainingIsBitIdenticalAndOnlyTheEvaluationsDiffer) {
    TrainOptions options = mlpOptions();
    options.evalBatchSize = 128;  // validation 500: chunks 128, 128, 128, 116
    RecordingSink running, batch;
    runTo(options, running);
    options.evalStatistics = EvalStatistics::Batch;
    runTo(options, batch);
    ASSERT_EQ(running.steps.size(), 50u);
    // The evaluations are at the same moments, on the same splits, with other numbers.
    ASSERT_EQ(running.evals.size(), batch.evals.size());
    ASSERT_GE(running.evals.size(), 3u);
    for (std::size_t i = 0; i < running.evals.size(); ++i) {
        EXPECT_EQ(running.evals[i].step, batch.evals[i].step);
        EXPECT_EQ(running.evals[i].split, batch.evals[i].split);
        EXPECT_NE(running.evals[i].loss, batch.evals[i].loss) << "eval " << i;
    }
    // Everything else identical (steps, probes): evaluation with batch statistics touched nothing training uses.
    for (RecordingSink* sink : {&running, &batch}) {
        sink->evals.clear();
        sink->predictions.clear();  // what the evaluations predicted differs with them
        sink->finishes.clear();
    }
    EXPECT_TRUE(sameRecords(running, batch));
}

TEST(TrainerEvaluateBatchStatistics, IsBitIdenticalOnOneAndTwoThreads) {
    for (const NormKind kind : {NormKind::Batch, NormKind::Renorm}) {
        SCOPED_TRACE(toString(kind));
        TrainOptions options = cnnOptions();
        setNormKind(options.network, kind);
        options.evalStatistics = EvalStatistics::Batch;
        options.evalBatchSize = 64;
        expectDeterministicAcrossThreads(options);
    }
}

// The teaching point: with BN momentum 0.999 the running statistics still hold mostly their initial values after
// 100 steps (0.999^100 = 90 %), so inference-mode accuracy is poor while the same network, normalised with batch
// statistics, is as good as its training accuracy says.
TEST(TrainerEvaluateBatchStatistics, EarlyWithMomentum0999BatchStatisticsEvaluateFarBetter) {
    TrainOptions options = mlpOptions();
    options.batchNorm.momentum = 0.999f;
    options.trainSize = 6000;
    options.maxSteps = 100;
    options.evalInterval = 0;
    options.probeInterval = 0;
    RecordingSink running, batch;
    const RunSummary r = runTo(options, running);
    options.evalStatistics = EvalStatistics::Batch;
    const RunSummary b = runTo(options, batch);
    ASSERT_TRUE(r.hasValidation);
    ASSERT_TRUE(b.hasValidation);
    EXPECT_EQ(running.steps.back().loss, batch.steps.back().loss);
    const std::string numbers = "validation accuracy running " + std::to_string(r.valAccuracy) + ", batch " +
                                std::to_string(b.valAccuracy) + "; test running " + std::to_string(r.testAccuracy) +
                                ", batch " + std::to_string(b.testAccuracy);
    RecordProperty("accuracies", numbers);
    EXPECT_GT(b.valAccuracy, r.valAccuracy + 0.3) << numbers;
    EXPECT_GT(b.testAccuracy, r.testAccuracy + 0.3) << numbers;
    EXPECT_GT(b.valAccuracy, 0.8) << numbers;
}
