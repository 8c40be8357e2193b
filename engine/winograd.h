#pragma once

// Winograd's minimal filtering F(2×2, 3×3) for the 3×3, stride-1 convolutions (Lavin & Gray, "Fast
// Algorithms for Convolutional Neural Networks", 2015).
//
// The output is cut into 2×2 tiles; each reads a 4×4 tile of the (zero-padded) input. With
//   V = Bᵀ d B (4×4, per input tile and channel), U = G g Gᵀ (4×4, per filter and channel),
//   M = Σ_c U ⊙ V, y = Aᵀ M A (2×2),
// the 16 positions of the 4×4 tiles are 16 independent products M[pos] (F, tiles) = U[pos] (F, C) ·
// V[pos] (C, tiles): 16·F·C multiply-adds per 2×2 outputs instead of 36·F·C, 2.25 times fewer.
// Backward is the exact adjoint of that forward (so it is the gradient of what forward computed):
//   dM = A dy Aᵀ,  dU[pos]ᵀ = Σ_tiles V[pos] · dM[pos]ᵀ,  dg = Gᵀ dU G,
//   dV[pos] = U[pos]ᵀ · dM[pos],  dx = B dV Bᵀ summed over the overlapping input tiles.
//
// Buffers of the transformed tiles are laid out [pos][row][tile], row = channel or filter, with a row
// stride `ld` (the tiles of the group of samples the caller transforms together); the tiles of one sample
// are columns [offset, offset + tiles()) in raster order. The transforms run over whole vectors of 8 tiles,
// so they write up to kOverhang − 1 columns past a sample's tiles (the next sample's, transformed after it)
// and read as far: a buffer needs ld ≥ (tiles of the group) + kOverhang. Position pos starts at
// pos · positionStride(rows, ld), a little more than rows · ld: were the 16 positions a multiple of 4 KB apart,
// the transforms' 16 streams, one per position, would fall into the same few L1 cache sets.

#include "tensor.h"

namespace bnlab::engine::winograd {

inline constexpr int kPositions = 16;
inline constexpr Index kOverhang = 8;

struct Geometry {
    int channels = 0, height = 0, width = 0, padding = 0;  // the input
    int outH = 0, outW = 0;                                // the output (3×3 kernel, stride 1)
    int tilesH = 0, tilesW = 0;                            // 2×2 output tiles, the last ones may overhang
    int planeH = 0, planeW = 0;                            // the padded input plane the tiles read
    int tilesWVector = 0;                                  // tilesW rounded up to whole vectors of 8
    int rowStride = 0;                                     // floats per row of the planes and scratch rows

    [[nodiscard]] Index tiles() const { return Index(tilesH) * tilesW; }
};

[[nodiscard]] Geometry geometry(Shape input, int padding);

// Floats from one position's rows to the next: rows · ld rounded up to 4 KB, plus 64 bytes.
[[nodiscard]] inline Index positionStride(Index rows, Index ld) { return (rows * ld + 1023) / 1024 * 1024 + 16; }

// Floats of per-thread scratch that the transforms below need.
[[nodiscard]] Index scratchSize(const Geometry& g);

// u (16, F, C) from the weights w (F, C·9) in the Conv2D layout; and its adjoint, dw (F, C·9) from the
// gradient du laid out transposed, (16, C, F).
void transformWeights(const float* w, int filters, int channels, float* u);
void weightGradient(const float* du, int filters, int channels, float* dw);

// v[pos][c][offset + t] for the tiles of one sample x (C·H·W).
void transformInput(const Geometry& g, const float* x, float* v, Index ld, Index offset, float* scratch);
// y (F·Ho·Wo) of one sample from m[pos][f][offset + t], plus bias[f] unless bias is null.
void transformOutput(const Geometry& g, int filters, const float* m, Index ld, Index offset, const float* bias,
                     float* y, float* scratch);
// dm[pos][f][offset + t] from the output gradient dy (F·Ho·Wo) of one sample: the adjoint of transformOutput.
void outputGradient(const Geometry& g, int filters, const float* dy, float* dm, Index ld, Index offset,
                    float* scratch);
// dx (C·H·W) of one sample from dv[pos][c][offset + t]: the adjoint of transformInput.
void inputGradient(const Geometry& g, const float* dv, Index ld, Index offset, float* dx, float* scratch);

}  // namespace bnlab::engine::winograd
