// Every layer kind: a forward pass checkable by hand, a finite-difference check of the input gradient and
// of every parameter gradient (gradient_check.h states the criterion), and bad shapes that must throw.
// At the end: parallel and serial runs must give bit-identical results.

#include "gradient_check.h"

#include "activation.h"
#include "batch_norm.h"
#include "bn_noise.h"
#include "conv2d.h"
#include "dense.h"
#include "dropout.h"
#include "error.h"
#include "flatten.h"
#include "group_norm.h"
#include "max_pool2d.h"
#include "parallel.h"
#include "softmax_cross_entropy.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <vector>

namespace bnlab::test {
namespace {

using engine::Activation;
using engine::ActivationKind;
using engine::BatchNorm;
using engine::BatchNormNoise;
using engine::BatchNormOptions;
using engine::Conv2D;
using engine::Dense;
using engine::Dropout;
using engine::Flatten;
using engine::GroupNorm;
using engine::Index;
using engine::Layer;
using engine::Matrix;
using engine::MaxPool2D;
using engine::Mode;
using engine::Shape;
using engine::Vector;
using engine::SoftmaxCrossEntropy;

constexpr float kTol = 1e-5f;  // hand-computed forward values: float32 rounding of a few operations

Matrix row(std::initializer_list<float> values) {
    Matrix m(1, Index(values.size()));
    Index i = 0;
    for (float v : values) m(0, i++) = v;
    return m;
}

Matrix rows(Index n, Index cols, std::initializer_list<float> values) {
    Matrix m = row(values);
    return Matrix(Eigen::Map<Matrix>(m.data(), n, cols));
}

void expectNear(const Matrix& actual, const Matrix& expected, float tol = kTol) {
    ASSERT_EQ(actual.rows(), expected.rows());
    ASSERT_EQ(actual.cols(), expected.cols());
    for (Index i = 0; i < expected.size(); ++i)
        EXPECT_NEAR(actual.data()[i], expected.data()[i], tol) << "at flat index " << i;
}

bool bitIdentical(const Matrix& a, const Matrix& b) {
    return a.rows() == b.rows() && a.cols() == b.cols() &&
           std::memcmp(a.data(), b.data(), std::size_t(a.size()) * sizeof(float)) == 0;
}

// Fills every parameter with values in [lo, hi): FD checks need non-trivial weights, biases, γ and β.
void randomizeParams(Layer& layer, std::uint64_t seed, double lo = -1.0, double hi = 1.0) {
    for (const engine::Param& p : layer.params()) {
        *p.value = randomMatrix(p.value->rows(), p.value->cols(), seed++, lo, hi);
    }
}

// Forward with one column too many or too few throws; backward with a gradient of the wrong width or the
// wrong number of samples throws; the right shapes work.
void expectShapeChecks(Layer& layer, const Matrix& input, Mode mode = Mode::Train) {
    SCOPED_TRACE(layer.kind());
    EXPECT_THROW((void)layer.forward(Matrix::Zero(input.rows(), input.cols() + 1), mode), bnlab::Error);
    EXPECT_THROW((void)layer.forward(Matrix::Zero(input.rows(), input.cols() - 1), mode), bnlab::Error);
    const Index n = layer.forward(input, mode).rows(), out = layer.outputShape().size();
    EXPECT_THROW((void)layer.backward(Matrix::Zero(n, out + 1)), bnlab::Error);
    EXPECT_THROW((void)layer.backward(Matrix::Zero(n, out - 1)), bnlab::Error);
    EXPECT_THROW((void)layer.backward(Matrix::Zero(n + 1, out)), bnlab::Error);
    EXPECT_NO_THROW((void)layer.backward(Matrix::Zero(n, out)));
}

// ---- The checker itself ---------------------------------------------------------------------------------

// y = x ⊙ w per feature, with a bug that can be switched on: dw forgets the last sample.
class Scale final : public Layer {
public:
    Scale(int features, bool buggy) : Layer(Shape{features, 1, 1}), m_buggy(buggy) {
        m_weight = randomMatrix(1, features, 5, 0.5, 1.5);
        m_weightGrad = Matrix::Zero(1, features);
    }
    std::string kind() const override { return "scale"; }
    Shape outputShape() const override { return m_inputShape; }
    const Matrix& forward(const Matrix& input, Mode) override {
        m_input = &input;
        m_output = input.array().rowwise() * m_weight.row(0).array();
        return m_output;
    }
    const Matrix& backward(const Matrix& dy) override {
        m_gradInput = dy.array().rowwise() * m_weight.row(0).array();
        const Index n = m_buggy ? dy.rows() - 1 : dy.rows();
        m_weightGrad = (dy.topRows(n).array() * m_input->topRows(n).array()).colwise().sum();
        return m_gradInput;
    }
    std::vector<engine::Param> params() override { return {{"weight", &m_weight, &m_weightGrad, true}}; }

private:
    bool m_buggy;
    Matrix m_weight, m_weightGrad;  // (1, F)
    const Matrix* m_input = nullptr;
};

TEST(GradientCheck, PassesACorrectLayerAndCatchesAWrongGradient) {
    Scale good(4, false), bad(4, true);
    const Matrix x = randomMatrix(5, 4, 6);
    EXPECT_TRUE(layerGradientsMatch(good, x));
    const ::testing::AssertionResult result = layerGradientsMatch(bad, x);
    EXPECT_FALSE(result);
    EXPECT_NE(std::string(result.message()).find("weight:"), std::string::npos) << result.message();
    EXPECT_EQ(std::string(result.message()).find("input:"), std::string::npos) << result.message();
}

TEST(GradientCheck, RefusesAReluInputNextToTheKink) {
    Activation relu(Shape{3, 1, 1}, ActivationKind::ReLU);
    const ::testing::AssertionResult result = layerGradientsMatch(relu, row({0.5f, -0.7f, 0.004f}));
    EXPECT_FALSE(result);
    EXPECT_NE(std::string(result.message()).find("kink"), std::string::npos) << result.message();
}

// ---- Dense ----------------------------------------------------------------------------------------------

TEST(Dense, ForwardByHand) {
    Dense dense(Shape{3, 1, 1}, 2);
    dense.weight() = rows(2, 3, {1, 2, 3, 4, 5, 6});
    dense.bias() = row({0.5f, -1});
    const Matrix x = rows(2, 3, {1, 0, -1, 2, 1, 0});
    // y = x·Wᵀ + b: (1 − 3 + 0.5, 4 − 6 − 1) and (2 + 2 + 0.5, 8 + 5 − 1)
    expectNear(dense.forward(x, Mode::Train), rows(2, 2, {-1.5f, -3, 4.5f, 12}));
    EXPECT_EQ(dense.outputShape(), (Shape{2, 1, 1}));
    EXPECT_EQ(dense.kind(), "dense");
    // dy = 1: dx = Σ_o W[o, :], dW = Σ_n x[n, :] per row, db = N
    expectNear(dense.backward(Matrix::Ones(2, 2)), rows(2, 3, {5, 7, 9, 5, 7, 9}));
    expectNear(dense.weightGrad(), rows(2, 3, {3, 1, -1, 3, 1, -1}));
    expectNear(dense.biasGrad(), row({2, 2}));
}

TEST(Dense, GradientsMatchFiniteDifferences) {
    Dense dense(Shape{5, 1, 1}, 4);
    randomizeParams(dense, 1);
    EXPECT_TRUE(layerGradientsMatch(dense, randomMatrix(3, 5, 2)));
    // 40 samples and 17 outputs: two chunks of samples and two of features.
    Dense chunked(Shape{3, 1, 1}, 17);
    randomizeParams(chunked, 7);
    EXPECT_TRUE(layerGradientsMatch(chunked, randomMatrix(40, 3, 8)));
}

TEST(Dense, WithoutBiasHasOnlyAWeight) {
    Dense dense(Shape{4, 1, 1}, 3, /*useBias=*/false);
    ASSERT_EQ(dense.params().size(), 1u);
    EXPECT_EQ(dense.params()[0].name, "weight");
    randomizeParams(dense, 3);
    dense.bias().setConstant(7);  // unused: must not reach the output
    const Matrix x = randomMatrix(2, 4, 4);
    const Matrix expected = x * dense.weight().transpose();
    expectNear(dense.forward(x, Mode::Train), expected);
    EXPECT_TRUE(layerGradientsMatch(dense, x));
}

TEST(Dense, BadShapesThrow) {
    Dense dense(Shape{4, 1, 1}, 3);
    expectShapeChecks(dense, randomMatrix(2, 4, 5));
}

// ---- Conv2D -------------------------------------------------------------------------------------------

TEST(Conv2D, ForwardByHandOneChannel) {
    Conv2D conv(Shape{1, 3, 3}, 1, 2);
    conv.weight() = row({1, 2, 3, 4});
    conv.bias() = row({0.5f});
    // x = 1..9 as a 3x3 image; y(0, 0) = 1·1 + 2·2 + 3·4 + 4·5 + 0.5
    const Matrix x = row({1, 2, 3, 4, 5, 6, 7, 8, 9});
    EXPECT_EQ(conv.outputShape(), (Shape{1, 2, 2}));
    expectNear(conv.forward(x, Mode::Train), row({37.5f, 47.5f, 67.5f, 77.5f}));
}

TEST(Conv2D, ForwardByHandStride2Pad1) {
    Conv2D conv(Shape{1, 3, 3}, 1, 3, /*stride=*/2, /*padding=*/1);
    conv.weight().setOnes();
    // Windows centred on the corners: each sums the 2x2 block of the image in that corner.
    const Matrix x = row({1, 2, 3, 4, 5, 6, 7, 8, 9});
    EXPECT_EQ(conv.outputShape(), (Shape{1, 2, 2}));
    expectNear(conv.forward(x, Mode::Train), row({12, 16, 24, 28}));
    // Backward with dy = 1: each input counts the windows that read it (the centre all four).
    expectNear(conv.backward(Matrix::Ones(1, 4)), row({1, 2, 1, 2, 4, 2, 1, 2, 1}));
    expectNear(conv.weightGrad(), row({5, 10, 5, 10, 20, 10, 5, 10, 5}));
    expectNear(conv.biasGrad(), row({4}));
}

TEST(Conv2D, ForwardByHandTwoChannelsTwoFilters) {
    Conv2D conv(Shape{2, 2, 2}, 2, 1);
    // W (F, C·k·k): filter 0 = 1·c0 + 0.5·c1, filter 1 = −1·c0
    conv.weight() = rows(2, 2, {1, 0.5f, -1, 0});
    conv.bias() = row({0, 1});
    const Matrix x = row({1, 2, 3, 4, 10, 20, 30, 40});  // c0 then c1, each 2x2
    expectNear(conv.forward(x, Mode::Train), row({6, 12, 18, 24, 0, -1, -2, -3}));
}

struct ConvCase {
    Shape input;
    int filters, kernel, stride, padding;
    Index samples = 2;
};

TEST(Conv2D, GradientsMatchFiniteDifferences) {
    const ConvCase cases[] = {
        {{1, 5, 5}, 2, 3, 1, 0},      // stride 1, pad 0
        {{2, 5, 5}, 3, 3, 2, 1},      // stride 2, pad 1, multi-channel
        {{3, 4, 4}, 2, 2, 1, 0},      // multi-channel, even kernel
        {{2, 6, 6}, 2, 3, 2, 0},      // the last row and column are read by no window: zero gradient
        {{2, 4, 5}, 2, 2, 2, 1},      // non-square, padding on every side
        {{1, 4, 4}, 2, 3, 1, 0, 10},  // 10 samples: two chunks, whose partial dW and db are summed
    };
    std::uint64_t seed = 10;
    for (const ConvCase& c : cases) {
        SCOPED_TRACE(c.input.toString() + " filters " + std::to_string(c.filters) + " kernel " +
                     std::to_string(c.kernel) + " stride " + std::to_string(c.stride) + " pad " +
                     std::to_string(c.padding));
        Conv2D conv(c.input, c.filters, c.kernel, c.stride, c.padding);
        randomizeParams(conv, seed++);
        EXPECT_TRUE(layerGradientsMatch(conv, randomMatrix(c.samples, c.input.size(), seed++)));
    }
}

TEST(Conv2D, BadShapesThrow) {
    Conv2D conv(Shape{2, 4, 4}, 3, 3, 1, 1);
    expectShapeChecks(conv, randomMatrix(2, 32, 6));
}

// ---- MaxPool2D ----------------------------------------------------------------------------------------

TEST(MaxPool2D, ForwardByHand2x2) {
    MaxPool2D pool(Shape{2, 4, 4}, 2);
    EXPECT_EQ(pool.outputShape(), (Shape{2, 2, 2}));
    // channel 0: 0..15 (max at each window's bottom right); channel 1: 15..0 (max at top left)
    Matrix x(1, 32);
    for (Index i = 0; i < 16; ++i) x(0, i) = float(i), x(0, 16 + i) = float(15 - i);
    expectNear(pool.forward(x, Mode::Train), row({5, 7, 13, 15, 15, 13, 7, 5}));
    Matrix expected = Matrix::Zero(1, 32);
    expected(0, 5) = 1, expected(0, 7) = 2, expected(0, 13) = 3, expected(0, 15) = 4;
    expected(0, 16) = 5, expected(0, 18) = 6, expected(0, 24) = 7, expected(0, 26) = 8;
    expectNear(pool.backward(row({1, 2, 3, 4, 5, 6, 7, 8})), expected);
}

TEST(MaxPool2D, ForwardByHand3x3Stride2Overlapping) {
    MaxPool2D pool(Shape{1, 5, 5}, 3, 2);
    EXPECT_EQ(pool.outputShape(), (Shape{1, 2, 2}));
    Matrix x(1, 25);
    for (Index i = 0; i < 25; ++i) x(0, i) = float(i);
    expectNear(pool.forward(x, Mode::Train), row({12, 14, 22, 24}));
    // The centre (2, 2) is the largest: all four overlapping windows pick it and its gradients add up.
    x(0, 12) = 100;
    expectNear(pool.forward(x, Mode::Train), row({100, 100, 100, 100}));
    Matrix expected = Matrix::Zero(1, 25);
    expected(0, 12) = 10;
    expectNear(pool.backward(row({1, 2, 3, 4})), expected);
}

TEST(MaxPool2D, TiesGoToTheFirstMaximum) {
    MaxPool2D pool(Shape{1, 2, 2}, 2);
    const Matrix x = row({3, 3, 3, 3});
    expectNear(pool.forward(x, Mode::Train), row({3}));
    expectNear(pool.backward(row({1})), row({1, 0, 0, 0}));
}

TEST(MaxPool2D, GradientsMatchFiniteDifferences) {
    MaxPool2D pool(Shape{2, 4, 4}, 2);
    EXPECT_TRUE(layerGradientsMatch(pool, distinctValues(3, 32, 20)));
    MaxPool2D overlapping(Shape{2, 5, 5}, 3, 2);
    EXPECT_TRUE(layerGradientsMatch(overlapping, distinctValues(3, 50, 21)));
    MaxPool2D chunked(Shape{1, 4, 4}, 2);  // 17 samples: two chunks
    EXPECT_TRUE(layerGradientsMatch(chunked, distinctValues(17, 16, 23)));
}

TEST(MaxPool2D, BadShapesThrow) {
    MaxPool2D pool(Shape{2, 4, 4}, 2);
    expectShapeChecks(pool, distinctValues(2, 32, 22));
}

// ---- Flatten ------------------------------------------------------------------------------------------

TEST(Flatten, ForwardKeepsTheRowsAndFlattensTheShape) {
    Flatten flatten(Shape{2, 3, 4});
    EXPECT_EQ(flatten.outputShape(), (Shape{24, 1, 1}));
    const Matrix x = randomMatrix(3, 24, 30);
    EXPECT_TRUE(flatten.forward(x, Mode::Train) == x);
    const Matrix dy = randomMatrix(3, 24, 31);
    EXPECT_TRUE(flatten.backward(dy) == dy);
}

TEST(Flatten, GradientsMatchFiniteDifferences) {
    Flatten flatten(Shape{2, 2, 2});
    EXPECT_TRUE(layerGradientsMatch(flatten, randomMatrix(2, 8, 32)));
}

TEST(Flatten, BadShapesThrow) {
    Flatten flatten(Shape{2, 3, 4});
    expectShapeChecks(flatten, randomMatrix(2, 24, 33));
}

// ---- In-place backward --------------------------------------------------------------------------------

// The Network hands the element-wise layers a gradient they may write over (Layer::backwardInPlace): the result
// must be backward()'s, bit for bit, after Train and Eval forwards, on dense and convolutional shapes.
void expectInPlaceBackwardIsBackward(Layer& layer, const Matrix& x, Mode mode, const std::string& what) {
    SCOPED_TRACE(what);
    const Matrix y = layer.forward(x, mode);
    const Matrix dy = randomMatrix(y.rows(), y.cols(), 77);
    const Matrix dx = layer.backward(dy);
    std::vector<Matrix> paramGrads;
    for (const auto& p : layer.params()) paramGrads.push_back(*p.grad);
    Matrix buffer = dy;
    const float* storage = buffer.data();
    const Matrix& inPlace = layer.backwardInPlace(buffer);
    EXPECT_EQ(&inPlace, &buffer) << "the gradient is written over the one handed in";
    EXPECT_EQ(buffer.data(), storage) << "no new buffer";
    ASSERT_EQ(inPlace.rows(), dx.rows());
    ASSERT_EQ(inPlace.cols(), dx.cols());
    EXPECT_EQ(std::memcmp(inPlace.data(), dx.data(), sizeof(float) * std::size_t(dx.size())), 0);
    const auto params = layer.params();
    for (std::size_t i = 0; i < params.size(); ++i)
        EXPECT_TRUE(*params[i].grad == paramGrads[i]) << params[i].name;
}

TEST(InPlaceBackward, EqualsBackwardBitForBit) {
    const Shape dense{6, 1, 1}, conv{3, 4, 5};
    for (Shape shape : {dense, conv}) {
        const Matrix x = randomMatrix(5, shape.size(), 70);
        const std::string at = " on " + shape.toString();
        for (ActivationKind kind : {ActivationKind::ReLU, ActivationKind::Sigmoid, ActivationKind::Tanh}) {
            Activation a(shape, kind);
            expectInPlaceBackwardIsBackward(a, x, Mode::Train, a.kind() + at);
        }
        for (bool renorm : {false, true})
            for (Mode mode : {Mode::Train, Mode::Eval}) {
                BatchNorm bn(shape, BatchNormOptions{}, renorm);
                bn.forward(randomMatrix(5, shape.size(), 71), Mode::Train);  // running statistics not the defaults
                bn.gamma() = randomMatrix(1, shape.c, 72);
                expectInPlaceBackwardIsBackward(bn, x, mode, bn.kind() + (mode == Mode::Train ? " train" : " eval") + at);
            }
        for (Mode mode : {Mode::Train, Mode::Eval}) {
            Dropout dropout(shape, 0.4f, 9);
            expectInPlaceBackwardIsBackward(dropout, x, mode, "dropout" + at);
            BatchNormNoise noise(shape, 1.0f, 2.0f, 9);
            expectInPlaceBackwardIsBackward(noise, x, mode, "bnnoise" + at);
        }
    }
}

// ---- Activations --------------------------------------------------------------------------------------

TEST(Activation, ForwardByHand) {
    Activation relu(Shape{3, 1, 1}, ActivationKind::ReLU);
    EXPECT_EQ(relu.kind(), "relu");
    expectNear(relu.forward(row({-1, 0, 2}), Mode::Train), row({0, 0, 2}));
    expectNear(relu.backward(row({5, 6, 7})), row({0, 0, 7}));

    Activation sigmoid(Shape{2, 1, 1}, ActivationKind::Sigmoid);
    EXPECT_EQ(sigmoid.kind(), "sigmoid");
    // σ(0) = 1/2, σ(ln 3) = 3/4; σ' = σ(1 − σ) = 1/4, 3/16
    expectNear(sigmoid.forward(row({0, std::log(3.0f)}), Mode::Train), row({0.5f, 0.75f}));
    expectNear(sigmoid.backward(row({1, 1})), row({0.25f, 0.1875f}));

    Activation tanh(Shape{2, 1, 1}, ActivationKind::Tanh);
    EXPECT_EQ(tanh.kind(), "tanh");
    // tanh(½ ln 3) = (3 − 1)/(3 + 1) = 1/2; tanh' = 1 − y² = 1, 3/4
    expectNear(tanh.forward(row({0, 0.5f * std::log(3.0f)}), Mode::Train), row({0, 0.5f}));
    expectNear(tanh.backward(row({1, 1})), row({1, 0.75f}));
}

TEST(Activation, SigmoidSaturatesWithoutNaN) {
    Activation sigmoid(Shape{2, 1, 1}, ActivationKind::Sigmoid);
    expectNear(sigmoid.forward(row({-200, 200}), Mode::Train), row({0, 1}));
    expectNear(sigmoid.backward(row({1, 1})), row({0, 0}));
}

TEST(Activation, GradientsMatchFiniteDifferences) {
    Activation relu(Shape{2, 3, 3}, ActivationKind::ReLU);
    EXPECT_TRUE(layerGradientsMatch(relu, awayFromZero(3, 18, 40)));
    Activation sigmoid(Shape{6, 1, 1}, ActivationKind::Sigmoid);
    EXPECT_TRUE(layerGradientsMatch(sigmoid, randomMatrix(3, 6, 41, -3, 3)));
    Activation tanh(Shape{6, 1, 1}, ActivationKind::Tanh);
    EXPECT_TRUE(layerGradientsMatch(tanh, randomMatrix(3, 6, 42, -2, 2)));
}

TEST(Activation, BadShapesThrow) {
    for (ActivationKind kind : {ActivationKind::ReLU, ActivationKind::Sigmoid, ActivationKind::Tanh}) {
        Activation layer(Shape{5, 1, 1}, kind);
        expectShapeChecks(layer, awayFromZero(2, 5, 43));
    }
}

// ---- BatchNorm ----------------------------------------------------------------------------------------

// ε = 0.3125 makes σ² + ε = 1.5625 = 1.25² for the values 1, 2, 3, 4 (σ² = 1.25): x̂ = ±0.4, ±1.2.
BatchNormOptions handOptions() { return {0.9f, 0.3125f}; }

TEST(BatchNorm, DenseTrainForwardByHand) {
    BatchNorm bn(Shape{2, 1, 1}, handOptions());
    bn.gamma() = row({2, 1});
    bn.beta() = row({1, 0});
    const Matrix x = rows(4, 2, {1, -1, 2, -2, 3, -3, 4, -4});
    // feature 0: x̂ = (−1.2, −0.4, 0.4, 1.2), y = 2·x̂ + 1; feature 1: x̂ = (1.2, 0.4, −0.4, −1.2)
    expectNear(bn.forward(x, Mode::Train), rows(4, 2, {-1.4f, 1.2f, 0.2f, 0.4f, 1.8f, -0.4f, 3.4f, -1.2f}));
    EXPECT_NEAR(bn.batchMean()[0], 2.5f, kTol);
    EXPECT_NEAR(bn.batchMean()[1], -2.5f, kTol);
    EXPECT_NEAR(bn.batchVar()[0], 1.25f, kTol);
    // running_mean = 0.9·0 + 0.1·μ; running_var = 0.9·1 + 0.1·σ²·4/3
    EXPECT_NEAR(bn.runningMean()[0], 0.25f, kTol);
    EXPECT_NEAR(bn.runningMean()[1], -0.25f, kTol);
    EXPECT_NEAR(bn.runningVar()[0], 0.9f + 0.1f * 1.25f * 4 / 3, kTol);
    // dy = x̂ of feature 0 in both features: dβ = Σdy = 0, dγ = Σ dy·x̂ = 3.2 and −3.2
    const Matrix dy = rows(4, 2, {-1.2f, -1.2f, -0.4f, -0.4f, 0.4f, 0.4f, 1.2f, 1.2f});
    bn.backward(dy);
    expectNear(bn.betaGrad(), row({0, 0}));
    expectNear(bn.gammaGrad(), row({3.2f, -3.2f}));
}

TEST(BatchNorm, ConvTrainForwardByHandUsesSamplesAndPixels) {
    // Shape (2, 1, 2), N = 2: each channel has m = N·H·W = 4 values.
    BatchNorm bn(Shape{2, 1, 2}, handOptions());
    bn.gamma() = row({2, 1});
    bn.beta() = row({1, 0});
    // sample 0: c0 = (1, 2), c1 = (4, 3); sample 1: c0 = (3, 4), c1 = (2, 1)
    const Matrix x = rows(2, 4, {1, 2, 4, 3, 3, 4, 2, 1});
    expectNear(bn.forward(x, Mode::Train), rows(2, 4, {-1.4f, 0.2f, 1.2f, 0.4f, 1.8f, 3.4f, -0.4f, -1.2f}));
    EXPECT_NEAR(bn.batchMean()[1], 2.5f, kTol);
    EXPECT_NEAR(bn.runningVar()[1], 0.9f + 0.1f * 1.25f * 4 / 3, kTol);
}

TEST(BatchNorm, EvalForwardByHandUsesRunningStatistics) {
    BatchNorm bn(Shape{1, 1, 1}, {0.9f, 1.0f});
    bn.runningMean()[0] = 1;
    bn.runningVar()[0] = 3;  // 1/√(3 + 1) = 1/2
    bn.gamma() = row({2});
    bn.beta() = row({-1});
    // y = 2·(x − 1)/2 − 1 = x − 2, and dx = γ/2·dy = dy
    const Matrix x = rows(3, 1, {5, 1, -3});
    expectNear(bn.forward(x, Mode::Eval), rows(3, 1, {3, -1, -5}));
    expectNear(bn.backward(rows(3, 1, {1, 2, 3})), rows(3, 1, {1, 2, 3}));
    EXPECT_EQ(bn.runningMean()[0], 1.0f);  // Eval changes nothing
    EXPECT_EQ(bn.runningVar()[0], 3.0f);
}

TEST(BatchNorm, TrainGradientsMatchFiniteDifferences) {
    // 6 features and 5 channels: two chunks of features each.
    BatchNorm dense(Shape{6, 1, 1});
    randomizeParams(dense, 50, 0.5, 1.5);
    EXPECT_TRUE(layerGradientsMatch(dense, randomMatrix(5, 6, 51)));

    BatchNorm conv(Shape{5, 2, 3});
    randomizeParams(conv, 52, 0.5, 1.5);
    EXPECT_TRUE(layerGradientsMatch(conv, randomMatrix(2, 30, 53)));
}

TEST(BatchNorm, EvalGradientsMatchFiniteDifferences) {
    GradientCheckOptions eval;
    eval.mode = Mode::Eval;
    BatchNorm dense(Shape{6, 1, 1});
    randomizeParams(dense, 54, 0.5, 1.5);
    dense.runningMean() = randomMatrix(6, 1, 55);
    dense.runningVar() = randomMatrix(6, 1, 56, 0.5, 2);
    EXPECT_TRUE(layerGradientsMatch(dense, randomMatrix(5, 6, 57), eval));

    BatchNorm conv(Shape{5, 2, 3});
    randomizeParams(conv, 58, 0.5, 1.5);
    conv.runningMean() = randomMatrix(5, 1, 59);
    conv.runningVar() = randomMatrix(5, 1, 60, 0.5, 2);
    EXPECT_TRUE(layerGradientsMatch(conv, randomMatrix(2, 30, 61), eval));
}

TEST(BatchNorm, BadShapesThrow) {
    BatchNorm dense(Shape{4, 1, 1});
    expectShapeChecks(dense, randomMatrix(3, 4, 62));
    BatchNorm conv(Shape{2, 3, 3});
    expectShapeChecks(conv, randomMatrix(2, 18, 63));
    BatchNorm eval(Shape{4, 1, 1});
    expectShapeChecks(eval, randomMatrix(3, 4, 64), Mode::Eval);
}

TEST(BatchNorm, DenseTrainWithOneSampleThrowsConfigError) {
    BatchNorm bn(Shape{3, 1, 1});
    EXPECT_THROW((void)bn.forward(randomMatrix(1, 3, 65), Mode::Train), bnlab::ConfigError);
    EXPECT_NO_THROW((void)bn.forward(randomMatrix(1, 3, 65), Mode::Eval));
}

// ---- GroupNorm and LayerNorm (GroupNorm with one group) --------------------------------------------------

TEST(GroupNorm, LayerNormForwardByHandNormalisesEachSampleOverAllItsValues) {
    // Shape (2, 1, 2), one group: each sample's 4 values; ε = 0.3125 as for BN: x̂ = ±0.4, ±1.2.
    GroupNorm ln(Shape{2, 1, 2}, 1, 0.3125f);
    EXPECT_EQ(ln.kind(), "layernorm");
    ln.gamma() = row({2, 1});
    ln.beta() = row({1, 0});
    const Matrix x = rows(2, 4, {1, 2, 3, 4, 4, 3, 2, 1});
    // sample 0: x̂ = (−1.2, −0.4 | 0.4, 1.2) → (2·x̂ + 1 | x̂); sample 1 mirrored
    expectNear(ln.forward(x, Mode::Train), rows(2, 4, {-1.4f, 0.2f, 0.4f, 1.2f, 3.4f, 1.8f, -0.4f, -1.2f}));
    EXPECT_NEAR(ln.groupMean()(1, 0), 2.5f, kTol);
    EXPECT_NEAR(ln.groupInvStd()(0, 0), 0.8f, kTol);
    // dy = 1 on every value: dβ = Σdy = 4 per channel; dγ_c = Σ x̂ over the channel = (−1.6 + 1.6, 1.6 − 1.6)
    ln.backward(Matrix::Ones(2, 4));
    expectNear(ln.betaGrad(), row({4, 4}));
    expectNear(ln.gammaGrad(), row({0, 0}));
}

TEST(GroupNorm, GroupsNormaliseTheirOwnChannels) {
    // Two groups of one channel each; ε = 0.75 makes σ² + ε = 1 for two values one apart: x̂ = ±0.5.
    GroupNorm gn(Shape{2, 1, 2}, 2, 0.75f);
    EXPECT_EQ(gn.kind(), "groupnorm");
    gn.gamma() = row({2, 1});
    gn.beta() = row({1, 0});
    const Matrix x = rows(2, 4, {1, 2, 3, 4, 6, 5, 0, -1});
    expectNear(gn.forward(x, Mode::Train), rows(2, 4, {0, 2, -0.5f, 0.5f, 2, 0, 0.5f, -0.5f}));
    // No running statistics: Eval is the same computation.
    expectNear(gn.forward(x, Mode::Eval), rows(2, 4, {0, 2, -0.5f, 0.5f, 2, 0, 0.5f, -0.5f}));
}

TEST(GroupNorm, OneSampleIsEnoughInTrainingMode) {
    GroupNorm ln(Shape{5, 1, 1}, 1, 1e-3f);
    const Matrix y = ln.forward(row({1, 2, 3, 4, 5}), Mode::Train);
    EXPECT_TRUE(y.allFinite());
    EXPECT_NEAR(y.sum(), 0.0f, 1e-5f);
}

TEST(GroupNorm, GroupsForIsTheLargestDivisorNotAboveTheMaximum) {
    EXPECT_EQ(GroupNorm::groupsFor(32, 32), 32);
    EXPECT_EQ(GroupNorm::groupsFor(64, 32), 32);
    EXPECT_EQ(GroupNorm::groupsFor(100, 32), 25);
    EXPECT_EQ(GroupNorm::groupsFor(8, 32), 8);
    EXPECT_EQ(GroupNorm::groupsFor(6, 4), 3);
    EXPECT_EQ(GroupNorm::groupsFor(13, 4), 1);
    EXPECT_EQ(GroupNorm::groupsFor(12, 1), 1);
}

TEST(GroupNorm, TrainGradientsMatchFiniteDifferences) {
    GroupNorm ln(Shape{6, 1, 1}, 1, 1e-3f);
    randomizeParams(ln, 150, 0.5, 1.5);
    EXPECT_TRUE(layerGradientsMatch(ln, randomMatrix(3, 6, 151)));
    GroupNorm lnConv(Shape{3, 2, 3}, 1, 1e-3f);
    randomizeParams(lnConv, 152, 0.5, 1.5);
    EXPECT_TRUE(layerGradientsMatch(lnConv, randomMatrix(2, 18, 153)));
    // 9 samples: two chunks of samples; 6 channels in 3 groups.
    GroupNorm gn(Shape{6, 2, 2}, 3, 1e-3f);
    randomizeParams(gn, 154, 0.5, 1.5);
    EXPECT_TRUE(layerGradientsMatch(gn, randomMatrix(9, 24, 155)));
}

TEST(GroupNorm, BadShapesAndGroupsThrow) {
    GroupNorm gn(Shape{4, 2, 2}, 2, 1e-3f);
    expectShapeChecks(gn, randomMatrix(3, 16, 156));
    EXPECT_THROW(GroupNorm(Shape{6, 1, 1}, 4, 1e-3f), bnlab::Error);
    EXPECT_THROW(GroupNorm(Shape{6, 1, 1}, 0, 1e-3f), bnlab::Error);
}

// ---- Batch Renormalization (BatchNorm with renormalize = true) -------------------------------------------

// ε = 0.3125 as above (σ_B = 1.25 for 1, 2, 3, 4) and running statistics chosen so that σ = √(0.6875 + ε) = 1.
std::unique_ptr<BatchNorm> renormByHand(float rMax, float dMax) {
    BatchNormOptions options = handOptions();
    options.rMax = rMax;
    options.dMax = dMax;
    auto brn = std::make_unique<BatchNorm>(Shape{1, 1, 1}, options, true);
    brn->runningMean()[0] = 2;
    brn->runningVar()[0] = 0.6875f;
    brn->gamma() = row({2});
    brn->beta() = row({1});
    return brn;
}

TEST(BatchRenorm, TrainForwardAndBackwardByHand) {
    const auto owner = renormByHand(3, 5);
    BatchNorm& brn = *owner;
    EXPECT_EQ(brn.kind(), "batchrenorm");
    // r = σ_B/σ = 1.25, d = (2.5 − 2)/1 = 0.5: x̂ = 1.25·(−1.2, −0.4, 0.4, 1.2) + 0.5 = (−1, 0, 1, 2), y = 2·x̂ + 1
    const Matrix x = rows(4, 1, {1, 2, 3, 4});  // kept alive: backward reads it
    expectNear(brn.forward(x, Mode::Train), rows(4, 1, {-1, 1, 3, 5}));
    EXPECT_NEAR(brn.renormR()[0], 1.25f, kTol);
    EXPECT_NEAR(brn.renormD()[0], 0.5f, kTol);
    // The running statistics move as BN's: 0.9·2 + 0.1·2.5 and 0.9·0.6875 + 0.1·1.25·4/3.
    EXPECT_NEAR(brn.runningMean()[0], 2.05f, kTol);
    EXPECT_NEAR(brn.runningVar()[0], 0.9f * 0.6875f + 0.1f * 1.25f * 4 / 3, kTol);
    // dy = (1, 0, 0, 0): dβ = 1, dγ = Σ dy·x̂ = −1,
    // dx = r·γ/(m·σ_B)·(m·dy − Σdy − x̂_B·Σ(dy·x̂_B)) = 0.5·(4·dy − 1 + 1.2·x̂_B) with r, d held constant.
    expectNear(brn.backward(rows(4, 1, {1, 0, 0, 0})), rows(4, 1, {0.78f, -0.74f, -0.26f, 0.22f}));
    expectNear(brn.betaGrad(), row({1}));
    expectNear(brn.gammaGrad(), row({-1}));
}

TEST(BatchRenorm, CorrectionsAreClippedToRmaxAndDmax) {
    const auto owner = renormByHand(1.1f, 0.25f);
    BatchNorm& brn = *owner;
    // r = 1.1, d = 0.25: x̂ = 1.1·x̂_B + 0.25
    expectNear(brn.forward(rows(4, 1, {1, 2, 3, 4}), Mode::Train), rows(4, 1, {-1.14f, 0.62f, 2.38f, 4.14f}));
    EXPECT_NEAR(brn.renormR()[0], 1.1f, kTol);
    EXPECT_NEAR(brn.renormD()[0], 0.25f, kTol);
}

TEST(BatchRenorm, WithRmaxOneAndDmaxZeroItIsBatchNormBitForBit) {
    BatchNormOptions options;
    options.rMax = 1;
    options.dMax = 0;
    for (const Shape shape : {Shape{6, 1, 1}, Shape{5, 2, 3}}) {
        BatchNorm bn(shape), brn(shape, options, true);
        randomizeParams(bn, 160, 0.5, 1.5);
        randomizeParams(brn, 160, 0.5, 1.5);
        for (BatchNorm* layer : {&bn, &brn}) layer->runningMean().setConstant(3);  // d would not be 0 unclipped
        const Matrix x = randomMatrix(4, shape.size(), 161), dy = randomMatrix(4, shape.size(), 162);
        EXPECT_TRUE(bitIdentical(bn.forward(x, Mode::Train), brn.forward(x, Mode::Train)));
        EXPECT_TRUE(bitIdentical(bn.backward(dy), brn.backward(dy)));
        EXPECT_TRUE(bitIdentical(bn.gammaGrad(), brn.gammaGrad()));
        EXPECT_TRUE(bitIdentical(bn.runningVar().transpose(), brn.runningVar().transpose()));
    }
}

// Running statistics far from the batch's, so that r and d sit at their clipping bounds, where they are
// constant: the finite differences then see exactly the stop-gradient function the backward differentiates.
// Momentum 1 keeps the running statistics fixed through the many forwards of the check.
void expectClippedRenormGradients(Shape shape, Index n, std::uint64_t seed) {
    BatchNormOptions options;
    options.momentum = 1;
    options.rMax = 2;
    options.dMax = 0.5f;
    BatchNorm brn(shape, options, true);
    randomizeParams(brn, seed, 0.5, 1.5);
    brn.runningMean().setConstant(20);
    brn.runningVar().setConstant(100);  // σ ≈ 10: r = σ_B/σ < 1/2, d = (μ − 20)/σ < −1/2
    const Matrix x = randomMatrix(n, shape.size(), seed + 1);
    (void)brn.forward(x, Mode::Train);
    ASSERT_TRUE((brn.renormR().array() == 0.5f).all()) << brn.renormR().transpose();
    ASSERT_TRUE((brn.renormD().array() == -0.5f).all()) << brn.renormD().transpose();
    EXPECT_TRUE(layerGradientsMatch(brn, x));
}

TEST(BatchRenorm, TrainGradientsMatchFiniteDifferencesWhereTheCorrectionsAreClipped) {
    expectClippedRenormGradients(Shape{6, 1, 1}, 5, 163);
    expectClippedRenormGradients(Shape{5, 2, 3}, 2, 165);
}

TEST(BatchRenorm, BackwardTreatsFreeCorrectionsAsConstants) {
    // With r and d inside their bounds, r·x̂_B + d = (x − running_mean)/σ: the function itself is the inference
    // form, and its true input derivative γ/σ·dy. The backward, as the paper's, treats r and d as constants and
    // gives r times BN's: the finite-difference check must see the gap.
    BatchNormOptions options;
    options.momentum = 1;
    options.rMax = 100;
    options.dMax = 100;
    BatchNorm brn(Shape{4, 1, 1}, options, true);
    randomizeParams(brn, 167, 0.5, 1.5);
    brn.runningVar().setConstant(4);
    EXPECT_FALSE(layerGradientsMatch(brn, randomMatrix(6, 4, 168)));
}

TEST(BatchRenorm, EvalIsBatchNormsInferenceForm) {
    const auto owner = renormByHand(3, 5);
    BatchNorm& brn = *owner;
    // y = 2·(x − 2)/√(0.6875 + 0.3125) + 1 = 2x − 3
    expectNear(brn.forward(rows(3, 1, {0, 1, 2}), Mode::Eval), rows(3, 1, {-3, -1, 1}));
    EXPECT_EQ(brn.runningMean()[0], 2.0f);
}

// ---- Dropout ---------------------------------------------------------------------------------------------

TEST(Dropout, KeepsAboutOneMinusPAndScalesTheKeptValues) {
    for (const float p : {0.1f, 0.5f, 0.8f}) {
        SCOPED_TRACE(p);
        Dropout dropout(Shape{500, 1, 1}, p, 170);
        const Matrix x = randomMatrix(200, 500, 171, 0.5, 1.5);  // no zeros: a 0 output means dropped
        const Matrix& y = dropout.forward(x, Mode::Train);
        Index kept = 0;
        bool scaled = true;
        for (Index i = 0; i < y.size(); ++i) {
            if (y.data()[i] == 0) continue;
            ++kept;
            scaled = scaled && y.data()[i] == x.data()[i] * float(1.0 / (1.0 - p));
        }
        EXPECT_TRUE(scaled);
        // 100000 values: the kept fraction's standard deviation is at most 0.0016; allow 5 of them.
        EXPECT_NEAR(double(kept) / double(y.size()), 1.0 - p, 0.008);
    }
}

TEST(Dropout, EvalIsTheIdentity) {
    Dropout dropout(Shape{4, 2, 2}, 0.5f, 172);
    const Matrix x = randomMatrix(3, 16, 173);
    EXPECT_TRUE(bitIdentical(dropout.forward(x, Mode::Eval), x));
    const Matrix dy = randomMatrix(3, 16, 174);
    EXPECT_TRUE(bitIdentical(dropout.backward(dy), dy));
    Dropout none(Shape{16, 1, 1}, 0.0f, 175);  // and p = 0 keeps everything in training too
    EXPECT_TRUE(bitIdentical(none.forward(x, Mode::Train), x));
}

TEST(Dropout, GradientIsTheMaskTimesTheScale) {
    const float p = 0.25f;
    Dropout dropout(Shape{30, 1, 1}, p, 176);
    const Matrix x = randomMatrix(8, 30, 177), dy = randomMatrix(8, 30, 178);
    (void)dropout.forward(x, Mode::Train);
    const Matrix dx = dropout.backward(dy);
    Index dropped = 0;
    for (Index i = 0; i < dx.size(); ++i) {
        const float m = dropout.mask().data()[i];
        ASSERT_TRUE(m == 0.0f || m == float(1.0 / (1.0 - p))) << m;
        EXPECT_EQ(dx.data()[i], dy.data()[i] * m);
        dropped += m == 0.0f;
    }
    EXPECT_GT(dropped, 0);
    EXPECT_LT(dropped, dx.size());
    EXPECT_TRUE(layerGradientsMatch(dropout, x));  // the same step: the same mask in every forward
}

TEST(Dropout, MasksAreAFunctionOfSeedAndStep) {
    const Matrix x = Matrix::Ones(16, 64);
    auto maskOf = [&](std::uint64_t seed, std::uint64_t step) {
        Dropout dropout(Shape{64, 1, 1}, 0.5f, seed);
        dropout.setStep(step);
        return Matrix(dropout.forward(x, Mode::Train));
    };
    EXPECT_TRUE(bitIdentical(maskOf(1, 3), maskOf(1, 3)));
    EXPECT_FALSE(bitIdentical(maskOf(1, 3), maskOf(1, 4)));
    EXPECT_FALSE(bitIdentical(maskOf(1, 3), maskOf(2, 3)));
    // Masks of successive steps are independent: they agree on about p² + (1 − p)² = 1/2 of the values.
    const Matrix a = maskOf(1, 3), b = maskOf(1, 4);
    EXPECT_NEAR((a.array() == b.array()).cast<double>().mean(), 0.5, 0.06);
}

TEST(Dropout, BadShapesAndRatesThrow) {
    Dropout dropout(Shape{5, 1, 1}, 0.5f, 179);
    expectShapeChecks(dropout, randomMatrix(2, 5, 180));
    for (const float p : {-0.1f, 1.0f, std::numeric_limits<float>::quiet_NaN()})
        EXPECT_THROW(Dropout(Shape{5, 1, 1}, p, 1), bnlab::Error) << p;
}

// ---- BatchNormNoise --------------------------------------------------------------------------------------

TEST(BatchNormNoise, TrainScalesAndShiftsEachChannelByItsDrawEvalIsTheIdentity) {
    BatchNormNoise noise(Shape{3, 2, 2}, 0.5f, 1.5f, 190);
    noise.setStep(7);
    const Matrix x = randomMatrix(4, 12, 191);
    const Matrix y = noise.forward(x, Mode::Train);
    ASSERT_EQ(noise.mean().size(), 3);
    for (Index c = 0; c < 3; ++c) {
        const float m = noise.mean()[c], s = noise.scale()[c];
        EXPECT_GE(m, -0.5f);
        EXPECT_LE(m, 0.5f);
        EXPECT_GE(s, 1.0f);
        EXPECT_LE(s, 1.5f);
        for (Index n = 0; n < 4; ++n)
            for (Index k = 0; k < 4; ++k) EXPECT_NEAR(y(n, c * 4 + k), s * x(n, c * 4 + k) + m, kTol);
    }
    // Channels draw differently.
    EXPECT_NE(noise.mean()[0], noise.mean()[1]);
    EXPECT_NE(noise.scale()[1], noise.scale()[2]);
    for (const Mode mode : {Mode::Eval, Mode::EvalBatch}) {
        EXPECT_TRUE(bitIdentical(noise.forward(x, mode), x));
        const Matrix dy = randomMatrix(4, 12, 192);
        EXPECT_TRUE(bitIdentical(noise.backward(dy), dy));
    }
}

TEST(BatchNormNoise, GradientMatchesFiniteDifferences) {
    for (const Shape shape : {Shape{6, 1, 1}, Shape{2, 3, 3}}) {
        BatchNormNoise noise(shape, 1.0f, 2.0f, 193);
        noise.setStep(3);
        EXPECT_TRUE(layerGradientsMatch(noise, randomMatrix(5, shape.size(), 194))) << shape.toString();
    }
}

TEST(BatchNormNoise, DrawsAreAFunctionOfSeedAndStepAndCoverTheirRanges) {
    auto drawOf = [](std::uint64_t seed, std::uint64_t step) {
        BatchNormNoise noise(Shape{2000, 1, 1}, 1.0f, 2.0f, seed);
        noise.setStep(step);
        (void)noise.forward(Matrix::Zero(2, 2000), Mode::Train);
        return std::make_pair(Vector(noise.mean()), Vector(noise.scale()));
    };
    EXPECT_EQ(drawOf(1, 3), drawOf(1, 3));
    EXPECT_NE(drawOf(1, 3).first, drawOf(1, 4).first);
    EXPECT_NE(drawOf(1, 3).second, drawOf(2, 3).second);
    // 2000 uniform draws: mean within 5 standard deviations (1/√(3·2000) ≈ 0.013 for U(−1, 1)), extremes near the ends.
    const auto [m, s] = drawOf(5, 9);
    EXPECT_NEAR(m.cast<double>().mean(), 0.0, 0.065);
    EXPECT_NEAR(s.cast<double>().mean(), 1.5, 0.033);
    EXPECT_LT(m.minCoeff(), -0.99f);
    EXPECT_GT(m.maxCoeff(), 0.99f);
    EXPECT_GE(s.minCoeff(), 1.0f);
    EXPECT_LT(s.minCoeff(), 1.005f);
    EXPECT_GT(s.maxCoeff(), 1.995f);
    EXPECT_LE(s.maxCoeff(), 2.0f);
}

TEST(BatchNormNoise, BadShapesAndSettingsThrow) {
    BatchNormNoise noise(Shape{5, 1, 1}, 1.0f, 2.0f, 195);
    expectShapeChecks(noise, randomMatrix(2, 5, 196));
    EXPECT_THROW(BatchNormNoise(Shape{5, 1, 1}, -0.1f, 2.0f, 1), bnlab::Error);
    EXPECT_THROW(BatchNormNoise(Shape{5, 1, 1}, 1.0f, 0.9f, 1), bnlab::Error);
    EXPECT_THROW(BatchNormNoise(Shape{5, 1, 1}, std::numeric_limits<float>::quiet_NaN(), 2.0f, 1), bnlab::Error);
}

// ---- SoftmaxCrossEntropy ------------------------------------------------------------------------------

TEST(SoftmaxCrossEntropy, ForwardAndBackwardByHand) {
    SoftmaxCrossEntropy loss;
    // sample 0: e^z = (1, 3, 1) → p = (1/5, 3/5, 1/5), label 1, −log p = ln(5/3), argmax 1: correct
    // sample 1: e^z = (2, 1, 1) → p = (1/2, 1/4, 1/4), label 2, −log p = ln 4,   argmax 0: wrong
    const Matrix z = rows(2, 3, {0, std::log(3.0f), 0, std::log(2.0f), 0, 0});
    const std::vector<std::uint8_t> labels{1, 2};
    EXPECT_NEAR(loss.forward(z, labels), (std::log(5.0 / 3.0) + std::log(4.0)) / 2, 1e-6);
    expectNear(loss.probabilities(), rows(2, 3, {0.2f, 0.6f, 0.2f, 0.5f, 0.25f, 0.25f}));
    EXPECT_EQ(loss.correct(), 1);
    // dL/dz = (p − onehot)/N
    expectNear(loss.backward(), rows(2, 3, {0.1f, -0.2f, 0.1f, 0.25f, 0.125f, -0.375f}));
}

TEST(SoftmaxCrossEntropy, LargeLogitsStayFinite) {
    SoftmaxCrossEntropy loss;
    const Matrix z = rows(2, 2, {1000, 0, 0, 1000});
    const std::vector<std::uint8_t> labels{0, 0};
    EXPECT_NEAR(loss.forward(z, labels), 500.0, 1e-3);  // (0 + 1000)/2
    EXPECT_TRUE(loss.backward().allFinite());
}

TEST(SoftmaxCrossEntropy, GradientMatchesFiniteDifferences) {
    SoftmaxCrossEntropy loss;
    Matrix z = randomMatrix(4, 3, 70, -2, 2);
    const std::vector<std::uint8_t> labels{0, 2, 1, 2};
    (void)loss.forward(z, labels);
    const Matrix analytic = loss.backward();
    EXPECT_TRUE(functionGradientMatches("logits", z, analytic, [&] { return loss.forward(z, labels); }));
}

TEST(SoftmaxCrossEntropy, BadLabelsThrow) {
    SoftmaxCrossEntropy loss;
    const Matrix z = randomMatrix(2, 3, 71);
    EXPECT_THROW((void)loss.forward(z, {0}), bnlab::Error);        // one label for two samples
    EXPECT_THROW((void)loss.forward(z, {0, 1, 2}), bnlab::Error);  // three labels for two samples
    EXPECT_THROW((void)loss.forward(z, {0, 3}), bnlab::Error);     // label 3 with 3 classes
    EXPECT_NO_THROW((void)loss.forward(z, {0, 2}));
}

// ---- Parallel against serial --------------------------------------------------------------------------

struct LayerRun {
    Matrix y, dx;
    std::vector<Matrix> grads;
};

LayerRun run(Layer& layer, const Matrix& x, const Matrix& dy) {
    LayerRun r;
    r.y = layer.forward(x, Mode::Train);
    r.dx = layer.backward(dy);
    for (const engine::Param& p : layer.params()) r.grads.push_back(*p.grad);
    return r;
}

void expectBitIdentical(const LayerRun& a, const LayerRun& b, const char* what) {
    SCOPED_TRACE(what);
    EXPECT_TRUE(bitIdentical(a.y, b.y)) << "forward output";
    EXPECT_TRUE(bitIdentical(a.dx, b.dx)) << "input gradient";
    ASSERT_EQ(a.grads.size(), b.grads.size());
    for (std::size_t i = 0; i < a.grads.size(); ++i)
        EXPECT_TRUE(bitIdentical(a.grads[i], b.grads[i])) << "param " << i;
}

// Serial, then on 2 threads with the same layer (its scratch grows from 1 slot to 2) and with a fresh one.
void expectParallelMatchesSerial(const std::function<std::unique_ptr<Layer>()>& make, Index n) {
    struct SerialReset {
        ~SerialReset() { engine::parallel::setSerial(false); }
    } reset;
    std::unique_ptr<Layer> first = make();
    SCOPED_TRACE(first->kind());
    const Matrix x = randomMatrix(n, first->inputShape().size(), 80);
    const Matrix dy = randomMatrix(n, first->outputShape().size(), 81);
    engine::parallel::setSerial(true);
    const LayerRun serial = run(*first, x, dy);
    engine::parallel::setSerial(false);
    LayerRun reused, fresh;
    engine::parallel::runWithThreads(2, [&] {
        EXPECT_EQ(engine::parallel::maxSlots(), 2);
        reused = run(*first, x, dy);
        std::unique_ptr<Layer> second = make();
        fresh = run(*second, x, dy);
    });
    expectBitIdentical(serial, reused, "same layer on 2 threads");
    expectBitIdentical(serial, fresh, "fresh layer on 2 threads");
}

template <class L, class... Args>
std::function<std::unique_ptr<Layer>()> factory(std::uint64_t seed, Args... args) {
    return [=] {
        auto layer = std::make_unique<L>(args...);
        randomizeParams(*layer, seed, 0.5, 1.5);
        return std::unique_ptr<Layer>(std::move(layer));
    };
}

TEST(Parallel, DenseIsBitIdenticalToSerial) {
    // 70 samples: 3 chunks of rows; 40 outputs: 3 chunks of features for dW and db.
    expectParallelMatchesSerial(factory<Dense>(90, Shape{24, 1, 1}, 40), 70);
    // 300 inputs: dW and dx split into 3 chunks of input features.
    expectParallelMatchesSerial(factory<Dense>(94, Shape{300, 1, 1}, 30), 40);
}

TEST(Parallel, Conv2DIsBitIdenticalToSerial) {
    // 20 samples: 3 chunks, whose partial dW and db are summed in chunk order.
    expectParallelMatchesSerial(factory<Conv2D>(91, Shape{3, 8, 8}, 5, 3, 1, 1), 20);
    // Winograd (8 channels, 3×3, stride 1): 3 chunks, each in groups of samples.
    expectParallelMatchesSerial(factory<Conv2D>(92, Shape{8, 7, 7}, 5, 3, 1, 1), 20);
}

// Winograd F(2×2, 3×3) against im2col on the same weights: equal up to rounding, in every output and gradient.
TEST(Conv2D, WinogradMatchesIm2col) {
    const ConvCase cases[] = {
        {{8, 6, 6}, 5, 3, 1, 0, 3},     // even output (4×4): whole tiles
        {{8, 7, 7}, 4, 3, 1, 0, 2},     // odd output (5×5): the last tiles overhang
        {{9, 5, 6}, 3, 3, 1, 1, 11},    // padding, non-square, 11 samples: two chunks, a partial group
        {{16, 12, 12}, 6, 3, 1, 1, 9},  // a wider product
        {{2, 3, 3}, 2, 3, 1, 0, 2},     // a single output pixel
    };
    std::uint64_t seed = 40;
    for (const ConvCase& c : cases) {
        SCOPED_TRACE(c.input.toString() + " filters " + std::to_string(c.filters) + " pad " + std::to_string(c.padding));
        Conv2D im2col(c.input, c.filters, 3, 1, c.padding), winograd(c.input, c.filters, 3, 1, c.padding);
        im2col.setAlgorithm(engine::ConvAlgorithm::Im2col);
        winograd.setAlgorithm(engine::ConvAlgorithm::Winograd);
        ASSERT_FALSE(im2col.usesWinograd());
        ASSERT_TRUE(winograd.usesWinograd());
        randomizeParams(im2col, seed++);
        winograd.weight() = im2col.weight();
        winograd.bias() = im2col.bias();
        const Matrix x = randomMatrix(c.samples, c.input.size(), seed++);
        const Matrix dy = randomMatrix(c.samples, im2col.outputShape().size(), seed++);
        const LayerRun a = run(im2col, x, dy), b = run(winograd, x, dy);
        auto close = [](const Matrix& expected, const Matrix& got, const char* what) {
            ASSERT_EQ(expected.rows(), got.rows()) << what;
            ASSERT_EQ(expected.cols(), got.cols()) << what;
            const float scale = std::max(1.0f, expected.cwiseAbs().maxCoeff());
            EXPECT_LE((expected - got).cwiseAbs().maxCoeff(), 2e-6f * scale) << what;
        };
        close(a.y, b.y, "output");
        close(a.dx, b.dx, "input gradient");
        close(a.grads[0], b.grads[0], "weight gradient");
        close(a.grads[1], b.grads[1], "bias gradient");
        // The parameter-only backward (the first layer's) gives the same parameter gradients.
        Conv2D paramsOnly(c.input, c.filters, 3, 1, c.padding);
        paramsOnly.setAlgorithm(engine::ConvAlgorithm::Winograd);
        paramsOnly.weight() = im2col.weight();
        paramsOnly.bias() = im2col.bias();
        paramsOnly.forward(x, Mode::Train);
        paramsOnly.backwardParameters(dy);
        EXPECT_TRUE(bitIdentical(paramsOnly.weightGrad(), b.grads[0]));
        EXPECT_TRUE(bitIdentical(paramsOnly.biasGrad(), b.grads[1]));
    }
}

TEST(Conv2D, WinogradGradientsMatchFiniteDifferences) {
    Conv2D conv(Shape{2, 5, 4}, 3, 3, 1, 1);
    conv.setAlgorithm(engine::ConvAlgorithm::Winograd);
    ASSERT_TRUE(conv.usesWinograd());
    randomizeParams(conv, 60);
    EXPECT_TRUE(layerGradientsMatch(conv, randomMatrix(2, 40, 61)));
}

TEST(Conv2D, WinogradIsChosenForWide3x3Stride1Only) {
    EXPECT_TRUE(Conv2D(Shape{32, 26, 26}, 64, 3).usesWinograd());  // the Keras CNN's second convolution
    EXPECT_FALSE(Conv2D(Shape{1, 28, 28}, 32, 3).usesWinograd());  // one input channel: im2col
    EXPECT_FALSE(Conv2D(Shape{32, 26, 26}, 64, 3, 2).usesWinograd());  // stride 2
    Conv2D fiveByFive(Shape{32, 12, 12}, 8, 5);
    fiveByFive.setAlgorithm(engine::ConvAlgorithm::Winograd);  // does not apply: stays im2col
    EXPECT_FALSE(fiveByFive.usesWinograd());
    Conv2D thin(Shape{1, 6, 6}, 2, 3);
    thin.setAlgorithm(engine::ConvAlgorithm::Winograd);
    EXPECT_TRUE(thin.usesWinograd());
}

TEST(Parallel, BatchNormIsBitIdenticalToSerial) {
    // 10 features and 6 channels: 3 and 2 chunks of features.
    expectParallelMatchesSerial(factory<BatchNorm>(92, Shape{10, 1, 1}), 70);
    expectParallelMatchesSerial(factory<BatchNorm>(93, Shape{6, 5, 5}), 20);
}

TEST(Parallel, BatchRenormIsBitIdenticalToSerial) {
    // Momentum 1 keeps the running statistics, which r and d read, the same when the layer is run again.
    const BatchNormOptions frozen{1.0f, 1e-3f};
    expectParallelMatchesSerial(factory<BatchNorm>(95, Shape{10, 1, 1}, frozen, true), 70);
    expectParallelMatchesSerial(factory<BatchNorm>(96, Shape{6, 5, 5}, frozen, true), 20);
}

TEST(Parallel, GroupNormIsBitIdenticalToSerial) {
    // 20 samples: 3 chunks of samples; 6 channels: 2 chunks for dγ and dβ.
    expectParallelMatchesSerial(factory<GroupNorm>(97, Shape{6, 5, 5}, 3, 1e-3f), 20);
    expectParallelMatchesSerial(factory<GroupNorm>(98, Shape{40, 1, 1}, 1, 1e-3f), 20);
}

TEST(Parallel, DropoutIsBitIdenticalToSerial) {
    // 2048 columns: 8 rows per chunk, 5 chunks.
    expectParallelMatchesSerial(factory<Dropout>(99, Shape{8, 16, 16}, 0.5f, std::uint64_t(7)), 40);
}

}  // namespace
}  // namespace bnlab::test