#include "max_pool2d.h"

#include "layer_checks.h"
#include "parallel.h"

namespace bnlab::engine {

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
                for (int oy = 0; oy < Ho; ++oy)
                    for (int ox = 0; ox < Wo; ++ox) {
                        std::int32_t best = (c * H + oy * m_stride) * W + ox * m_stride;
                        for (int ky = 0; ky < m_kernel; ++ky)
                            for (int kx = 0; kx < m_kernel; ++kx) {
                                const std::int32_t i = (c * H + oy * m_stride + ky) * W + ox * m_stride + kx;
                                if (x[i] > x[best]) best = i;  // first maximum wins on ties
                            }
                        const Index o = (Index(c) * Ho + oy) * Wo + ox;
                        y[o] = x[best];
                        arg[o] = best;
                    }
        }
    });
    return m_output;
}

const Matrix& MaxPool2D::backward(const Matrix& gradOutput) {
    checkColumns("maxpool2d", "gradient", gradOutput, m_outShape.size());
    checkSameRows("maxpool2d", gradOutput, m_output.rows());
    const Index N = gradOutput.rows(), outCols = m_outShape.size();
    m_gradInput.setZero(N, m_inputShape.size());
    parallel::forChunks(N, 16, [&](Index n0, Index n1) {
        for (Index n = n0; n < n1; ++n) {
            const std::int32_t* arg = m_argmax.data() + n * outCols;
            float* dx = m_gradInput.row(n).data();
            const float* dy = gradOutput.row(n).data();
            for (Index o = 0; o < outCols; ++o) dx[arg[o]] += dy[o];  // overlapping windows add up
        }
    });
    return m_gradInput;
}

}  // namespace bnlab::engine
