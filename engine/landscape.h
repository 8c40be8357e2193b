#pragma once

// The loss-landscape measures of Santurkar, Tsipras, Ilyas & Madry (2018), "How Does Batch Normalization Help
// Optimization?", taken on the current training batch at weights w (before the step's update) without changing
// the run: every weight, optimizer state and running statistic is put back exactly (tested bit for bit).
//
// - Internal covariate shift measured through gradients (their section 2.2), per weight layer i (the Dense and
//   Conv2D weights, in network order): G_i = ∂L/∂W_i at w, G'_i = ∂L/∂W_i after the layers before i (every
//   parameter of every earlier layer) took the update the optimizer would give them on this batch, the later ones
//   kept at w. ICS_i = ‖G_i − G'_i‖₂ and cos(G_i, G'_i). The first weight layer has no earlier layer: G' = G,
//   distance 0 and cosine 1 by definition (no pass is spent on it).
// - Along the plain gradient g = ∇L(w) (all parameters; the L2 penalty of weight_decay is not part of L), at the
//   step sizes η_k = s_k·lr for s_k in kLandscapeSteps and the current learning rate lr (their section 3.1):
//   the losses L(w − η_k g), whose min and max are the range of the loss;
//   gradient predictiveness  max_k ‖g − ∇L(w − η_k g)‖₂;
//   effective β-smoothness   max_k ‖g − ∇L(w − η_k g)‖₂ / ‖η_k g‖₂.
// Cost: 1 + (weight layers − 1) + kLandscapeSteps.size() forward and backward passes of the batch (9 for the
// 784-100-100-100-10 MLP), plus a copy of the parameters and the optimizer state.

#include "network.h"
#include "optimizer.h"

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace bnlab::engine {

// The step sizes along −∇L, as multiples of the learning rate.
inline constexpr std::array<double, 5> kLandscapeSteps = {0.25, 0.5, 1.0, 2.0, 4.0};

struct LayerShift {
    std::string layer;    // the Dense or Conv2D layer: "dense2", "conv1", "output"
    double distance = 0;  // ‖G − G'‖₂ of its weight gradient
    double cosine = 1;    // cos(G, G')
    double gradNorm = 0;  // ‖G‖₂
};

struct LandscapeRecord {
    long step = 0;             // the step whose batch and weights (before its update) were measured
    double epoch = 0;          // as the step's StepRecord
    std::int64_t samples = 0;
    double seconds = 0;
    double learningRate = 0;   // lr of the grid
    double loss = 0;           // L(w) on the batch
    double gradNorm = 0;       // ‖∇L(w)‖₂ over every parameter
    std::vector<double> stepSizes;    // η_k = s_k·lr
    std::vector<double> losses;       // L(w − η_k g)
    std::vector<double> gradChanges;  // ‖g − ∇L(w − η_k g)‖₂
    double lossMin = 0, lossMax = 0;  // over the losses
    double predictiveness = 0;        // max of gradChanges
    double betaSmoothness = 0;        // max of gradChanges[k]/(η_k·‖g‖)
    std::vector<LayerShift> layers;   // ICS per weight layer, in network order
};

// Measures on batch (x, labels) in Mode::Train with the step the network is set to (Dropout masks and BN noise of
// that step). `optimizer` is bound to net's parameters; it is copied, not stepped. Everything is restored.
[[nodiscard]] LandscapeRecord measureLandscape(Network& net, const Optimizer& optimizer, const Matrix& x,
                                               const std::vector<std::uint8_t>& labels);

}  // namespace bnlab::engine
