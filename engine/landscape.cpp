#include "landscape.h"

#include "softmax_cross_entropy.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace bnlab::engine {
namespace {

// Σ‖a_i − b_i‖² and Σ a_i·b_i in double.
double squaredDistance(const Matrix& a, const Matrix& b) { return (a.cast<double>() - b.cast<double>()).squaredNorm(); }
double dot(const Matrix& a, const Matrix& b) { return (a.cast<double>().array() * b.cast<double>().array()).sum(); }

// Every parameter value and running statistic of a network, to measure from and to put back.
class Snapshot {
public:
    explicit Snapshot(Network& net) : m_params(net.params()), m_bns(net.batchNormLayers()) {
        for (const NamedParam& p : m_params) m_values.push_back(*p.param.value);
        for (BatchNorm* bn : m_bns) m_running.emplace_back(bn->runningMean(), bn->runningVar());
    }
    // The running statistics as they were: every pass starts from them (Batch Renorm's r and d read them).
    void restoreRunning() const {
        for (std::size_t i = 0; i < m_bns.size(); ++i) {
            m_bns[i]->runningMean() = m_running[i].first;
            m_bns[i]->runningVar() = m_running[i].second;
        }
    }
    void restore() const {
        for (std::size_t i = 0; i < m_params.size(); ++i) *m_params[i].param.value = m_values[i];
        restoreRunning();
    }
    [[nodiscard]] const std::vector<NamedParam>& params() const { return m_params; }
    [[nodiscard]] const Matrix& value(std::size_t i) const { return m_values[i]; }

private:
    std::vector<NamedParam> m_params;
    std::vector<BatchNorm*> m_bns;
    std::vector<Matrix> m_values;
    std::vector<std::pair<Vector, Vector>> m_running;
};

}  // namespace

LandscapeRecord measureLandscape(Network& net, const Optimizer& optimizer, const Matrix& x,
                                 const std::vector<std::uint8_t>& labels) {
    const Snapshot start(net);
    const std::vector<NamedParam>& params = start.params();
    SoftmaxCrossEntropy ce;
    // One forward and backward pass from the running statistics of the start; the loss.
    auto pass = [&] {
        start.restoreRunning();
        const double loss = ce.forward(net.forward(x, Mode::Train), labels);
        net.backward(ce.backward());
        return loss;
    };
    auto gradients = [&] {
        std::vector<Matrix> g;
        for (const NamedParam& p : params) g.push_back(*p.param.grad);
        return g;
    };

    LandscapeRecord r;
    r.learningRate = optimizer.options().learningRate;
    r.loss = pass();
    const std::vector<Matrix> g = gradients();
    double gSquared = 0;
    for (const Matrix& m : g) gSquared += m.cast<double>().squaredNorm();
    r.gradNorm = std::sqrt(gSquared);

    // The update the optimizer would make from g: a copy of it steps the weights in place; keep the result.
    std::vector<Matrix> updated;
    {
        Optimizer copy = optimizer;
        copy.setRecordUpdates(false);
        copy.step();
        for (const NamedParam& p : params) updated.push_back(*p.param.value);
        start.restore();
    }

    // ICS per weight layer: earlier layers updated, the others at w.
    bool first = true;
    for (const BlockInfo& b : net.blocks()) {
        if (b.linear < 0) continue;
        std::size_t w = params.size();
        for (std::size_t i = 0; i < params.size(); ++i)
            if (params[i].layer == b.linear && params[i].param.name == "weight") w = i;
        LayerShift shift;
        shift.layer = net.layerName(b.linear);
        shift.gradNorm = g[w].cast<double>().norm();
        if (!first) {
            for (std::size_t i = 0; i < params.size(); ++i)
                *params[i].param.value = params[i].layer < b.linear ? updated[i] : start.value(i);
            (void)pass();
            const Matrix& shifted = *params[w].param.grad;
            shift.distance = std::sqrt(squaredDistance(g[w], shifted));
            const double norms = shift.gradNorm * shifted.cast<double>().norm();
            shift.cosine = norms > 0 ? dot(g[w], shifted) / norms : std::numeric_limits<double>::quiet_NaN();
        }
        first = false;
        r.layers.push_back(shift);
    }

    // Along −g at the grid of step sizes.
    r.lossMin = std::numeric_limits<double>::infinity();
    r.lossMax = -std::numeric_limits<double>::infinity();
    for (const double s : kLandscapeSteps) {
        const double eta = s * r.learningRate;
        for (std::size_t i = 0; i < params.size(); ++i)
            *params[i].param.value = start.value(i) - float(eta) * g[i];
        const double loss = pass();
        double changeSquared = 0;
        for (std::size_t i = 0; i < params.size(); ++i) changeSquared += squaredDistance(g[i], *params[i].param.grad);
        const double change = std::sqrt(changeSquared);
        r.stepSizes.push_back(eta);
        r.losses.push_back(loss);
        r.gradChanges.push_back(change);
        r.lossMin = std::min(r.lossMin, loss);  // a NaN loss leaves min and max alone; it stays in losses
        r.lossMax = std::max(r.lossMax, loss);
        r.predictiveness = std::max(r.predictiveness, change);
        if (r.gradNorm > 0) r.betaSmoothness = std::max(r.betaSmoothness, change / (eta * r.gradNorm));
    }
    start.restore();
    return r;
}

}  // namespace bnlab::engine
