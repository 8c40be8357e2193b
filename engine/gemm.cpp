#include "gemm.h"

#include <algorithm>
#include <cstring>
#include <vector>

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#endif

namespace bnlab::engine::gemm {
namespace {

constexpr Index kMr = 4;     // rows of the register tile (broadcast from packed A)
constexpr Index kNr = 24;    // columns of the register tile (three 8-float vectors of packed B)
constexpr Index kKc = 256;   // K per block at most: a packed B panel, kKc·kNr floats = 24 KB, stays in L1
constexpr Index kMc = 120;   // rows of A packed at a time (120·256 floats = 120 KB, in L2)
constexpr Index kNc = 3072;  // columns of B packed at a time (at most 3 MB, in L3)

// Packed panels of the calling thread: grown to the largest product seen, then reused.
std::vector<float>& scratch(int which) {
    thread_local std::vector<float> buffers[2];
    return buffers[which];
}

// tile (kMr, kNr) = Σ_kk a[kk] ⊗ b[kk], then C = tile or C += tile (row stride ldc).
#if defined(__AVX2__) && defined(__FMA__)
void kernel(Index kc, const float* a, const float* b, float* c, Index ldc, bool accumulate) {
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c02 = c00, c10 = c00, c11 = c00, c12 = c00;
    __m256 c20 = c00, c21 = c00, c22 = c00, c30 = c00, c31 = c00, c32 = c00;
    for (Index kk = 0; kk < kc; ++kk, a += kMr, b += kNr) {
        __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8), b2 = _mm256_loadu_ps(b + 16);
        // Keeps b0..b2 in registers: otherwise GCC folds each load into every FMA that uses it, and the
        // 16 loads per step (instead of 7) cost a third of the speed.
        asm("" : "+x"(b0), "+x"(b1), "+x"(b2));
        __m256 ai = _mm256_broadcast_ss(a);
        c00 = _mm256_fmadd_ps(ai, b0, c00), c01 = _mm256_fmadd_ps(ai, b1, c01), c02 = _mm256_fmadd_ps(ai, b2, c02);
        ai = _mm256_broadcast_ss(a + 1);
        c10 = _mm256_fmadd_ps(ai, b0, c10), c11 = _mm256_fmadd_ps(ai, b1, c11), c12 = _mm256_fmadd_ps(ai, b2, c12);
        ai = _mm256_broadcast_ss(a + 2);
        c20 = _mm256_fmadd_ps(ai, b0, c20), c21 = _mm256_fmadd_ps(ai, b1, c21), c22 = _mm256_fmadd_ps(ai, b2, c22);
        ai = _mm256_broadcast_ss(a + 3);
        c30 = _mm256_fmadd_ps(ai, b0, c30), c31 = _mm256_fmadd_ps(ai, b1, c31), c32 = _mm256_fmadd_ps(ai, b2, c32);
    }
    auto store = [accumulate](float* p, __m256 v) {
        if (accumulate) v = _mm256_add_ps(_mm256_loadu_ps(p), v);
        _mm256_storeu_ps(p, v);
    };
    store(c, c00), store(c + 8, c01), store(c + 16, c02);
    c += ldc;
    store(c, c10), store(c + 8, c11), store(c + 16, c12);
    c += ldc;
    store(c, c20), store(c + 8, c21), store(c + 16, c22);
    c += ldc;
    store(c, c30), store(c + 8, c31), store(c + 16, c32);
}
#else
void kernel(Index kc, const float* a, const float* b, float* c, Index ldc, bool accumulate) {
    float tile[kMr][kNr] = {};
    for (Index kk = 0; kk < kc; ++kk, a += kMr, b += kNr)
        for (Index r = 0; r < kMr; ++r)
            for (Index q = 0; q < kNr; ++q) tile[r][q] += a[r] * b[q];
    for (Index r = 0; r < kMr; ++r)
        for (Index q = 0; q < kNr; ++q) c[r * ldc + q] = accumulate ? c[r * ldc + q] + tile[r][q] : tile[r][q];
}
#endif

#if defined(__AVX2__) && defined(__FMA__)
// out[t·ldo + s] = rows[s][t] for an 8×8 block: row s of the block starts at in + s·ldi.
void transpose8x8(const float* in, Index ldi, float* out, Index ldo) {
    __m256 r[8], t[8];
    for (int s = 0; s < 8; ++s) r[s] = _mm256_loadu_ps(in + s * ldi);
    for (int s = 0; s < 8; s += 2) {
        t[s] = _mm256_unpacklo_ps(r[s], r[s + 1]);
        t[s + 1] = _mm256_unpackhi_ps(r[s], r[s + 1]);
    }
    for (int s = 0; s < 8; s += 4) {
        r[s] = _mm256_shuffle_ps(t[s], t[s + 2], 0x44);
        r[s + 1] = _mm256_shuffle_ps(t[s], t[s + 2], 0xEE);
        r[s + 2] = _mm256_shuffle_ps(t[s + 1], t[s + 3], 0x44);
        r[s + 3] = _mm256_shuffle_ps(t[s + 1], t[s + 3], 0xEE);
    }
    for (int s = 0; s < 4; ++s) {
        _mm256_storeu_ps(out + s * ldo, _mm256_permute2f128_ps(r[s], r[s + 4], 0x20));
        _mm256_storeu_ps(out + (s + 4) * ldo, _mm256_permute2f128_ps(r[s], r[s + 4], 0x31));
    }
}
// out[t·4 + s] = rows[s][t] for a 4×8 block (4 rows of 8 in, 8 groups of 4 out, contiguous).
void transpose4x8(const float* in, Index ldi, float* out) {
    const __m256 r0 = _mm256_loadu_ps(in), r1 = _mm256_loadu_ps(in + ldi);
    const __m256 r2 = _mm256_loadu_ps(in + 2 * ldi), r3 = _mm256_loadu_ps(in + 3 * ldi);
    const __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1);
    const __m256 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
    const __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);  // t = 0|4, 1|5
    const __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);  // t = 2|6, 3|7
    _mm256_storeu_ps(out, _mm256_permute2f128_ps(u0, u1, 0x20));
    _mm256_storeu_ps(out + 8, _mm256_permute2f128_ps(u2, u3, 0x20));
    _mm256_storeu_ps(out + 16, _mm256_permute2f128_ps(u0, u1, 0x31));
    _mm256_storeu_ps(out + 24, _mm256_permute2f128_ps(u2, u3, 0x31));
}
constexpr bool kHaveTransposes = true;
#else
void transpose8x8(const float*, Index, float*, Index) {}
void transpose4x8(const float*, Index, float*) {}
constexpr bool kHaveTransposes = false;
#endif

