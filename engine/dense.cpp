#include "dense.h"

#include "layer_checks.h"
#include "parallel.h"

namespace bnlab::engine {
namespace {
constexpr Index kRowGrain = 32;      // samples per chunk (forward, dx)
constexpr Index kFeatureGrain = 16;  // output features per chunk (dW, db)
}  // namespace

Dense::Dense(Shape inputShape, int outputs, bool useBias)
    : Layer(inputShape),
      m_outputs(outputs),
      m_useBias(useBias),
      m_weight(Matrix::Zero(outputs, inputShape.size())),
      m_weightGrad(Matrix::Zero(outputs, inputShape.size())),
      m_bias(Matrix::Zero(1, outputs)),
      m_biasGrad(Matrix::Zero(1, outputs)) {
    if (outputs < 1) throw ConfigError("dense: size must be at least 1, got " + std::to_string(outputs));
}

std::vector<Param> Dense::params() {
    std::vector<Param> p{{"weight", &m_weight, &m_weightGrad, true}};
    if (m_useBias) p.push_back({"bias", &m_bias, &m_biasGrad, false});
    return p;
}

const Matrix& Dense::forward(const Matrix& input, Mode) {
    checkColumns("dense", "input", input, m_inputShape.size());
    m_input = &input;
    m_output.resize(input.rows(), m_outputs);
    // y = x·Wᵀ + b, chunk by chunk of samples
    parallel::forChunks(input.rows(), kRowGrain, [&](Index r0, Index r1) {
        auto y = m_output.middleRows(r0, r1 - r0);
        y.noalias() = input.middleRows(r0, r1 - r0) * m_weight.transpose();
        if (m_useBias) y.rowwise() += m_bias.row(0);
    });
    return m_output;
}

const Matrix& Dense::backward(const Matrix& gradOutput) {
    backwardParameters(gradOutput);
    m_gradInput.resize(gradOutput.rows(), m_input->cols());
    // dx = dy·W
    parallel::forChunks(gradOutput.rows(), kRowGrain, [&](Index r0, Index r1) {
        m_gradInput.middleRows(r0, r1 - r0).noalias() = gradOutput.middleRows(r0, r1 - r0) * m_weight;
    });
    return m_gradInput;
}

void Dense::backwardParameters(const Matrix& gradOutput) {
    checkColumns("dense", "gradient", gradOutput, m_outputs);
    checkSameRows("dense", gradOutput, m_input->rows());
    const Matrix& x = *m_input;
    // dW = dyᵀ·x and db = Σ_n dy, split over output features: each chunk writes its own rows.
    parallel::forChunks(m_outputs, kFeatureGrain, [&](Index o0, Index o1) {
        m_weightGrad.middleRows(o0, o1 - o0).noalias() = gradOutput.middleCols(o0, o1 - o0).transpose() * x;
        if (m_useBias) m_biasGrad.middleCols(o0, o1 - o0) = gradOutput.middleCols(o0, o1 - o0).colwise().sum();
    });
}

}  // namespace bnlab::engine
