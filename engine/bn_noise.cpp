#include "bn_noise.h"

#include "error.h"
#include "init.h"
#include "layer_checks.h"

#include <cmath>

namespace bnlab::engine {

BatchNormNoise::BatchNormNoise(Shape inputShape, float meanRange, float scaleMax, std::uint64_t seed)
    : Layer(inputShape), m_meanRange(meanRange), m_scaleMax(scaleMax), m_seed(seed) {
    if (!(std::isfinite(meanRange) && meanRange >= 0))
        throw Error("bn_noise_mean: must be 0 or more, got " + std::to_string(meanRange));
    if (!(std::isfinite(scaleMax) && scaleMax >= 1))
        throw Error("bn_noise_scale: must be 1 or more, got " + std::to_string(scaleMax));
}

void BatchNormNoise::draw() {
    if (m_drawnStep == m_step) return;
    const Index features = m_inputShape.c;
    m_mean.resize(features);
    m_scale.resize(features);
    const std::uint64_t state = mix64(m_seed + m_step * kGolden);
    auto uniform = [&](std::uint64_t i) { return double(mix64(state + (i + 1) * kGolden) >> 11) * 0x1.0p-53; };  // [0, 1)
    for (Index j = 0; j < features; ++j) {
        m_mean[j] = float(double(m_meanRange) * (2 * uniform(std::uint64_t(2 * j)) - 1));           // U(−n_μ, n_μ)
        m_scale[j] = float(1 + (double(m_scaleMax) - 1) * uniform(std::uint64_t(2 * j + 1)));      // U(1, n_σ)
    }
    m_drawnStep = m_step;
}

const Matrix& BatchNormNoise::forward(const Matrix& input, Mode mode) {
    checkColumns("bnnoise", "input", input, m_inputShape.size());
    m_lastMode = mode;
    m_rows = input.rows();
    if (mode != Mode::Train) {  // Eval and EvalBatch: the identity
        m_output = input;
        return m_output;
    }
    draw();
    // y = s_j·x + m_j over the S = H·W values of feature j in every row
    const Index s = Index(m_inputShape.h) * m_inputShape.w;
    m_output.resize(input.rows(), input.cols());
    for (Index j = 0; j < m_inputShape.c; ++j)
        m_output.middleCols(j * s, s) = (input.middleCols(j * s, s).array() * m_scale[j] + m_mean[j]).matrix();
    return m_output;
}

const Matrix& BatchNormNoise::backward(const Matrix& gradOutput) {
    checkSameRows("bnnoise", gradOutput, m_rows);
    checkColumns("bnnoise", "gradient", gradOutput, m_inputShape.size());
    if (m_lastMode != Mode::Train) {  // dx = dy
        m_gradInput = gradOutput;
        return m_gradInput;
    }
    // dx = s_j·dy
    const Index s = Index(m_inputShape.h) * m_inputShape.w;
    m_gradInput.resize(gradOutput.rows(), gradOutput.cols());
    for (Index j = 0; j < m_inputShape.c; ++j)
        m_gradInput.middleCols(j * s, s) = gradOutput.middleCols(j * s, s) * m_scale[j];
    return m_gradInput;
}

const Matrix& BatchNormNoise::backwardInPlace(Matrix& gradOutput) {
    checkSameRows("bnnoise", gradOutput, m_rows);
    checkColumns("bnnoise", "gradient", gradOutput, m_inputShape.size());
    if (m_lastMode != Mode::Train) return gradOutput;  // dx = dy
    const Index s = Index(m_inputShape.h) * m_inputShape.w;
    for (Index j = 0; j < m_inputShape.c; ++j) gradOutput.middleCols(j * s, s) *= m_scale[j];
    return gradOutput;
}

}  // namespace bnlab::engine
