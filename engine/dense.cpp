#include "dense.h"

#include "layer_checks.h"
#include "parallel.h"

namespace bnlab::engine {
namespace {
constexpr Index kRowGrain = 32;      // samples per chunk (forward; dx of a narrow layer)
constexpr Index kFeatureGrain = 16;  // output features per chunk (dW of a narrow layer)
constexpr Index kInputGrain = 128;   // about this many input features per chunk (dW, dx)

// Input features per chunk: chunks of about kInputGrain, evened out (and a multiple of 8, the SIMD width)
// so that the last chunk is not a sliver. Depends on the layer's width only.
Index inputGrain(Index inputs) {
    const Index chunks = parallel::chunkCount(inputs, kInputGrain);
    const Index grain = (inputs + chunks - 1) / chunks;
    return (grain + 7) / 8 * 8;
}
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
    // dx = dy·W, split over input features (each chunk reads only its columns of W; splitting over samples
    // made every chunk pack all of W) unless the layer is too narrow for more than one such chunk.
    const Index inputs = m_input->cols(), grain = inputGrain(inputs);
    if (parallel::chunkCount(inputs, grain) > 1) {
        parallel::forChunks(inputs, grain, [&](Index i0, Index i1) {
            m_gradInput.middleCols(i0, i1 - i0).noalias() = gradOutput * m_weight.middleCols(i0, i1 - i0);
        });
    } else {
        parallel::forChunks(gradOutput.rows(), kRowGrain, [&](Index r0, Index r1) {
            m_gradInput.middleRows(r0, r1 - r0).noalias() = gradOutput.middleRows(r0, r1 - r0) * m_weight;
        });
    }
    return m_gradInput;
}

void Dense::backwardParameters(const Matrix& gradOutput) {
    checkColumns("dense", "gradient", gradOutput, m_outputs);
    checkSameRows("dense", gradOutput, m_input->rows());
    const Matrix& x = *m_input;
    // dW = dyᵀ·x, split over input features (each chunk writes its own columns of dW and reads only its
    // columns of x; splitting over outputs made every chunk pack all of x) unless the layer is too narrow
    // for more than one such chunk; then over output features (each chunk writes its own rows).
    const Index grain = inputGrain(x.cols());
    if (parallel::chunkCount(x.cols(), grain) > 1) {
        parallel::forChunks(x.cols(), grain, [&](Index i0, Index i1) {
            m_weightGrad.middleCols(i0, i1 - i0).noalias() = gradOutput.transpose() * x.middleCols(i0, i1 - i0);
        });
    } else {
        parallel::forChunks(m_outputs, kFeatureGrain, [&](Index o0, Index o1) {
            m_weightGrad.middleRows(o0, o1 - o0).noalias() = gradOutput.middleCols(o0, o1 - o0).transpose() * x;
        });
    }
    // db = Σ_n dy (N·O additions: not worth a parallel loop)
    if (m_useBias) m_biasGrad.noalias() = gradOutput.colwise().sum();
}

}  // namespace bnlab::engine
