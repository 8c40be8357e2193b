#pragma once

// Reader for the reference fixtures in tests/fixtures/ (written by tests/fixtures/make_fixtures.py).
//
// Format: lines starting with '#' are comments; otherwise a header `name rows cols` followed by
// rows·cols values, whitespace separated, row-major. Scalars are 1x1 arrays. Every problem (missing
// file, malformed header, short data, unknown or duplicate name) throws std::runtime_error naming the
// file and the array, so a test that uses a broken fixture fails with that message.

#include "tensor.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#ifndef BNLAB_TEST_FIXTURES
#error "BNLAB_TEST_FIXTURES must be defined as the path of tests/fixtures"
#endif

namespace bnlab::test {

class Fixture {
public:
    // Loads BNLAB_TEST_FIXTURES/fileName, e.g. Fixture("bn1d.txt").
    explicit Fixture(const std::string& fileName);
    // Loads a file given by its full path.
    [[nodiscard]] static Fixture fromPath(const std::filesystem::path& path);

    [[nodiscard]] const engine::Matrix& get(const std::string& name) const;
    [[nodiscard]] float scalar(const std::string& name) const;  // a 1x1 array
    [[nodiscard]] bool has(const std::string& name) const { return m_arrays.count(name) != 0; }
    [[nodiscard]] std::vector<std::string> names() const;
    [[nodiscard]] const std::string& path() const { return m_path; }

private:
    struct FromPath {};
    Fixture(FromPath, const std::filesystem::path& path);
    void load();

    std::string m_path;
    std::map<std::string, engine::Matrix> m_arrays;
};

// The tolerances of the layer reference tests (test_batch_norm_reference.cpp says why): outputs and running
// statistics within kLayerAtol + kLayerRtol·|torch|; gradients within gradientAtol(torch) + kLayerRtol·|torch|.
inline constexpr double kLayerRtol = 1e-5;
inline constexpr double kLayerAtol = 1e-6;
// kLayerAtol·max(1, max|reference|): a gradient sums terms as large as its largest value.
[[nodiscard]] double gradientAtol(const engine::Matrix& reference);

// The sample shape a layer fixture describes: (features, 1, 1), or (features, height, width) for a conv input.
[[nodiscard]] engine::Shape sampleShape(const Fixture& fixture);

// Element-wise |actual − expected| ≤ atol + rtol·|expected|, with the shapes equal. On failure the
// message names `what`, the number of failing values and the worst one with its (row, col).
[[nodiscard]] ::testing::AssertionResult matricesNear(const std::string& what, const engine::Matrix& actual,
                                                    const engine::Matrix& expected, double rtol, double atol);

}  // namespace bnlab::test