// out[kk·ldo + s] = rows[s][kk] for s < count (rows[s] = in + s·ldi, contiguous in kk), kk < kc; 0 for
// count ≤ s < width. The transposition that packing needs when K is the contiguous index.
void transposeRows(const float* in, Index ldi, Index count, Index width, Index kc, float* out, Index ldo) {
    Index s0 = 0, kk0 = 0;  // rows [0, s0) × K [0, kk0) done by the vector transposes
    if (kHaveTransposes && count == 4 && ldo == 4) {
        for (Index kk = 0; kk + 8 <= kc; kk += 8) transpose4x8(in + kk, ldi, out + kk * 4);
        s0 = 4;
    } else if (kHaveTransposes) {
        for (; s0 + 8 <= count; s0 += 8)
            for (Index kk = 0; kk + 8 <= kc; kk += 8) transpose8x8(in + s0 * ldi + kk, ldi, out + kk * ldo + s0, ldo);
    }
    kk0 = kc / 8 * 8;
    for (Index s = 0; s < width; ++s)
        for (Index kk = (s < s0 ? kk0 : 0); kk < kc; ++kk) out[kk * ldo + s] = s < count ? in[s * ldi + kk] : 0.0f;
}

// Rows [i0, i0 + mc) and K range [k0, k0 + kc) of op(A), as panels of kMr rows: panel p holds, for each kk,
// the kMr values of rows i0 + p·kMr + r (zero past the last row).
void packA(Operand a, Index i0, Index mc, Index k0, Index kc, float* out) {
    for (Index p = 0; p < mc; p += kMr, out += kc * kMr) {
        const Index rows = std::min(kMr, mc - p);
        if (a.transposed) {  // A(i, kk) = data[kk·ld + i]: kMr contiguous values per kk
            for (Index kk = 0; kk < kc; ++kk) {
                const float* src = a.data + (k0 + kk) * a.ld + i0 + p;
                for (Index r = 0; r < kMr; ++r) out[kk * kMr + r] = r < rows ? src[r] : 0.0f;
            }
        } else {
            transposeRows(a.data + (i0 + p) * a.ld + k0, a.ld, rows, kMr, kc, out, kMr);
        }
    }
}

