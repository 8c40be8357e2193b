#pragma once

#include "layer.h"
#include "layer_checks.h"

namespace bnlab::engine {

// Flatten (N, C·H·W) -> (N, C·H·W) as a dense activation. Rows are already flat, so this only changes the
// shape the next layer sees: forward returns its input and backward its gradient, copying nothing (the
// previous layer's output and the next layer's gradient stay where they are until the next step).
class Flatten final : public Layer {
public:
    explicit Flatten(Shape inputShape) : Layer(inputShape) {}

    [[nodiscard]] std::string kind() const override { return "flatten"; }
    [[nodiscard]] Shape outputShape() const override { return {int(m_inputShape.size()), 1, 1}; }
    [[nodiscard]] const Matrix& output() const override { return m_input != nullptr ? *m_input : m_output; }
    const Matrix& forward(const Matrix& input, Mode) override {
        checkColumns("flatten", "input", input, m_inputShape.size());
        m_input = &input;
        return input;
    }
    const Matrix& backward(const Matrix& gradOutput) override {
        checkColumns("flatten", "gradient", gradOutput, m_inputShape.size());
        checkSameRows("flatten", gradOutput, output().rows());
        return gradOutput;
    }

private:
    const Matrix* m_input = nullptr;
};

}  // namespace bnlab::engine
