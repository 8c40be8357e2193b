#include "group_norm.h"

#include "error.h"
#include "layer_checks.h"
#include "parallel.h"

#include <algorithm>
#include <cmath>

namespace bnlab::engine {
namespace {

// Fixed chunk sizes, so that the sums do not depend on the threads.
constexpr Index kSampleGrain = 8;   // samples per chunk of the per-sample work
constexpr Index kChannelGrain = 4;  // channels per chunk of the dγ, dβ sums

}  // namespace

int GroupNorm::groupsFor(int channels, int maxGroups) {
    for (int g = std::min(channels, maxGroups); g > 1; --g)
        if (channels % g == 0) return g;
    return 1;
}

GroupNorm::GroupNorm(Shape inputShape, int groups, float epsilon)
    : Layer(inputShape),
      m_groups(groups),
      m_epsilon(epsilon),
      m_gamma(Matrix::Ones(1, inputShape.c)),
      m_gammaGrad(Matrix::Zero(1, inputShape.c)),
      m_beta(Matrix::Zero(1, inputShape.c)),
      m_betaGrad(Matrix::Zero(1, inputShape.c)) {
    if (groups < 1 || inputShape.c % groups != 0)
        throw Error("groupnorm: " + std::to_string(groups) + " groups do not divide the " +
                    std::to_string(inputShape.c) + " channels of " + inputShape.toString());
}

std::vector<Param> GroupNorm::params() {
    return {{"gamma", &m_gamma, &m_gammaGrad, false}, {"beta", &m_beta, &m_betaGrad, false}};
}

const Matrix& GroupNorm::forward(const Matrix& input, Mode) {
    checkColumns(kind().c_str(), "input", input, m_inputShape.size());
    const Index n = input.rows(), s = Index(m_inputShape.h) * m_inputShape.w;
    const Index perGroup = m_inputShape.c / m_groups, m = perGroup * s;  // channels and values of a group
    m_output.resize(n, input.cols());
    m_mean.resize(n, m_groups);
    m_invStd.resize(n, m_groups);
    m_input = &input;
    parallel::forChunks(n, kSampleGrain, [&](Index r0, Index r1) {
        for (Index r = r0; r < r1; ++r)
            for (Index g = 0; g < m_groups; ++g) {
                // μ = (1/M) Σ x ;  σ² = (1/M) Σ (x − μ)²  (two passes, double accumulation)
                const auto x = input.row(r).segment(g * m, m).cast<double>().array();
                const double mu = x.sum() / double(m);
                const double var = (x - mu).square().sum() / double(m);
                const float mean = float(mu), inv = float(1.0 / std::sqrt(var + double(m_epsilon)));
                m_mean(r, g) = mean;
                m_invStd(r, g) = inv;
                // x̂ = (x − μ)/√(σ² + ε) ;  y = γ_c·x̂ + β_c
                for (Index c = g * perGroup; c < (g + 1) * perGroup; ++c)
                    m_output.row(r).segment(c * s, s) =
                        ((input.row(r).segment(c * s, s).array() - mean) * inv * m_gamma(0, c) + m_beta(0, c))
                            .matrix();
            }
    });
    return m_output;
}

const Matrix& GroupNorm::backward(const Matrix& gradOutput) {
    if (m_input == nullptr) throw Error(kind() + ": backward before forward");
    checkSameRows(kind().c_str(), gradOutput, m_input->rows());
    checkColumns(kind().c_str(), "gradient", gradOutput, m_inputShape.size());
    const Matrix& x = *m_input;
    const Index n = x.rows(), s = Index(m_inputShape.h) * m_inputShape.w;
    const Index perGroup = m_inputShape.c / m_groups, m = perGroup * s;
    m_gradInput.resize(n, x.cols());
    // x̂ of channel c of sample r, as forward had it: (S) values
    auto xhat = [&](Index r, Index c) {
        const Index g = c / perGroup;
        return (x.row(r).segment(c * s, s).array() - m_mean(r, g)) * m_invStd(r, g);
    };

    // dx = (1/(M·√(σ² + ε)))·(M·g − Σg − x̂·Σ(g·x̂)), g = γ_c·dy, per sample and group
    parallel::forChunks(n, kSampleGrain, [&](Index r0, Index r1) {
        for (Index r = r0; r < r1; ++r)
            for (Index grp = 0; grp < m_groups; ++grp) {
                double sumG = 0, sumGXhat = 0;
                for (Index c = grp * perGroup; c < (grp + 1) * perGroup; ++c) {
                    const auto dy = gradOutput.row(r).segment(c * s, s).array();
                    sumG += double(m_gamma(0, c)) * dy.cast<double>().sum();
                    sumGXhat += double(m_gamma(0, c)) * (dy * xhat(r, c)).cast<double>().sum();
                }
                const float scale = float(double(m_invStd(r, grp)) / double(m));
                const float fm = float(m), fSumG = float(sumG), fSumGXhat = float(sumGXhat);
                for (Index c = grp * perGroup; c < (grp + 1) * perGroup; ++c)
                    m_gradInput.row(r).segment(c * s, s) =
                        (scale * (fm * m_gamma(0, c) * gradOutput.row(r).segment(c * s, s).array() - fSumG -
                                  xhat(r, c) * fSumGXhat))
                            .matrix();
            }
    });
    // dγ_c = Σ dy·x̂ ;  dβ_c = Σ dy  (over samples and pixels; each chunk owns whole channels)
    parallel::forChunks(m_inputShape.c, kChannelGrain, [&](Index c0, Index c1) {
        for (Index c = c0; c < c1; ++c) {
            double sumDy = 0, sumDyXhat = 0;
            for (Index r = 0; r < n; ++r) {
                const auto dy = gradOutput.row(r).segment(c * s, s).array();
                sumDy += dy.cast<double>().sum();
                sumDyXhat += (dy * xhat(r, c)).cast<double>().sum();
            }
            m_betaGrad(0, c) = float(sumDy);
            m_gammaGrad(0, c) = float(sumDyXhat);
        }
    });
    return m_gradInput;
}

}  // namespace bnlab::engine
