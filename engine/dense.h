#pragma once

#include "layer.h"

namespace bnlab::engine {

// Fully connected layer: y = x·Wᵀ + b.
//   x (N, I), W (O, I) as in PyTorch's nn.Linear, b (1, O), y (N, O).
// Backward: dx = dy·W (N, I); dW = dyᵀ·x (O, I); db = Σ_n dy (1, O).
// Products by gemm::multiply. Work is split over samples for forward; over input features for dW and dx (over output features and
// samples for a layer narrower than two such chunks); db is one short serial sum. No two threads ever write
// the same element and no result depends on the thread count.
class Dense final : public Layer {
public:
    Dense(Shape inputShape, int outputs, bool useBias = true);

    [[nodiscard]] std::string kind() const override { return "dense"; }
    [[nodiscard]] bool outputMayBeOverwritten() const override { return true; }
    [[nodiscard]] Shape outputShape() const override { return {m_outputs, 1, 1}; }
    const Matrix& forward(const Matrix& input, Mode mode) override;
    const Matrix& backward(const Matrix& gradOutput) override;
    void backwardParameters(const Matrix& gradOutput) override;
    [[nodiscard]] std::vector<Param> params() override;

    [[nodiscard]] Matrix& weight() { return m_weight; }  // (O, I)
    [[nodiscard]] Matrix& bias() { return m_bias; }      // (1, O)
    [[nodiscard]] const Matrix& weightGrad() const { return m_weightGrad; }
    [[nodiscard]] const Matrix& biasGrad() const { return m_biasGrad; }
    [[nodiscard]] bool hasBias() const { return m_useBias; }

private:
    int m_outputs;
    bool m_useBias;
    Matrix m_weight, m_weightGrad;  // (O, I)
    Matrix m_bias, m_biasGrad;      // (1, O)
    const Matrix* m_input = nullptr;  // (N, I), the latest forward input
};

}  // namespace bnlab::engine
