#pragma once

#include "layer.h"

#include <memory>
#include <string>
#include <vector>

namespace bnlab::engine {

enum class OptimizerKind { SGD, Adam };

struct OptimizerOptions {
    OptimizerKind kind = OptimizerKind::SGD;
    float learningRate = 0.1f;
    float momentum = 0.0f;      // SGD only: v ← μ·v + g; w ← w − lr·v (PyTorch's form, dampening 0)
    float beta1 = 0.9f;         // Adam
    float beta2 = 0.999f;       // Adam
    float adamEpsilon = 1e-7f;  // Adam (Keras default; PyTorch uses 1e-8)
    float weightDecay = 0.0f;   // L2: g ← g + λ·w for parameters with decay = true (PyTorch's weight_decay)
};

// Updates parameters in place from their gradients.
//   SGD:  g' = g + λw;  v ← μv + g' (μ > 0);  w ← w − lr·(μ > 0 ? v : g')
//   Adam: g' = g + λw;  m ← β1·m + (1 − β1)·g';  v ← β2·v + (1 − β2)·g'²;
//         m̂ = m/(1 − β1^t);  v̂ = v/(1 − β2^t);  w ← w − lr·m̂/(√v̂ + ε)
// Both are exactly torch.optim.SGD / torch.optim.Adam (non-AMSGrad, L2 added to the gradient).
class Optimizer final {
public:
    explicit Optimizer(OptimizerOptions options) : m_options(options) {}

    // Binds the parameters; state (velocity, moments) is created zeroed. Call once before step().
    void bind(std::vector<Param> params);
    // Binds a changed parameter list (a layer added or removed mid-run): a parameter whose name was bound
    // before keeps its state and step count unless it is in `fresh`; the others start as in bind(). Adam's bias
    // correction counts steps per parameter, so a new parameter starts as on a first step.
    void rebind(std::vector<Param> params, const std::vector<std::string>& fresh = {});
    void step();

    [[nodiscard]] const OptimizerOptions& options() const { return m_options; }
    void setLearningRate(float lr) { m_options.learningRate = lr; }
    [[nodiscard]] long stepCount() const { return m_step; }

    // When on, step() records ‖Δw‖ for each parameter (read with lastUpdateNorm) for the probes.
    void setRecordUpdates(bool on) { m_recordUpdates = on; }
    [[nodiscard]] double lastUpdateNorm(std::size_t paramIndex) const { return m_updateNorm[paramIndex]; }
    [[nodiscard]] const std::vector<Param>& params() const { return m_params; }

    // What step() carries from one step to the next (a checkpoint saves it): the step counts, SGD's velocity
    // or Adam's moments, per bound parameter in order. `first` is empty for plain SGD (no momentum: no state).
    struct State {
        long step = 0;
        std::vector<long> paramSteps;
        std::vector<Matrix> first, second;  // SGD velocity or Adam m; Adam v
    };
    [[nodiscard]] State state() const;
    // Throws Error naming the parameter whose count or shape differs from the bound ones.
    void setState(State state);

private:
    OptimizerOptions m_options;
    std::vector<Param> m_params;
    std::vector<Matrix> m_state1, m_state2;  // SGD velocity / Adam first and second moments
    std::vector<long> m_paramSteps;          // steps taken by each parameter
    std::vector<double> m_updateNorm;
    long m_step = 0;
    bool m_recordUpdates = false;
};

}  // namespace bnlab::engine
