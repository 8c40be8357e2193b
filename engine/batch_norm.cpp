#include "batch_norm.h"

#include "error.h"
#include "parallel.h"

#include <cmath>

namespace bnlab::engine {
namespace {

// Views the batch as (N, C, S): channel c of sample n is the S = H·W columns starting at c·S.
struct Layout {
    Index n, c, s;
    [[nodiscard]] Index m() const { return n * s; }  // values per channel
};

Layout layoutOf(const Shape& shape, Index rows) { return {rows, shape.c, Index(shape.h) * shape.w}; }

void checkInput(const Shape& shape, const Matrix& input) {
    if (input.cols() != shape.size())
        throw Error("batchnorm: input has " + std::to_string(input.cols()) + " columns, expected " +
                    std::to_string(shape.size()) + " (" + shape.toString() + ")");
}

}  // namespace

BatchNorm::BatchNorm(Shape inputShape, BatchNormOptions options)
    : Layer(inputShape),
      m_options(options),
      m_gamma(Matrix::Ones(1, inputShape.c)),
      m_gammaGrad(Matrix::Zero(1, inputShape.c)),
      m_beta(Matrix::Zero(1, inputShape.c)),
      m_betaGrad(Matrix::Zero(1, inputShape.c)),
      m_runningMean(Vector::Zero(inputShape.c)),
      m_runningVar(Vector::Ones(inputShape.c)),
      m_batchMean(Vector::Zero(inputShape.c)),
      m_batchVar(Vector::Ones(inputShape.c)),
      m_batchInvStd(Vector::Ones(inputShape.c)),
      m_evalInvStd(Vector::Ones(inputShape.c)) {}

std::vector<Param> BatchNorm::params() {
    return {{"gamma", &m_gamma, &m_gammaGrad, false}, {"beta", &m_beta, &m_betaGrad, false}};
}

const Matrix& BatchNorm::forward(const Matrix& input, Mode mode) {
    checkInput(m_inputShape, input);
    const Layout L = layoutOf(m_inputShape, input.rows());
    m_output.resize(input.rows(), input.cols());
    m_xhat.resize(input.rows(), input.cols());
    m_lastMode = mode;
    const double eps = m_options.epsilon;

    if (mode == Mode::Train && L.m() < 2)
        throw ConfigError("Batch Normalization in training mode needs at least 2 values per feature, but the "
                          "batch has " + std::to_string(L.n) + " sample(s) of " + m_inputShape.toString() +
                          ": use a batch size of 2 or more (and no last batch of 1 sample)");

    if (L.s == 1) {
        forwardDense(input, mode);
        return m_output;
    }
    // Each chunk owns whole channels: statistics are summed in a fixed order, whatever the threads.
    parallel::forChunks(L.c, 4, [&](Index c0, Index c1) {
        for (Index c = c0; c < c1; ++c) {
            double mean, invStd;
            if (mode == Mode::Train) {
                // μ = (1/m) Σ x ;  σ² = (1/m) Σ (x − μ)²  (two passes, double accumulation)
                double sum = 0;
                for (Index n = 0; n < L.n; ++n) sum += input.row(n).segment(c * L.s, L.s).cast<double>().sum();
                mean = sum / double(L.m());
                double sq = 0;
                for (Index n = 0; n < L.n; ++n)
                    sq += (input.row(n).segment(c * L.s, L.s).cast<double>().array() - mean).square().sum();
                const double var = sq / double(L.m());
                invStd = 1.0 / std::sqrt(var + eps);
                m_batchMean[c] = float(mean);
                m_batchVar[c] = float(var);
                m_batchInvStd[c] = float(invStd);
                // running ← k·running + (1 − k)·batch, with the unbiased variance σ²·m/(m − 1)
                const double k = m_options.momentum;
                m_runningMean[c] = float(k * m_runningMean[c] + (1 - k) * mean);
                m_runningVar[c] = float(k * m_runningVar[c] + (1 - k) * var * double(L.m()) / double(L.m() - 1));
            } else {
                mean = m_runningMean[c];
                invStd = 1.0 / std::sqrt(double(m_runningVar[c]) + eps);
                m_evalInvStd[c] = float(invStd);
            }
            // x̂ = (x − μ)/√(σ² + ε) ;  y = γ·x̂ + β
            const float fm = float(mean), fi = float(invStd), g = m_gamma(0, c), b = m_beta(0, c);
            for (Index n = 0; n < L.n; ++n) {
                auto xh = m_xhat.row(n).segment(c * L.s, L.s);
                xh = (input.row(n).segment(c * L.s, L.s).array() - fm) * fi;
                m_output.row(n).segment(c * L.s, L.s) = xh.array() * g + b;
            }
        }
    });
    return m_output;
}

const Matrix& BatchNorm::backward(const Matrix& gradOutput) {
    const Layout L = layoutOf(m_inputShape, gradOutput.rows());
    if (gradOutput.rows() != m_xhat.rows() || gradOutput.cols() != m_xhat.cols())
        throw Error("batchnorm: gradient shape does not match the latest forward batch");
    m_gradInput.resize(gradOutput.rows(), gradOutput.cols());
    const bool train = m_lastMode == Mode::Train;
    if (L.s == 1) {
        backwardDense(gradOutput);
        return m_gradInput;
    }

    parallel::forChunks(L.c, 4, [&](Index c0, Index c1) {
        for (Index c = c0; c < c1; ++c) {
            // dβ = Σ dy ;  dγ = Σ dy·x̂
            double sumDy = 0, sumDyXhat = 0;
            for (Index n = 0; n < L.n; ++n) {
                auto dy = gradOutput.row(n).segment(c * L.s, L.s).cast<double>().array();
                sumDy += dy.sum();
                sumDyXhat += (dy * m_xhat.row(n).segment(c * L.s, L.s).cast<double>().array()).sum();
            }
            m_betaGrad(0, c) = float(sumDy);
            m_gammaGrad(0, c) = float(sumDyXhat);
            const float g = m_gamma(0, c);
            if (!train) {
                // Eval: y = γ·(x − running_mean)·inv + β is affine in x, so dx = γ·inv·dy.
                const float scale = g * m_evalInvStd[c];
                for (Index n = 0; n < L.n; ++n)
                    m_gradInput.row(n).segment(c * L.s, L.s) = gradOutput.row(n).segment(c * L.s, L.s) * scale;
                continue;
            }
            // dx = (γ/(m·√(σ² + ε)))·(m·dy − Σdy − x̂·Σ(dy·x̂))
            const double m = double(L.m());
            const float scale = float(g * m_batchInvStd[c] / m);
            const float fm = float(m), fSumDy = float(sumDy), fSumDyXhat = float(sumDyXhat);
            for (Index n = 0; n < L.n; ++n) {
                m_gradInput.row(n).segment(c * L.s, L.s) =
                    scale * (fm * gradOutput.row(n).segment(c * L.s, L.s).array() - fSumDy -
                             m_xhat.row(n).segment(c * L.s, L.s).array() * fSumDyXhat);
            }
        }
    });
    return m_gradInput;
}

// The dense case (N, F): the same formulas, vectorised across features, one row at a time.
void BatchNorm::forwardDense(const Matrix& x, Mode mode) {
    const Index n = x.rows();
    const double eps = m_options.epsilon;
    auto gamma = m_gamma.row(0).array();
    auto beta = m_beta.row(0).array();
    if (mode == Mode::Train) {
        // μ = (1/m) Σ x ;  σ² = (1/m) Σ (x − μ)²  (two passes, double accumulation)
        auto& mu = m_sum;
        auto& var = m_sumProduct;
        mu.setZero(x.cols());
        for (Index i = 0; i < n; ++i) mu += x.row(i).transpose().cast<double>().array();
        mu /= double(n);
        var.setZero(x.cols());
        for (Index i = 0; i < n; ++i) var += (x.row(i).transpose().cast<double>().array() - mu).square();
        var /= double(n);
        m_batchMean = mu.cast<float>().matrix();
        m_batchVar = var.cast<float>().matrix();
        m_batchInvStd = (var + eps).rsqrt().cast<float>().matrix();
        // running ← k·running + (1 − k)·batch, with the unbiased variance σ²·m/(m − 1)
        const double k = m_options.momentum;
        m_runningMean = (k * m_runningMean.cast<double>().array() + (1 - k) * mu).cast<float>().matrix();
        m_runningVar = (k * m_runningVar.cast<double>().array() + (1 - k) * var * double(n) / double(n - 1))
                           .cast<float>()
                           .matrix();
    } else {
        m_evalInvStd = (m_runningVar.cast<double>().array() + eps).rsqrt().cast<float>().matrix();
    }
    const auto mean = (mode == Mode::Train ? m_batchMean : m_runningMean).array();
    const auto invStd = (mode == Mode::Train ? m_batchInvStd : m_evalInvStd).array();
    // x̂ = (x − μ)/√(σ² + ε) ;  y = γ·x̂ + β
    for (Index i = 0; i < n; ++i) {
        m_xhat.row(i) = ((x.row(i).array() - mean.transpose()) * invStd.transpose()).matrix();
        m_output.row(i) = (m_xhat.row(i).array() * gamma + beta).matrix();
    }
}

void BatchNorm::backwardDense(const Matrix& dy) {
    const Index n = dy.rows();
    // dβ = Σ dy ;  dγ = Σ dy·x̂
    m_sum.setZero(dy.cols());
    m_sumProduct.setZero(dy.cols());
    for (Index i = 0; i < n; ++i) {
        m_sum += dy.row(i).transpose().cast<double>().array();
        m_sumProduct += (dy.row(i).array() * m_xhat.row(i).array()).transpose().cast<double>();
    }
    m_betaGrad = m_sum.cast<float>().transpose().matrix();
    m_gammaGrad = m_sumProduct.cast<float>().transpose().matrix();
    auto gamma = m_gamma.row(0).array();
    if (m_lastMode == Mode::Eval) {  // dx = γ·inv·dy
        for (Index i = 0; i < n; ++i)
            m_gradInput.row(i) = (dy.row(i).array() * gamma * m_evalInvStd.transpose().array()).matrix();
        return;
    }
    // dx = (γ/(m·√(σ² + ε)))·(m·dy − Σdy − x̂·Σ(dy·x̂))

    m_scale = (gamma * m_batchInvStd.transpose().array() / float(n)).matrix();
    const auto sumDy = m_betaGrad.row(0).array();
    const auto sumDyXhat = m_gammaGrad.row(0).array();
    const auto scale = m_scale.row(0).array();
    for (Index i = 0; i < n; ++i)
        m_gradInput.row(i) =
            (scale * (float(n) * dy.row(i).array() - sumDy - m_xhat.row(i).array() * sumDyXhat)).matrix();
}

}  // namespace bnlab::engine
