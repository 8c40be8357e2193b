#pragma once

// Reader for the IDX format of MNIST and Fashion-MNIST (http://yann.lecun.com/exdb/mnist/), gzipped or raw.
// Header: two zero bytes, a type byte (0x08 = unsigned byte; the only type accepted), the number of
// dimensions, then one big-endian uint32 per dimension; then the data, exactly the product of the
// dimensions in bytes. Every failure throws DataError naming the file and what is wrong.

#include <cstdint>
#include <filesystem>
#include <vector>

namespace bnlab::engine {

struct IdxArray {
    std::vector<std::uint32_t> dims;   // e.g. {60000, 28, 28} for images, {60000} for labels
    std::vector<std::uint8_t> data;    // row-major, product(dims) bytes
};

// Reads a file, gunzipping it when it starts with the gzip magic (1f 8b).
[[nodiscard]] IdxArray readIdx(const std::filesystem::path& file);

}  // namespace bnlab::engine
