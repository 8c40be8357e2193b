// The packed GEMM against its plain triple loop, on shapes that exercise every edge: M, N not multiples of
// the register tile, K split into several blocks, transposed operands, row strides wider than the matrix,
// and accumulation into C.
//
// Tolerance: both sum the same K products in the same order; the kernel rounds each product into an FMA
// and the loop does not, so they differ by rounding only: |fast − plain| ≤ 4·K·FLT_EPSILON·Σ|a·b| per element.

#include "gradient_check.h"

#include "gemm.h"

#include <gtest/gtest.h>

#include <cfloat>
#include <cmath>
#include <string>

namespace bnlab::test {
namespace {

using engine::Index;
using engine::Matrix;
namespace gemm = engine::gemm;

struct Case {
    Index m, n, k;
    bool transA, transB, accumulate;
};

std::string describe(const Case& c) {
    return std::to_string(c.m) + "x" + std::to_string(c.n) + "x" + std::to_string(c.k) + (c.transA ? " Aᵀ" : "") +
           (c.transB ? " Bᵀ" : "") + (c.accumulate ? " +=" : "");
}

void expectMatchesReference(const Case& c) {
    SCOPED_TRACE(describe(c));
    // Stored with 3 spare columns, so the leading dimension is not the width.
    const Matrix a = c.transA ? randomMatrix(c.k, c.m + 3, 1) : randomMatrix(c.m, c.k + 3, 1);
    const Matrix b = c.transB ? randomMatrix(c.n, c.k + 3, 2) : randomMatrix(c.k, c.n + 3, 2);
    const gemm::Operand opA{a.data(), a.cols(), c.transA}, opB{b.data(), b.cols(), c.transB};
    const Matrix c0 = randomMatrix(c.m, c.n + 5, 3);
    Matrix fast = c0, plain = c0;
    gemm::multiply(c.m, c.n, c.k, opA, opB, fast.data(), fast.cols(), c.accumulate);
    gemm::multiplyReference(c.m, c.n, c.k, opA, opB, plain.data(), plain.cols(), c.accumulate);
    int bad = 0;
    for (Index i = 0; i < c.m; ++i) {
        for (Index j = 0; j < c.n; ++j) {
            double magnitude = c.accumulate ? std::abs(c0(i, j)) : 0.0;
            for (Index kk = 0; kk < c.k; ++kk) magnitude += std::abs(double(opA.at(i, kk)) * opB.at(kk, j));
            const double tol = 4.0 * double(c.k + 1) * FLT_EPSILON * magnitude;
            if (std::abs(double(fast(i, j)) - plain(i, j)) > tol && ++bad <= 5)
                ADD_FAILURE() << "C(" << i << ", " << j << ") = " << fast(i, j) << ", plain loop " << plain(i, j);
        }
        for (Index j = c.n; j < fast.cols(); ++j) ASSERT_EQ(fast(i, j), c0(i, j)) << "wrote past column " << c.n;
    }
    EXPECT_EQ(bad, 0);
}

TEST(Gemm, MatchesThePlainLoopOnEveryEdge) {
    for (bool transA : {false, true})
        for (bool transB : {false, true})
            for (bool accumulate : {false, true}) {
                expectMatchesReference({4, 24, 8, transA, transB, accumulate});      // one whole tile
                expectMatchesReference({7, 29, 5, transA, transB, accumulate});      // edge tiles only
                expectMatchesReference({130, 50, 300, transA, transB, accumulate});  // 2 row blocks, 2 K blocks
                expectMatchesReference({1, 1, 1, transA, transB, accumulate});
            }
    expectMatchesReference({9, 3100, 3, false, false, false});  // 2 column blocks
}

TEST(Gemm, EmptyKAssignsZeroOrKeepsC) {
    Matrix c = Matrix::Constant(2, 3, 5.0f);
    const float one = 1.0f;
    gemm::multiply(2, 3, 0, gemm::plain(&one, 1), gemm::plain(&one, 1), c.data(), 3, true);
    EXPECT_EQ(c, Matrix::Constant(2, 3, 5.0f));
    gemm::multiply(2, 3, 0, gemm::plain(&one, 1), gemm::plain(&one, 1), c.data(), 3, false);
    EXPECT_EQ(c, Matrix::Zero(2, 3));
}

}  // namespace
}  // namespace bnlab::test
