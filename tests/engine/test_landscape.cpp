// The loss-landscape measures (engine/landscape.h) against a direct computation on a tiny network: the gradient
// of each weight layer after the earlier layers took their SGD step by hand, and the gradient and loss along −∇L
// by hand; and the measures leave the network and the optimizer exactly as they were.

#include "gradient_check.h"

#include "error.h"
#include "landscape.h"
#include "network.h"
#include "optimizer.h"
#include "softmax_cross_entropy.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace bnlab::test {
namespace {

using engine::ActivationKind;
using engine::BatchNorm;
using engine::LandscapeRecord;
using engine::Matrix;
using engine::Mode;
using engine::NamedParam;
using engine::Network;
using engine::NormPlacement;
using engine::Optimizer;
using engine::OptimizerKind;
using engine::OptimizerOptions;
using engine::Shape;

const Shape kInput{6, 1, 1};
const std::vector<std::uint8_t> kLabels{0, 1, 2, 0, 1, 2, 2, 1};

// dense 5 sigmoid bn-before, dense 4 tanh, output 3: three weight layers, BN running statistics to keep.
Network tinyNetwork(bool noise) {
    engine::NetworkSpec spec{{engine::denseBlock(5, ActivationKind::Sigmoid, NormPlacement::Before),
                              engine::denseBlock(4, ActivationKind::Tanh)}};
    engine::BatchNormOptions bn;
    bn.noise = noise;
    Network net(spec, kInput, 3, bn, engine::InitOptions{}, 3);
    net.setStep(2);
    return net;
}

const Matrix& batch() {
    static const Matrix x = randomMatrix(8, 6, 300);
    return x;
}

// The weights set here by hand and by the engine may round differently in their last bit (the compiler may fuse
// w − lr·g into one instruction in one place and not in the other), so gradients are compared to 1e-5 relative.
constexpr double kRel = 1e-5;

// The loss and every parameter gradient at the network's current weights, from the given running statistics.
struct Evaluated {
    double loss = 0;
    std::vector<Matrix> grads;
};
Evaluated evaluate(Network& net, const std::vector<std::pair<engine::Vector, engine::Vector>>& running) {
    const std::vector<BatchNorm*> bns = net.batchNormLayers();
    for (std::size_t i = 0; i < bns.size(); ++i) {
        bns[i]->runningMean() = running[i].first;
        bns[i]->runningVar() = running[i].second;
    }
    engine::SoftmaxCrossEntropy ce;
    Evaluated e;
    e.loss = ce.forward(net.forward(batch(), Mode::Train), kLabels);
    net.backward(ce.backward());
    for (const NamedParam& p : net.params()) e.grads.push_back(*p.param.grad);
    return e;
}

std::vector<std::pair<engine::Vector, engine::Vector>> runningOf(Network& net) {
    std::vector<std::pair<engine::Vector, engine::Vector>> out;
    for (BatchNorm* bn : net.batchNormLayers()) out.emplace_back(bn->runningMean(), bn->runningVar());
    return out;
}

std::vector<Matrix> valuesOf(Network& net) {
    std::vector<Matrix> out;
    for (const NamedParam& p : net.params()) out.push_back(*p.param.value);
    return out;
}

void setValues(Network& net, const std::vector<Matrix>& values) {
    const std::vector<NamedParam> params = net.params();
    for (std::size_t i = 0; i < params.size(); ++i) *params[i].param.value = values[i];
}

double distance(const Matrix& a, const Matrix& b) { return (a.cast<double>() - b.cast<double>()).norm(); }

// The tiny network measured with plain SGD at learning rate lr, and what the by-hand computations start from: the
// weights w, the running statistics and the loss and gradients at w.
struct Measured {
    Network net;
    LandscapeRecord record;
    std::vector<std::pair<engine::Vector, engine::Vector>> running;
    std::vector<Matrix> w;
    Evaluated at;
    Measured(bool noise, float lr) : net(tinyNetwork(noise)) {
        OptimizerOptions sgd;
        sgd.learningRate = lr;
        Optimizer optimizer(sgd);
        optimizer.bind(net.optimizerParams());
        record = engine::measureLandscape(net, optimizer, batch(), kLabels);
        running = runningOf(net);
        w = valuesOf(net);
        at = evaluate(net, running);
    }
};

class Landscape : public ::testing::TestWithParam<bool> {};  // with and without BN noise

TEST_P(Landscape, ShiftOfEachWeightLayerEqualsTheGradientAfterTheEarlierLayersTookTheirStepByHand) {
    // By hand: G at w; for layer i, the layers before it at w − lr·G (plain SGD), the others at w.
    const float lr = 0.3f;
    Measured m(GetParam(), lr);
    auto& [net, r, running, w, at] = m;
    const std::vector<NamedParam> params = net.params();
    EXPECT_EQ(r.loss, at.loss);
    ASSERT_EQ(r.layers.size(), 3u);
    const char* names[] = {"dense1", "dense2", "output"};
    int checked = 0;
    for (std::size_t k = 0; k < 3; ++k) {
        SCOPED_TRACE(names[k]);
        EXPECT_EQ(r.layers[k].layer, names[k]);
        const int linear = net.blocks()[k].linear;
        std::size_t weight = 0;
        while (params[weight].layer != linear || params[weight].param.name != "weight") ++weight;
        std::vector<Matrix> moved = w;
        for (std::size_t i = 0; i < params.size(); ++i)
            if (params[i].layer < linear) moved[i] = w[i] - lr * at.grads[i];
        setValues(net, moved);
        const Evaluated shifted = evaluate(net, running);
        setValues(net, w);
        const Matrix& g = at.grads[weight];
        const Matrix& g2 = shifted.grads[weight];
        const double d = distance(g, g2);
        const double cosine = (g.cast<double>().array() * g2.cast<double>().array()).sum() /
                              (g.cast<double>().norm() * g2.cast<double>().norm());
        EXPECT_NEAR(r.layers[k].distance, d, kRel * g.cast<double>().norm());
        EXPECT_NEAR(r.layers[k].cosine, cosine, kRel);
        EXPECT_NEAR(r.layers[k].gradNorm, g.cast<double>().norm(), 1e-9);
        if (k == 0) {
            EXPECT_EQ(r.layers[k].distance, 0.0);  // nothing before the first layer moved
            EXPECT_EQ(d, 0.0);
        } else {
            EXPECT_GT(d, 1e-6);  // the earlier layers' step did change this layer's gradient
            ++checked;
        }
    }
    EXPECT_EQ(checked, 2);
}

TEST_P(Landscape, LossRangePredictivenessAndSmoothnessEqualTheStepsAlongTheGradientByHand) {
    Measured m(GetParam(), 0.5f);
    auto& [net, r, running, w, at] = m;
    double gradNorm = 0;
    for (const Matrix& g : at.grads) gradNorm += g.cast<double>().squaredNorm();
    gradNorm = std::sqrt(gradNorm);
    EXPECT_NEAR(r.gradNorm, gradNorm, 1e-9 * gradNorm);
    ASSERT_EQ(r.stepSizes.size(), engine::kLandscapeSteps.size());
    double lo = 1e300, hi = -1e300, predictiveness = 0, beta = 0;
    for (std::size_t k = 0; k < engine::kLandscapeSteps.size(); ++k) {
        const double eta = engine::kLandscapeSteps[k] * 0.5;
        EXPECT_DOUBLE_EQ(r.stepSizes[k], eta);
        std::vector<Matrix> moved = w;
        for (std::size_t i = 0; i < w.size(); ++i) moved[i] = w[i] - float(eta) * at.grads[i];
        setValues(net, moved);
        const Evaluated there = evaluate(net, running);
        setValues(net, w);
        double change = 0;
        for (std::size_t i = 0; i < w.size(); ++i) change += std::pow(distance(at.grads[i], there.grads[i]), 2);
        change = std::sqrt(change);
        EXPECT_NEAR(r.losses[k], there.loss, kRel * there.loss);
        EXPECT_NEAR(r.gradChanges[k], change, kRel * gradNorm);
        lo = std::min(lo, there.loss);
        hi = std::max(hi, there.loss);
        predictiveness = std::max(predictiveness, change);
        beta = std::max(beta, change / (eta * gradNorm));
    }
    EXPECT_NEAR(r.lossMin, lo, kRel * lo);
    EXPECT_NEAR(r.lossMax, hi, kRel * hi);
    EXPECT_NEAR(r.predictiveness, predictiveness, kRel * gradNorm);
    EXPECT_NEAR(r.betaSmoothness, beta, kRel * gradNorm / (engine::kLandscapeSteps[0] * 0.5 * gradNorm));
    EXPECT_LT(lo, hi);  // the grid does reach different losses
    EXPECT_GT(beta, 0.0);
}

TEST_P(Landscape, LeavesWeightsRunningStatisticsAndOptimizerStateExactlyAsTheyWere) {
    // Adam with weight decay, two steps in: moments and per-parameter step counts that a stray step would change.
    OptimizerOptions adam;
    adam.kind = OptimizerKind::Adam;
    adam.learningRate = 0.01f;
    adam.weightDecay = 1e-2f;
    Network measured = tinyNetwork(GetParam()), plain = tinyNetwork(GetParam());
    Optimizer a(adam), b(adam);
    a.bind(measured.optimizerParams());
    b.bind(plain.optimizerParams());
    engine::SoftmaxCrossEntropy ce;
    auto step = [&](Network& net, Optimizer& opt) {
        (void)ce.forward(net.forward(batch(), Mode::Train), kLabels);
        net.backward(ce.backward());
        opt.step();
    };
    for (int i = 0; i < 2; ++i) {
        step(measured, a);
        step(plain, b);
    }
    const std::vector<Matrix> before = valuesOf(measured);
    const auto runningBefore = runningOf(measured);
    (void)engine::measureLandscape(measured, a, batch(), kLabels);
    EXPECT_EQ(valuesOf(measured), before);
    EXPECT_EQ(runningOf(measured), runningBefore);
    EXPECT_EQ(a.stepCount(), 2);
    step(measured, a);
    step(plain, b);
    EXPECT_EQ(valuesOf(measured), valuesOf(plain));
    EXPECT_EQ(runningOf(measured), runningOf(plain));
}

INSTANTIATE_TEST_SUITE_P(NoiseOffAndOn, Landscape, ::testing::Bool());

}  // namespace
}  // namespace bnlab::test
