#pragma once

#include "tensor.h"

#include <cstdint>
#include <vector>

namespace bnlab::engine {

// Softmax followed by the mean cross-entropy over the batch, fused and numerically stable.
//   logits z (N, C), labels t (N):  p = softmax(z) = e^(z − max z)/Σ e^(z − max z)
//   L = −(1/N) Σ_n log p[n, t_n] = (1/N) Σ_n (logΣ_c e^(z_nc − max) − (z_{n,t_n} − max))
// Backward: dL/dz = (p − onehot(t))/N.
class SoftmaxCrossEntropy final {
public:
    // Returns the mean loss (double-accumulated); keeps p for backward and the number of correct argmaxes.
    double forward(const Matrix& logits, const std::vector<std::uint8_t>& labels);
    const Matrix& backward();  // (N, C)

    [[nodiscard]] const Matrix& probabilities() const { return m_prob; }
    [[nodiscard]] Index correct() const { return m_correct; }  // argmax hits in the latest forward
    // The argmax of each row's logits in the latest forward (the first of equal maxima): the predicted class.
    [[nodiscard]] const std::vector<Index>& predicted() const { return m_predicted; }  // (N)

private:
    Matrix m_prob;      // (N, C)
    Matrix m_gradLogits;  // (N, C)
    const std::vector<std::uint8_t>* m_labels = nullptr;
    std::vector<Index> m_predicted;  // (N)
    Index m_correct = 0;
};

}  // namespace bnlab::engine
