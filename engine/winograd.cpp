#include "winograd.h"

#include <algorithm>
#include <cstring>

// The transforms work on whole rows, eight tiles at a time: a 4×4 transform Bᵀ d B is applied first down
// the columns (to four rows of the plane at once), then along each row, where tile q reads columns 2q .. 2q + 3
// (even and odd columns, split by a shuffle). Every sum is formed in a fixed order: no result depends on
// threads.
//
//   Bᵀ = | 1  0 −1  0 |   G = | 1    0    0  |   Aᵀ = | 1  1  1  0 |
//        | 0  1  1  0 |       | ½    ½    ½  |        | 0  1 −1 −1 |
//        | 0 −1  1  0 |       | ½   −½    ½  |
//        | 0  1  0 −1 |       | 0    0    1  |

namespace bnlab::engine::winograd {
namespace {

// Eight floats in GCC's vector extension: AVX registers where the build has them, pairs of SSE registers or
// scalars elsewhere.
using v8 = float __attribute__((vector_size(32)));
using v8i = int __attribute__((vector_size(32)));

v8 load(const float* p) {
    v8 v;
    std::memcpy(&v, p, sizeof v);
    return v;
}
void store(float* p, v8 v) { std::memcpy(p, &v, sizeof v); }

// dst[0, n) = src[0, n) for short rows, in vectors (the last one overlapping the one before) instead of a
// call to memmove per row. src and dst do not overlap.
void copyRow(const float* src, Index n, float* dst) {
    if (n < 8) {
        for (Index i = 0; i < n; ++i) dst[i] = src[i];
        return;
    }
    for (Index i = 0; i + 8 < n; i += 8) store(dst + i, load(src + i));
    store(dst + n - 8, load(src + n - 8));
}
v8 splat(float x) { return v8{x, x, x, x, x, x, x, x}; }

// even[k] = p[2k], odd[k] = p[2k + 1] for k < 8.
void deinterleave(const float* p, v8& even, v8& odd) {
    const v8 lo = load(p), hi = load(p + 8);
    even = __builtin_shuffle(lo, hi, v8i{0, 2, 4, 6, 8, 10, 12, 14});
    odd = __builtin_shuffle(lo, hi, v8i{1, 3, 5, 7, 9, 11, 13, 15});
}
// (lo, hi) = even[0], odd[0], even[1], odd[1], ..., even[7], odd[7].
void interleaveInto(v8 even, v8 odd, v8& lo, v8& hi) {
    lo = __builtin_shuffle(even, odd, v8i{0, 8, 1, 9, 2, 10, 3, 11});
    hi = __builtin_shuffle(even, odd, v8i{4, 12, 5, 13, 6, 14, 7, 15});
}
void interleave(v8 even, v8 odd, float* p) {
    v8 lo, hi;
    interleaveInto(even, odd, lo, hi);
    store(p, lo);
    store(p + 8, hi);
}

}  // namespace

Geometry geometry(Shape input, int padding) {
    Geometry g;
    g.channels = input.c, g.height = input.h, g.width = input.w, g.padding = padding;
    g.outH = input.h + 2 * padding - 2, g.outW = input.w + 2 * padding - 2;
    g.tilesH = (g.outH + 1) / 2, g.tilesW = (g.outW + 1) / 2;
    g.planeH = 2 * g.tilesH + 2, g.planeW = 2 * g.tilesW + 2;  // ≥ the padded input (H + 2·pad)
    g.tilesWVector = (g.tilesW + 7) / 8 * 8;
    g.rowStride = (2 * g.tilesWVector + 2 + 7) / 8 * 8;  // the vector loops read up to 2·tilesWVector + 1
    return g;
}

Index scratchSize(const Geometry& g) {
    const Index planes = (Index(g.planeH) + 6) * g.rowStride;     // transformInput, inputGradient
    const Index tiles = 4 * (g.tiles() + 8) + 4 * Index(g.tilesWVector);  // transformOutput, outputGradient
    return std::max(planes, tiles);
}

void transformWeights(const float* w, int filters, int channels, float* u) {
    const Index fc = Index(filters) * channels;
    for (int f = 0; f < filters; ++f)
        for (int c = 0; c < channels; ++c) {
            const float* g = w + (Index(f) * channels + c) * 9;  // 3×3, row-major
            float t[4][3];                                     // G g
            for (int j = 0; j < 3; ++j) {
                t[0][j] = g[j];
                t[1][j] = 0.5f * (g[j] + g[3 + j] + g[6 + j]);
                t[2][j] = 0.5f * (g[j] - g[3 + j] + g[6 + j]);
                t[3][j] = g[6 + j];
            }
            for (int i = 0; i < 4; ++i) {  // (G g) Gᵀ
                const float r[4] = {t[i][0], 0.5f * (t[i][0] + t[i][1] + t[i][2]), 0.5f * (t[i][0] - t[i][1] + t[i][2]),
                                    t[i][2]};
                for (int j = 0; j < 4; ++j) u[(i * 4 + j) * fc + Index(f) * channels + c] = r[j];
            }
        }
}

void weightGradient(const float* du, int filters, int channels, float* dw) {
    const Index fc = Index(filters) * channels;
    for (int f = 0; f < filters; ++f)
        for (int c = 0; c < channels; ++c) {
            float t[4][3];  // dU G
            for (int i = 0; i < 4; ++i) {
                const float* d = du + Index(c) * filters + f;  // dU laid out (16, C, F)
                const float d0 = d[(i * 4) * fc], d1 = d[(i * 4 + 1) * fc], d2 = d[(i * 4 + 2) * fc],
                            d3 = d[(i * 4 + 3) * fc];
                t[i][0] = d0 + 0.5f * (d1 + d2);
                t[i][1] = 0.5f * (d1 - d2);
                t[i][2] = 0.5f * (d1 + d2) + d3;
            }
            float* g = dw + (Index(f) * channels + c) * 9;  // Gᵀ (dU G)
            for (int j = 0; j < 3; ++j) {
                g[j] = t[0][j] + 0.5f * (t[1][j] + t[2][j]);
                g[3 + j] = 0.5f * (t[1][j] - t[2][j]);
                g[6 + j] = 0.5f * (t[1][j] + t[2][j]) + t[3][j];
            }
        }
}

void transformInput(const Geometry& g, const float* x, float* v, Index ld, Index offset, float* scratch) {
    const Index rs = g.rowStride, tw = g.tilesW, posStride = positionStride(g.channels, ld);
    float* plane = scratch;
    float* t = scratch + Index(g.planeH) * rs;  // four rows: Bᵀ applied down the columns
    std::fill(plane, plane + Index(g.planeH) * rs, 0.0f);  // the border stays zero for every channel
    for (int c = 0; c < g.channels; ++c) {
        for (int y = 0; y < g.height; ++y) {
            const float* in = x + (Index(c) * g.height + y) * g.width;
            copyRow(in, g.width, plane + (y + g.padding) * rs + g.padding);
        }
        for (int ty = 0; ty < g.tilesH; ++ty) {
            const float* r0 = plane + Index(2 * ty) * rs;
            const float *r1 = r0 + rs, *r2 = r1 + rs, *r3 = r2 + rs;
            for (Index q = 0; q < rs; q += 8) {
                const v8 a = load(r0 + q), b = load(r1 + q), d = load(r2 + q), e = load(r3 + q);
                store(t + q, a - d);
                store(t + rs + q, b + d);
                store(t + 2 * rs + q, d - b);
                store(t + 3 * rs + q, b - e);
            }
            const Index base = offset + Index(ty) * tw;
            for (int i = 0; i < 4; ++i) {
                const float* ti = t + i * rs;
                float* o0 = v + Index(i * 4) * posStride + c * ld + base;
                float* o1 = o0 + posStride;
                float* o2 = o1 + posStride;
                float* o3 = o2 + posStride;
                for (Index q = 0; q < g.tilesWVector; q += 8) {  // tile q reads columns 2q .. 2q + 3
                    v8 a, b, d, e;
                    deinterleave(ti + 2 * q, a, b);
                    deinterleave(ti + 2 * q + 2, d, e);
                    store(o0 + q, a - d);
                    store(o1 + q, b + d);
                    store(o2 + q, d - b);
                    store(o3 + q, b - e);
                }
            }
        }
    }
}

// Per filter: one pass over the sample's tiles (contiguous, 8 at a time) gives the four outputs of each tile,
// y00 y01 / y10 y11, into four arrays; then each row of tiles is interleaved into its two output rows.
void transformOutput(const Geometry& g, int filters, const float* m, Index ld, Index offset, const float* bias,
                     float* y, float* scratch) {
    const Index tw = g.tilesW, twv = g.tilesWVector, T = g.tiles(), posStride = positionStride(filters, ld);
    const Index arrayW = T + 8;  // the pass writes up to T rounded up to 8; the rows read up to T − tw + twv
    float* ys = scratch;         // y00, y01, y10, y11 per tile
    float* out = ys + 4 * arrayW;  // an output row of 2·twv (past outW: not copied)
    for (int f = 0; f < filters; ++f) {
        const v8 b = splat(bias ? bias[f] : 0.0f);
        const float* mf = m + Index(f) * ld + offset;
        for (Index t = 0; t < T; t += 8) {
            v8 mm[16];
            for (int pos = 0; pos < 16; ++pos) mm[pos] = load(mf + pos * posStride + t);
            v8 top[4], bottom[4];  // Aᵀ M: m0j + m1j + m2j and m1j − m2j − m3j
            for (int j = 0; j < 4; ++j) {
                top[j] = mm[j] + mm[4 + j] + mm[8 + j];
                bottom[j] = mm[4 + j] - mm[8 + j] - mm[12 + j];
            }
            store(ys + t, top[0] + top[1] + top[2] + b);  // (Aᵀ M) A
            store(ys + arrayW + t, top[1] - top[2] - top[3] + b);
            store(ys + 2 * arrayW + t, bottom[0] + bottom[1] + bottom[2] + b);
            store(ys + 3 * arrayW + t, bottom[1] - bottom[2] - bottom[3] + b);
        }
        for (int ty = 0; ty < g.tilesH; ++ty) {
            float* yrow = y + (Index(f) * g.outH + 2 * ty) * g.outW;
            for (int row = 0; row < 2 && 2 * ty + row < g.outH; ++row) {
                const float* even = ys + (2 * row) * arrayW + Index(ty) * tw;
                const float* odd = even + arrayW;
                for (Index q = 0; q < twv; q += 8) interleave(load(even + q), load(odd + q), out + 2 * q);
                copyRow(out, g.outW, yrow + row * g.outW);
            }
        }
    }
}

// The adjoint of transformOutput: each row of tiles' two output-gradient rows are split into the four arrays
// dy00, dy01, dy10, dy11 per tile; then one pass over the tiles gives the 16 values of A dy Aᵀ per tile.
void outputGradient(const Geometry& g, int filters, const float* dy, float* dm, Index ld, Index offset,
                    float* scratch) {
    const Index tw = g.tilesW, twv = g.tilesWVector, T = g.tiles(), posStride = positionStride(filters, ld);
    const Index arrayW = T + 8, rowW = 2 * twv;
    float* ds = scratch;            // dy00, dy01, dy10, dy11 per tile
    float* rows = ds + 4 * arrayW;  // the tile row's two output-gradient rows, zero past the output
    for (int f = 0; f < filters; ++f) {
        for (int ty = 0; ty < g.tilesH; ++ty) {
            const float* src = dy + (Index(f) * g.outH + 2 * ty) * g.outW;
            for (int row = 0; row < 2; ++row) {
                float* r = rows + row * rowW;
                const bool inside = 2 * ty + row < g.outH;
                if (inside) copyRow(src + row * g.outW, g.outW, r);
                std::fill(r + (inside ? g.outW : 0), r + rowW, 0.0f);
                float* even = ds + (2 * row) * arrayW + Index(ty) * tw;  // overhangs into the next tile row's
                float* odd = even + arrayW;
                for (Index q = 0; q < twv; q += 8) {
                    v8 e, o;
                    deinterleave(r + 2 * q, e, o);
                    store(even + q, e);
                    store(odd + q, o);
                }
            }
        }
        float* df = dm + Index(f) * ld + offset;
        for (Index t = 0; t < T; t += 8) {
            const v8 y00 = load(ds + t), y01 = load(ds + arrayW + t), y10 = load(ds + 2 * arrayW + t),
                     y11 = load(ds + 3 * arrayW + t);
            // A dy down the columns: rows dy0, dy0 + dy1, dy0 − dy1, −dy1; then the same along each row.
            const v8 e[4] = {y00, y00 + y10, y00 - y10, -y10};
            const v8 o[4] = {y01, y01 + y11, y01 - y11, -y11};
            for (int i = 0; i < 4; ++i) {
                store(df + (4 * i) * posStride + t, e[i]);
                store(df + (4 * i + 1) * posStride + t, e[i] + o[i]);
                store(df + (4 * i + 2) * posStride + t, e[i] - o[i]);
                store(df + (4 * i + 3) * posStride + t, -o[i]);
            }
        }
    }
}

void inputGradient(const Geometry& g, const float* dv, Index ld, Index offset, float* dx, float* scratch) {
    const Index rs = g.rowStride, tw = g.tilesW, posStride = positionStride(g.channels, ld);
    float* plane = scratch;
    float* t = scratch + Index(g.planeH) * rs;  // four rows: B applied along each row of tiles
    for (int c = 0; c < g.channels; ++c) {
        std::fill(plane, plane + Index(g.planeH) * rs, 0.0f);
        for (int ty = 0; ty < g.tilesH; ++ty) {
            const Index base = Index(c) * ld + offset + Index(ty) * tw;
            for (int i = 0; i < 4; ++i) {
                const float* v0 = dv + Index(i * 4) * posStride + base;
                const float* v1 = v0 + posStride;
                const float* v2 = v1 + posStride;
                const float* v3 = v2 + posStride;
                float* ti = t + i * rs;
                // Columns 2q and 2q + 1 of tile q; the lanes past the last tile read past the sample's tiles,
                // so their columns are cleared before the next tile's share is added to 2q + 2 and 2q + 3.
                for (Index q = 0; q < g.tilesWVector; q += 8) {
                    const v8 a = load(v0 + q), b = load(v1 + q), d = load(v2 + q), e = load(v3 + q);
                    interleave(a, b - d + e, ti + 2 * q);
                }
                std::fill(ti + 2 * tw, ti + rs, 0.0f);
                for (Index q = 0; q < g.tilesWVector; q += 8) {
                    const v8 a = load(v0 + q), b = load(v1 + q), d = load(v2 + q), e = load(v3 + q);
                    float* p = ti + 2 * q + 2;
                    v8 lo, hi;
                    interleaveInto(b + d - a, -e, lo, hi);
                    store(p, load(p) + lo);
                    store(p + 8, load(p + 8) + hi);
                }
            }
            float* r0 = plane + Index(2 * ty) * rs;
            float *r1 = r0 + rs, *r2 = r1 + rs, *r3 = r2 + rs;
            for (Index q = 0; q < rs; q += 8) {
                const v8 t0 = load(t + q), t1 = load(t + rs + q), t2 = load(t + 2 * rs + q), t3 = load(t + 3 * rs + q);
                store(r0 + q, load(r0 + q) + t0);
                store(r1 + q, load(r1 + q) + (t1 - t2 + t3));
                store(r2 + q, load(r2 + q) + (t1 + t2 - t0));
                store(r3 + q, load(r3 + q) - t3);
            }
        }
        for (int y = 0; y < g.height; ++y) {
            const float* src = plane + (y + g.padding) * rs + g.padding;
            copyRow(src, g.width, dx + (Index(c) * g.height + y) * g.width);
        }
    }
}

}  // namespace bnlab::engine::winograd
