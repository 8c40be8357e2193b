#pragma once

#include "layer.h"

#include <utility>

namespace bnlab::engine {

// The settings of the normalisation layers (BatchNorm, its renormalising form, and GroupNorm/LayerNorm).
struct BatchNormOptions {
    float momentum = 0.99f;  // Keras convention: the weight kept on the old running value (PyTorch: 1 − this)
    float epsilon = 1e-3f;   // added to the variance (every norm kind)
    float rMax = 3.0f;       // Batch Renormalization: r is clipped to [1/rMax, rMax] (the paper's final value)
    float dMax = 5.0f;       // Batch Renormalization: d is clipped to [−dMax, dMax] (the paper's final value)
    int groups = 32;         // GroupNorm: at most this many groups (GroupNorm::groupsFor; the paper's default)
    // "Noisy" BN (Santurkar et al. 2018): a BatchNormNoise layer after every BN and Batch Renorm layer.
    bool noise = false;
    float noiseMean = 1.0f;   // n_μ: the noise mean of a feature is drawn from U(−n_μ, n_μ) at every step
    float noiseScale = 2.0f;  // n_σ: the noise scale of a feature is drawn from U(1, n_σ) at every step
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
// EvalBatch (evaluation with batch statistics): the Train forward (renorm: with its r and d) with the statistics
// kept apart from the Train ones, and no running statistic updated; backward after it throws.
// Training mode needs m ≥ 2 (the variance of one value is 0 and its unbiased estimate undefined):
// forward throws ConfigError for a batch that gives m = 1.
//
// With renormalize = true it is Batch Renormalization (Ioffe 2017, Algorithm 1), kind "batchrenorm". In
// training mode, with σ_B = √(σ² + ε) and σ = √(running_var + ε) (the running statistics before this batch):
//   r = clip(σ_B/σ, 1/rMax, rMax),  d = clip((μ − running_mean)/σ, −dMax, dMax),  both treated as constants;
//   x̂ = r·(x − μ)/σ_B + d,  y = γ·x̂ + β;  the running statistics are updated as above.
// Backward: dx = r·(γ/(m·σ_B))·(m·dy − Σdy − x̂_B·Σ(dy·x̂_B)) with x̂_B = (x − μ)/σ_B (r, d stop the gradient),
// dγ = Σ dy·x̂ = r·Σ(dy·x̂_B) + d·Σdy, dβ = Σ dy. Eval is BN's. With r = 1, d = 0 it is BN exactly.
// The paper keeps a running σ; this layer keeps the running variance as BN does (σ = √(running_var + ε)),
// so that probes, the inference form and the mid-run fold are shared with BN.
class BatchNorm final : public Layer {
public:
    BatchNorm(Shape inputShape, BatchNormOptions options = {}, bool renormalize = false);

    [[nodiscard]] std::string kind() const override { return m_renorm ? "batchrenorm" : "batchnorm"; }
    [[nodiscard]] bool outputMayBeOverwritten() const override { return true; }  // backward reads the input
    [[nodiscard]] bool renormalizes() const { return m_renorm; }
    [[nodiscard]] Shape outputShape() const override { return m_inputShape; }
    const Matrix& forward(const Matrix& input, Mode mode) override;
    const Matrix& backward(const Matrix& gradOutput) override;
    const Matrix& backwardInPlace(Matrix& gradOutput) override;
    [[nodiscard]] std::vector<Param> params() override;

    // BN after a ReLU, fused (the Network's choice, for conv inputs): forwardAfterRelu(x) is forward(max(0, x)),
    // reading x through the ReLU in the passes BN makes anyway, and the backward that follows returns the
    // gradient with respect to x, ReLU's mask applied in BN's own pass: the ReLU's two passes over the batch
    // (forward and backward) are saved. The same values, bit for bit, as the ReLU layer followed by forward().
    [[nodiscard]] bool canReadThroughRelu() const { return m_inputShape.h * m_inputShape.w > 1; }
    const Matrix& forwardAfterRelu(const Matrix& preActivation, Mode mode);

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
    // Batch Renormalization's corrections of the latest Train forward (1 and 0 for BN).
    [[nodiscard]] const Vector& renormR() const { return m_r; }  // (F)
    [[nodiscard]] const Vector& renormD() const { return m_d; }  // (F)

private:
    const Matrix& forwardReading(const Matrix& input, Mode mode);  // input as it is or through the ReLU
    template <class Load>
    void forwardChannels(const Matrix& input, Mode mode, Load load);  // the S > 1 case, channel by channel
    template <class Load>
    void backwardChannels(const Matrix& gradOutput, Matrix& gradInput, Load load);
    void forwardDense(const Matrix& x, Mode mode);  // the S = 1 case, vectorised over features
    void checkGradient(const Matrix& gradOutput) const;
    void backwardInto(const Matrix& gradOutput, Matrix& gradInput);  // gradInput may be gradOutput
    void backwardDense(const Matrix& dy, Matrix& gradInput);

    // Renorm's (r, d) of channel c for batch statistics (μ, σ²), against the current running statistics.
    [[nodiscard]] std::pair<float, float> renormCorrections(Index c, double mu, double var) const;

    BatchNormOptions m_options;
    bool m_renorm = false;
    Matrix m_gamma, m_gammaGrad;  // (1, F)
    Matrix m_beta, m_betaGrad;    // (1, F)
    Vector m_runningMean, m_runningVar;  // (F)
    Vector m_batchMean, m_batchVar;      // (F) of the latest Train batch
    Vector m_batchInvStd;                // (F) 1/√(σ² + ε) of the latest Train batch
    Vector m_evalInvStd;                 // (F) 1/√(running_var + ε) of the latest Eval batch,
                                         //     1/√(σ² + ε) of the latest EvalBatch batch
    Vector m_r, m_d;                     // (F) renorm's r and d of the latest Train batch (1 and 0 for BN)
    Vector m_evalMean;                   // (F) μ of the latest EvalBatch batch
    Vector m_evalR, m_evalD;             // (F) renorm's r and d of the latest EvalBatch batch (1 and 0 for BN)
    const Matrix* m_input = nullptr;     // (N, in) the latest forward input; x̂ is recomputed from it
    bool m_throughRelu = false;          // the latest forward read its input through a ReLU (forwardAfterRelu)
    Mode m_lastMode = Mode::Train;
    Eigen::ArrayXd m_sum, m_sumProduct;  // (F) accumulators of the dense path
    Matrix m_scale;                      // (1, F) γ·r/(m·√(σ² + ε)) of the dense backward; γ·r of the renorm forward
    Matrix m_shift;                      // (1, F) γ·d + β of the dense renorm forward
};

}  // namespace bnlab::engine
