#pragma once

#include "layer.h"

namespace bnlab::engine {

// Group Normalization (Wu & He 2018) and Layer Normalization (Ba, Kiros & Hinton 2016) as its one-group case.
// Each sample is normalised on its own: its C channels are split into G groups of C/G consecutive channels,
// and group g of sample n holds the M = (C/G)·H·W values x[n, g·M .. (g+1)·M) (contiguous in NCHW).
//   μ = (1/M) Σ x,  σ² = (1/M) Σ (x − μ)²  (biased),  x̂ = (x − μ)/√(σ² + ε),  y = γ_c·x̂ + β_c  (channel c).
// Backward, per sample and group, with g_i = γ_c·dy_i (the gradient reaching x̂):
//   dx = (1/(M·√(σ² + ε)))·(M·g − Σg − x̂·Σ(g·x̂)),  dγ_c = Σ_{n, pixels} dy·x̂,  dβ_c = Σ_{n, pixels} dy.
// There are no running statistics: Train and Eval compute the same thing, and a batch of one sample is fine.
// Matches torch.nn.GroupNorm(G, C, eps=ε); with G = 1 it is LayerNorm over (C, H, W) with a per-channel
// affine (torch.nn.GroupNorm(1, C)), which for a dense input (C = F, H = W = 1) is torch.nn.LayerNorm(F).
// kind() is "layernorm" for G = 1 (as built for norm_kind=layer), "groupnorm" otherwise.
class GroupNorm final : public Layer {
public:
    // groups must divide the channels (see groupsFor()); throws Error otherwise.
    GroupNorm(Shape inputShape, int groups, float epsilon);

    [[nodiscard]] std::string kind() const override { return m_groups == 1 ? "layernorm" : "groupnorm"; }
    [[nodiscard]] Shape outputShape() const override { return m_inputShape; }
    const Matrix& forward(const Matrix& input, Mode mode) override;
    const Matrix& backward(const Matrix& gradOutput) override;
    [[nodiscard]] std::vector<Param> params() override;

    [[nodiscard]] int groups() const { return m_groups; }
    [[nodiscard]] float epsilon() const { return m_epsilon; }
    [[nodiscard]] Matrix& gamma() { return m_gamma; }  // (1, C)
    [[nodiscard]] Matrix& beta() { return m_beta; }    // (1, C)
    [[nodiscard]] const Matrix& gammaGrad() const { return m_gammaGrad; }
    [[nodiscard]] const Matrix& betaGrad() const { return m_betaGrad; }
    // Statistics of the latest forward, per sample and group.
    [[nodiscard]] const Matrix& groupMean() const { return m_mean; }      // (N, G)
    [[nodiscard]] const Matrix& groupInvStd() const { return m_invStd; }  // (N, G) 1/√(σ² + ε)

    // The groups for `channels` when at most `maxGroups` are wanted: the largest divisor of channels not
    // above maxGroups (the paper's default is 32; with fewer channels, each channel is its own group).
    [[nodiscard]] static int groupsFor(int channels, int maxGroups);

private:
    int m_groups;
    float m_epsilon;
    Matrix m_gamma, m_gammaGrad;      // (1, C)
    Matrix m_beta, m_betaGrad;        // (1, C)
    Matrix m_mean, m_invStd;          // (N, G) of the latest forward
    const Matrix* m_input = nullptr;  // (N, C·H·W) the latest forward input; x̂ is recomputed from it
};

}  // namespace bnlab::engine
