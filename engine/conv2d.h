#pragma once

#include "layer.h"
#include "winograd.h"

namespace bnlab::engine {

// How a Conv2D computes its products. Auto: Winograd F(2×2, 3×3) for 3×3 stride-1 convolutions with at least
// kWinogradMinChannels input channels (below that its products are too thin to pay for the transforms),
// im2col + GEMM otherwise. Winograd's result differs from im2col's by rounding only (about 1e-6 relative).
enum class ConvAlgorithm { Auto, Im2col, Winograd };
inline constexpr int kWinogradMinChannels = 8;

// 2-D convolution (cross-correlation, as PyTorch's nn.Conv2d) by im2col + GEMM.
//   x (N, C·H·W), W (F, C·kh·kw), b (1, F), y (N, F·Ho·Wo),
//   Ho = (H + 2·pad − kh)/stride + 1, Wo likewise.
//   y[n, f, p] = b[f] + Σ_k W[f, k] · col_n[k, p] where col_n (K, Ho·Wo) holds the patches of sample n.
// Backward: dW = Σ_n dy_n·col_nᵀ, db[f] = Σ_{n,p} dy[n, f, p], dcol_n = Wᵀ·dy_n and dx_n = col2im(dcol_n).
// Samples are processed in fixed chunks; per-chunk partial dW and db are summed in chunk order.
// Patches live in per-thread scratch and are recomputed in backward rather than kept for the batch.
// 3×3 stride-1 convolutions run by Winograd's F(2×2, 3×3) instead (see winograd.h and ConvAlgorithm), also in
// fixed chunks of samples, with the transformed input tiles likewise recomputed in backward.
class Conv2D final : public Layer {
public:
    Conv2D(Shape inputShape, int filters, int kernel, int stride = 1, int padding = 0, bool useBias = true);

    [[nodiscard]] std::string kind() const override { return "conv2d"; }
    [[nodiscard]] bool outputMayBeOverwritten() const override { return true; }
    [[nodiscard]] Shape outputShape() const override { return m_outShape; }
    const Matrix& forward(const Matrix& input, Mode mode) override;
    const Matrix& backward(const Matrix& gradOutput) override;
    void backwardParameters(const Matrix& gradOutput) override { backwardImpl(gradOutput, nullptr); }
    // Each sample's input is read (im2col, or its Winograd tiles) before that sample's gradient is written, and
    // samples are independent: the buffer may be the input itself.
    [[nodiscard]] bool canBackwardOver() const override { return true; }
    const Matrix& backwardOver(const Matrix& gradOutput, Matrix& buffer) override;
    [[nodiscard]] std::vector<Param> params() override;

    [[nodiscard]] Matrix& weight() { return m_weight; }  // (F, K)
    [[nodiscard]] Matrix& bias() { return m_bias; }      // (1, F)
    [[nodiscard]] const Matrix& weightGrad() const { return m_weightGrad; }
    [[nodiscard]] const Matrix& biasGrad() const { return m_biasGrad; }
    [[nodiscard]] int kernel() const { return m_kernel; }
    [[nodiscard]] int padding() const { return m_padding; }
    [[nodiscard]] bool hasBias() const { return m_useBias; }
    // Winograd is used only where it applies (3×3, stride 1): asking for it elsewhere gives im2col.
    void setAlgorithm(ConvAlgorithm algorithm);
    [[nodiscard]] bool usesWinograd() const { return m_winograd; }

private:
    void im2col(const float* x, float* col) const;  // x (C·H·W) -> col (K, Ho·Wo)
    void col2im(const float* col, float* dx) const;  // col (K, Ho·Wo) -> dx (C·H·W), the adjoint
    void ensureScratch();
    // That slot's buffer, grown to at least `need` floats ((K, Ho·Wo) by default).
    float* slotBuffer(std::vector<std::vector<float>>& buffers, int slot, std::size_t need = 0) const;
    void backwardImpl(const Matrix& gradOutput, Matrix* gradInput);  // gradInput sized (N, in), or null
    void forwardWinograd(const Matrix& input);
    void backwardWinograd(const Matrix& gradOutput, Matrix* gradInput);

    int m_filters, m_kernel, m_stride, m_padding;
    bool m_useBias;
    Shape m_outShape;
    Matrix m_weight, m_weightGrad;  // (F, K)
    Matrix m_bias, m_biasGrad;      // (1, F)
    const Matrix* m_input = nullptr;
    std::vector<std::vector<float>> m_slotCol;   // per worker slot: (K, Ho·Wo) patches of one sample
    std::vector<std::vector<float>> m_slotDcol;  // per worker slot: (K, Ho·Wo) gradient of the patches
    std::vector<Matrix> m_chunkWeightGrad;  // per chunk partial dW (F, K)
    std::vector<Matrix> m_chunkBiasGrad;    // per chunk partial db (1, F)

    bool m_winograd = false;
    winograd::Geometry m_geometry;
    std::vector<float> m_tileWeight;            // U (16, F, C): the transformed weights
    std::vector<std::vector<float>> m_slotTileOut;      // per worker slot: M or dM (16, F, tiles of a group)
    std::vector<std::vector<float>> m_slotTransformScratch;  // per worker slot: rows and planes of the transforms
    std::vector<Matrix> m_chunkTileWeightGrad;  // per chunk partial dUᵀ (16·C, F)
};

}  // namespace bnlab::engine
