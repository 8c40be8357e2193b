#include "conv2d.h"

#include "gemm.h"
#include "layer_checks.h"
#include "parallel.h"

#include <algorithm>

namespace bnlab::engine {
namespace {
constexpr Index kSampleGrain = 8;  // samples per chunk; fixed, so partial sums do not depend on threads

using MapMatrix = Eigen::Map<Matrix>;
using ConstMapMatrix = Eigen::Map<const Matrix>;
}  // namespace

Conv2D::Conv2D(Shape inputShape, int filters, int kernel, int stride, int padding, bool useBias)
    : Layer(inputShape), m_filters(filters), m_kernel(kernel), m_stride(stride), m_padding(padding),
      m_useBias(useBias) {
    if (filters < 1) throw ConfigError("conv2d: filters must be at least 1, got " + std::to_string(filters));
    if (kernel < 1 || stride < 1 || padding < 0)
        throw ConfigError("conv2d: kernel and stride must be at least 1 and padding at least 0");
    const int ho = (inputShape.h + 2 * padding - kernel) / stride + 1;
    const int wo = (inputShape.w + 2 * padding - kernel) / stride + 1;
    if (inputShape.h + 2 * padding < kernel || inputShape.w + 2 * padding < kernel)
        throw ConfigError("conv2d: a " + std::to_string(kernel) + "x" + std::to_string(kernel) +
                          " kernel does not fit the input " + inputShape.toString());
    m_outShape = {filters, ho, wo};
    const Index k = Index(inputShape.c) * kernel * kernel;
    m_weight = Matrix::Zero(filters, k);
    m_weightGrad = Matrix::Zero(filters, k);
    m_bias = Matrix::Zero(1, filters);
    m_biasGrad = Matrix::Zero(1, filters);
}

std::vector<Param> Conv2D::params() {
    std::vector<Param> p{{"weight", &m_weight, &m_weightGrad, true}};
    if (m_useBias) p.push_back({"bias", &m_bias, &m_biasGrad, false});
    return p;
}

// col (K, P): col[(c·kh + ky)·kw + kx, oy·Wo + ox] = x[c, oy·s + ky − pad, ox·s + kx − pad] (0 outside).
void Conv2D::im2col(const float* x, float* col) const {
    const int H = m_inputShape.h, W = m_inputShape.w, k = m_kernel, s = m_stride, pad = m_padding;
    const int Ho = m_outShape.h, Wo = m_outShape.w;
    for (int c = 0; c < m_inputShape.c; ++c)
        for (int ky = 0; ky < k; ++ky)
            for (int kx = 0; kx < k; ++kx) {
                float* row = col + (Index(c * k + ky) * k + kx) * Ho * Wo;
                for (int oy = 0; oy < Ho; ++oy) {
                    const int iy = oy * s + ky - pad;
                    float* out = row + Index(oy) * Wo;
                    if (iy < 0 || iy >= H) {
                        std::fill(out, out + Wo, 0.0f);
                        continue;
                    }
                    const float* in = x + (Index(c) * H + iy) * W;
                    if (s == 1) {  // a contiguous run of the input row, zero-padded at the ends
                        const int lo = std::clamp(pad - kx, 0, Wo), hi = std::clamp(W + pad - kx, lo, Wo);
                        std::fill(out, out + lo, 0.0f);
                        std::copy(in + lo + kx - pad, in + hi + kx - pad, out + lo);
                        std::fill(out + hi, out + Wo, 0.0f);
                        continue;
                    }
                    for (int ox = 0; ox < Wo; ++ox) {
                        const int ix = ox * s + kx - pad;
                        out[ox] = (ix >= 0 && ix < W) ? in[ix] : 0.0f;
                    }
                }
            }
}

// The adjoint of im2col: dx[c, iy, ix] += dcol[k, p] over every (k, p) that read it. dx is zeroed first.
void Conv2D::col2im(const float* col, float* dx) const {
    const int H = m_inputShape.h, W = m_inputShape.w, k = m_kernel, s = m_stride, pad = m_padding;
    const int Ho = m_outShape.h, Wo = m_outShape.w;
    std::fill(dx, dx + m_inputShape.size(), 0.0f);
    for (int c = 0; c < m_inputShape.c; ++c)
        for (int ky = 0; ky < k; ++ky)
            for (int kx = 0; kx < k; ++kx) {
                const float* row = col + (Index(c * k + ky) * k + kx) * Ho * Wo;
                for (int oy = 0; oy < Ho; ++oy) {
                    const int iy = oy * s + ky - pad;
                    if (iy < 0 || iy >= H) continue;
                    float* out = dx + (Index(c) * H + iy) * W;
                    const float* in = row + Index(oy) * Wo;
                    if (s == 1) {  // the adjoint of the contiguous copy above
                        const int lo = std::clamp(pad - kx, 0, Wo), hi = std::clamp(W + pad - kx, lo, Wo);
                        for (int ox = lo; ox < hi; ++ox) out[ox + kx - pad] += in[ox];
                        continue;
                    }
                    for (int ox = 0; ox < Wo; ++ox) {
                        const int ix = ox * s + kx - pad;
                        if (ix >= 0 && ix < W) out[ix] += in[ox];
                    }
                }
            }
}

// Sizes the per-slot lists; each slot's buffers are allocated by the thread that first uses the slot (so a
// large `threads` setting on a small machine does not allocate scratch that never runs).
void Conv2D::ensureScratch() {
    const std::size_t slots = std::size_t(parallel::maxSlots());
    if (m_slotCol.size() < slots) m_slotCol.resize(slots);
    if (m_slotDcol.size() < slots) m_slotDcol.resize(slots);
}

float* Conv2D::slotBuffer(std::vector<std::vector<float>>& buffers, int slot) const {
    const std::size_t need = std::size_t(m_weight.cols()) * std::size_t(m_outShape.h) * std::size_t(m_outShape.w);
    std::vector<float>& buf = buffers[std::size_t(slot)];
    if (buf.size() < need) buf.resize(need);
    return buf.data();
}

const Matrix& Conv2D::forward(const Matrix& input, Mode) {
    checkColumns("conv2d", "input", input, m_inputShape.size());
    m_input = &input;
    m_output.resize(input.rows(), m_outShape.size());
    ensureScratch();
    const Index k = m_weight.cols(), p = Index(m_outShape.h) * m_outShape.w;
    parallel::forChunksWithSlot(input.rows(), kSampleGrain, [&](Index n0, Index n1, int slot) {
        float* col = slotBuffer(m_slotCol, slot);
        for (Index n = n0; n < n1; ++n) {
            im2col(input.row(n).data(), col);
            // y_n (F, P) = W (F, K) · col_n (K, P) + b: row n of the output viewed as (F, P)
            float* y = m_output.row(n).data();
            gemm::multiply(m_filters, p, k, gemm::plain(m_weight.data(), k), gemm::plain(col, p), y, p, false);
            if (m_useBias)
                for (Index f = 0; f < m_filters; ++f) MapMatrix(y + f * p, 1, p).array() += m_bias(0, f);
        }
    });
    return m_output;
}

const Matrix& Conv2D::backward(const Matrix& gradOutput) {
    backwardImpl(gradOutput, true);
    return m_gradInput;
}

void Conv2D::backwardImpl(const Matrix& gradOutput, bool inputGradient) {
    checkColumns("conv2d", "gradient", gradOutput, m_outShape.size());
    checkSameRows("conv2d", gradOutput, m_input->rows());
    const Matrix& x = *m_input;
    const Index N = x.rows(), k = m_weight.cols(), p = Index(m_outShape.h) * m_outShape.w;
    const Index chunks = parallel::chunkCount(N, kSampleGrain);
    if (inputGradient) m_gradInput.resize(N, x.cols());
    ensureScratch();
    if (Index(m_chunkWeightGrad.size()) < chunks) {
        m_chunkWeightGrad.resize(std::size_t(chunks), Matrix::Zero(m_filters, k));
        m_chunkBiasGrad.resize(std::size_t(chunks), Matrix::Zero(1, m_filters));
    }

    parallel::forChunksWithSlot(N, kSampleGrain, [&](Index n0, Index n1, int slot) {
        Matrix& dW = m_chunkWeightGrad[std::size_t(n0 / kSampleGrain)];
        Matrix& db = m_chunkBiasGrad[std::size_t(n0 / kSampleGrain)];
        db.setZero();
        float* col = slotBuffer(m_slotCol, slot);
        float* dcol = slotBuffer(m_slotDcol, slot);
        for (Index n = n0; n < n1; ++n) {
            const float* dy = gradOutput.row(n).data();  // (F, P)
            im2col(x.row(n).data(), col);  // recomputed: cheaper than keeping N·K·P floats
            // dW (F, K) += dy_n (F, P) · col_nᵀ (P, K); the chunk's first sample assigns
            gemm::multiply(m_filters, k, p, gemm::plain(dy, p), gemm::transposed(col, p), dW.data(), k, n > n0);
            db += ConstMapMatrix(dy, m_filters, p).rowwise().sum().transpose();  // db[f] += Σ_p dy_n[f, p]
            if (!inputGradient) continue;
            // dcol_n (K, P) = Wᵀ (K, F) · dy_n (F, P)
            gemm::multiply(k, p, m_filters, gemm::transposed(m_weight.data(), k), gemm::plain(dy, p), dcol, p, false);
            col2im(dcol, m_gradInput.row(n).data());
        }
    });
    // Sum the per-chunk partials in chunk order.
    m_weightGrad = m_chunkWeightGrad[0];
    m_biasGrad = m_chunkBiasGrad[0];
    for (Index c = 1; c < chunks; ++c) {
        m_weightGrad += m_chunkWeightGrad[std::size_t(c)];
        m_biasGrad += m_chunkBiasGrad[std::size_t(c)];
    }
    if (!m_useBias) m_biasGrad.setZero();
}

}  // namespace bnlab::engine
