// Golden end-to-end test: whole training steps of two tiny networks against PyTorch (fixtures
// golden_mlp.txt and golden_cnn.txt from tests/fixtures/make_golden.py).
//
// Each case builds the network from a NetworkSpec exactly as the app does, checks that the layers come out
// in the order of the torch model, overwrites every parameter with torch's initial values, runs the recorded
// steps with engine::trainStep and an engine::Optimizer (SGD for the MLP, Adam for the CNN), and compares:
// - the loss of every step (train-mode forward, before the update): |engine − torch| ≤ 1e-5·|torch|;
// - after the last step, every parameter, every running mean and variance, and the eval-mode logits of a
//   recorded batch, element-wise: |engine − torch| ≤ 1e-5·|torch| + 1e-5·max(1, max|torch array|).
//
// Why these tolerances. Engine and torch are two float32 computations of the same expressions in different
// orders (im2col + GEMM, double-accumulated BN sums, fused softmax); their difference is rounding. Its size:
// - the script reruns torch in float64 and records that torch's float32 result is within 1.1e-7 (losses,
//   relative) and 1.7e-7 (final state, of max(1, max|array|)) of it, and refuses ill-conditioned cases
//   (drift > 2e-6, a ReLU input or pool window near a tie, a ReLU channel active on a whole batch);
// - measured engine − torch (x86-64, GCC 12, Release): losses ≤ 2.0e-7 relative, final state ≤ 1.8e-7
//   absolute on arrays of magnitude ≤ 1.5.
// So 1e-5 is a margin of ~50× over rounding, while a modelling error moves these values by 1e-3 or much
// more (running_var without the m/(m − 1) factor: 14% at m = 8; momentum in the torch convention; ε
// outside the square root; a missing Adam bias correction; a layer in another order).
// The absolute part is scaled by the array's magnitude and not by the element's: some elements end near 0
// (a conv2 weight of −2.2e-4 differs by 1.1e-7 = 5e-4 of itself, which is rounding of the larger terms
// it was computed from, not an error).
//
// The CNN's biases are set (in the script) so that every ReLU sees both signs in each channel: a channel
// active on the whole batch passes linearly into BatchNorm, which removes the bias before it; that bias
// gradient is then rounding noise, which Adam scales up to lr-sized steps, and no float32 reference exists.
// (The MLP's Dense biases feed BatchNorm directly and have that zero gradient too, but plain SGD moves them
// by lr·noise ≈ 1e-8, well inside the tolerance.)

#include "fixture.h"

