#include "activation.h"

#include "layer_checks.h"
#include "parallel.h"

namespace bnlab::engine {
namespace {
// Element-wise work is split into chunks of about 16k values.
Index rowGrain(Index cols) { return std::max<Index>(1, 16384 / std::max<Index>(1, cols)); }
}  // namespace

std::string Activation::kind() const {
    switch (m_kind) {
        case ActivationKind::ReLU: return "relu";
        case ActivationKind::Sigmoid: return "sigmoid";
        case ActivationKind::Tanh: return "tanh";
    }
    return "activation";
}

const Matrix& Activation::forward(const Matrix& input, Mode) {
    checkColumns(kind().c_str(), "input", input, m_inputShape.size());
    m_inPlace = nullptr;
    m_output.resize(input.rows(), input.cols());
    apply(input, m_output);
    return m_output;
}

const Matrix& Activation::forwardInPlace(Matrix& input, Mode) {
    checkColumns(kind().c_str(), "input", input, m_inputShape.size());
    m_inPlace = &input;
    m_output.resize(0, 0);  // a buffer of an earlier forward that was not in place
    apply(input, input);
    return input;
}

// Element by element (so output may be input itself).
void Activation::apply(const Matrix& input, Matrix& output) const {
    parallel::forChunks(input.rows(), rowGrain(input.cols()), [&](Index r0, Index r1) {
        auto x = input.middleRows(r0, r1 - r0).array();
        auto y = output.middleRows(r0, r1 - r0).array();
        switch (m_kind) {
            case ActivationKind::ReLU: y = x.max(0.0f); break;
            case ActivationKind::Sigmoid: y = 1.0f / (1.0f + (-x).exp()); break;
            case ActivationKind::Tanh: y = x.tanh(); break;
        }
    });
}

const Matrix& Activation::backward(const Matrix& gradOutput) {
    checkColumns(kind().c_str(), "gradient", gradOutput, m_inputShape.size());
    checkSameRows(kind().c_str(), gradOutput, output().rows());
    m_gradInput.resize(gradOutput.rows(), gradOutput.cols());
    backwardInto(gradOutput, m_gradInput);
    return m_gradInput;
}

const Matrix& Activation::backwardInPlace(Matrix& gradOutput) {
    checkColumns(kind().c_str(), "gradient", gradOutput, m_inputShape.size());
    checkSameRows(kind().c_str(), gradOutput, output().rows());
    backwardInto(gradOutput, gradOutput);
    return gradOutput;
}

// Element by element (so gradInput may be gradOutput itself).
void Activation::backwardInto(const Matrix& gradOutput, Matrix& gradInput) const {
    parallel::forChunks(gradOutput.rows(), rowGrain(gradOutput.cols()), [&](Index r0, Index r1) {
        auto dy = gradOutput.middleRows(r0, r1 - r0).array();
        auto y = output().middleRows(r0, r1 - r0).array();
        auto dx = gradInput.middleRows(r0, r1 - r0).array();
        switch (m_kind) {
            case ActivationKind::ReLU: dx = (y > 0.0f).select(dy, 0.0f); break;   // f' = [x > 0]
            case ActivationKind::Sigmoid: dx = dy * y * (1.0f - y); break;        // f' = y(1 − y)
            case ActivationKind::Tanh: dx = dy * (1.0f - y.square()); break;      // f' = 1 − y²
        }
    });
}

}  // namespace bnlab::engine
