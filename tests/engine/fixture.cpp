#include "fixture.h"

#include <algorithm>
#include <cmath>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace bnlab::test {

namespace {

// Whitespace-separated tokens of the non-comment lines, each with its line number.
struct Token {
    std::string text;
    int line;
};

std::vector<Token> tokenize(std::istream& in) {
    std::vector<Token> tokens;
    std::string line;
    for (int number = 1; std::getline(in, line); ++number) {
        const auto first = line.find_first_not_of(" \t\r");
        if (first == std::string::npos || line[first] == '#') {
            continue;
        }
        std::istringstream words(line);
        std::string word;
        while (words >> word) {
            tokens.push_back({word, number});
        }
    }
    return tokens;
}

bool parseInt(const std::string& text, long& value) {
    errno = 0;
    char* end = nullptr;
    value = std::strtol(text.c_str(), &end, 10);
    return errno == 0 && end != text.c_str() && *end == '\0';
}

bool parseFloat(const std::string& text, float& value) {
    errno = 0;
    char* end = nullptr;
    value = std::strtof(text.c_str(), &end);
    // ERANGE on underflow (a subnormal value) is fine; on overflow the value is infinite.
    const bool overflow = errno == ERANGE && std::isinf(value);
    return !overflow && end != text.c_str() && *end == '\0';
}

}  // namespace

Fixture::Fixture(const std::string& fileName)
    : m_path((std::filesystem::path(BNLAB_TEST_FIXTURES) / fileName).string()) {
    load();
}

Fixture::Fixture(FromPath, const std::filesystem::path& path) : m_path(path.string()) { load(); }

Fixture Fixture::fromPath(const std::filesystem::path& path) { return Fixture(FromPath{}, path); }

void Fixture::load() {
    std::ifstream in(m_path);
    if (!in) {
        throw std::runtime_error("fixture " + m_path + ": cannot open the file");
    }
    const std::vector<Token> tokens = tokenize(in);
    std::size_t i = 0;
    while (i < tokens.size()) {
        const Token& nameToken = tokens[i];
        const std::string& name = nameToken.text;
        const std::string where = "fixture " + m_path + ", array '" + name + "' (line " +
                                  std::to_string(nameToken.line) + ")";
        float ignored = 0.0f;
        if (parseFloat(name, ignored)) {
            throw std::runtime_error(where + ": expected an array header 'name rows cols', found a number "
                                     "(more values than the previous header declares?)");
        }
        long rows = 0;
        long cols = 0;
        if (i + 2 >= tokens.size() || !parseInt(tokens[i + 1].text, rows) ||
            !parseInt(tokens[i + 2].text, cols) || rows <= 0 || cols <= 0) {
            throw std::runtime_error(where + ": malformed header, expected 'name rows cols' with positive sizes");
        }
        if (m_arrays.count(name) != 0) {
            throw std::runtime_error(where + ": duplicate array name");
        }
        i += 3;
        engine::Matrix values(rows, cols);
        for (long k = 0; k < rows * cols; ++k, ++i) {
            if (i >= tokens.size()) {
                throw std::runtime_error(where + ": expected " + std::to_string(rows * cols) + " values, file ends after " +
                                         std::to_string(k));
            }
            float v = 0.0f;
            if (!parseFloat(tokens[i].text, v)) {
                throw std::runtime_error(where + ": value " + std::to_string(k) + " '" + tokens[i].text +
                                         "' on line " + std::to_string(tokens[i].line) + " is not a number");
            }
            values(k / cols, k % cols) = v;
        }
        m_arrays.emplace(name, std::move(values));
    }
    if (m_arrays.empty()) {
        throw std::runtime_error("fixture " + m_path + ": no arrays in the file");
    }
}

const engine::Matrix& Fixture::get(const std::string& name) const {
    const auto it = m_arrays.find(name);
    if (it == m_arrays.end()) {
        throw std::runtime_error("fixture " + m_path + ": no array named '" + name + "'");
    }
    return it->second;
}

float Fixture::scalar(const std::string& name) const {
    const engine::Matrix& m = get(name);
    if (m.rows() != 1 || m.cols() != 1) {
        throw std::runtime_error("fixture " + m_path + ": array '" + name + "' is " + std::to_string(m.rows()) + "x" +
                                 std::to_string(m.cols()) + ", expected a 1x1 scalar");
    }
    return m(0, 0);
}

::testing::AssertionResult matricesNear(const std::string& what, const engine::Matrix& actual,
                                       const engine::Matrix& expected, double rtol, double atol) {
    if (actual.rows() != expected.rows() || actual.cols() != expected.cols()) {
        return ::testing::AssertionFailure() << what << ": shape " << actual.rows() << "x" << actual.cols()
                                             << ", expected " << expected.rows() << "x" << expected.cols();
    }
    long failures = 0;
    double worstRatio = -1.0;
    Eigen::Index worstRow = 0;
    Eigen::Index worstCol = 0;
    for (Eigen::Index r = 0; r < expected.rows(); ++r) {
        for (Eigen::Index c = 0; c < expected.cols(); ++c) {
            const double a = actual(r, c);
            const double e = expected(r, c);
            const double tolerance = atol + rtol * std::abs(e);
            const double diff = std::abs(a - e);
            // A NaN compares false: count it as a failure.
            const double ratio = std::isfinite(diff) ? diff / tolerance : INFINITY;
            if (!(diff <= tolerance)) {
                ++failures;
            }
            if (!(ratio <= worstRatio)) {
                worstRatio = ratio;
                worstRow = r;
                worstCol = c;
            }
        }
    }
    if (failures == 0) {
        return ::testing::AssertionSuccess();
    }
    const double a = actual(worstRow, worstCol);
    const double e = expected(worstRow, worstCol);
    std::ostringstream message;
    message.precision(9);
    message << what << ": " << failures << " of " << expected.size() << " values differ beyond " << atol << " + "
            << rtol << "*|expected|; worst at (" << worstRow << ", " << worstCol << "): got " << a << ", expected " << e
            << " (diff " << std::abs(a - e) << ")";
    return ::testing::AssertionFailure() << message.str();
}

std::vector<std::string> Fixture::names() const {
    std::vector<std::string> result;
    for (const auto& [name, value] : m_arrays) {
        result.push_back(name);
    }
    return result;
}

double gradientAtol(const engine::Matrix& reference) {
    return kLayerAtol * std::max(1.0, double(reference.cwiseAbs().maxCoeff()));
}

engine::Shape sampleShape(const Fixture& fixture) {
    engine::Shape shape{int(fixture.scalar("features")), 1, 1};
    if (fixture.has("height")) {
        shape.h = int(fixture.scalar("height"));
        shape.w = int(fixture.scalar("width"));
    }
    return shape;
}

}  // namespace bnlab::test
