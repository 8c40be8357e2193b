#pragma once

// Shape checks shared by the layers' forward and backward.

#include "error.h"
#include "tensor.h"

#include <string>

namespace bnlab::engine {

inline void checkColumns(const char* layer, const char* what, const Matrix& m, Index expected) {
    if (m.cols() != expected)
        throw Error(std::string(layer) + ": " + what + " has " + std::to_string(m.cols()) +
                    " columns per sample, expected " + std::to_string(expected));
}

inline void checkSameRows(const char* layer, const Matrix& grad, Index forwardRows) {
    if (grad.rows() != forwardRows)
        throw Error(std::string(layer) + ": gradient has " + std::to_string(grad.rows()) +
                    " samples but the latest forward had " + std::to_string(forwardRows));
}

}  // namespace bnlab::engine
