#pragma once

#include "layer.h"

#include <cstdint>

namespace bnlab::engine {

// Inverted Dropout (Srivastava et al. 2014, in the form torch.nn.Dropout and Keras use): in Mode::Train each
// value is kept with probability 1 − p and scaled by 1/(1 − p), otherwise set to 0, so its expectation is
// unchanged and Mode::Eval (and EvalBatch) is the identity.
//   Train: y = x ⊙ mask,  mask_i ∈ {0, 1/(1 − p)};  backward: dx = dy ⊙ mask.   Eval: y = x, dx = dy.
// The mask is a pure function of (seed, step, i), i = n·cols + j the position in the batch: element i is kept
// when the top 32 bits of splitmix64 at position i of the stream (seed, step) are ≥ p·2³². So it does not
// depend on the threads, repeated forwards of the same step draw the same mask (what a finite-difference
// check needs, and why the probe forward of a step sees that step's mask), and setStep() moves to a new one.
class Dropout final : public Layer {
public:
    // rate p in [0, 1); throws Error otherwise.
    Dropout(Shape inputShape, float rate, std::uint64_t seed);

    [[nodiscard]] std::string kind() const override { return "dropout"; }
    [[nodiscard]] Shape outputShape() const override { return m_inputShape; }
    const Matrix& forward(const Matrix& input, Mode mode) override;
    const Matrix& backward(const Matrix& gradOutput) override;
    const Matrix& backwardInPlace(Matrix& gradOutput) override;

    [[nodiscard]] float rate() const { return m_rate; }
    // The training step the masks are drawn for (the Trainer sets it before every step).
    void setStep(std::uint64_t step) { m_step = step; }
    [[nodiscard]] std::uint64_t step() const { return m_step; }
    // (N, in) of the latest Train forward: 0 or 1/(1 − p).
    [[nodiscard]] const Matrix& mask() const { return m_mask; }

private:
    float m_rate;
    std::uint64_t m_seed;
    std::uint64_t m_step = 0;
    Mode m_lastMode = Mode::Train;
    Index m_rows = -1;  // samples of the latest forward
    Matrix m_mask;      // (N, in)
};

}  // namespace bnlab::engine
