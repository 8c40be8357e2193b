#pragma once

#include "layer.h"

#include <cstdint>

namespace bnlab::engine {

// "Noisy" Batch Normalization (Santurkar, Tsipras, Ilyas & Madry 2018, section 2.1): noise after a BN layer whose
// mean and scale change at every training step, so that the next layer's input distribution shifts all the time
// even though BN has just normalised it. Per feature j (channel for a conv input) and training step t:
//   m_j ~ U(−n_μ, n_μ),  s_j ~ U(1, n_σ),   Train: y = s_j·x + m_j   (every sample and position of feature j)
//   backward: dx = s_j·dy.   Eval and EvalBatch: y = x, dx = dy (nothing is added in inference).
// (m_j, s_j) are a pure function of (seed, step, j) through splitmix64, as Dropout's masks, so they do not depend on
// the threads, every forward of a step (the probe forward, the landscape measures, a finite-difference check) sees
// the same noise, and setStep() moves to the next draw.
// The paper perturbs "each activation for each sample" with i.i.d. noise of non-zero mean and non-unit variance
// that changes at each time step; this layer keeps the time-varying mean and scale per feature, shared by the
// samples of the batch (see docs/decisions.md).
class BatchNormNoise final : public Layer {
public:
    // meanRange n_μ ≥ 0, scaleMax n_σ ≥ 1 (finite); throws Error otherwise.
    BatchNormNoise(Shape inputShape, float meanRange, float scaleMax, std::uint64_t seed);

    [[nodiscard]] std::string kind() const override { return "bnnoise"; }
    [[nodiscard]] Shape outputShape() const override { return m_inputShape; }
    const Matrix& forward(const Matrix& input, Mode mode) override;
    const Matrix& backward(const Matrix& gradOutput) override;
    const Matrix& backwardInPlace(Matrix& gradOutput) override;

    // The training step the noise is drawn for (the Trainer sets it before every step).
    void setStep(std::uint64_t step) { m_step = step; }
    // The draw of the current step: (F) means m_j and scales s_j.
    [[nodiscard]] const Vector& mean() const { return m_mean; }
    [[nodiscard]] const Vector& scale() const { return m_scale; }

private:
    void draw();  // m_mean, m_scale for m_step

    float m_meanRange, m_scaleMax;
    std::uint64_t m_seed;
    std::uint64_t m_step = 0;
    std::uint64_t m_drawnStep = ~std::uint64_t(0);
    Mode m_lastMode = Mode::Train;
    Index m_rows = -1;     // samples of the latest forward
    Vector m_mean, m_scale;  // (F)
};

}  // namespace bnlab::engine
