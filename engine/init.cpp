#include "init.h"

#include "error.h"

#include <cmath>
#include <numbers>

namespace bnlab::engine {
namespace {
__extension__ typedef unsigned __int128 Uint128;  // GCC/Clang: the 64×64→128 product

std::uint64_t splitmix64(std::uint64_t& x) {
    std::uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}
std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
}  // namespace

std::string toString(InitKind kind) {
    switch (kind) {
        case InitKind::He: return "he";
        case InitKind::Glorot: return "glorot";
        case InitKind::Gaussian: return "gaussian";
    }
    return "?";
}

InitKind initKindFromString(const std::string& s) {
    if (s == "he") return InitKind::He;
    if (s == "glorot") return InitKind::Glorot;
    if (s == "gaussian") return InitKind::Gaussian;
    throw ConfigError("init: unknown initialiser '" + s + "' (expected he, glorot or gaussian)");
}

Random::Random(std::uint64_t seed) {
    for (auto& s : m_s) s = splitmix64(seed);
}

std::uint64_t Random::next() {
    const std::uint64_t result = rotl(m_s[1] * 5, 7) * 9;
    const std::uint64_t t = m_s[1] << 17;
    m_s[2] ^= m_s[0];
    m_s[3] ^= m_s[1];
    m_s[1] ^= m_s[2];
    m_s[0] ^= m_s[3];
    m_s[2] ^= t;
    m_s[3] = rotl(m_s[3], 45);
    return result;
}

double Random::uniform() { return double(next() >> 11) * 0x1.0p-53; }

double Random::normal() {
    // Box-Muller; 1 − u keeps the logarithm's argument in (0, 1].
    const double u1 = 1.0 - uniform(), u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
}

std::uint64_t Random::below(std::uint64_t n) {
    // Lemire's multiply-shift with rejection, unbiased.
    Uint128 m = (Uint128)next() * n;
    std::uint64_t low = std::uint64_t(m);
    if (low < n) {
        const std::uint64_t threshold = (0 - n) % n;
        while (low < threshold) {
            m = (Uint128)next() * n;
            low = std::uint64_t(m);
        }
    }
    return std::uint64_t(m >> 64);
}

std::uint64_t Random::derive(std::uint64_t seed, std::uint64_t stream) {
    std::uint64_t x = seed ^ (stream * 0xd1b54a32d192ed03ULL);
    splitmix64(x);
    return splitmix64(x);
}

void initWeights(Matrix& w, Index fanIn, Index fanOut, const InitOptions& options, Random& random) {
    switch (options.kind) {
        case InitKind::He: {
            const double sd = options.scale * std::sqrt(2.0 / double(fanIn));
            for (Index i = 0; i < w.size(); ++i) w.data()[i] = float(sd * random.normal());
            break;
        }
        case InitKind::Glorot: {
            const double limit = options.scale * std::sqrt(6.0 / double(fanIn + fanOut));
            for (Index i = 0; i < w.size(); ++i) w.data()[i] = float(limit * (2.0 * random.uniform() - 1.0));
            break;
        }
        case InitKind::Gaussian:
            for (Index i = 0; i < w.size(); ++i) w.data()[i] = float(options.scale * random.normal());
            break;
    }
}

}  // namespace bnlab::engine
