#pragma once

#include "layer.h"

namespace bnlab::engine {

struct BatchNormOptions {
    float momentum = 0.99f;  // Keras convention: the weight kept on the old running value (PyTorch: 1 − this)
    float epsilon = 1e-3f;   // added to the variance
};

// Batch Normalization (Ioffe & Szegedy 2015), per feature of a dense input or per channel of a conv input.
// For a feature, over the m values of the batch (m = N for dense, m = N·H·W per channel for conv):
//   μ = (1/m) Σ x,  σ² = (1/m) Σ (x − μ)²  (biased),  x̂ = (x − μ)/√(σ² + ε),  y = γ·x̂ + β.
//   running_mean ← k·running_mean + (1 − k)·μ
//   running_var  ← k·running_var  + (1 − k)·σ²·m/(m − 1)   (unbiased, as PyTorch stores it)
// Eval: y = γ·(x − running_mean)/√(running_var + ε) + β.
// Backward: dx = (γ/(m·√(σ² + ε)))·(m·dy − Σdy − x̂·Σ(dy·x̂)),  dγ = Σ dy·x̂,  dβ = Σ dy.
// (After an Eval forward, backward differentiates the eval expression: dx = γ·dy/√(running_var + ε).)
// Matches torch.nn.BatchNorm1d/2d with momentum = 1 − k and eps = ε.
// Training mode needs m ≥ 2 (the variance of one value is 0 and its unbiased estimate undefined):
// forward throws ConfigError for a batch that gives m = 1.
class BatchNorm final : public Layer {
public:
    BatchNorm(Shape inputShape, BatchNormOptions options = {});

    [[nodiscard]] std::string kind() const override { return "batchnorm"; }
    [[nodiscard]] Shape outputShape() const override { return m_inputShape; }
    const Matrix& forward(const Matrix& input, Mode mode) override;
    const Matrix& backward(const Matrix& gradOutput) override;
    [[nodiscard]] std::vector<Param> params() override;

    [[nodiscard]] int features() const { return m_inputShape.c; }  // F for dense, C for conv
    [[nodiscard]] BatchNormOptions options() const { return m_options; }
    void setOptions(BatchNormOptions options) { m_options = options; }

    [[nodiscard]] Matrix& gamma() { return m_gamma; }  // (1, F)
    [[nodiscard]] Matrix& beta() { return m_beta; }    // (1, F)
    [[nodiscard]] const Matrix& gammaGrad() const { return m_gammaGrad; }
    [[nodiscard]] const Matrix& betaGrad() const { return m_betaGrad; }
    [[nodiscard]] Vector& runningMean() { return m_runningMean; }  // (F)
    [[nodiscard]] Vector& runningVar() { return m_runningVar; }    // (F)
    // Statistics of the latest Train forward (biased variance), for the probes.
    [[nodiscard]] const Vector& batchMean() const { return m_batchMean; }  // (F)
    [[nodiscard]] const Vector& batchVar() const { return m_batchVar; }    // (F)

private:
    void forwardDense(const Matrix& x, Mode mode);  // the S = 1 case, vectorised over features
    void backwardDense(const Matrix& dy);

    BatchNormOptions m_options;
    Matrix m_gamma, m_gammaGrad;  // (1, F)
    Matrix m_beta, m_betaGrad;    // (1, F)
    Vector m_runningMean, m_runningVar;  // (F)
    Vector m_batchMean, m_batchVar;      // (F) of the latest Train batch
    Vector m_batchInvStd;                // (F) 1/√(σ² + ε) of the latest Train batch
    Vector m_evalInvStd;                 // (F) 1/√(running_var + ε) of the latest Eval batch
    const Matrix* m_input = nullptr;     // (N, in) the latest forward input; x̂ is recomputed from it
    Mode m_lastMode = Mode::Train;
    Eigen::ArrayXd m_sum, m_sumProduct;  // (F) accumulators of the dense path
    Matrix m_scale;                      // (1, F) γ/(m·√(σ² + ε)) of the dense backward
};

}  // namespace bnlab::engine
