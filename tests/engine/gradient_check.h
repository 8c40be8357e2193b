#pragma once

// Finite-difference gradient checks, in the spirit of tiny-dnn's numeric_gradient.
//
// Layer: with a fixed random upstream gradient R (N, out) in [−1, 1], the scalar L = Σ R ⊙ forward(x)
// has dL/dx = backward(R) and dL/dθ = the parameter gradients backward assigns.
// Network: L is the mean softmax cross-entropy of the logits, and backward starts from its gradient.
//
// Each checked element v (of the input or of a parameter, through Layer::params()) is perturbed in place:
//   numeric = (L(v + h) − L(v − h)) / ((v + h) − (v − h))     with the float32 step actually taken,
// L accumulated in double, h = 1e-2 by default. Every forward runs in the mode under test: Mode::Train for
// BatchNorm, so a perturbation moves the batch statistics and the gradient includes that.
//
// Criterion, per checked element of a tensor:
//   |a − n| ≤ atol·s + rtol·max(|a|, |n|) + noise,   rtol = 1e-2, atol = 1e-3,
//   s      = the largest |a| or |n| of the tensor (the absolute part is scaled to the tensor's values),
//   noise  = the rounding bound of the difference quotient: each float32 evaluation of L is trusted to
//            δ = 2·FLT_EPSILON·S, S = max(1, |L|) for a network and Σ|R ⊙ y| for a layer, so a central
//            difference is trusted to δ/h (measured: about a quarter of that).
// With h = 1e-2 on values of order 1 the truncation error is O(h²) ≈ 1e-4 relative, well inside rtol.
// The noise term is what lets a tensor whose true gradient is 0 (a bias followed by BatchNorm) pass: it is
// about 3e-5 for a network at h = 1e-2. A strongly curved loss needs a smaller h, and noise grows as 1/h.
//
// Kinks (ReLU at 0, a change of max-pool winner) are detected, not hoped away: the check records the
// "piece" of the piecewise-smooth function at the base point (the ReLU masks and the max-pool choices) and
// compares it with the pieces at v ± h.
// - Layer checks require every perturbation to stay on the base piece: the test must choose inputs away
//   from 0 and from ties (awayFromZero, distinctValues), otherwise the check fails and says so.
// - Network checks cannot avoid kinks (hundreds of pre-activations move with one weight). When one side
//   leaves the base piece, the derivative on the base piece is taken from the other side with the
//   second-order formula f' = (4·(L(v ± h/2) − L(v)) − (L(v ± h) − L(v))) / (±h) (its noise bound is 10δ/h);
//   if both sides leave it, h is divided by 4 and the element retried. At most a quarter of the checked
//   elements may need this.
//
// A check also fails when every numeric derivative is 0 (nothing was tested).

#include "error.h"
#include "init.h"
#include "layer.h"
#include "network.h"
#include "softmax_cross_entropy.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <functional>
#include <numeric>
#include <sstream>
#include <string>
#include <vector>

