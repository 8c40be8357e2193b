// BatchNorm against torch.nn.BatchNorm1d/2d (fixtures from tests/fixtures/make_fixtures.py).
//
// Tolerances, element-wise |engine − torch| ≤ atol + rtol·|torch|:
// - forward outputs and running statistics: rtol 1e-5, atol 1e-6;
// - dx: rtol 1e-5, atol 1e-6·max(1, max|dx|). dx = γ/(m·σ)·(m·dy − Σdy − x̂·Σdy·x̂) is a difference of
//   terms as large as the largest dx, so an element near 0 carries the rounding of those terms: the
//   absolute part is scaled by the array's magnitude (a plain 1e-6 would test float32 cancellation, not BN);
// - dγ, dβ (sums over the batch): the same rule.
// The script records how far torch's float32 values are from float64 (≈3e-7 relative), well inside these.

#include "fixture.h"

#include "batch_norm.h"
#include "error.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>

namespace bnlab::test {
namespace {

using engine::BatchNorm;
using engine::BatchNormOptions;
using engine::Index;
using engine::Matrix;
using engine::Mode;
using engine::Shape;

Matrix asRow(const engine::Vector& v) { return v.transpose(); }

class BatchNormReference : public ::testing::TestWithParam<std::string> {
protected:
    void SetUp() override { m_fixture = std::make_unique<Fixture>(GetParam() + ".txt"); }

    [[nodiscard]] const Fixture& fx() const { return *m_fixture; }

    // The layer as torch had it: Keras momentum k = 1 − torch momentum, γ and β from the fixture.
    [[nodiscard]] std::unique_ptr<BatchNorm> makeLayer() const {
        const Shape shape = sampleShape(fx());
        BatchNormOptions options;
        options.momentum = fx().scalar("momentum_keras");
        options.epsilon = fx().scalar("epsilon");
        auto bn = std::make_unique<BatchNorm>(shape, options);
        bn->gamma() = fx().get("gamma");
        bn->beta() = fx().get("beta");
        return bn;
    }

