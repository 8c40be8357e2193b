#include "max_pool2d.h"

#include "layer_checks.h"
#include "parallel.h"

#include <algorithm>

namespace bnlab::engine {
namespace {

// One output row: y[ox] = the maximum of the k×k window whose corner is x[corner + ox·s], arg[ox] its index
// in x. The first maximum in scan order wins on ties. (A function of its own so that the loop over ox
// vectorises.)
void poolRow(const float* x, std::int32_t corner, int W, int Wo, int k, int s, float* y, std::int32_t* arg) {
    if (k == 2) {  // the common 2×2 window, unrolled (3× faster than the loops below)
        for (int ox = 0; ox < Wo; ++ox) {
            const std::int32_t at = corner + ox * s;
            const float* r0 = x + at;
            const float* r1 = r0 + W;
            float max = r0[0];
            std::int32_t best = 0;
            if (r0[1] > max) max = r0[1], best = 1;
            if (r1[0] > max) max = r1[0], best = W;
            if (r1[1] > max) max = r1[1], best = W + 1;
            y[ox] = max;
            arg[ox] = at + best;
        }
        return;
    }
    for (int ox = 0; ox < Wo; ++ox) {
        const float* window = x + corner + ox * s;
        float max = window[0];
        std::int32_t best = 0;  // offset of the maximum from the window's corner
        for (int ky = 0; ky < k; ++ky)
            for (int kx = 0; kx < k; ++kx) {
                const float v = window[ky * W + kx];
                if (v > max) {
                    max = v;
                    best = ky * W + kx;
                }
            }
        y[ox] = max;
        arg[ox] = corner + ox * s + best;
    }
}

}  // namespace

MaxPool2D::MaxPool2D(Shape inputShape, int kernel, int stride)
    : Layer(inputShape), m_kernel(kernel), m_stride(stride > 0 ? stride : kernel) {
    if (kernel < 1) throw ConfigError("maxpool2d: kernel must be at least 1, got " + std::to_string(kernel));
    if (inputShape.h < kernel || inputShape.w < kernel)
        throw ConfigError("maxpool2d: a " + std::to_string(kernel) + "x" + std::to_string(kernel) +
                          " window does not fit the input " + inputShape.toString());
    m_outShape = {inputShape.c, (inputShape.h - kernel) / m_stride + 1, (inputShape.w - kernel) / m_stride + 1};
}

const Matrix& MaxPool2D::forward(const Matrix& input, Mode) {
    checkColumns("maxpool2d", "input", input, m_inputShape.size());
    const Index N = input.rows(), outCols = m_outShape.size();
    m_output.resize(N, outCols);
    m_argmax.resize(std::size_t(N * outCols));
    const int H = m_inputShape.h, W = m_inputShape.w, Ho = m_outShape.h, Wo = m_outShape.w;
    parallel::forChunks(N, 16, [&](Index n0, Index n1) {
        for (Index n = n0; n < n1; ++n) {
            const float* x = input.row(n).data();
            float* y = m_output.row(n).data();
            std::int32_t* arg = m_argmax.data() + n * outCols;
            for (int c = 0; c < m_inputShape.c; ++c)
                for (int oy = 0; oy < Ho; ++oy) {
                    const Index o = (Index(c) * Ho + oy) * Wo;
                    poolRow(x, (c * H + oy * m_stride) * W, W, Wo, m_kernel, m_stride, y + o, arg + o);
                }
        }
    });
    return m_output;
}

const Matrix& MaxPool2D::backward(const Matrix& gradOutput) {
    checkColumns("maxpool2d", "gradient", gradOutput, m_outShape.size());
    checkSameRows("maxpool2d", gradOutput, m_output.rows());
    m_gradInput.resize(gradOutput.rows(), m_inputShape.size());
    gradientInto(gradOutput, m_gradInput);
    return m_gradInput;
}

const Matrix& MaxPool2D::backwardOver(const Matrix& gradOutput, Matrix& buffer) {
    checkColumns("maxpool2d", "gradient", gradOutput, m_outShape.size());
    checkSameRows("maxpool2d", gradOutput, m_output.rows());
    checkColumns("maxpool2d", "buffer", buffer, m_inputShape.size());
    checkSameRows("maxpool2d", buffer, m_output.rows());
    m_gradInput.resize(0, 0);  // a buffer of an earlier backward
    gradientInto(gradOutput, buffer);
    return buffer;
}

void MaxPool2D::gradientInto(const Matrix& gradOutput, Matrix& gradInput) const {
    const Index N = gradOutput.rows(), outCols = m_outShape.size();
    parallel::forChunks(N, 16, [&](Index n0, Index n1) {
        for (Index n = n0; n < n1; ++n) {
            const std::int32_t* arg = m_argmax.data() + n * outCols;
            float* dx = gradInput.row(n).data();
            std::fill(dx, dx + m_inputShape.size(), 0.0f);  // here, not for the whole batch: cache-warm, parallel
            const float* dy = gradOutput.row(n).data();
            for (Index o = 0; o < outCols; ++o) dx[arg[o]] += dy[o];  // overlapping windows add up
        }
    });
}

}  // namespace bnlab::engine
