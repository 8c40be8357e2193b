#pragma once

#include "layer.h"

#include <cstdint>
#include <vector>

namespace bnlab::engine {

// Max pooling over non-overlapping (by default) windows, per channel.
//   x (N, C·H·W) -> y (N, C·Ho·Wo), Ho = (H − k)/stride + 1 (no padding, floor as PyTorch and Keras).
// Backward routes each dy to the input position that held the maximum (the first one on ties).
class MaxPool2D final : public Layer {
public:
    MaxPool2D(Shape inputShape, int kernel, int stride = 0 /* 0 = kernel */);

    [[nodiscard]] std::string kind() const override { return "maxpool2d"; }
    [[nodiscard]] Shape outputShape() const override { return m_outShape; }
    const Matrix& forward(const Matrix& input, Mode mode) override;
    const Matrix& backward(const Matrix& gradOutput) override;
    [[nodiscard]] bool canBackwardOver() const override { return true; }  // backward reads only the argmax
    const Matrix& backwardOver(const Matrix& gradOutput, Matrix& buffer) override;

private:
    void gradientInto(const Matrix& gradOutput, Matrix& gradInput) const;

    int m_kernel, m_stride;
    Shape m_outShape;
    std::vector<std::int32_t> m_argmax;  // (N·C·Ho·Wo) column index in the input row of each maximum
};

}  // namespace bnlab::engine
