#pragma once

#include "layer.h"

namespace bnlab::engine {

enum class ActivationKind { ReLU, Sigmoid, Tanh };

// Element-wise nonlinearity y = f(x), shape-preserving.
//   ReLU    f = max(0, x)        f' = [x > 0]
//   Sigmoid f = 1/(1 + e^−x)     f' = y(1 − y)
//   Tanh    f = tanh x           f' = 1 − y²
// Backward: dx = dy ⊙ f'(x), computed from the cached output y (ReLU: y > 0 ⇔ x > 0).
class Activation final : public Layer {
public:
    Activation(Shape inputShape, ActivationKind kind) : Layer(inputShape), m_kind(kind) {}

    [[nodiscard]] std::string kind() const override;
    [[nodiscard]] Shape outputShape() const override { return m_inputShape; }
    [[nodiscard]] ActivationKind activationKind() const { return m_kind; }
    const Matrix& forward(const Matrix& input, Mode mode) override;
    const Matrix& backward(const Matrix& gradOutput) override;
    const Matrix& backwardInPlace(Matrix& gradOutput) override;

private:
    void backwardInto(const Matrix& gradOutput, Matrix& gradInput) const;  // gradInput may be gradOutput

    ActivationKind m_kind;
};

}  // namespace bnlab::engine
