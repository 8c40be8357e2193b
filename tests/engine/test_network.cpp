// Network: small versions of both presets (an MLP of sigmoid blocks, a CNN of ReLU conv blocks), each with
// BN nowhere, before or after the activation. The loss gradient of every parameter and of the input is
// checked against finite differences (gradient_check.h); names, block structure, BN placement, seeding,
// non-finite detection and spec validation are checked directly.

#include "gradient_check.h"

#include "batch_norm.h"
#include "error.h"
#include "group_norm.h"
#include "network.h"
#include "network_spec.h"
#include "probes.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <set>
#include <string>
#include <vector>

namespace bnlab::test {
namespace {

using engine::ActivationKind;
using engine::BlockKind;
using engine::BlockSpec;
using engine::InitKind;
using engine::InitOptions;
using engine::Matrix;
using engine::Mode;
using engine::Network;
using engine::NetworkSpec;
using engine::NormKind;
using engine::NormPlacement;
using engine::Shape;

constexpr int kClasses = 3;
constexpr int kBatch = 6;
const Shape kMlpInput{12, 1, 1};
const Shape kCnnInput{1, 8, 8};
const std::vector<std::uint8_t> kLabels{0, 1, 2, 0, 1, 2};
const NormPlacement kPlacements[] = {NormPlacement::None, NormPlacement::Before, NormPlacement::After};

BlockSpec linear(BlockKind kind, int size, ActivationKind activation, NormPlacement norm, int kernel = 3) {
    BlockSpec b;
    b.kind = kind;
    b.size = size;
    b.kernel = kernel;
    b.activation = activation;
    b.norm = norm;
    return b;
}

BlockSpec block(BlockKind kind, int kernel = 2) {
    BlockSpec b;
    b.kind = kind;
    b.kernel = kernel;
    return b;
}

// dense 7 sigmoid, dense 5 sigmoid (the MLP preset, smaller)
bool bitIdentical(const Matrix& a, const Matrix& b) {
    return a.rows() == b.rows() && a.cols() == b.cols() &&
           std::memcmp(a.data(), b.data(), sizeof(float) * std::size_t(a.size())) == 0;
}

NetworkSpec mlpSpec(NormPlacement norm) {
    return {{linear(BlockKind::Dense, 7, ActivationKind::Sigmoid, norm),
             linear(BlockKind::Dense, 5, ActivationKind::Sigmoid, norm)}};
}

// conv 3 3x3 relu, conv 4 3x3 relu, maxpool 2, flatten, dense 6 relu (the CNN preset, smaller)
NetworkSpec cnnSpec(NormPlacement norm) {
    return {{linear(BlockKind::Conv2D, 3, ActivationKind::ReLU, norm),
             linear(BlockKind::Conv2D, 4, ActivationKind::ReLU, norm), block(BlockKind::MaxPool2D),
             block(BlockKind::Flatten), linear(BlockKind::Dense, 6, ActivationKind::ReLU, norm)}};
}

Network mlp(NormPlacement norm, std::uint64_t seed = 1) {
    return Network(mlpSpec(norm), kMlpInput, kClasses, {}, InitOptions{InitKind::Glorot, 1.0f}, seed);
}

Network cnn(NormPlacement norm, std::uint64_t seed = 1) {
    return Network(cnnSpec(norm), kCnnInput, kClasses, {}, InitOptions{InitKind::He, 1.0f}, seed);
}

// BN starts at γ = 1, β = 0 and biases at 0; other values make the check see every term.
void randomizeBiasesAndBatchNorm(Network& net, std::uint64_t seed) {
    for (const engine::NamedParam& p : net.params()) {
        const bool isBias = p.name.ends_with(".bias"), isGamma = p.name.ends_with(".gamma");
        if (isBias || p.name.ends_with(".beta"))
            *p.param.value = randomMatrix(1, p.param.value->cols(), seed++, -0.5, 0.5);
        if (isGamma) *p.param.value = randomMatrix(1, p.param.value->cols(), seed++, 0.5, 1.5);
    }
}

std::vector<std::string> layerNames(const Network& net) {
    std::vector<std::string> names;
    for (std::size_t i = 0; i < net.layers().size(); ++i) names.push_back(net.layerName(int(i)));
    return names;
}

std::vector<std::string> layerKinds(const Network& net) {
    std::vector<std::string> kinds;
    for (const auto& layer : net.layers()) kinds.push_back(layer->kind());
    return kinds;
}

std::vector<std::string> paramNames(Network& net) {
    std::vector<std::string> names;
    for (const engine::NamedParam& p : net.params()) names.push_back(p.name);
    return names;
}

// ---- Gradients ----------------------------------------------------------------------------------------

TEST(NetworkGradients, MlpMatchesFiniteDifferences) {
    for (NormPlacement norm : kPlacements) {
        SCOPED_TRACE("bn " + engine::toString(norm));
        Network net = mlp(norm);
        randomizeBiasesAndBatchNorm(net, 100);
        EXPECT_TRUE(networkGradientsMatch(net, randomMatrix(kBatch, kMlpInput.size(), 101), kLabels));
    }
}

TEST(NetworkGradients, CnnMatchesFiniteDifferences) {
    // h = 1e-3: with BN after ReLU, a dense unit that is positive for one or two of the 6 samples has a tiny
    // batch variance, and the loss curves so fast that a central difference at h = 1e-2 is off by 5%.
    // (At h = 1e-3 the rounding bound is ≈ 3e-4, still small next to these gradients.)
    GradientCheckOptions options;
    options.step = 1e-3;
    for (NormPlacement norm : kPlacements) {
        SCOPED_TRACE("bn " + engine::toString(norm));
        Network net = cnn(norm);
        randomizeBiasesAndBatchNorm(net, 200);
        EXPECT_TRUE(
            networkGradientsMatch(net, randomMatrix(kBatch, kCnnInput.size(), 201), kLabels, options));
    }
}

TEST(NetworkGradients, NoisyBatchNormMatchesFiniteDifferences) {
    engine::BatchNormOptions bn;
    bn.noise = true;
    for (NormPlacement norm : {NormPlacement::Before, NormPlacement::After}) {
        SCOPED_TRACE("bn " + engine::toString(norm));
        Network net(mlpSpec(norm), kMlpInput, kClasses, bn, InitOptions{InitKind::Glorot, 1.0f}, 1);
        net.setStep(4);
        randomizeBiasesAndBatchNorm(net, 110);
        EXPECT_TRUE(networkGradientsMatch(net, randomMatrix(kBatch, kMlpInput.size(), 111), kLabels));
    }
}

// ---- Structure and names ------------------------------------------------------------------------------

TEST(NetworkStructure, BatchNormNoiseFollowsEveryBatchNormLayerAndIsThePreActivation) {
    using Names = std::vector<std::string>;
    engine::BatchNormOptions bn;
    bn.noise = true;
    Network before(mlpSpec(NormPlacement::Before), kMlpInput, kClasses, bn, InitOptions{}, 1);
    EXPECT_EQ(layerNames(before), (Names{"dense1", "bn1", "noise1", "sigmoid1", "dense2", "bn2", "noise2", "sigmoid2",
                                         "output"}));
    EXPECT_EQ(before.layer(2).kind(), "bnnoise");
    EXPECT_EQ(before.blocks()[0].noise, 2);
    EXPECT_EQ(before.blocks()[0].preActivation, 2);  // the probes see the noisy distribution
    EXPECT_EQ(before.blocks()[1].noise, 6);
    Network after(mlpSpec(NormPlacement::After), kMlpInput, kClasses, bn, InitOptions{}, 1);
    EXPECT_EQ(layerNames(after), (Names{"dense1", "sigmoid1", "bn1", "noise1", "dense2", "sigmoid2", "bn2", "noise2",
                                        "output"}));
    EXPECT_EQ(after.blocks()[0].last, 3);
    // No BN, no noise; LayerNorm has no batch statistics to perturb.
    EXPECT_EQ(layerNames(Network(mlpSpec(NormPlacement::None), kMlpInput, kClasses, bn, InitOptions{}, 1)),
              (Names{"dense1", "sigmoid1", "dense2", "sigmoid2", "output"}));
    NetworkSpec layerNorm = mlpSpec(NormPlacement::Before);
    engine::setNormKind(layerNorm, NormKind::Layer);
    EXPECT_EQ(Network(layerNorm, kMlpInput, kClasses, bn, InitOptions{}, 1).layers().size(), 7u);
    // The weights do not depend on the noise: the same seed gives the same initial network.
    EXPECT_EQ(*before.params()[0].param.value, *mlp(NormPlacement::Before).params()[0].param.value);
    // BN with noise after it cannot be folded away mid-run.
    EXPECT_THROW(before.removeBatchNorm(0), ConfigError);
}


TEST(NetworkStructure, MlpLayerOrderFollowsTheBatchNormPlacement) {
    using Names = std::vector<std::string>;
    EXPECT_EQ(layerNames(mlp(NormPlacement::None)),
              (Names{"dense1", "sigmoid1", "dense2", "sigmoid2", "output"}));
    EXPECT_EQ(layerNames(mlp(NormPlacement::Before)),
              (Names{"dense1", "bn1", "sigmoid1", "dense2", "bn2", "sigmoid2", "output"}));
    EXPECT_EQ(layerKinds(mlp(NormPlacement::Before)),
              (Names{"dense", "batchnorm", "sigmoid", "dense", "batchnorm", "sigmoid", "dense"}));
    EXPECT_EQ(layerNames(mlp(NormPlacement::After)),
              (Names{"dense1", "sigmoid1", "bn1", "dense2", "sigmoid2", "bn2", "output"}));
    EXPECT_EQ(layerKinds(mlp(NormPlacement::After)),
              (Names{"dense", "sigmoid", "batchnorm", "dense", "sigmoid", "batchnorm", "dense"}));
}

void expectBlock(const engine::BlockInfo& b, const std::string& name, int linear, int norm, int activation,
                 int first, int last, int pre, int post) {
    SCOPED_TRACE(name);
    EXPECT_EQ(b.name, name);
    EXPECT_EQ(b.linear, linear);
    EXPECT_EQ(b.norm, norm);
    EXPECT_EQ(b.activation, activation);
    EXPECT_EQ(b.first, first);
    EXPECT_EQ(b.last, last);
    EXPECT_EQ(b.preActivation, pre);
    EXPECT_EQ(b.postActivation, post);
}

TEST(NetworkStructure, MlpBlocks) {
    Network before = mlp(NormPlacement::Before);
    ASSERT_EQ(before.blocks().size(), 3u);
    //          name      linear norm act first last pre post
    expectBlock(before.blocks()[0], "dense1", 0, 1, 2, 0, 2, 1, 2);  // pre-activation = BN output
    expectBlock(before.blocks()[1], "dense2", 3, 4, 5, 3, 5, 4, 5);
    expectBlock(before.blocks()[2], "output", 6, -1, -1, 6, 6, 6, 6);

    Network after = mlp(NormPlacement::After);
    ASSERT_EQ(after.blocks().size(), 3u);
    expectBlock(after.blocks()[0], "dense1", 0, 2, 1, 0, 2, 0, 1);  // BN after the activation
    expectBlock(after.blocks()[1], "dense2", 3, 5, 4, 3, 5, 3, 4);
    expectBlock(after.blocks()[2], "output", 6, -1, -1, 6, 6, 6, 6);

    Network none = mlp(NormPlacement::None);
    expectBlock(none.blocks()[0], "dense1", 0, -1, 1, 0, 1, 0, 1);
}

TEST(NetworkStructure, MlpParams) {
    Network net = mlp(NormPlacement::Before);
    EXPECT_EQ(paramNames(net), (std::vector<std::string>{
                                   "dense1.weight", "dense1.bias", "bn1.gamma", "bn1.beta", "dense2.weight",
                                   "dense2.bias", "bn2.gamma", "bn2.beta", "output.weight", "output.bias"}));
    for (const engine::NamedParam& p : net.params()) {
        SCOPED_TRACE(p.name);
        EXPECT_EQ(p.param.decay, p.name.ends_with(".weight"));  // no decay on biases, γ and β
        EXPECT_EQ(net.layerName(p.layer), p.name.substr(0, p.name.find('.')));
        EXPECT_EQ(p.param.value->rows(), p.param.grad->rows());
        EXPECT_EQ(p.param.value->cols(), p.param.grad->cols());
    }
    EXPECT_EQ(net.params()[0].param.value->rows(), 7);  // dense1.weight (7, 12)
    EXPECT_EQ(net.params()[0].param.value->cols(), 12);
    EXPECT_EQ(net.params()[2].param.value->cols(), 7);  // bn1.gamma (1, 7)
    EXPECT_EQ(net.params()[8].param.value->rows(), 3);  // output.weight (3, 5)
    EXPECT_EQ(net.params()[8].param.value->cols(), 5);

    std::vector<std::string> optimizerNames;
    for (const engine::Param& p : net.optimizerParams()) optimizerNames.push_back(p.name);
    EXPECT_EQ(optimizerNames, paramNames(net));
    EXPECT_EQ(net.batchNormLayerCount(), 2);
    EXPECT_EQ(net.batchNormLayers().size(), 2u);
    EXPECT_EQ(mlp(NormPlacement::None).batchNormLayerCount(), 0);
}

TEST(NetworkStructure, CnnLayersShapesAndBlocks) {
    Network net = cnn(NormPlacement::Before);
    EXPECT_EQ(layerKinds(net),
              (std::vector<std::string>{"conv2d", "batchnorm", "relu", "conv2d", "batchnorm", "relu",
                                        "maxpool2d", "flatten", "dense", "batchnorm", "relu", "dense"}));
    const std::vector<std::string> names = layerNames(net);
    ASSERT_EQ(names.size(), 12u);
    EXPECT_EQ(names[0], "conv1");
    EXPECT_EQ(names[1], "bn1");
    EXPECT_EQ(names[2], "relu1");  // activations are numbered per kind over the network, as BN layers are
    EXPECT_EQ(names[5], "relu2");
    EXPECT_EQ(names[10], "relu3");
    EXPECT_EQ(names[3], "conv2");
    EXPECT_EQ(names[4], "bn2");
    EXPECT_EQ(names[6], "pool1");
    EXPECT_EQ(names[7], "flatten1");
    EXPECT_EQ(names[8], "dense1");
    EXPECT_EQ(names[9], "bn3");
    EXPECT_EQ(names[11], "output");

    const Shape shapes[] = {{3, 6, 6}, {3, 6, 6},  {3, 6, 6}, {4, 4, 4}, {4, 4, 4}, {4, 4, 4},
                            {4, 2, 2}, {16, 1, 1}, {6, 1, 1}, {6, 1, 1}, {6, 1, 1}, {3, 1, 1}};
    for (std::size_t i = 0; i < 12; ++i) EXPECT_EQ(net.layer(int(i)).outputShape(), shapes[i]) << names[i];
    EXPECT_EQ(net.batchNormLayers()[0]->features(), 3);  // per channel

    std::vector<std::string> blockNames;
    for (const engine::BlockInfo& b : net.blocks()) blockNames.push_back(b.name);
    EXPECT_EQ(blockNames,
              (std::vector<std::string>{"conv1", "conv2", "pool1", "flatten1", "dense1", "output"}));
    expectBlock(net.blocks()[2], "pool1", -1, -1, -1, 6, 6, 6, 6);
    expectBlock(net.blocks()[4], "dense1", 8, 9, 10, 8, 10, 9, 10);

    const Matrix logits = net.forward(randomMatrix(kBatch, kCnnInput.size(), 300), Mode::Train);
    EXPECT_EQ(logits.rows(), kBatch);
    EXPECT_EQ(logits.cols(), kClasses);
}

// Layer names identify a layer in run files and in "diverged at <layer>": they must be unique.
TEST(NetworkStructure, LayerNamesAreUnique) {
    auto expectUnique = [](const Network& net, const std::string& what) {
        const std::vector<std::string> names = layerNames(net);
        const std::set<std::string> unique(names.begin(), names.end());
        std::string all;
        for (const std::string& n : names) all += n + " ";
        EXPECT_EQ(unique.size(), names.size()) << what << ": " << all;
    };
    for (NormPlacement norm : kPlacements) {
        expectUnique(mlp(norm), "mlp bn " + engine::toString(norm));
        expectUnique(cnn(norm), "cnn bn " + engine::toString(norm));
    }
}

// ---- Non-finite values and seeds ----------------------------------------------------------------------

TEST(Network, FirstNonFiniteLayerFindsTheLayerWithANaNWeight) {
    Network net = mlp(NormPlacement::Before);
    const Matrix x = randomMatrix(kBatch, kMlpInput.size(), 400);
    EXPECT_EQ(net.firstNonFiniteLayer(x, Mode::Train), -1);
    (*net.params()[4].param.value)(0, 0) = std::numeric_limits<float>::quiet_NaN();  // dense2.weight
    const engine::Vector runningMean = net.batchNormLayers()[0]->runningMean();
    EXPECT_EQ(net.firstNonFiniteLayer(x, Mode::Train), 3);  // dense2
    EXPECT_TRUE(bitIdentical(Matrix(net.batchNormLayers()[0]->runningMean()), Matrix(runningMean)))
        << "the running statistics are left as they were";

    Network conv = cnn(NormPlacement::After);
    const Matrix image = randomMatrix(kBatch, kCnnInput.size(), 401);
    EXPECT_EQ(conv.firstNonFiniteLayer(image, Mode::Eval), -1);
    Matrix infinite = image;
    infinite(2, 10) = std::numeric_limits<float>::infinity();
    EXPECT_EQ(conv.firstNonFiniteLayer(infinite, Mode::Eval), 0);  // conv1
}

// An infinity that the sigmoid after it maps to 1 (in place, over the Dense output) is still found where it
// appeared, not in a later layer or nowhere.
TEST(Network, FirstNonFiniteLayerSeesAnInfinityTheActivationOverwrote) {
    Network net = mlp(NormPlacement::None);
    Matrix x = randomMatrix(kBatch, kMlpInput.size(), 402);
    x(1, 3) = std::numeric_limits<float>::infinity();
    const Matrix& logits = net.forward(x, Mode::Train);
    EXPECT_TRUE(logits.allFinite()) << "the sigmoid hid the infinity from the layers after it";
    EXPECT_EQ(net.firstNonFiniteLayer(x, Mode::Train), 0);  // dense1
}

// The Network runs each activation in place on the Dense/Conv2D/BN output before it. Layer by layer out of
// place (every layer's forward on its own buffer) gives the same outputs and the same gradients, bit for bit.
TEST(Network, ActivationsInPlaceGiveTheSameOutputsAndGradients) {
    for (NormPlacement norm : kPlacements)
        for (bool conv : {false, true}) {
            SCOPED_TRACE(std::string(conv ? "cnn" : "mlp") + " norm " + std::to_string(int(norm)));
            Network inPlace = conv ? cnn(norm) : mlp(norm), separate = conv ? cnn(norm) : mlp(norm);
            const Matrix x = randomMatrix(kBatch, (conv ? kCnnInput : kMlpInput).size(), 410);
            std::vector<Matrix> expected;
            const Matrix* h = &x;
            for (const auto& layer : separate.layers()) expected.push_back(*(h = &layer->forward(*h, Mode::Train)));
            std::vector<Matrix> seen;
            const Matrix& logits = inPlace.forward(x, Mode::Train, [&](int layer, const Matrix& out) {
                EXPECT_EQ(layer, int(seen.size()));
                seen.push_back(out);
            });
            ASSERT_EQ(seen.size(), expected.size());
            for (std::size_t i = 0; i < seen.size(); ++i) {
                EXPECT_TRUE(bitIdentical(seen[i], expected[i])) << "layer " << i << " " << inPlace.layerName(int(i));
                // Every activation here follows a Dense, Conv2D or BN layer: each ran in place, on its buffer.
                if (inPlace.layers()[i]->canForwardInPlace()) {
                    EXPECT_EQ(&inPlace.layer(int(i)).output(), &inPlace.layer(int(i) - 1).output()) << inPlace.layerName(int(i));
                }
            }
            const Matrix dlogits = randomMatrix(kBatch, kClasses, 411);
            EXPECT_TRUE(bitIdentical(logits, expected.back()));
            inPlace.backward(dlogits);
            // The reference: each layer's own backward, on its own buffers, layer by layer.
            Matrix g = dlogits;
            for (std::size_t i = separate.layers().size() - 1; i > 0; --i) g = separate.layers()[i]->backward(g);
            separate.layers().front()->backwardParameters(g);
            const std::vector<engine::NamedParam> a = inPlace.params(), b = separate.params();
            ASSERT_EQ(a.size(), b.size());
            for (std::size_t i = 0; i < a.size(); ++i)
                EXPECT_TRUE(bitIdentical(*a[i].param.grad, *b[i].param.grad)) << a[i].name;
            // With BN after the ReLU, the pooling and the second convolution wrote their input gradients over
            // the BN outputs below them (Layer::canBackwardOver): those no longer hold the forward's values.
            for (std::size_t i = 1; i < seen.size(); ++i) {
                const bool over = inPlace.layers()[i]->canBackwardOver() && inPlace.layers()[i - 1]->outputMayBeOverwritten();
                EXPECT_EQ(over, conv && norm == NormPlacement::After && (i == 6 || i == 3)) << inPlace.layerName(int(i));
                if (over) {
                    EXPECT_FALSE(bitIdentical(inPlace.layer(int(i) - 1).output(), seen[i - 1])) << inPlace.layerName(int(i));
                }
            }
        }
}

// Without an observer, a ReLU followed by BN over channels is left to the BN (BatchNorm::forwardAfterRelu): the
// same logits and parameter gradients, bit for bit, as the forward an observer sees layer by layer, in Train
// and in Eval mode; the dense block's ReLU (BN over features) runs on its own.
// Maps of 6×6 and 4×4 (the 8×8 input), and of 5×5 and 3×3 (7×7): odd sizes leave a scalar tail after the
// vectorised loops, where a compiler's own choice of fused multiply-adds once made the two paths differ.
TEST(Network, AReluLeftToTheBatchNormAfterItGivesTheSameOutputsAndGradients) {
    for (const Shape input : {kCnnInput, Shape{1, 7, 7}})
    for (Mode mode : {Mode::Train, Mode::Eval}) {
        SCOPED_TRACE((mode == Mode::Train ? "train " : "eval ") + input.toString());
        auto make = [&] {
            return Network(cnnSpec(NormPlacement::After), input, kClasses, {}, InitOptions{InitKind::He, 1.0f}, 1);
        };
        Network fused = make(), separate = make();
        randomizeBiasesAndBatchNorm(fused, 430);
        randomizeBiasesAndBatchNorm(separate, 430);
        for (Network* net : {&fused, &separate})
            for (engine::BatchNorm* bn : net->batchNormLayers()) {
                bn->runningMean() = engine::Vector::Constant(bn->features(), 0.3f);
                bn->runningVar() = engine::Vector::Constant(bn->features(), 0.7f);
            }
        const Matrix x = randomMatrix(kBatch, input.size(), 431);
        const Matrix logits = fused.forward(x, mode);
        const Matrix expected = separate.forward(x, mode, [](int, const Matrix&) {});
        EXPECT_TRUE(bitIdentical(logits, expected));
        std::vector<std::string> left;
        for (int i = 0; i < int(fused.layers().size()); ++i) {
            EXPECT_EQ(fused.leftToNextLayer(i), fused.leavesToNextLayer(i)) << fused.layerName(i);
            EXPECT_FALSE(separate.leftToNextLayer(i)) << "an observer sees every layer: " << separate.layerName(i);
            if (fused.leftToNextLayer(i)) {
                left.push_back(fused.layerName(i));
                EXPECT_EQ(fused.layer(i).output().size(), 0) << fused.layerName(i);
            }
        }
        EXPECT_EQ(left, (std::vector<std::string>{"relu1", "relu2"}));
        // The statistics BN took through the ReLU, and the running ones it updated from them.
        EXPECT_TRUE(bitIdentical(Matrix(fused.batchNormLayers()[0]->batchMean().transpose()),
                                 Matrix(separate.batchNormLayers()[0]->batchMean().transpose())));
        EXPECT_TRUE(bitIdentical(Matrix(fused.batchNormLayers()[1]->runningVar().transpose()),
                                 Matrix(separate.batchNormLayers()[1]->runningVar().transpose())));
        const Matrix dlogits = randomMatrix(kBatch, kClasses, 432);
        fused.backward(dlogits);
        separate.backward(dlogits);
        const std::vector<engine::NamedParam> a = fused.params(), b = separate.params();
        ASSERT_EQ(a.size(), b.size());
        for (std::size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(bitIdentical(*a[i].param.grad, *b[i].param.grad)) << a[i].name;
    }
}

// A NaN before the ReLU stays NaN through BN, as through the ReLU layer (std::max(NaN, 0) is NaN): the loss is
// not finite and the run stops as diverged, instead of reading the NaN as 0.
TEST(Network, ANaNBeforeAReluLeftToTheBatchNormReachesTheLogits) {
    Network net = cnn(NormPlacement::After);
    (*net.params()[0].param.value)(1, 2) = std::numeric_limits<float>::quiet_NaN();  // conv1.weight
    ASSERT_TRUE(net.leavesToNextLayer(1)) << net.layerName(1);
    EXPECT_FALSE(net.forward(randomMatrix(kBatch, kCnnInput.size(), 433), Mode::Train).allFinite());
    EXPECT_TRUE(net.leftToNextLayer(1));
}

// The probes describe the value before the activation, which the activation then overwrote in place.
TEST(Network, ProbesSeeThePreActivationThatTheActivationOverwrote) {
    Network net = cnn(NormPlacement::None);
    randomizeBiasesAndBatchNorm(net, 420);
    engine::ProbeSnapshot snapshot;
    std::vector<std::vector<float>> scratch;
    engine::probeActivations(net, randomMatrix(kBatch, kCnnInput.size(), 421), snapshot, scratch);
    ASSERT_EQ(snapshot.activations.size(), 4u);  // conv1, conv2, dense1, output
    for (std::size_t k = 0; k < 3; ++k) {
        SCOPED_TRACE(snapshot.activations[k].block);
        const engine::Distribution &pre = snapshot.activations[k].pre, &post = snapshot.activations[k].post;
        EXPECT_LT(pre.histogramMin, 0.0f);  // the convolution's or dense layer's output has negative values
        EXPECT_GE(post.histogramMin, 0.0f);  // ReLU's has none
        EXPECT_LT(pre.mean, post.mean);
    }
}

TEST(Network, SameSeedSameWeightsOtherSeedOtherWeights) {
    for (bool convolutional : {false, true}) {
        SCOPED_TRACE(convolutional ? "cnn" : "mlp");
        Network a = convolutional ? cnn(NormPlacement::Before, 7) : mlp(NormPlacement::Before, 7);
        Network b = convolutional ? cnn(NormPlacement::Before, 7) : mlp(NormPlacement::Before, 7);
        Network c = convolutional ? cnn(NormPlacement::Before, 8) : mlp(NormPlacement::Before, 8);
        const auto pa = a.params(), pb = b.params(), pc = c.params();
        ASSERT_EQ(pa.size(), pb.size());
        ASSERT_EQ(pa.size(), pc.size());
        for (std::size_t i = 0; i < pa.size(); ++i) {
            SCOPED_TRACE(pa[i].name);
            EXPECT_TRUE(*pa[i].param.value == *pb[i].param.value);
            if (pa[i].name.ends_with(".weight")) {
                EXPECT_FALSE(*pa[i].param.value == *pc[i].param.value);
                EXPECT_GT(pa[i].param.value->cwiseAbs().maxCoeff(), 0.0f);
            }
        }
        const Matrix x = randomMatrix(kBatch, a.inputShape().size(), 402);
        const Matrix ya = a.forward(x, Mode::Train);
        EXPECT_TRUE(ya == b.forward(x, Mode::Train));
    }
}

// ---- Spec validation ----------------------------------------------------------------------------------

void expectConfigError(const NetworkSpec& spec, Shape input, const std::string& mentions) {
    try {
        engine::validate(spec, input);
        ADD_FAILURE() << "validate accepted a bad spec; expected an error mentioning '" << mentions << "'";
    } catch (const bnlab::ConfigError& e) {
        EXPECT_NE(std::string(e.what()).find(mentions), std::string::npos) << e.what();
    }
    EXPECT_THROW((void)Network(spec, input, kClasses, {}, {}, 1), bnlab::ConfigError);
}

TEST(NetworkSpecValidate, AcceptsThePresets) {
    for (NormPlacement norm : kPlacements) {
        EXPECT_NO_THROW(engine::validate(mlpSpec(norm), kMlpInput));
        EXPECT_NO_THROW(engine::validate(cnnSpec(norm), kCnnInput));
        EXPECT_NO_THROW(engine::validate(mlpSpec(norm), kCnnInput));  // dense on an image: rows are flat
    }
}

TEST(NetworkSpecValidate, RejectsBadBlocks) {
    const BlockSpec conv = linear(BlockKind::Conv2D, 2, ActivationKind::ReLU, NormPlacement::None);
    expectConfigError({{conv}}, kMlpInput, "block 1 (conv2d)");  // conv on a dense input
    expectConfigError({{block(BlockKind::Flatten), conv}}, kCnnInput, "block 2 (conv2d)");
    expectConfigError({{block(BlockKind::MaxPool2D)}}, kMlpInput, "block 1 (maxpool2d)");

    BlockSpec big = conv;
    big.kernel = 9;  // on 8x8
    expectConfigError({{big}}, kCnnInput, "block 1 (conv2d)");
    big.kernel = 8;  // fits exactly: 1x1 output
    EXPECT_NO_THROW(engine::validate({{big}}, kCnnInput));
    big.kernel = 10;
    big.padding = 1;  // 8 + 2 − 10 = 0: fits
    EXPECT_NO_THROW(engine::validate({{big}}, kCnnInput));
    expectConfigError({{conv, block(BlockKind::MaxPool2D, 7)}}, kCnnInput, "block 2 (maxpool2d)");  // 6x6

    expectConfigError({{linear(BlockKind::Dense, 0, ActivationKind::Sigmoid, NormPlacement::None)}},
                      kMlpInput, "block 1 (dense)");
    expectConfigError({{linear(BlockKind::Conv2D, 0, ActivationKind::ReLU, NormPlacement::None)}}, kCnnInput,
                      "block 1 (conv2d)");
    BlockSpec normedPool = block(BlockKind::MaxPool2D);
    normedPool.norm = NormPlacement::Before;
    expectConfigError({{normedPool}}, kCnnInput, "block 1 (maxpool2d)");
}

TEST(NetworkSpecValidate, NetworkNeedsTwoClasses) {
    EXPECT_THROW((void)Network(mlpSpec(NormPlacement::None), kMlpInput, 1, {}, {}, 1), bnlab::ConfigError);
}

// ---- Other norm kinds and Dropout -----------------------------------------------------------------------

NetworkSpec withKindAndDropout(NetworkSpec spec, NormKind kind, float dropout) {
    engine::setNormKind(spec, kind);  // Group: LayerNorm in dense blocks
    for (BlockSpec& b : spec.blocks)
        if (b.isLinear()) b.dropout = dropout;
    return spec;
}

TEST(NetworkNormKinds, LayersNamesAndBlocksFollowTheKindAndTheDropout) {
    Network mlpNet(withKindAndDropout(mlpSpec(NormPlacement::Before), NormKind::Layer, 0.5f), kMlpInput, kClasses, {},
                   {}, 1);
    EXPECT_EQ(layerNames(mlpNet), (std::vector<std::string>{"dense1", "ln1", "sigmoid1", "dropout1", "dense2", "ln2",
                                                            "sigmoid2", "dropout2", "output"}));
    EXPECT_EQ(layerKinds(mlpNet), (std::vector<std::string>{"dense", "layernorm", "sigmoid", "dropout", "dense",
                                                            "layernorm", "sigmoid", "dropout", "dense"}));
    const engine::BlockInfo& first = mlpNet.blocks()[0];
    EXPECT_EQ(first.norm, 1);
    EXPECT_EQ(first.preActivation, 1);
    EXPECT_EQ(first.postActivation, 2);  // the probes read the activation, before Dropout
    EXPECT_EQ(first.dropout, 3);
    EXPECT_EQ(first.last, 3);
    EXPECT_EQ(mlpNet.blocks().back().dropout, -1);  // never in the output block
    EXPECT_EQ(mlpNet.batchNormLayerCount(), 0);

    // Group after the activation: conv blocks of 3 and 4 channels get 3 and 4 groups (at most 32), and 1 and 2
    // with at most 2; the dense block gets LayerNorm (a GroupNorm of one group).
    engine::BatchNormOptions options;
    for (const int maxGroups : {32, 2}) {
        options.groups = maxGroups;
        Network cnnNet(withKindAndDropout(cnnSpec(NormPlacement::After), NormKind::Group, 0.25f), kCnnInput, kClasses,
                       options, {}, 1);
        std::vector<int> groups;
        for (const auto& layer : cnnNet.layers())
            if (auto* gn = dynamic_cast<engine::GroupNorm*>(layer.get())) groups.push_back(gn->groups());
        EXPECT_EQ(groups, (maxGroups == 32 ? std::vector<int>{3, 4, 1} : std::vector<int>{1, 2, 1}));
        EXPECT_EQ(layerNames(cnnNet)[2], "gn1");
        EXPECT_EQ(layerNames(cnnNet)[3], "dropout1");
        EXPECT_EQ(layerNames(cnnNet)[12], "ln1");
    }

    Network renorm(withKindAndDropout(mlpSpec(NormPlacement::After), NormKind::Renorm, 0), kMlpInput, kClasses, {}, {},
                   1);
    EXPECT_EQ(layerNames(renorm), (std::vector<std::string>{"dense1", "sigmoid1", "brn1", "dense2", "sigmoid2", "brn2",
                                                            "output"}));
    ASSERT_EQ(renorm.batchNormLayerCount(), 2);  // batch statistics: probed and refused at batch size 1 as BN
    EXPECT_TRUE(renorm.batchNormLayers()[0]->renormalizes());
}

TEST(NetworkNormKinds, GradientsMatchFiniteDifferencesWithLayerAndGroupNormAndDropout) {
    GradientCheckOptions options;
    options.step = 1e-3;  // as for the CNN with BN above
    engine::BatchNormOptions norms;
    norms.groups = 2;  // groups of several channels or features (one value per group would normalise to 0)
    for (const NormKind kind : {NormKind::Layer, NormKind::Group}) {
        for (const NormPlacement norm : {NormPlacement::Before, NormPlacement::After}) {
            SCOPED_TRACE(engine::toString(kind) + " " + engine::toString(norm));
            // Dropout's mask is a function of the step, the same in every forward of the check.
            Network a(withKindAndDropout(mlpSpec(norm), kind, 0.3f), kMlpInput, kClasses, norms, {}, 3);
            randomizeBiasesAndBatchNorm(a, 400);
            EXPECT_TRUE(networkGradientsMatch(a, randomMatrix(kBatch, kMlpInput.size(), 401), kLabels));
            Network b(withKindAndDropout(cnnSpec(norm), kind, 0.3f), kCnnInput, kClasses, norms,
                      InitOptions{InitKind::He, 1.0f}, 3);
            randomizeBiasesAndBatchNorm(b, 402);
            EXPECT_TRUE(networkGradientsMatch(b, randomMatrix(kBatch, kCnnInput.size(), 403), kLabels, options));
        }
    }
}

TEST(NetworkNormKinds, DropoutIsTheIdentityInEvalAndDrawsPerStepInTraining) {
    const NetworkSpec spec = withKindAndDropout(mlpSpec(NormPlacement::None), NormKind::Batch, 0.5f);
    Network with(spec, kMlpInput, kClasses, {}, {}, 5);
    Network without(mlpSpec(NormPlacement::None), kMlpInput, kClasses, {}, {}, 5);  // the same weights
    const Matrix x = randomMatrix(kBatch, kMlpInput.size(), 404);
    EXPECT_EQ(Matrix(with.forward(x, Mode::Eval)), Matrix(without.forward(x, Mode::Eval)));
    const Matrix step0 = with.forward(x, Mode::Train);
    EXPECT_EQ(Matrix(with.forward(x, Mode::Train)), step0);
    with.setStep(1);
    EXPECT_NE(Matrix(with.forward(x, Mode::Train)), step0);
    Network otherSeed(spec, kMlpInput, kClasses, {}, {}, 6);
    Network sameSeed(spec, kMlpInput, kClasses, {}, {}, 5);
    EXPECT_EQ(Matrix(sameSeed.forward(x, Mode::Train)), step0);
    EXPECT_NE(Matrix(otherSeed.forward(x, Mode::Train)), step0);
}

TEST(NetworkNormKinds, BadDropoutRatesAreConfigErrorsNamingTheBlock) {
    for (const float p : {-0.1f, 1.0f, std::numeric_limits<float>::quiet_NaN()}) {
        NetworkSpec spec = mlpSpec(NormPlacement::None);
        spec.blocks[1].dropout = p;
        try {
            engine::validate(spec, kMlpInput);
            ADD_FAILURE() << "dropout " << p << " accepted";
        } catch (const bnlab::ConfigError& e) {
            EXPECT_NE(std::string(e.what()).find("block 2"), std::string::npos) << e.what();
            EXPECT_NE(std::string(e.what()).find("dropout"), std::string::npos) << e.what();
        }
    }
    NetworkSpec pool = cnnSpec(NormPlacement::None);
    pool.blocks[2].dropout = 0.5f;  // the max-pool block
    EXPECT_THROW(engine::validate(pool, kCnnInput), bnlab::ConfigError);
}

TEST(NetworkNormKinds, GroupNormInADenseBlockIsAConfigErrorSuggestingLayerNorm) {
    NetworkSpec spec = cnnSpec(NormPlacement::Before);
    spec.blocks[4].normKind = NormKind::Group;
    try {
        engine::validate(spec, kCnnInput);
        ADD_FAILURE() << "accepted";
    } catch (const bnlab::ConfigError& e) {
        EXPECT_NE(std::string(e.what()).find("block 5 (dense)"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("norm_kind layer"), std::string::npos) << e.what();
    }
    spec.blocks[4].norm = NormPlacement::None;  // a kind without a placement is no layer
    EXPECT_NO_THROW(engine::validate(spec, kCnnInput));
}

}  // namespace
}  // namespace bnlab::test
