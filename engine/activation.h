#pragma once

#include "layer.h"

namespace bnlab::engine {

enum class ActivationKind { ReLU, Sigmoid, Tanh };

// Element-wise nonlinearity y = f(x), shape-preserving.
//   ReLU    f = max(0, x)        f' = [x > 0]
//   Sigmoid f = 1/(1 + e^−x)     f' = y(1 − y)
//   Tanh    f = tanh x           f' = 1 − y²
// Backward: dx = dy ⊙ f'(x), computed from the output y (ReLU: y > 0 ⇔ x > 0), which is why forward can
// also run in place (the output written over the input; see Layer::canForwardInPlace).
class Activation final : public Layer {
public:
    Activation(Shape inputShape, ActivationKind kind) : Layer(inputShape), m_kind(kind) {}

    [[nodiscard]] std::string kind() const override;
    [[nodiscard]] Shape outputShape() const override { return m_inputShape; }
    [[nodiscard]] ActivationKind activationKind() const { return m_kind; }
    const Matrix& forward(const Matrix& input, Mode mode) override;
    [[nodiscard]] bool canForwardInPlace() const override { return true; }
    const Matrix& forwardInPlace(Matrix& input, Mode mode) override;
    const Matrix& backward(const Matrix& gradOutput) override;
    const Matrix& backwardInPlace(Matrix& gradOutput) override;
    [[nodiscard]] const Matrix& output() const override { return m_inPlace != nullptr ? *m_inPlace : m_output; }
    // This forward is left to the next layer, which applies the function as it reads its input (Network::forward
    // with BatchNorm::forwardAfterRelu): no output of its own this time (output() is empty).
    void leaveToNextLayer() {
        m_inPlace = nullptr;
        m_output.resize(0, 0);
    }

private:
    void apply(const Matrix& input, Matrix& output) const;  // output may be input
    void backwardInto(const Matrix& gradOutput, Matrix& gradInput) const;  // gradInput may be gradOutput

    ActivationKind m_kind;
    Matrix* m_inPlace = nullptr;  // the output of the latest forward, when it was in place
};

}  // namespace bnlab::engine