// K range [k0, k0 + kc) and columns [j0, j0 + nc) of op(B), as panels of kNr columns (zero past the last).
void packB(Operand b, Index k0, Index kc, Index j0, Index nc, float* out) {
    for (Index p = 0; p < nc; p += kNr, out += kc * kNr) {
        const Index cols = std::min(kNr, nc - p);
        if (b.transposed) {  // B(kk, j) = data[j·ld + kk]: each column is contiguous
            transposeRows(b.data + (j0 + p) * b.ld + k0, b.ld, cols, kNr, kc, out, kNr);
        } else {
            for (Index kk = 0; kk < kc; ++kk) {
                const float* src = b.data + (k0 + kk) * b.ld + j0 + p;
                float* dst = out + kk * kNr;
                if (cols == kNr) {  // a constant size: inlined moves, not a call to memmove per 24 floats
                    std::memcpy(dst, src, sizeof(float) * kNr);
                    continue;
                }
                std::copy(src, src + cols, dst);
                std::fill(dst + cols, dst + kNr, 0.0f);
            }
        }
    }
}

Index roundUp(Index n, Index multiple) { return (n + multiple - 1) / multiple * multiple; }

}  // namespace

void multiply(Index m, Index n, Index k, Operand a, Operand b, float* c, Index ldc, bool accumulate) {
    if (m <= 0 || n <= 0) return;
    if (k <= 0) {
        if (!accumulate)
            for (Index i = 0; i < m; ++i) std::fill(c + i * ldc, c + i * ldc + n, 0.0f);
        return;
    }
    // K in equal blocks of at most kKc (a K of 288 gives 2 × 144, not 256 + 32): depends on k only.
    const Index kBlocks = (k + kKc - 1) / kKc, kcMax = (k + kBlocks - 1) / kBlocks;
    std::vector<float>& packedA = scratch(0);
    std::vector<float>& packedB = scratch(1);
    const auto needA = std::size_t(roundUp(std::min(m, kMc), kMr) * kcMax);
    const auto needB = std::size_t(roundUp(std::min(n, kNc), kNr) * kcMax);
    if (packedA.size() < needA) packedA.resize(needA);
    if (packedB.size() < needB) packedB.resize(needB);
    float tile[kMr * kNr];

    for (Index j0 = 0; j0 < n; j0 += kNc) {
        const Index nc = std::min(kNc, n - j0);
        for (Index k0 = 0; k0 < k; k0 += kcMax) {
            const Index kc = std::min(kcMax, k - k0);
            const bool add = accumulate || k0 > 0;  // later K blocks add to the earlier ones
            packB(b, k0, kc, j0, nc, packedB.data());
            for (Index i0 = 0; i0 < m; i0 += kMc) {
                const Index mc = std::min(kMc, m - i0);
                packA(a, i0, mc, k0, kc, packedA.data());
                for (Index jr = 0; jr < nc; jr += kNr) {
                    const float* pb = packedB.data() + (jr / kNr) * kc * kNr;
                    const Index cols = std::min(kNr, nc - jr);
                    for (Index ir = 0; ir < mc; ir += kMr) {
                        const float* pa = packedA.data() + (ir / kMr) * kc * kMr;
                        const Index rows = std::min(kMr, mc - ir);
                        float* cTile = c + (i0 + ir) * ldc + j0 + jr;
                        if (rows == kMr && cols == kNr) {
                            kernel(kc, pa, pb, cTile, ldc, add);
                            continue;
                        }
                        // An edge tile: computed whole into `tile`, then its valid part stored.
                        kernel(kc, pa, pb, tile, kNr, false);
                        for (Index r = 0; r < rows; ++r)
                            for (Index q = 0; q < cols; ++q)
                                cTile[r * ldc + q] = add ? cTile[r * ldc + q] + tile[r * kNr + q] : tile[r * kNr + q];
                    }
                }
            }
        }
    }
}

void multiplyReference(Index m, Index n, Index k, Operand a, Operand b, float* c, Index ldc, bool accumulate) {
    for (Index i = 0; i < m; ++i)
        for (Index j = 0; j < n; ++j) {
            float sum = 0;
            for (Index kk = 0; kk < k; ++kk) sum += a.at(i, kk) * b.at(kk, j);
            c[i * ldc + j] = accumulate ? c[i * ldc + j] + sum : sum;
        }
}

}  // namespace bnlab::engine::gemm