namespace bnlab::test {

struct GradientCheckOptions {
    engine::Mode mode = engine::Mode::Train;
    double step = 1e-2;
    double rtol = 1e-2;
    double atol = 1e-3;
    engine::Index maxElementsPerTensor = 300;  // a larger tensor is checked on a random subset of this size
    std::uint64_t seed = 20240521;             // for R and the subsets
};

// ---- Inputs -------------------------------------------------------------------------------------------

// Uniform in [lo, hi), reproducible on every platform (the engine's own generator).
inline engine::Matrix randomMatrix(engine::Index rows, engine::Index cols, std::uint64_t seed,
                                   double lo = -1.0, double hi = 1.0) {
    engine::Random random(seed);
    engine::Matrix m(rows, cols);
    for (engine::Index i = 0; i < m.size(); ++i) m.data()[i] = float(lo + (hi - lo) * random.uniform());
    return m;
}

// Random signs and magnitudes in [margin, 1 + margin): no value within `margin` of the ReLU kink.
inline engine::Matrix awayFromZero(engine::Index rows, engine::Index cols, std::uint64_t seed,
                                   double margin = 0.1) {
    engine::Random random(seed);
    engine::Matrix m(rows, cols);
    for (engine::Index i = 0; i < m.size(); ++i) {
        const double magnitude = margin + random.uniform();
        m.data()[i] = float(random.uniform() < 0.5 ? -magnitude : magnitude);
    }
    return m;
}

// A random permutation of the values (k − size/2)·spacing: all distinct, no two closer than `spacing`,
// so a max-pool window never has a tie or a near tie.
inline engine::Matrix distinctValues(engine::Index rows, engine::Index cols, std::uint64_t seed,
                                     double spacing = 0.05) {
    engine::Random random(seed);
    std::vector<engine::Index> order(std::size_t(rows * cols));
    std::iota(order.begin(), order.end(), engine::Index(0));
    for (std::size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[random.below(i)]);
    engine::Matrix m(rows, cols);
    for (engine::Index i = 0; i < m.size(); ++i)
        m.data()[i] = float(double(order[std::size_t(i)] - m.size() / 2) * spacing);
    return m;
}

// ---- Machinery ------------------------------------------------------------------------------------------

namespace detail {

// The scalar objective at the current values, the size S of the terms its rounding is relative to, and the
// smooth piece it lies on (empty when smooth).
struct Evaluation {
    double loss = 0;
    double roundingScale = 1;
    std::vector<float> piece;
};

constexpr double kRounding = 2 * double(FLT_EPSILON);  // δ = kRounding·S bounds the rounding of one L
using Objective = std::function<Evaluation()>;

// Appends the piece of a layer's latest forward: the ReLU mask, or where each max-pool output came from
// (found by routing distinct tags 1, 2, 3, ... back through backward). Other layers are smooth.
inline void appendPiece(engine::Layer& layer, std::vector<float>& piece) {
    const engine::Matrix& y = layer.output();
    if (layer.kind() == "relu") {
        for (engine::Index i = 0; i < y.size(); ++i) piece.push_back(y.data()[i] > 0.0f ? 1.0f : 0.0f);
    } else if (layer.kind() == "maxpool2d") {
        engine::Matrix tags(y.rows(), y.cols());
        for (engine::Index i = 0; i < tags.size(); ++i) tags.data()[i] = float(i + 1);
        const engine::Matrix& routed = layer.backward(tags);
        piece.insert(piece.end(), routed.data(), routed.data() + routed.size());
    }
}

struct Derivative {
    double value = 0;
    double noise = 0;       // bound of the rounding in value
    bool oneSided = false;  // a kink was near: taken from one side
    bool ok = true;         // false: no clean side was found
};

// dL/dv on the base piece, perturbing v in place and restoring it. allowKinks = false: any change of piece
// is a failure (ok = false).
inline Derivative numericDerivative(float& v, const Objective& f, const Evaluation& base, double step,
                                    bool allowKinks) {
    const float v0 = v;
    auto at = [&](double delta, double& taken) {
        v = float(double(v0) + delta);
        taken = double(v) - double(v0);
        Evaluation e = f();
        v = v0;
        return e;
    };
    const double delta = kRounding * base.roundingScale;
    double h = step;
    for (int attempt = 0; attempt < 3; ++attempt, h /= 4) {
        double up = 0, down = 0;
        const Evaluation plus = at(h, up), minus = at(-h, down);
        const bool plusClean = plus.piece == base.piece, minusClean = minus.piece == base.piece;
        if (plusClean && minusClean)
            return {(plus.loss - minus.loss) / (up - down), 2 * delta / (up - down), false, true};
        if (!allowKinks) return {0, 0, false, false};
        for (const double sign : {1.0, -1.0}) {
            if (!(sign > 0 ? plusClean : minusClean)) continue;
            double half = 0, full = 0;
            const Evaluation mid = at(sign * h / 2, half), far = at(sign * h, full);
            if (mid.piece != base.piece) continue;
            // f(t) = f0 + f'·t + f''·t²/2 + O(t³) at t = half and t = full ≈ 2·half:
            // f' = (full²·(f(half) − f0) − half²·(f(full) − f0)) / (half·full·(full − half)).
            const double d1 = mid.loss - base.loss, d2 = far.loss - base.loss;
            const double denominator = std::abs(half * full * (full - half));
            return {(full * full * d1 - half * half * d2) / (half * full * (full - half)),
                    2 * delta * (full * full + half * half) / denominator, true, true};
        }
    }
    return {0, 0, true, false};
}

// One tensor under test: its values (perturbed in place), the analytic gradient and the checked elements.
struct Tensor {
    std::string name;
    engine::Matrix* value;
    engine::Matrix analytic;
    std::vector<engine::Index> elements;  // flat indices, row-major
};

// All elements of a tensor, or a sorted random subset of `limit` of them.
inline std::vector<engine::Index> chooseElements(engine::Index size, engine::Index limit,
                                                 engine::Random& random) {
    std::vector<engine::Index> all(std::size_t(size), 0);
    std::iota(all.begin(), all.end(), engine::Index(0));
    if (size <= limit) return all;
    for (engine::Index i = 0; i < limit; ++i)  // partial Fisher-Yates
        std::swap(all[std::size_t(i)],
                  all[std::size_t(i) + std::size_t(random.below(std::uint64_t(size - i)))]);
    all.resize(std::size_t(limit));
    std::sort(all.begin(), all.end());
    return all;
}

inline ::testing::AssertionResult compare(std::vector<Tensor>& tensors, const Objective& f,
                                          const GradientCheckOptions& options, bool allowKinks) {
    const Evaluation base = f();
    std::ostringstream failures;
    failures.precision(6);
    bool failed = false, anyNonZero = false;
    std::size_t checked = 0, oneSided = 0;
    double worstOverall = 0;  // the largest |a − n| / tolerance
    for (Tensor& t : tensors) {
        std::vector<double> numeric, noise;
        for (const engine::Index e : t.elements) {
            const Derivative d = numericDerivative(t.value->data()[e], f, base, options.step, allowKinks);
            if (!d.ok) {
                failed = true;
                failures << "\n  " << t.name << "[" << e << "]: a perturbation of ±" << options.step
                         << " crosses a kink (ReLU at 0 or a max-pool tie)"
                         << (allowKinks ? " on both sides" : ": choose values away from kinks");
            }
            oneSided += d.oneSided;
            numeric.push_back(d.value);
            noise.push_back(d.noise);
        }
        checked += t.elements.size();
        double scale = 0;
        for (std::size_t i = 0; i < numeric.size(); ++i) {
            scale =
                std::max({scale, std::abs(numeric[i]), std::abs(double(t.analytic.data()[t.elements[i]]))});
            anyNonZero = anyNonZero || numeric[i] != 0.0;
        }
        std::size_t bad = 0, worst = 0;
        double worstRatio = -1;
        for (std::size_t i = 0; i < numeric.size(); ++i) {
            const double a = t.analytic.data()[t.elements[i]], n = numeric[i];
            const double tolerance =
                options.atol * scale + options.rtol * std::max(std::abs(a), std::abs(n)) + noise[i];
            const double ratio = std::abs(a - n) / tolerance;
            if (!(ratio <= 1.0)) ++bad;
            if (!(ratio <= worstRatio)) worstRatio = ratio, worst = i;
        }
        worstOverall = std::max(worstOverall, worstRatio);
        if (bad > 0) {
            failed = true;
            const engine::Index e = t.elements[worst], cols = t.value->cols();
            failures << "\n  " << t.name << ": " << bad << " of " << numeric.size()
                     << " elements differ; worst (" << e / cols << ", " << e % cols << "): analytic "
                     << t.analytic.data()[e] << ", numeric " << numeric[worst] << ", |diff| "
                     << std::abs(t.analytic.data()[e] - numeric[worst]) << " > tolerance "
                     << std::abs(t.analytic.data()[e] - numeric[worst]) / worstRatio;
        }
    }
    if (!anyNonZero) failed = true, failures << "\n  every numeric derivative is 0: the check tests nothing";
    if (oneSided * 4 > checked)
        failed = true, failures << "\n  " << oneSided << " of " << checked
                                << " elements were near a kink: too many for a meaningful check";
    if (failed) return ::testing::AssertionFailure() << "gradient check failed:" << failures.str();
    return ::testing::AssertionSuccess() << checked << " elements checked, " << oneSided
                                         << " one-sided, worst |a − n| / tolerance " << worstOverall;
}

}  // namespace detail

// ---- Checks -------------------------------------------------------------------------------------------

// A smooth scalar function f() of a matrix x (e.g. a loss of logits): `analytic` against finite differences
// of f for every element of x (or maxElementsPerTensor of them). x is perturbed in place and restored.
inline ::testing::AssertionResult functionGradientMatches(const std::string& name, engine::Matrix& x,
                                                          const engine::Matrix& analytic,
                                                          const std::function<double()>& f,
                                                          const GradientCheckOptions& options = {}) {
    engine::Random random(options.seed + 1);
    std::vector<detail::Tensor> tensors{{name, &x, analytic, {}}};
    tensors[0].elements = detail::chooseElements(x.size(), options.maxElementsPerTensor, random);
    const detail::Objective objective = [&] {
        const double value = f();
        return detail::Evaluation{value, std::max(1.0, std::abs(value)), {}};
    };
    return detail::compare(tensors, objective, options, /*allowKinks=*/false);
}

// L = Σ R ⊙ layer.forward(input, mode): backward(R) against finite differences for the input and every
// element of every parameter (or maxElementsPerTensor of them).
inline ::testing::AssertionResult layerGradientsMatch(engine::Layer& layer, const engine::Matrix& input,
                                                      const GradientCheckOptions& options = {}) {
    engine::Matrix x = input;  // perturbed in place; the layer may keep a pointer to it
    const engine::Matrix& y0 = layer.forward(x, options.mode);
    const engine::Matrix r = randomMatrix(y0.rows(), y0.cols(), options.seed);
    engine::Random random(options.seed + 1);
    std::vector<detail::Tensor> tensors;
    tensors.push_back({"input", &x, layer.backward(r), {}});
    for (const engine::Param& p : layer.params()) tensors.push_back({p.name, p.value, *p.grad, {}});
    for (detail::Tensor& t : tensors)
        t.elements = detail::chooseElements(t.value->size(), options.maxElementsPerTensor, random);

    const detail::Objective f = [&] {
        detail::Evaluation e;
        const engine::Matrix& y = layer.forward(x, options.mode);
        e.loss = (y.cast<double>().array() * r.cast<double>().array()).sum();
        e.roundingScale = (y.cast<double>().array() * r.cast<double>().array()).abs().sum();
        detail::appendPiece(layer, e.piece);
        return e;
    };
    return detail::compare(tensors, f, options, /*allowKinks=*/false);
}

// L = mean softmax cross-entropy of net.forward(input, mode): the gradients of Network::backward and the
// input gradient against finite differences, for every element of the input and of every parameter (or
// maxElementsPerTensor of them).
inline ::testing::AssertionResult networkGradientsMatch(engine::Network& net, const engine::Matrix& input,
                                                        const std::vector<std::uint8_t>& labels,
                                                        const GradientCheckOptions& options = {}) {
    engine::Matrix x = input;
    engine::SoftmaxCrossEntropy loss;
    (void)loss.forward(net.forward(x, options.mode), labels);
    const engine::Matrix gradLogits = loss.backward();
    net.backward(gradLogits);
    std::vector<detail::Tensor> tensors;
    for (const engine::NamedParam& p : net.params())
        tensors.push_back({p.name, p.param.value, *p.param.grad, {}});
    // Network::backward drops the input gradient; the same chain, kept.
    const engine::Matrix* g = &gradLogits;
    for (int i = int(net.layers().size()) - 1; i >= 0; --i)
        if (!net.leftToNextLayer(i)) g = &net.layer(i).backward(*g);  // a ReLU left to the BN above: done there
    tensors.push_back({"input", &x, *g, {}});
    engine::Random random(options.seed + 1);
    for (detail::Tensor& t : tensors)
        t.elements = detail::chooseElements(t.value->size(), options.maxElementsPerTensor, random);

    const detail::Objective f = [&] {
        detail::Evaluation e;
        e.loss = loss.forward(net.forward(x, options.mode), labels);
        e.roundingScale = std::max(1.0, std::abs(e.loss));
        for (int i = 0; i < int(net.layers().size()); ++i) detail::appendPiece(net.layer(i), e.piece);
        return e;
    };
    return detail::compare(tensors, f, options, /*allowKinks=*/true);
}

}  // namespace bnlab::test
