#include "optimizer.h"

#include "error.h"

#include <algorithm>
#include <cmath>

namespace bnlab::engine {

void Optimizer::bind(std::vector<Param> params) {
    m_params = std::move(params);
    m_state1.clear();
    m_state2.clear();
    for (const Param& p : m_params) {
        if (p.value->rows() != p.grad->rows() || p.value->cols() != p.grad->cols())
            throw Error("optimizer: parameter '" + p.name + "' and its gradient differ in shape");
        m_state1.push_back(Matrix::Zero(p.value->rows(), p.value->cols()));
        if (m_options.kind == OptimizerKind::Adam) m_state2.push_back(Matrix::Zero(p.value->rows(), p.value->cols()));
    }
    m_updateNorm.assign(m_params.size(), 0.0);
    m_paramSteps.assign(m_params.size(), 0);
    m_step = 0;
}

void Optimizer::rebind(std::vector<Param> params, const std::vector<std::string>& fresh) {
    std::vector<Matrix> state1, state2;
    std::vector<long> steps;
    for (const Param& p : params) {
        if (p.value->rows() != p.grad->rows() || p.value->cols() != p.grad->cols())
            throw Error("optimizer: parameter '" + p.name + "' and its gradient differ in shape");
        std::size_t old = m_params.size();
        if (std::find(fresh.begin(), fresh.end(), p.name) == fresh.end())
            for (std::size_t i = 0; i < m_params.size(); ++i)
                if (m_params[i].name == p.name && m_state1[i].rows() == p.value->rows() &&
                    m_state1[i].cols() == p.value->cols())
                    old = i;
        const bool keep = old < m_params.size();
        state1.push_back(keep ? std::move(m_state1[old]) : Matrix::Zero(p.value->rows(), p.value->cols()));
        if (m_options.kind == OptimizerKind::Adam)
            state2.push_back(keep ? std::move(m_state2[old]) : Matrix::Zero(p.value->rows(), p.value->cols()));
        steps.push_back(keep ? m_paramSteps[old] : 0);
    }
    m_params = std::move(params);
    m_state1 = std::move(state1);
    m_state2 = std::move(state2);
    m_paramSteps = std::move(steps);
    m_updateNorm.assign(m_params.size(), 0.0);
}

Optimizer::State Optimizer::state() const {
    const bool stateless = m_options.kind == OptimizerKind::SGD && m_options.momentum == 0;
    return {m_step, m_paramSteps, stateless ? std::vector<Matrix>{} : m_state1, m_state2};
}

void Optimizer::setState(State s) {
    const std::size_t n = m_params.size();
    const bool stateless = m_options.kind == OptimizerKind::SGD && m_options.momentum == 0;
    const std::size_t second = m_options.kind == OptimizerKind::Adam ? n : 0;
    if (s.paramSteps.size() != n || s.first.size() != (stateless ? 0 : n) || s.second.size() != second)
        throw Error("optimizer: the saved state is for " + std::to_string(s.paramSteps.size()) +
                    " parameters, this network has " + std::to_string(n));
    auto check = [&](const std::vector<Matrix>& v, const char* what) {
        for (std::size_t i = 0; i < v.size(); ++i)
            if (v[i].rows() != m_params[i].value->rows() || v[i].cols() != m_params[i].value->cols())
                throw Error("optimizer: the saved " + std::string(what) + " of '" + m_params[i].name + "' is " +
                            std::to_string(v[i].rows()) + "x" + std::to_string(v[i].cols()) + ", the parameter " +
                            std::to_string(m_params[i].value->rows()) + "x" + std::to_string(m_params[i].value->cols()));
    };
    check(s.first, "first moment");
    check(s.second, "second moment");
    m_step = s.step;
    m_paramSteps = std::move(s.paramSteps);
    if (!stateless) m_state1 = std::move(s.first);
    m_state2 = std::move(s.second);
}

void Optimizer::step() {
    ++m_step;
    const OptimizerOptions& o = m_options;
    const float lr = o.learningRate;

    for (std::size_t i = 0; i < m_params.size(); ++i) {
        const long t = ++m_paramSteps[i];
        Matrix& w = *m_params[i].value;
        const float decay = m_params[i].decay ? o.weightDecay : 0.0f;
        auto g = m_params[i].grad->array() + decay * w.array();  // g' = g + λw (an expression, no copy)
        double updateSq = 0;
        if (o.kind == OptimizerKind::SGD) {
            if (o.momentum > 0) {
                Matrix& v = m_state1[i];
                // PyTorch: on the first step the buffer is the gradient itself, v ← g'.
                if (t == 1) v = g.matrix();
                else v.array() = o.momentum * v.array() + g;
                if (m_recordUpdates) updateSq = double(lr) * lr * v.squaredNorm();
                w.array() -= lr * v.array();
            } else {
                if (m_recordUpdates) updateSq = double(lr) * lr * g.matrix().squaredNorm();
                w.array() -= lr * g;
            }
        } else {
            // Adam's bias corrections, in double as the step count grows.
            const double c1 = 1.0 - std::pow(double(o.beta1), double(t));
            const double c2 = 1.0 - std::pow(double(o.beta2), double(t));
            Matrix& m = m_state1[i];
            Matrix& v = m_state2[i];
            m.array() = o.beta1 * m.array() + (1 - o.beta1) * g;
            v.array() = o.beta2 * v.array() + (1 - o.beta2) * g.square();
            // w ← w − lr·m̂/(√v̂ + ε) with m̂ = m/c1, v̂ = v/c2, written as PyTorch does:
            // step = lr/c1,  denom = √v/√c2 + ε
            const float stepSize = float(lr / c1);
            const float sqrtC2 = float(std::sqrt(c2));
            auto update = stepSize * m.array() / (v.array().sqrt() / sqrtC2 + o.adamEpsilon);
            if (m_recordUpdates) updateSq = update.matrix().squaredNorm();
            w.array() -= update;
        }
        m_updateNorm[i] = std::sqrt(updateSq);
    }
}

}  // namespace bnlab::engine