#include "batch_norm.h"
#include "conv2d.h"
#include "dense.h"
#include "network.h"
#include "network_spec.h"
#include "optimizer.h"
#include "softmax_cross_entropy.h"
#include "trainer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace bnlab::test {
namespace {

using engine::ActivationKind;
using engine::BatchNorm;
using engine::BatchNormOptions;
using engine::BlockKind;
using engine::BlockSpec;
using engine::convBlock;
using engine::denseBlock;
using engine::flattenBlock;
using engine::maxPoolBlock;
using engine::Index;
using engine::InitOptions;
using engine::Matrix;
using engine::Mode;
using engine::Network;
using engine::NetworkSpec;
using engine::NormPlacement;
using engine::Optimizer;
using engine::OptimizerKind;
using engine::OptimizerOptions;
using engine::Shape;

constexpr double kLossRtol = 1e-5;
constexpr double kStateRtol = 1e-5;
constexpr double kStateAtolPerScale = 1e-5;  // times max(1, max|expected|) of the array

struct GoldenCase {
    std::string file;  // without ".txt"
    NetworkSpec spec;
    Shape input;
    OptimizerKind optimizer;
    // The torch model's modules in order, as the engine's layer kinds.
    std::vector<std::string> kinds;
};

GoldenCase mlpCase() {
    GoldenCase c;
    c.file = "golden_mlp";
    c.spec.blocks = {denseBlock(7, ActivationKind::Sigmoid, NormPlacement::Before),
                     denseBlock(5, ActivationKind::Sigmoid, NormPlacement::Before)};
    c.input = Shape{12, 1, 1};
    c.optimizer = OptimizerKind::SGD;
    // Linear, BatchNorm1d, Sigmoid, Linear, BatchNorm1d, Sigmoid, Linear
    c.kinds = {"dense", "batchnorm", "sigmoid", "dense", "batchnorm", "sigmoid", "dense"};
    return c;
}

GoldenCase cnnCase() {
    GoldenCase c;
    c.file = "golden_cnn";
    c.spec.blocks = {convBlock(3, 3, ActivationKind::ReLU, NormPlacement::After),
                     convBlock(4, 3, ActivationKind::ReLU, NormPlacement::After),
                     maxPoolBlock(2),
                     flattenBlock(),
                     denseBlock(5, ActivationKind::ReLU, NormPlacement::After)};
    c.input = Shape{1, 6, 6};
    c.optimizer = OptimizerKind::Adam;
    // Conv2d, ReLU, BatchNorm2d, Conv2d, ReLU, BatchNorm2d, MaxPool2d, Flatten, Linear, ReLU, BatchNorm1d, Linear
    c.kinds = {"conv2d", "relu",      "batchnorm", "conv2d", "relu",      "batchnorm",
               "maxpool2d", "flatten", "dense",     "relu",   "batchnorm", "dense"};
    return c;
}

OptimizerOptions optimizerFrom(const Fixture& fx, OptimizerKind kind) {
    OptimizerOptions o;
    o.kind = kind;
    o.learningRate = fx.scalar("lr");
    o.momentum = 0.0f;
    o.weightDecay = 0.0f;
    if (kind == OptimizerKind::Adam) {
        o.beta1 = fx.scalar("beta1");
        o.beta2 = fx.scalar("beta2");
        o.adamEpsilon = fx.scalar("adam_epsilon");
    }
    return o;
}

std::vector<std::uint8_t> labelsFrom(const Matrix& m, int classes) {
    std::vector<std::uint8_t> labels;
    for (Index i = 0; i < m.size(); ++i) {
        const float v = m.data()[i];
        EXPECT_TRUE(v >= 0 && v < float(classes) && v == std::floor(v)) << "label " << v;
        labels.push_back(std::uint8_t(v));
    }
    return labels;
}

::testing::AssertionResult stateNear(const std::string& what, const Matrix& actual, const Matrix& expected) {
    const double scale = std::max(1.0, expected.size() ? double(expected.cwiseAbs().maxCoeff()) : 0.0);
    return matricesNear(what, actual, expected, kStateRtol, kStateAtolPerScale * scale);
}

Matrix asRow(const engine::Vector& v) { return v.transpose(); }

std::set<std::string> fixtureNamesStartingWith(const Fixture& fx, const std::string& prefix) {
    std::set<std::string> out;
    for (const std::string& name : fx.names())
        if (name.rfind(prefix, 0) == 0) out.insert(name);
    return out;
}

void expectTrainingMatchesTorch(const GoldenCase& c) {
    const Fixture fx(c.file + ".txt");
    const int classes = int(fx.scalar("classes"));
    const int steps = int(fx.scalar("steps"));
    ASSERT_GT(steps, 0);

    BatchNormOptions bn;
    bn.momentum = fx.scalar("bn_momentum_keras");
    bn.epsilon = fx.scalar("bn_epsilon");
    Network net(c.spec, c.input, classes, bn, InitOptions{}, 1);

    // The engine builds the layers in the torch model's order.
    ASSERT_EQ(net.layers().size(), c.kinds.size());
    for (std::size_t i = 0; i < c.kinds.size(); ++i)
        ASSERT_EQ(net.layer(int(i)).kind(), c.kinds[i]) << "layer " << i << " (" << net.layerName(int(i)) << ")";

    // Every parameter takes torch's initial value; every init.* array of the fixture is used exactly once.
    std::set<std::string> unused = fixtureNamesStartingWith(fx, "init.");
    int dense = 0, conv = 0, norms = 0;
    for (const auto& layer : net.layers()) {
        if (auto* d = dynamic_cast<engine::Dense*>(layer.get())) {
            ASSERT_TRUE(d->hasBias());
            ++dense;
        } else if (auto* cv = dynamic_cast<engine::Conv2D*>(layer.get())) {
            ASSERT_TRUE(cv->hasBias());
            ++conv;
        } else if (auto* b = dynamic_cast<BatchNorm*>(layer.get())) {
            // torch's defaults, which the script keeps
            ASSERT_TRUE(b->runningMean().isZero(0)) << "running_mean starts at 0";
            ASSERT_TRUE((b->runningVar().array() == 1.0f).all()) << "running_var starts at 1";
            EXPECT_EQ(b->options().momentum, bn.momentum);
            EXPECT_EQ(b->options().epsilon, bn.epsilon);
            ++norms;
        }
    }
    for (engine::NamedParam& p : net.params()) {
        const std::string name = "init." + p.name;
        ASSERT_TRUE(fx.has(name)) << "no " << name << " in " << fx.path();
        const Matrix& value = fx.get(name);
        ASSERT_EQ(p.param.value->rows(), value.rows()) << name;
        ASSERT_EQ(p.param.value->cols(), value.cols()) << name;
        *p.param.value = value;
        unused.erase(name);
    }
    ASSERT_TRUE(unused.empty()) << "the engine has no parameter for " << *unused.begin();
    ASSERT_EQ(2 * (dense + conv + norms), int(net.params().size()));

    Optimizer optimizer(optimizerFrom(fx, c.optimizer));
    optimizer.bind(net.optimizerParams());
    engine::SoftmaxCrossEntropy loss;

    for (int k = 1; k <= steps; ++k) {
        const std::string s = std::to_string(k);
        const Matrix& x = fx.get("x_" + s);
        ASSERT_EQ(x.cols(), c.input.size());
        const std::vector<std::uint8_t> labels = labelsFrom(fx.get("labels_" + s), classes);
        const engine::StepResult r = engine::trainStep(net, loss, optimizer, x, labels);
        ASSERT_TRUE(r.finite) << "step " << k;
        const double expected = fx.scalar("loss_" + s);
        EXPECT_NEAR(r.loss, expected, kLossRtol * std::abs(expected)) << "loss of step " << k;
    }
    EXPECT_EQ(optimizer.stepCount(), steps);

    // Final parameters and running statistics; every final.* array of the fixture is compared.
    std::set<std::string> unchecked = fixtureNamesStartingWith(fx, "final.");
    for (engine::NamedParam& p : net.params()) {
        const std::string name = "final." + p.name;
        EXPECT_TRUE(stateNear(name, *p.param.value, fx.get(name)));
        unchecked.erase(name);
    }
    for (std::size_t i = 0; i < net.layers().size(); ++i) {
        auto* b = dynamic_cast<BatchNorm*>(net.layers()[i].get());
        if (!b) continue;
        const std::string prefix = "final." + net.layerName(int(i));
        EXPECT_TRUE(stateNear(prefix + ".running_mean", asRow(b->runningMean()), fx.get(prefix + ".running_mean")));
        EXPECT_TRUE(stateNear(prefix + ".running_var", asRow(b->runningVar()), fx.get(prefix + ".running_var")));
        unchecked.erase(prefix + ".running_mean");
        unchecked.erase(prefix + ".running_var");
    }
    EXPECT_TRUE(unchecked.empty()) << "not compared: " << *unchecked.begin();

    // Eval mode uses the running statistics: the logits of a recorded batch.
    const Matrix logits = net.forward(fx.get("x_eval"), Mode::Eval);
    EXPECT_TRUE(stateNear("logits_eval", logits, fx.get("logits_eval")));
}

}  // namespace

TEST(Golden, MlpSgdMatchesPyTorch) { expectTrainingMatchesTorch(mlpCase()); }

TEST(Golden, CnnAdamMatchesPyTorch) { expectTrainingMatchesTorch(cnnCase()); }

}  // namespace bnlab::test
