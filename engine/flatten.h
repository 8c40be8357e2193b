#pragma once

#include "layer.h"
#include "layer_checks.h"

namespace bnlab::engine {

// Flatten (N, C·H·W) -> (N, C·H·W) as a dense activation. Rows are already flat, so this only changes
// the shape the next layer sees; forward and backward copy nothing but the data into the own buffer.
class Flatten final : public Layer {
public:
    explicit Flatten(Shape inputShape) : Layer(inputShape) {}

    [[nodiscard]] std::string kind() const override { return "flatten"; }
    [[nodiscard]] Shape outputShape() const override { return {int(m_inputShape.size()), 1, 1}; }
    const Matrix& forward(const Matrix& input, Mode) override {
        checkColumns("flatten", "input", input, m_inputShape.size());
        m_output = input;
        return m_output;
    }
    const Matrix& backward(const Matrix& gradOutput) override {
        checkColumns("flatten", "gradient", gradOutput, m_inputShape.size());
        checkSameRows("flatten", gradOutput, m_output.rows());
        m_gradInput = gradOutput;
        return m_gradInput;
    }
};

}  // namespace bnlab::engine
