#pragma once

// Single-threaded float GEMM for the layers' products: C (M, N) = op(A) (M, K) · op(B) (K, N), (+ C).
//
// Why our own: Eigen 3.4's AVX2 kernel folds its loads of B into the FMAs and issues 16 loads per 12 FMAs,
// which on this project's machines (AMD Zen 3) caps it at about 60% of the FMA peak; this kernel keeps the
// loaded B vectors in registers (7 loads per 12 FMAs) and reaches about 95% on the Keras CNN's shapes.
// It is the classic packed design (Goto/BLIS): B is packed in panels of kNr columns, A in panels of kMr
// rows, and a kMr×kNr register tile accumulates over a block of K.
//
// Determinism: each element of C is a sum over k in increasing order, one FMA per k, in blocks of K that
// depend on K only; nothing depends on threads (the caller splits the work, each call runs on one thread).
// Scratch for the packed panels is per thread and grows to the largest product seen, then is reused.

#include "tensor.h"

namespace bnlab::engine::gemm {

// A read-only row-major operand: element (i, j) is data[i·ld + j], or data[j·ld + i] when transposed.
struct Operand {
    const float* data;
    Index ld;
    bool transposed = false;

    [[nodiscard]] float at(Index i, Index j) const { return transposed ? data[j * ld + i] : data[i * ld + j]; }
};

[[nodiscard]] inline Operand plain(const float* data, Index ld) { return {data, ld, false}; }
[[nodiscard]] inline Operand transposed(const float* data, Index ld) { return {data, ld, true}; }

// C (M, N, row stride ldc) = op(A)·op(B), or C += op(A)·op(B) when accumulate.
void multiply(Index m, Index n, Index k, Operand a, Operand b, float* c, Index ldc, bool accumulate);

// The plain triple loop (float, k in increasing order), for tests.
void multiplyReference(Index m, Index n, Index k, Operand a, Operand b, float* c, Index ldc, bool accumulate);

}  // namespace bnlab::engine::gemm
