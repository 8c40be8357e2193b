#include "tensor.h"

namespace bnlab::engine {

std::string Shape::toString() const {
    if (!isImage()) return std::to_string(c);
    return std::to_string(c) + "x" + std::to_string(h) + "x" + std::to_string(w);
}

}  // namespace bnlab::engine
