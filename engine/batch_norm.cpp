#include "batch_norm.h"

#include "error.h"
#include "parallel.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <tuple>

namespace bnlab::engine {
namespace {

// Views the batch as (N, C, S): channel c of sample n is the S = H·W columns starting at c·S.
struct Layout {
    Index n, c, s;
    [[nodiscard]] Index m() const { return n * s; }  // values per channel
};

Layout layoutOf(const Shape& shape, Index rows) { return {rows, shape.c, Index(shape.h) * shape.w}; }

constexpr Index kChannelGrain = 1;  // channels per chunk; fixed, so sums do not depend on the threads

// Eight floats as one value (GCC's vector extension): the lane sums below are written with it, since the
// compiler did not vectorise some of them once inlined (those reading through a ReLU).
using v8 = float __attribute__((vector_size(32)));
constexpr int kLanes = 8;
struct OneValue {};  // element i
struct EightValues {};  // elements i, ..., i + 7
inline float at(const float* p, Index i, OneValue) { return p[i]; }
inline v8 at(const float* p, Index i, EightValues) {
    v8 v;
    std::memcpy(&v, p + i, sizeof v);
    return v;
}

// x ↦ x̂ = (x − μ)·inv for one channel, with the μ and inv of the latest forward (batch or running).
struct Normalizer {
    float mean, invStd;
    template <class T>
    T operator()(T x) const { return (x - mean) * invStd; }
};

// Σ_{i<n} term(i) of a short sum (one sample's S values of a channel): eight float partial sums, element i
// going to lane i mod 8 (the order is fixed by n alone), added in lane order in double. term(i, OneValue{}) is
// element i's term, term(i, EightValues{}) those of elements i..i+7.
template <class Term>
double laneReduce(Index n, Term term) {
    v8 lanes = {};
    Index i = 0;
    for (; i + kLanes <= n; i += kLanes) lanes += term(i, EightValues{});
    float acc[kLanes];
    std::memcpy(acc, &lanes, sizeof acc);
    for (int j = 0; i + j < n; ++j) acc[j] += term(i + j, OneValue{});
    double sum = 0;
    for (float a : acc) sum += a;
    return sum;
}

// How the layer reads its input: as it is, or through the ReLU below it (BatchNorm::forwardAfterRelu), whose
// derivative then masks the input gradient.
struct AsIs {
    static constexpr bool kMasks = false;
    template <class T>
    T operator()(T x) const { return x; }
};
struct ThroughRelu {  // std::max(x, 0), as the ReLU layer computes it: NaN stays NaN (a divergence shows), −0 stays
    static constexpr bool kMasks = true;
    float operator()(float x) const { return x < 0.0f ? 0.0f : x; }
    v8 operator()(v8 x) const { return x < 0.0f ? v8{} : x; }
};

// a·x + b with one rounding where the machine has FMA: written out, so that no code path (a vectorised body, its
// scalar tail, the ReLU-reading copy of a loop) is left to the compiler's choice of contracting or not, which
// differed between them and broke the bit-identity of BN after a ReLU with BN after the ReLU layer.
inline float mulAdd(float a, float x, float b) {
#ifdef __FMA__
    return std::fma(a, x, b);
#else
    return a * x + b;
#endif
}

// v where x > 0, else 0: ReLU's derivative applied to v, as a mask on its bits. (x > 0 ? v : 0 is compiled as a
// branch, not vectorised, under the default -ftrapping-math, and the branch mispredicts on half the values.)
template <class Load>
float maskedBy(float v, float x) {
    if constexpr (!Load::kMasks) {
        (void)x;
        return v;
    } else {
        std::uint32_t bits;
        std::memcpy(&bits, &v, sizeof bits);
        bits &= x > 0.0f ? 0xffffffffu : 0u;
        std::memcpy(&v, &bits, sizeof v);
        return v;
    }
}

template <class Load>
double laneSum(const float* x, Index n, Load load) {
    return laneReduce(n, [x, load](Index i, auto count) { return load(at(x, i, count)); });
}
template <class Load>
double laneSumSquaredDiff(const float* x, Index n, float mean, Load load) {
    return laneReduce(n, [x, mean, load](Index i, auto count) {
        const auto d = load(at(x, i, count)) - mean;
        return d * d;
    });
}
template <class Load>
double laneSumProduct(const float* dy, const float* x, Index n, Normalizer norm, Load load) {  // Σ dy·x̂
    return laneReduce(n, [dy, x, norm, load](Index i, auto count) { return at(dy, i, count) * norm(load(at(x, i, count))); });
}

void checkInput(const Shape& shape, const Matrix& input) {
    if (input.cols() != shape.size())
        throw Error("batchnorm: input has " + std::to_string(input.cols()) + " columns, expected " +
                    std::to_string(shape.size()) + " (" + shape.toString() + ")");
}

}  // namespace

BatchNorm::BatchNorm(Shape inputShape, BatchNormOptions options, bool renormalize)
    : Layer(inputShape),
      m_options(options),
      m_renorm(renormalize),
      m_gamma(Matrix::Ones(1, inputShape.c)),
      m_gammaGrad(Matrix::Zero(1, inputShape.c)),
      m_beta(Matrix::Zero(1, inputShape.c)),
      m_betaGrad(Matrix::Zero(1, inputShape.c)),
      m_runningMean(Vector::Zero(inputShape.c)),
      m_runningVar(Vector::Ones(inputShape.c)),
      m_batchMean(Vector::Zero(inputShape.c)),
      m_batchVar(Vector::Ones(inputShape.c)),
      m_batchInvStd(Vector::Ones(inputShape.c)),
      m_evalInvStd(Vector::Ones(inputShape.c)),
      m_r(Vector::Ones(inputShape.c)),
      m_d(Vector::Zero(inputShape.c)),
      m_evalMean(Vector::Zero(inputShape.c)),
      m_evalR(Vector::Ones(inputShape.c)),
      m_evalD(Vector::Zero(inputShape.c)) {}

std::pair<float, float> BatchNorm::renormCorrections(Index c, double mu, double var) const {
    // r = clip(σ_B/σ, 1/rMax, rMax) ;  d = clip((μ − running_mean)/σ, −dMax, dMax), with the running statistics
    // of before this batch
    const double eps = m_options.epsilon, rMax = m_options.rMax, dMax = m_options.dMax;
    const double sigma = std::sqrt(double(m_runningVar[c]) + eps);
    return {float(std::clamp(std::sqrt(var + eps) / sigma, 1.0 / rMax, rMax)),
            float(std::clamp((mu - double(m_runningMean[c])) / sigma, -dMax, dMax))};
}

std::vector<Param> BatchNorm::params() {
    return {{"gamma", &m_gamma, &m_gammaGrad, false}, {"beta", &m_beta, &m_betaGrad, false}};
}

const Matrix& BatchNorm::forward(const Matrix& input, Mode mode) {
    m_throughRelu = false;
    return forwardReading(input, mode);
}

const Matrix& BatchNorm::forwardAfterRelu(const Matrix& preActivation, Mode mode) {
    if (!canReadThroughRelu()) throw Error("batchnorm: forwardAfterRelu needs a conv input (H·W > 1)");
    m_throughRelu = true;
    return forwardReading(preActivation, mode);
}

const Matrix& BatchNorm::forwardReading(const Matrix& input, Mode mode) {
    checkInput(m_inputShape, input);
    const Layout L = layoutOf(m_inputShape, input.rows());
    m_output.resize(input.rows(), input.cols());
    m_input = &input;
    m_lastMode = mode;
    const bool batchStats = mode != Mode::Eval;  // Train and EvalBatch
    if (batchStats && L.m() < 2)
        throw ConfigError("Batch Normalization with batch statistics needs at least 2 values per feature, but the "
                          "batch has " + std::to_string(L.n) + " sample(s) of " + m_inputShape.toString() +
                          ": use a batch size of 2 or more (and no last batch of 1 sample)");

    if (L.s == 1) {
        forwardDense(input, mode);
    } else if (m_throughRelu) {
        forwardChannels(input, mode, ThroughRelu{});
    } else {
        forwardChannels(input, mode, AsIs{});
    }
    return m_output;
}

template <class Load>
void BatchNorm::forwardChannels(const Matrix& input, Mode mode, Load load) {
    const Layout L = layoutOf(m_inputShape, input.rows());
    const double eps = m_options.epsilon;
    const bool batchStats = mode != Mode::Eval;  // Train and EvalBatch
    const bool train = mode == Mode::Train;      // only Train updates the running statistics
    // Each chunk owns whole channels: statistics are summed in a fixed order, whatever the threads.
    Vector& mean = train ? m_batchMean : batchStats ? m_evalMean : m_runningMean;
    Vector& invStd = train ? m_batchInvStd : m_evalInvStd;
    Vector& rs = train ? m_r : m_evalR;
    Vector& ds = train ? m_d : m_evalD;
    parallel::forChunks(L.c, kChannelGrain, [&](Index c0, Index c1) {
        for (Index c = c0; c < c1; ++c) {
            auto segment = [&](Index n) { return input.row(n).data() + c * L.s; };  // (S) of sample n
            if (batchStats) {
                // μ = (1/m) Σ x ;  σ² = (1/m) Σ (x − μ)². Each sample's S values (a few KB, in L1): their mean
                // and squared deviations in two passes (float lanes); merged over the samples in double by Chan,
                // Golub and LeVeque's update, so the channel is read from memory once, not twice.
                double mu = 0, squares = 0, count = 0;
                const double s = double(L.s);
                for (Index n = 0; n < L.n; ++n) {
                    const float* x = segment(n);
                    const double segMean = laneSum(x, L.s, load) / s;
                    const float around = float(segMean);
                    const double segSquares = laneSumSquaredDiff(x, L.s, around, load) -
                                              s * (double(around) - segMean) * (double(around) - segMean);
                    const double total = count + s, delta = segMean - mu;
                    mu += delta * s / total;
                    squares += segSquares + delta * delta * count * s / total;
                    count = total;
                }
                const double var = std::max(0.0, squares / double(L.m()));
                const float fm = float(mu);
                mean[c] = fm;
                invStd[c] = float(1.0 / std::sqrt(var + eps));
                if (m_renorm) std::tie(rs[c], ds[c]) = renormCorrections(c, mu, var);
                if (train) {
                    m_batchVar[c] = float(var);
                    // running ← k·running + (1 − k)·batch, with the unbiased variance σ²·m/(m − 1)
                    const double k = m_options.momentum;
                    m_runningMean[c] = float(k * m_runningMean[c] + (1 - k) * mu);
                    m_runningVar[c] = float(k * m_runningVar[c] + (1 - k) * var * double(L.m()) / double(L.m() - 1));
                }
            } else {
                m_evalInvStd[c] = float(1.0 / std::sqrt(double(m_runningVar[c]) + eps));
            }
            // x̂ = (x − μ)/√(σ² + ε) ;  y = γ·x̂ + β  (renorm: y = γ·(r·x̂ + d) + β = (γ·r)·x̂ + (γ·d + β))
            const Normalizer norm{mean[c], invStd[c]};
            const float r = batchStats ? rs[c] : 1.0f, d = batchStats ? ds[c] : 0.0f;
            const float g = m_gamma(0, c) * r, b = m_gamma(0, c) * d + m_beta(0, c);
            for (Index n = 0; n < L.n; ++n) {
                const float* x = segment(n);
                float* y = m_output.row(n).data() + c * L.s;
                for (Index i = 0; i < L.s; ++i) y[i] = mulAdd(norm(load(x[i])), g, b);
            }
        }
    });
}

void BatchNorm::checkGradient(const Matrix& gradOutput) const {
    if (m_input == nullptr || gradOutput.rows() != m_input->rows() || gradOutput.cols() != m_input->cols())
        throw Error("batchnorm: gradient shape does not match the latest forward batch");
    if (m_lastMode == Mode::EvalBatch)
        throw Error("batchnorm: backward after an evaluation with batch statistics (EvalBatch) is not supported");
}

const Matrix& BatchNorm::backward(const Matrix& gradOutput) {
    checkGradient(gradOutput);
    m_gradInput.resize(gradOutput.rows(), gradOutput.cols());
    backwardInto(gradOutput, m_gradInput);
    return m_gradInput;
}

const Matrix& BatchNorm::backwardInPlace(Matrix& gradOutput) {
    checkGradient(gradOutput);
    backwardInto(gradOutput, gradOutput);
    return gradOutput;
}

// Each channel's (feature's) sums are taken before its dx is written, and dx element by element from dy at the
// same place: dx may be gradOutput itself.
void BatchNorm::backwardInto(const Matrix& gradOutput, Matrix& gradInput) {
    if (layoutOf(m_inputShape, gradOutput.rows()).s == 1) {
        backwardDense(gradOutput, gradInput);
    } else if (m_throughRelu) {
        backwardChannels(gradOutput, gradInput, ThroughRelu{});
    } else {
        backwardChannels(gradOutput, gradInput, AsIs{});
    }
}

// After forwardAfterRelu the input gradient is the pre-activation's: dx·[x > 0], in the same pass.
template <class Load>
void BatchNorm::backwardChannels(const Matrix& gradOutput, Matrix& gradInput, Load load) {
    const Layout L = layoutOf(m_inputShape, gradOutput.rows());
    const bool train = m_lastMode == Mode::Train;
    const Matrix& x = *m_input;
    const Vector& mean = train ? m_batchMean : m_runningMean;
    const Vector& invStd = train ? m_batchInvStd : m_evalInvStd;
    parallel::forChunks(L.c, kChannelGrain, [&](Index c0, Index c1) {
        for (Index c = c0; c < c1; ++c) {
            const Normalizer norm{mean[c], invStd[c]};
            // dβ = Σ dy ;  dγ = Σ dy·x̂  (each sample's S values in float lanes, the N partial sums in double)
            double sumDy = 0, sumDyXhat = 0;
            for (Index n = 0; n < L.n; ++n) {
                const float* dy = gradOutput.row(n).data() + c * L.s;
                const float* xn = x.row(n).data() + c * L.s;
                sumDy += laneSum(dy, L.s, AsIs{});
                sumDyXhat += laneSumProduct(dy, xn, L.s, norm, load);
            }
            // renorm: dγ = Σ dy·(r·x̂ + d) = r·Σ(dy·x̂) + d·Σdy
            const float r = train ? m_r[c] : 1.0f, d = train ? m_d[c] : 0.0f;
            m_betaGrad(0, c) = float(sumDy);
            m_gammaGrad(0, c) = float(double(r) * sumDyXhat + double(d) * sumDy);
            const float g = m_gamma(0, c);
            if (!train) {
                // Eval: y = γ·(x − running_mean)·inv + β is affine in x, so dx = γ·inv·dy.
                const float scale = g * m_evalInvStd[c];
                for (Index n = 0; n < L.n; ++n) {
                    const float* dy = gradOutput.row(n).data() + c * L.s;
                    const float* xn = x.row(n).data() + c * L.s;
                    float* dx = gradInput.row(n).data() + c * L.s;
                    for (Index i = 0; i < L.s; ++i) dx[i] = maskedBy<Load>(dy[i] * scale, xn[i]);
                }
                continue;
            }
            // dx = (γ/(m·√(σ² + ε)))·(m·dy − Σdy − x̂·Σ(dy·x̂))  (renorm: times r)
            const double m = double(L.m());
            // As a·dy + b·x + k (with x̂ = (x − μ)·inv): two multiply-adds per value, coefficients in double.
            const double dScale = double(g) * double(m_batchInvStd[c]) * double(r) / m;
            const double inv = double(norm.invStd), dyXhat = sumDyXhat;
            const float a = float(dScale * m), b = float(-dScale * inv * dyXhat),
                        k = float(dScale * (double(norm.mean) * inv * dyXhat - sumDy));
            for (Index n = 0; n < L.n; ++n) {
                const float* dy = gradOutput.row(n).data() + c * L.s;
                const float* xn = x.row(n).data() + c * L.s;
                float* dx = gradInput.row(n).data() + c * L.s;
                for (Index i = 0; i < L.s; ++i)
                    dx[i] = maskedBy<Load>(mulAdd(a, dy[i], mulAdd(b, load(xn[i]), k)), xn[i]);
            }
        }
    });
}

// The dense case (N, F): the same formulas, vectorised across features, one row at a time.
void BatchNorm::forwardDense(const Matrix& x, Mode mode) {
    const Index n = x.rows();
    const double eps = m_options.epsilon;
    auto gamma = m_gamma.row(0).array();
    auto beta = m_beta.row(0).array();
    const bool batchStats = mode != Mode::Eval;  // Train and EvalBatch
    const bool train = mode == Mode::Train;      // only Train updates the running statistics
    Vector& mean = train ? m_batchMean : batchStats ? m_evalMean : m_runningMean;
    Vector& invStd = train ? m_batchInvStd : m_evalInvStd;
    Vector& rs = train ? m_r : m_evalR;
    Vector& ds = train ? m_d : m_evalD;
    if (batchStats) {
        // μ = (1/m) Σ x ;  σ² = (1/m) Σ (x − μ)²  (two passes, double accumulation)
        auto& mu = m_sum;
        auto& var = m_sumProduct;
        mu.setZero(x.cols());
        for (Index i = 0; i < n; ++i) mu += x.row(i).transpose().cast<double>().array();
        mu /= double(n);
        var.setZero(x.cols());
        for (Index i = 0; i < n; ++i) var += (x.row(i).transpose().cast<double>().array() - mu).square();
        var /= double(n);
        mean = mu.cast<float>().matrix();
        invStd = (var + eps).rsqrt().cast<float>().matrix();
        if (m_renorm)
            for (Index c = 0; c < x.cols(); ++c) std::tie(rs[c], ds[c]) = renormCorrections(c, mu[c], var[c]);
    }
    if (train) {
        m_batchVar = m_sumProduct.cast<float>().matrix();  // σ² (biased), for the probes
        const auto& mu = m_sum;
        const auto& var = m_sumProduct;
        // running ← k·running + (1 − k)·batch, with the unbiased variance σ²·m/(m − 1)
        const double k = m_options.momentum;
        m_runningMean = (k * m_runningMean.cast<double>().array() + (1 - k) * mu).cast<float>().matrix();
        m_runningVar = (k * m_runningVar.cast<double>().array() + (1 - k) * var * double(n) / double(n - 1))
                           .cast<float>()
                           .matrix();
    }
    if (!batchStats) m_evalInvStd = (m_runningVar.cast<double>().array() + eps).rsqrt().cast<float>().matrix();
    // renorm: y = γ·(r·x̂ + d) + β = (γ·r)·x̂ + (γ·d + β)
    const bool corrected = m_renorm && batchStats;
    if (corrected) {
        m_scale = (gamma * rs.transpose().array()).matrix();
        m_shift = (gamma * ds.transpose().array() + beta).matrix();
    }
    const auto g = (corrected ? m_scale : m_gamma).row(0).array();
    const auto b = (corrected ? m_shift : m_beta).row(0).array();
    // x̂ = (x − μ)/√(σ² + ε) ;  y = γ·x̂ + β
    for (Index i = 0; i < n; ++i)
        m_output.row(i) =
            (((x.row(i).array() - mean.array().transpose()) * invStd.array().transpose()) * g + b).matrix();
}

void BatchNorm::backwardDense(const Matrix& dy, Matrix& gradInput) {
    const Index n = dy.rows();
    const Matrix& x = *m_input;
    const bool train = m_lastMode == Mode::Train;
    const auto mean = (train ? m_batchMean : m_runningMean).array().transpose();
    const auto invStd = (train ? m_batchInvStd : m_evalInvStd).array().transpose();
    auto xhat = [&](Index i) { return (x.row(i).array() - mean) * invStd; };  // x̂ of sample i, as forward had it
    // dβ = Σ dy ;  dγ = Σ dy·x̂
    m_sum.setZero(dy.cols());
    m_sumProduct.setZero(dy.cols());
    for (Index i = 0; i < n; ++i) {
        m_sum += dy.row(i).transpose().cast<double>().array();
        m_sumProduct += (dy.row(i).array() * xhat(i)).transpose().cast<double>();
    }
    m_betaGrad = m_sum.cast<float>().transpose().matrix();
    m_gammaGrad = m_sumProduct.cast<float>().transpose().matrix();
    auto gamma = m_gamma.row(0).array();
    if (m_lastMode == Mode::Eval) {  // dx = γ·inv·dy
        for (Index i = 0; i < n; ++i)
            gradInput.row(i) = (dy.row(i).array() * gamma * m_evalInvStd.transpose().array()).matrix();
        return;
    }
    // dx = (γ/(m·√(σ² + ε)))·(m·dy − Σdy − x̂·Σ(dy·x̂))  (renorm: times r)
    m_scale = (gamma * m_batchInvStd.transpose().array() * m_r.transpose().array() / float(n)).matrix();
    const auto sumDy = m_betaGrad.row(0).array();
    const auto sumDyXhat = m_gammaGrad.row(0).array();
    const auto scale = m_scale.row(0).array();
    for (Index i = 0; i < n; ++i)
        gradInput.row(i) =
            (scale * (float(n) * dy.row(i).array() - sumDy - xhat(i) * sumDyXhat)).matrix();
    // renorm: dγ = Σ dy·(r·x̂ + d) = r·Σ(dy·x̂) + d·Σdy
    if (m_renorm)
        m_gammaGrad = (m_r.cast<double>().array() * m_sumProduct + m_d.cast<double>().array() * m_sum)
                          .cast<float>()
                          .matrix()
                          .transpose();
}

}  // namespace bnlab::engine
