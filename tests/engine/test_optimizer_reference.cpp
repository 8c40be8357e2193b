// Optimizers against torch.optim.SGD / torch.optim.Adam (fixtures from tests/fixtures/make_fixtures.py).
//
// Each case binds one parameter w (3x4, decay = true), assigns the recorded gradient g_k before step k
// and compares w after every step with torch: |engine − torch| ≤ 1e-6 + 1e-5·|torch|, element-wise.
// The gradients span 1 to 1e-8 by column, and a column of w is ~1e-5, so that L2 decay and Adam's ε
// both decide the update there. The script records torch's float32 drift from float64 (< 2e-7).

#include "fixture.h"

#include "optimizer.h"

#include <gtest/gtest.h>

#include <string>

namespace bnlab::test {
namespace {

using engine::Matrix;
using engine::Optimizer;
using engine::OptimizerKind;
using engine::OptimizerOptions;
using engine::Param;

constexpr double kRtol = 1e-5;
constexpr double kAtol = 1e-6;

struct Case {
    std::string file;
    OptimizerKind kind;
};

class OptimizerReference : public ::testing::TestWithParam<Case> {};

OptimizerOptions optionsFrom(const Fixture& fx, OptimizerKind kind) {
    OptimizerOptions o;
    o.kind = kind;
    o.learningRate = fx.scalar("lr");
    o.weightDecay = fx.scalar("weight_decay");
    if (kind == OptimizerKind::SGD) {
        o.momentum = fx.scalar("momentum");
    } else {
        o.beta1 = fx.scalar("beta1");
        o.beta2 = fx.scalar("beta2");
        o.adamEpsilon = fx.scalar("eps");
    }
    return o;
}

TEST_P(OptimizerReference, MatchesTorchAfterEveryStep) {
    const Fixture fx(GetParam().file + ".txt");
    Optimizer optimizer(optionsFrom(fx, GetParam().kind));
    Matrix w = fx.get("w_0");
    Matrix g = Matrix::Zero(w.rows(), w.cols());
    optimizer.bind({Param{"weight", &w, &g, true}});

    const int steps = int(fx.scalar("steps"));
    ASSERT_GT(steps, 0);
    for (int k = 1; k <= steps; ++k) {
        const std::string s = std::to_string(k);
        g = fx.get("g_" + s);
        optimizer.step();
        EXPECT_TRUE(matricesNear("w_" + s, w, fx.get("w_" + s), kRtol, kAtol));
    }
    EXPECT_EQ(optimizer.stepCount(), steps);
}

INSTANTIATE_TEST_SUITE_P(Torch, OptimizerReference,
                         ::testing::Values(Case{"sgd", OptimizerKind::SGD}, Case{"sgd_plain", OptimizerKind::SGD},
                                           Case{"adam", OptimizerKind::Adam},
                                           Case{"adam_nodecay", OptimizerKind::Adam}),
                         [](const ::testing::TestParamInfo<Case>& info) { return info.param.file; });

}  // namespace
}  // namespace bnlab::test
