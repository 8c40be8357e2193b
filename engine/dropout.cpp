#include "dropout.h"

#include "error.h"
#include "init.h"
#include "layer_checks.h"
#include "parallel.h"

#include <algorithm>
#include <cmath>

namespace bnlab::engine {
namespace {

Index rowGrain(Index cols) { return std::max<Index>(1, 16384 / std::max<Index>(1, cols)); }

}  // namespace

Dropout::Dropout(Shape inputShape, float rate, std::uint64_t seed)
    : Layer(inputShape), m_rate(rate), m_seed(seed) {
    if (!(rate >= 0 && rate < 1))
        throw Error("dropout: the rate must be in [0, 1), got " + std::to_string(rate));
}

const Matrix& Dropout::forward(const Matrix& input, Mode mode) {
    checkColumns("dropout", "input", input, m_inputShape.size());
    m_lastMode = mode;
    m_rows = input.rows();
    if (mode != Mode::Train) {  // Eval and EvalBatch
        m_output = input;
        return m_output;
    }
    m_output.resize(input.rows(), input.cols());
    m_mask.resize(input.rows(), input.cols());
    // Keep element i when the top 32 bits of mix64(state + (i + 1)·golden) are ≥ p·2³²: probability 1 − p.
    const std::uint64_t threshold = std::uint64_t(std::llround(double(m_rate) * 4294967296.0));
    const std::uint64_t state = mix64(m_seed + m_step * kGolden);
    const float scale = float(1.0 / (1.0 - double(m_rate)));
    const Index cols = input.cols();
    parallel::forChunks(input.rows(), rowGrain(cols), [&](Index r0, Index r1) {
        for (Index r = r0; r < r1; ++r)
            for (Index j = 0; j < cols; ++j) {
                const std::uint64_t i = std::uint64_t(r * cols + j);
                const bool keep = (mix64(state + (i + 1) * kGolden) >> 32) >= threshold;
                m_mask(r, j) = keep ? scale : 0.0f;
            }
        // y = x ⊙ mask
        m_output.middleRows(r0, r1 - r0) =
            input.middleRows(r0, r1 - r0).cwiseProduct(m_mask.middleRows(r0, r1 - r0));
    });
    return m_output;
}

const Matrix& Dropout::backward(const Matrix& gradOutput) {
    checkSameRows("dropout", gradOutput, m_rows);
    checkColumns("dropout", "gradient", gradOutput, m_inputShape.size());
    // dx = dy ⊙ mask  (Eval: dx = dy)
    if (m_lastMode != Mode::Train)
        m_gradInput = gradOutput;
    else
        m_gradInput = gradOutput.cwiseProduct(m_mask);
    return m_gradInput;
}

const Matrix& Dropout::backwardInPlace(Matrix& gradOutput) {
    checkSameRows("dropout", gradOutput, m_rows);
    checkColumns("dropout", "gradient", gradOutput, m_inputShape.size());
    if (m_lastMode == Mode::Train) gradOutput.array() *= m_mask.array();  // dx = dy ⊙ mask (Eval: dx = dy)
    return gradOutput;
}

}  // namespace bnlab::engine
