#pragma once

// Shapes and storage shared by the whole engine.
//
// Legend (used in every shape comment, as `// (N, F)`):
//   N  samples in the batch            F  features of a dense activation
//   C  channels                        H, W  height and width of a feature map
//   K  rows of an im2col patch (C·kh·kw)
// A batch is a row-major float matrix with one row per sample. Convolutional activations are stored
// NCHW with C·H·W flattened into the row, so row n, column (c·H + y)·W + x is channel c, pixel (y, x).
// Reductions over long sums (means, variances, norms) accumulate in double.

#include <Eigen/Core>

#include <cstdint>
#include <string>

namespace bnlab::engine {

using Matrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using Vector = Eigen::VectorXf;  // column vector: per-feature values (F) or per-channel values (C)
using Index = Eigen::Index;

// The shape of one sample. A dense activation is (F, 1, 1).
struct Shape {
    int c = 1;
    int h = 1;
    int w = 1;

    [[nodiscard]] Index size() const { return Index(c) * h * w; }
    [[nodiscard]] bool isImage() const { return h > 1 || w > 1; }
    [[nodiscard]] std::string toString() const;
    bool operator==(const Shape&) const = default;
};

// Train: batch statistics, running statistics updated, Dropout drops. Eval: running statistics, nothing
// updated or dropped. EvalBatch (the eval_statistics=batch switch): BatchNorm normalises with the statistics of
// this forward's batch as in Train (Batch Renormalization with its r and d), but nothing is updated or dropped.
enum class Mode { Train, Eval, EvalBatch };

}  // namespace bnlab::engine
