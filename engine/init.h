#pragma once

#include "tensor.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>

namespace bnlab::engine {

enum class InitKind {
    He,        // N(0, 2/fan_in): for ReLU networks (He et al. 2015)
    Glorot,    // U(±√(6/(fan_in + fan_out))): for sigmoid/tanh networks (Glorot & Bengio 2010)
    Gaussian,  // N(0, scale²) whatever the fan: a deliberately fixed scale for "bad initialisation" runs
};

struct InitOptions {
    InitKind kind = InitKind::Glorot;
    float scale = 1.0f;  // He and Glorot: multiplies the standard scale; Gaussian: the standard deviation
};

[[nodiscard]] std::string toString(InitKind kind);            // "he", "glorot", "gaussian"
[[nodiscard]] InitKind initKindFromString(const std::string&);  // throws ConfigError naming "init"

// A small portable random generator (splitmix64-seeded xoshiro256**), the same on every platform and
// standard library, so a seed gives the same weights, shuffle and probe batch everywhere.
class Random final {
public:
    explicit Random(std::uint64_t seed);
    std::uint64_t next();
    double uniform();                       // [0, 1)
    double normal();                        // N(0, 1), Box-Muller
    std::uint64_t below(std::uint64_t n);   // [0, n), unbiased

    // A seed for an independent stream ("weights", "shuffle", "probe"), derived from a run seed.
    static std::uint64_t derive(std::uint64_t seed, std::uint64_t stream);

    // The generator's whole state (a checkpoint saves it; normal() keeps no spare value).
    [[nodiscard]] std::array<std::uint64_t, 4> state() const { return {m_s[0], m_s[1], m_s[2], m_s[3]}; }
    void setState(const std::array<std::uint64_t, 4>& s) { std::copy(s.begin(), s.end(), m_s); }

private:
    std::uint64_t m_s[4];
};

// splitmix64's output function (Steele, Lea & Flood 2014): counter-based random bits for values that must be a
// pure function of (seed, step, position), such as Dropout's masks and the BN noise: mix64(state + (i + 1)·kGolden)
// with state = mix64(seed + step·kGolden) is the i-th value of the stream (seed, step).
inline constexpr std::uint64_t kGolden = 0x9e3779b97f4a7c15ULL;
[[nodiscard]] inline std::uint64_t mix64(std::uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

// Fills a weight matrix with fan-in and fan-out as given (conv: C·k·k and F·k·k).
void initWeights(Matrix& w, Index fanIn, Index fanOut, const InitOptions& options, Random& random);

}  // namespace bnlab::engine
