#include "conv2d.h"

#include "gemm.h"
#include "layer_checks.h"
#include "parallel.h"

#include <algorithm>

namespace bnlab::engine {
namespace {
// Floats of a buffer of transformed tiles: 16 positions of `rows` rows of ld.
std::size_t tileBufferSize(Index rows, Index ld) {
    return std::size_t(winograd::kPositions) * std::size_t(winograd::positionStride(rows, ld));
}

constexpr Index kSampleGrain = 8;  // samples per chunk; fixed, so partial sums do not depend on threads
constexpr Index kWinogradGroup = 1;  // samples whose tiles are multiplied together: 1 keeps the buffers in L2

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
    setAlgorithm(ConvAlgorithm::Auto);
}

void Conv2D::setAlgorithm(ConvAlgorithm algorithm) {
    const bool applies = m_kernel == 3 && m_stride == 1;
    m_winograd = applies && (algorithm == ConvAlgorithm::Winograd ||
                             (algorithm == ConvAlgorithm::Auto && m_inputShape.c >= kWinogradMinChannels));
    if (m_winograd) {
        m_geometry = winograd::geometry(m_inputShape, m_padding);
        m_tileWeight.resize(std::size_t(winograd::kPositions) * std::size_t(m_filters) * std::size_t(m_inputShape.c));
    }
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
    if (m_slotTileOut.size() < slots) m_slotTileOut.resize(slots);
    if (m_slotTransformScratch.size() < slots) m_slotTransformScratch.resize(slots);
}

float* Conv2D::slotBuffer(std::vector<std::vector<float>>& buffers, int slot, std::size_t need) const {
    if (need == 0) need = std::size_t(m_weight.cols()) * std::size_t(m_outShape.h) * std::size_t(m_outShape.w);
    std::vector<float>& buf = buffers[std::size_t(slot)];
    if (buf.size() < need) buf.resize(need);
    return buf.data();
}

const Matrix& Conv2D::forward(const Matrix& input, Mode) {
    checkColumns("conv2d", "input", input, m_inputShape.size());
    m_input = &input;
    m_output.resize(input.rows(), m_outShape.size());
    ensureScratch();
    if (m_winograd) {
        forwardWinograd(input);
        return m_output;
    }
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
    checkColumns("conv2d", "gradient", gradOutput, m_outShape.size());
    m_gradInput.resize(gradOutput.rows(), m_inputShape.size());
    backwardImpl(gradOutput, &m_gradInput);
    return m_gradInput;
}

const Matrix& Conv2D::backwardOver(const Matrix& gradOutput, Matrix& buffer) {
    checkColumns("conv2d", "buffer", buffer, m_inputShape.size());
    checkSameRows("conv2d", buffer, gradOutput.rows());
    m_gradInput.resize(0, 0);  // a buffer of an earlier backward
    backwardImpl(gradOutput, &buffer);
    return buffer;
}

void Conv2D::backwardImpl(const Matrix& gradOutput, Matrix* gradInput) {
    checkColumns("conv2d", "gradient", gradOutput, m_outShape.size());
    checkSameRows("conv2d", gradOutput, m_input->rows());
    if (m_winograd) {
        backwardWinograd(gradOutput, gradInput);
        return;
    }
    const Matrix& x = *m_input;
    const Index N = x.rows(), k = m_weight.cols(), p = Index(m_outShape.h) * m_outShape.w;
    const Index chunks = parallel::chunkCount(N, kSampleGrain);
    ensureScratch();
    if (Index(m_chunkWeightGrad.size()) < chunks) m_chunkWeightGrad.resize(std::size_t(chunks), Matrix::Zero(m_filters, k));
    if (Index(m_chunkBiasGrad.size()) < chunks) m_chunkBiasGrad.resize(std::size_t(chunks), Matrix::Zero(1, m_filters));

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
            if (gradInput == nullptr) continue;
            // dcol_n (K, P) = Wᵀ (K, F) · dy_n (F, P); then dx_n, after the last read of x_n (it may be x_n)
            gemm::multiply(k, p, m_filters, gemm::transposed(m_weight.data(), k), gemm::plain(dy, p), dcol, p, false);
            col2im(dcol, gradInput->row(n).data());
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

// ---- Winograd F(2×2, 3×3) ---------------------------------------------------------------------------------
// Per chunk of samples, in groups of kWinogradGroup: the input tiles V (16, C, tiles) of the group, then the
// 16 products M[pos] = U[pos] · V[pos], then the outputs. Backward recomputes V rather than keeping it.

void Conv2D::forwardWinograd(const Matrix& input) {
    const winograd::Geometry& g = m_geometry;
    const Index C = g.channels, F = m_filters, T = g.tiles(), fc = F * C;
    winograd::transformWeights(m_weight.data(), m_filters, g.channels, m_tileWeight.data());
    const float* u = m_tileWeight.data();
    parallel::forChunksWithSlot(input.rows(), kSampleGrain, [&](Index n0, Index n1, int slot) {
        const Index ldMax = kWinogradGroup * T + winograd::kOverhang;
        float* v = slotBuffer(m_slotCol, slot, tileBufferSize(C, ldMax));
        float* m = slotBuffer(m_slotTileOut, slot, tileBufferSize(F, ldMax));
        float* scratch = slotBuffer(m_slotTransformScratch, slot, std::size_t(winograd::scratchSize(g)));
        for (Index g0 = n0; g0 < n1; g0 += kWinogradGroup) {
            // n tiles in rows of ld floats
            const Index samples = std::min(kWinogradGroup, n1 - g0), n = samples * T, ld = n + winograd::kOverhang;
            const Index cs = winograd::positionStride(C, ld), fs = winograd::positionStride(F, ld);
            for (Index s = 0; s < samples; ++s)
                winograd::transformInput(g, input.row(g0 + s).data(), v, ld, s * T, scratch);
            for (int pos = 0; pos < winograd::kPositions; ++pos)
                gemm::multiply(F, n, C, gemm::plain(u + pos * fc, C), gemm::plain(v + pos * cs, ld),
                               m + pos * fs, ld, false);
            for (Index s = 0; s < samples; ++s)
                winograd::transformOutput(g, m_filters, m, ld, s * T, m_useBias ? m_bias.data() : nullptr,
                                          m_output.row(g0 + s).data(), scratch);
        }
    });
}

void Conv2D::backwardWinograd(const Matrix& gradOutput, Matrix* gradInput) {
    const winograd::Geometry& g = m_geometry;
    const Matrix& x = *m_input;
    const Index N = x.rows(), C = g.channels, F = m_filters, T = g.tiles(), fc = F * C, p = m_outShape.h * m_outShape.w;
    const Index chunks = parallel::chunkCount(N, kSampleGrain);
    ensureScratch();
    if (Index(m_chunkTileWeightGrad.size()) < chunks)
        m_chunkTileWeightGrad.resize(std::size_t(chunks), Matrix::Zero(winograd::kPositions * C, F));
    if (Index(m_chunkBiasGrad.size()) < chunks) m_chunkBiasGrad.resize(std::size_t(chunks), Matrix::Zero(1, F));
    const float* u = m_tileWeight.data();  // transformed by the forward of this batch (the weights have not changed)

    parallel::forChunksWithSlot(N, kSampleGrain, [&](Index n0, Index n1, int slot) {
        float* du = m_chunkTileWeightGrad[std::size_t(n0 / kSampleGrain)].data();
        Matrix& db = m_chunkBiasGrad[std::size_t(n0 / kSampleGrain)];
        db.setZero();
        const Index ldMax = kWinogradGroup * T + winograd::kOverhang;
        float* v = slotBuffer(m_slotCol, slot, tileBufferSize(C, ldMax));
        float* dm = slotBuffer(m_slotTileOut, slot, tileBufferSize(F, ldMax));
        float* dv = gradInput != nullptr ? slotBuffer(m_slotDcol, slot, tileBufferSize(C, ldMax))
                                  : nullptr;
        float* scratch = slotBuffer(m_slotTransformScratch, slot, std::size_t(winograd::scratchSize(g)));
        for (Index g0 = n0; g0 < n1; g0 += kWinogradGroup) {
            const Index samples = std::min(kWinogradGroup, n1 - g0), n = samples * T, ld = n + winograd::kOverhang;
            const Index cs = winograd::positionStride(C, ld), fs = winograd::positionStride(F, ld);
            for (Index s = 0; s < samples; ++s) {
                const float* dy = gradOutput.row(g0 + s).data();
                winograd::transformInput(g, x.row(g0 + s).data(), v, ld, s * T, scratch);  // recomputed
                winograd::outputGradient(g, m_filters, dy, dm, ld, s * T, scratch);
                db += ConstMapMatrix(dy, F, p).rowwise().sum().transpose();  // db[f] += Σ_p dy_n[f, p]
            }
            // dU[pos]ᵀ (C, F) += V[pos] (C, n) · dM[pos]ᵀ (n, F); the chunk's first group assigns. (This way round,
            // the product's 64 columns fill the GEMM's register tiles better than its 32 rows would.)
            for (int pos = 0; pos < winograd::kPositions; ++pos)
                gemm::multiply(C, F, n, gemm::plain(v + pos * cs, ld), gemm::transposed(dm + pos * fs, ld),
                               du + pos * fc, F, g0 > n0);
            if (gradInput == nullptr) continue;
            // dV[pos] (C, n) = U[pos]ᵀ (C, F) · dM[pos] (F, n)
            for (int pos = 0; pos < winograd::kPositions; ++pos)
                gemm::multiply(C, n, F, gemm::transposed(u + pos * fc, C), gemm::plain(dm + pos * fs, ld),
                               dv + pos * cs, ld, false);
            for (Index s = 0; s < samples; ++s)
                // after the group's inputs were transformed above: the gradient may overwrite them
                winograd::inputGradient(g, dv, ld, s * T, gradInput->row(g0 + s).data(), scratch);
        }
    });
    // Sum the per-chunk partials in chunk order (into chunk 0's, which the next backward assigns afresh), then
    // take dU back to the 3×3 weights.
    Matrix& tileGrad = m_chunkTileWeightGrad[0];
    m_biasGrad = m_chunkBiasGrad[0];
    for (Index c = 1; c < chunks; ++c) {
        tileGrad += m_chunkTileWeightGrad[std::size_t(c)];
        m_biasGrad += m_chunkBiasGrad[std::size_t(c)];
    }
    winograd::weightGradient(tileGrad.data(), m_filters, g.channels, m_weightGrad.data());
    if (!m_useBias) m_biasGrad.setZero();
}

}  // namespace bnlab::engine