    std::unique_ptr<Fixture> m_fixture;
};

TEST_P(BatchNormReference, FixtureIsConsistent) {
    EXPECT_NEAR(fx().scalar("momentum_keras"), 1.0f - fx().scalar("momentum_torch"), 1e-7);
    const Index f = Index(fx().scalar("features"));
    EXPECT_EQ(fx().get("gamma").cols(), f);
    EXPECT_EQ(fx().get("dgamma").cols(), f);
    EXPECT_EQ(fx().get("x").cols(), fx().get("dy").cols());
}

TEST_P(BatchNormReference, TrainForwardAndBackward) {
    auto bn = makeLayer();
    const Matrix& x = fx().get("x");
    const Matrix y = bn->forward(x, Mode::Train);
    EXPECT_TRUE(matricesNear("y_train", y, fx().get("y_train"), kLayerRtol, kLayerAtol));

    const Matrix dx = bn->backward(fx().get("dy"));
    const Matrix& dxRef = fx().get("dx");
    EXPECT_TRUE(matricesNear("dx", dx, dxRef, kLayerRtol, gradientAtol(dxRef)));
    const Matrix& dgRef = fx().get("dgamma");
    const Matrix& dbRef = fx().get("dbeta");
    EXPECT_TRUE(matricesNear("dgamma", bn->gammaGrad(), dgRef, kLayerRtol, gradientAtol(dgRef)));
    EXPECT_TRUE(matricesNear("dbeta", bn->betaGrad(), dbRef, kLayerRtol, gradientAtol(dbRef)));
}

TEST_P(BatchNormReference, RunningStatisticsAndEval) {
    auto bn = makeLayer();
    const char* inputs[] = {"x", "x2", "x3"};
    for (int step = 1; step <= 3; ++step) {
        const std::string k = std::to_string(step);
        const Matrix y = bn->forward(fx().get(inputs[step - 1]), Mode::Train);
        if (step > 1) {
            EXPECT_TRUE(matricesNear("y_train_" + k, y, fx().get("y_train_" + k), kLayerRtol, kLayerAtol));
        }
        EXPECT_TRUE(matricesNear("running_mean_" + k, asRow(bn->runningMean()), fx().get("running_mean_" + k),
                                 kLayerRtol, kLayerAtol));
        EXPECT_TRUE(matricesNear("running_var_" + k, asRow(bn->runningVar()), fx().get("running_var_" + k),
                                 kLayerRtol, kLayerAtol));
    }

    const Matrix yEval = bn->forward(fx().get("x_eval"), Mode::Eval);
    EXPECT_TRUE(matricesNear("y_eval", yEval, fx().get("y_eval"), kLayerRtol, kLayerAtol));
    // Eval changes nothing.
    EXPECT_TRUE(matricesNear("running_mean_3 after eval", asRow(bn->runningMean()), fx().get("running_mean_3"),
                             kLayerRtol, kLayerAtol));
    EXPECT_TRUE(matricesNear("running_var_3 after eval", asRow(bn->runningVar()), fx().get("running_var_3"),
                             kLayerRtol, kLayerAtol));
}

INSTANTIATE_TEST_SUITE_P(Torch, BatchNormReference, ::testing::Values("bn1d", "bn1d_m01", "bn2d"),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

TEST(BatchNormSingleSample, DenseTrainWithOneSampleThrowsConfigError) {
    BatchNorm bn(Shape{4, 1, 1});
    const Matrix x = Matrix::Constant(1, 4, 0.5f);
    EXPECT_THROW((void)bn.forward(x, Mode::Train), bnlab::ConfigError);
}

TEST(BatchNormSingleSample, DenseEvalWithOneSampleWorks) {
    BatchNorm bn(Shape{4, 1, 1});
    const Matrix x = Matrix::Constant(1, 4, 0.5f);
    const Matrix y = bn.forward(x, Mode::Eval);
    // Defaults: running mean 0, running var 1, γ = 1, β = 0, ε = 1e-3.
    EXPECT_TRUE(matricesNear("y", y, Matrix::Constant(1, 4, 0.5f / std::sqrt(1.0f + 1e-3f)), kLayerRtol, kLayerAtol));
}

TEST(BatchNormSingleSample, ConvTrainWithOneSampleWorks) {
    // m = N·H·W = 6 values per channel: a valid batch.
    BatchNorm bn(Shape{2, 2, 3});
    Matrix x(1, 12);
    for (Index i = 0; i < 12; ++i) x(0, i) = float(i % 5) - 1.5f;
    const Matrix y = bn.forward(x, Mode::Train);
    EXPECT_TRUE(y.allFinite());
}

// The reader itself: a broken fixture must fail with a message naming the file and the array.
class FixtureReader : public ::testing::Test {
protected:
    std::string write(const std::string& text) {
        m_path = ::testing::TempDir() + "bnlab_fixture_reader_test.txt";
        std::ofstream(m_path) << text;
        return m_path;
    }
    void TearDown() override {
        if (!m_path.empty()) std::remove(m_path.c_str());
    }
    std::string m_path;
};

std::string errorOf(const std::string& path) {
    try {
        (void)Fixture::fromPath(path);
    } catch (const std::runtime_error& e) {
        return e.what();
    }
    return {};
}

TEST_F(FixtureReader, ReadsArraysAndScalars) {
    const Fixture f = Fixture::fromPath(write("# comment\na 2 3\n1 2 3\n4 5 6\n\ns 1 1 -2.5e-3\n"));
    Matrix expected(2, 3);
    expected << 1, 2, 3, 4, 5, 6;
    EXPECT_EQ(f.get("a"), expected);
    EXPECT_FLOAT_EQ(f.scalar("s"), -2.5e-3f);
    EXPECT_THROW((void)f.scalar("a"), std::runtime_error);
}

TEST_F(FixtureReader, MissingArrayNamesFileAndArray) {
    const Fixture f = Fixture::fromPath(write("a 1 1\n1\n"));
    try {
        (void)f.get("nope");
        FAIL() << "no exception";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("nope"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find(m_path), std::string::npos) << e.what();
    }
}

TEST_F(FixtureReader, MalformedFilesThrow) {
    const char* broken[] = {
        "a 2 2\n1 2 3\n",       // too few values
        "a 1 2\n1 x\n",         // not a number
        "a 1 2\n1 2 3\n",       // too many values
        "a two 2\n1 2\n",       // bad header
        "a 1 1\n1\na 1 1\n2\n", // duplicate
        "# only comments\n",    // empty
    };
    for (const char* text : broken) {
        const std::string message = errorOf(write(text));
        EXPECT_NE(message.find(m_path), std::string::npos) << "input: " << text << "\nmessage: " << message;
    }
    EXPECT_NE(errorOf(write("a 2 2\n1 2 3\n")).find("'a'"), std::string::npos);
    EXPECT_NE(errorOf(::testing::TempDir() + "bnlab_no_such_fixture.txt").find("cannot open"), std::string::npos);
}

}  // namespace
}  // namespace bnlab::test
