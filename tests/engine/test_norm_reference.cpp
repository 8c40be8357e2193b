// LayerNorm and GroupNorm against torch.nn.LayerNorm / torch.nn.GroupNorm, and Batch Renormalization against
// the plain-torch implementation of Ioffe (2017) in tests/fixtures/make_fixtures.py (fixtures written by it).
// Tolerances as in test_batch_norm_reference.cpp: |engine − torch| ≤ atol + rtol·|torch| with rtol 1e-5 and
// atol 1e-6 for outputs and running statistics, 1e-6·max(1, max|reference|) for gradients (sums of terms as
// large as the largest value, so an element near 0 carries their rounding).

#include "fixture.h"

#include "batch_norm.h"
#include "group_norm.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>

namespace bnlab::test {
namespace {

using engine::BatchNorm;
using engine::BatchNormOptions;
using engine::GroupNorm;
using engine::Matrix;
using engine::Mode;
using engine::Shape;

// ---- LayerNorm and GroupNorm -----------------------------------------------------------------------------

class GroupNormReference : public ::testing::TestWithParam<std::string> {
protected:
    void SetUp() override {
        m_fixture = std::make_unique<Fixture>(GetParam() + ".txt");
        m_layer = std::make_unique<GroupNorm>(sampleShape(*m_fixture), int(m_fixture->scalar("groups")),
                                              m_fixture->scalar("epsilon"));
        m_layer->gamma() = m_fixture->get("gamma");
        m_layer->beta() = m_fixture->get("beta");
    }
    std::unique_ptr<Fixture> m_fixture;
    std::unique_ptr<GroupNorm> m_layer;
};

TEST_P(GroupNormReference, KindFollowsTheGroups) {
    EXPECT_EQ(m_layer->kind(), m_fixture->scalar("groups") == 1 ? "layernorm" : "groupnorm");
}

TEST_P(GroupNormReference, TrainForwardAndBackward) {
    const Fixture& fx = *m_fixture;
    const Matrix y = m_layer->forward(fx.get("x"), Mode::Train);
    EXPECT_TRUE(matricesNear("y_train", y, fx.get("y_train"), kLayerRtol, kLayerAtol));
    const Matrix dx = m_layer->backward(fx.get("dy"));
    for (const auto& [name, actual] : {std::pair<std::string, Matrix>{"dx", dx},
                                       {"dgamma", m_layer->gammaGrad()},
                                       {"dbeta", m_layer->betaGrad()}})
        EXPECT_TRUE(matricesNear(name, actual, fx.get(name), kLayerRtol, gradientAtol(fx.get(name))));
}

TEST_P(GroupNormReference, EvalIsTheSameComputation) {
    const Fixture& fx = *m_fixture;
    (void)m_layer->forward(fx.get("x"), Mode::Train);  // no running statistics: nothing carries over
    EXPECT_TRUE(matricesNear("y_eval", m_layer->forward(fx.get("x_eval"), Mode::Eval), fx.get("y_eval"),
                             kLayerRtol, kLayerAtol));
}

INSTANTIATE_TEST_SUITE_P(Torch, GroupNormReference,
                         ::testing::Values("layernorm_dense", "layernorm_conv", "groupnorm_conv",
                                           "groupnorm_dense"),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

// ---- Batch Renormalization -------------------------------------------------------------------------------

class BatchRenormReference : public ::testing::TestWithParam<std::string> {
protected:
    void SetUp() override {
        m_fixture = std::make_unique<Fixture>(GetParam() + ".txt");
        const Fixture& fx = *m_fixture;
        BatchNormOptions options;
        options.momentum = fx.scalar("momentum_keras");
        options.epsilon = fx.scalar("epsilon");
        options.rMax = fx.scalar("rmax");
        options.dMax = fx.scalar("dmax");
        m_layer = std::make_unique<BatchNorm>(sampleShape(fx), options, true);
        m_layer->gamma() = fx.get("gamma");
        m_layer->beta() = fx.get("beta");
    }
    std::unique_ptr<Fixture> m_fixture;
    std::unique_ptr<BatchNorm> m_layer;
};

TEST_P(BatchRenormReference, ThreeTrainStepsForwardBackwardAndRunningStatistics) {
    const Fixture& fx = *m_fixture;
    EXPECT_EQ(m_layer->kind(), "batchrenorm");
    for (int step = 1; step <= 3; ++step) {
        SCOPED_TRACE("step " + std::to_string(step));
        auto name = [step](const char* what) { return std::string(what) + "_" + std::to_string(step); };
        const Matrix y = m_layer->forward(fx.get(name("x")), Mode::Train);
        EXPECT_TRUE(matricesNear(name("y_train"), y, fx.get(name("y_train")), kLayerRtol, kLayerAtol));
        EXPECT_TRUE(matricesNear(name("r"), m_layer->renormR().transpose(), fx.get(name("r")), kLayerRtol,
                                 kLayerAtol));
        EXPECT_TRUE(matricesNear(name("d"), m_layer->renormD().transpose(), fx.get(name("d")), kLayerRtol,
                                 kLayerAtol));
        const Matrix dx = m_layer->backward(fx.get(name("dy")));
        EXPECT_TRUE(
            matricesNear(name("dx"), dx, fx.get(name("dx")), kLayerRtol, gradientAtol(fx.get(name("dx")))));
        EXPECT_TRUE(matricesNear(name("dgamma"), m_layer->gammaGrad(), fx.get(name("dgamma")), kLayerRtol,
                                 gradientAtol(fx.get(name("dgamma")))));
        EXPECT_TRUE(matricesNear(name("dbeta"), m_layer->betaGrad(), fx.get(name("dbeta")), kLayerRtol,
                                 gradientAtol(fx.get(name("dbeta")))));
        EXPECT_TRUE(matricesNear(name("running_mean"), m_layer->runningMean().transpose(),
                                 fx.get(name("running_mean")), kLayerRtol, kLayerAtol));
        EXPECT_TRUE(matricesNear(name("running_var"), m_layer->runningVar().transpose(),
                                 fx.get(name("running_var")), kLayerRtol, kLayerAtol));
    }
    EXPECT_TRUE(matricesNear("y_eval", m_layer->forward(fx.get("x_eval"), Mode::Eval), fx.get("y_eval"),
                             kLayerRtol, kLayerAtol));
}

TEST_P(BatchRenormReference, TheFixtureClipsSomeButNotAllCorrections) {
    // Otherwise the comparison above would not test both the clipped and the free r and d.
    const Fixture& fx = *m_fixture;
    const float rMax = fx.scalar("rmax"), dMax = fx.scalar("dmax");
    int clipped = 0, free = 0;
    for (int step = 1; step <= 3; ++step) {
        const Matrix& r = fx.get("r_" + std::to_string(step));
        const Matrix& d = fx.get("d_" + std::to_string(step));
        for (engine::Index c = 0; c < r.cols(); ++c) {
            const bool rClipped = std::abs(r(0, c) - rMax) < 1e-6f || std::abs(r(0, c) - 1 / rMax) < 1e-6f;
            const bool dClipped = std::abs(std::abs(d(0, c)) - dMax) < 1e-6f;
            clipped += rClipped + dClipped;
            free += !rClipped + !dClipped;
        }
    }
    EXPECT_GT(clipped, 0);
    EXPECT_GT(free, 0);
}

INSTANTIATE_TEST_SUITE_P(Torch, BatchRenormReference, ::testing::Values("renorm1d", "renorm2d"),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

}  // namespace
}  // namespace bnlab::test
