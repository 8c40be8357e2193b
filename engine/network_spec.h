#pragma once

// The declarative description of a network: what the UI edits, what config.json stores, what presets are.
// Blocks are the hidden part; the builder always appends the output block, a Dense layer with one unit
// per class whose logits go to the fused softmax + cross-entropy.

#include "activation.h"

#include <optional>
#include <string>
#include <vector>

namespace bnlab::engine {

enum class BlockKind { Dense, Conv2D, MaxPool2D, Flatten };

// Where Batch Normalization sits in a Dense or Conv2D block.
enum class NormPlacement {
    None,    // Linear → activation
    Before,  // Linear → BN → activation  (Ioffe & Szegedy 2015)
    After,   // Linear → activation → BN  (the Keras MNIST tutorial's code)
};

// Which normalisation a block's norm layer computes (at the placement above).
enum class NormKind {
    Batch,   // Batch Normalization: statistics over the batch (BatchNorm)
    Layer,   // LayerNorm: over each sample's features (C·H·W for conv), per-channel γ, β (GroupNorm with 1 group)
    Group,   // GroupNorm: over each sample's groups of channels (GroupNorm); conv blocks only
    Renorm,  // Batch Renormalization: batch statistics corrected towards the running ones (BatchNorm)
};

struct BlockSpec {
    BlockKind kind = BlockKind::Dense;
    int size = 0;     // Dense: units; Conv2D: filters
    int kernel = 3;   // Conv2D, MaxPool2D
    int stride = 0;   // 0 = the default: 1 for Conv2D, the kernel for MaxPool2D
    int padding = 0;  // Conv2D
    std::optional<ActivationKind> activation;  // Dense and Conv2D; none = linear
    NormPlacement norm = NormPlacement::None;  // Dense and Conv2D
    NormKind normKind = NormKind::Batch;       // Dense and Conv2D, when norm is not None
    float dropout = 0;  // Dense and Conv2D: the rate p of a Dropout layer at the end of the block (0 = none)

    [[nodiscard]] int effectiveStride() const { return stride > 0 ? stride : (kind == BlockKind::MaxPool2D ? kernel : 1); }
    [[nodiscard]] bool isLinear() const { return kind == BlockKind::Dense || kind == BlockKind::Conv2D; }
    bool operator==(const BlockSpec&) const = default;
};

struct NetworkSpec {
    std::vector<BlockSpec> blocks;
    bool operator==(const NetworkSpec&) const = default;
};

// Blocks as the presets and tests write them.
[[nodiscard]] BlockSpec denseBlock(int units, std::optional<ActivationKind> activation = std::nullopt,
                                   NormPlacement norm = NormPlacement::None);
[[nodiscard]] BlockSpec convBlock(int filters, int kernel, std::optional<ActivationKind> activation,
                                  NormPlacement norm = NormPlacement::None);
[[nodiscard]] BlockSpec maxPoolBlock(int kernel);
[[nodiscard]] BlockSpec flattenBlock();

[[nodiscard]] std::string toString(BlockKind kind);        // "dense", "conv2d", "maxpool2d", "flatten"
[[nodiscard]] std::string toString(NormPlacement norm);    // "none", "before", "after"
[[nodiscard]] std::string toString(NormKind kind);         // "batch", "layer", "group", "renorm"
[[nodiscard]] std::string toString(ActivationKind kind);   // "relu", "sigmoid", "tanh"
[[nodiscard]] BlockKind blockKindFromString(const std::string& s);        // ConfigError on unknown
[[nodiscard]] NormPlacement normFromString(const std::string& s);         // ConfigError on unknown
[[nodiscard]] NormKind normKindFromString(const std::string& s);          // ConfigError on unknown
// Whether a norm kind normalises with batch statistics (and so needs at least 2 samples in training mode).
[[nodiscard]] inline bool usesBatchStatistics(NormKind kind) { return kind == NormKind::Batch || kind == NormKind::Renorm; }
[[nodiscard]] std::optional<ActivationKind> activationFromString(const std::string& s);  // "none" → nullopt

// Sets the norm kind of every dense and conv block (the norm_kind key); Group becomes Layer, GroupNorm's
// one-group case, in dense blocks, which have no channels to group.
void setNormKind(NetworkSpec& spec, NormKind kind);

// One line per block, e.g. "dense 100 sigmoid bn-before", "conv2d 32 3x3 relu gn-after dropout 0.25".
[[nodiscard]] std::string describe(const NetworkSpec& spec);

// Checks that the blocks fit the input shape (kernels fit, Dense after images needs no Flatten since rows
// are flat, sizes ≥ 1, a dropout rate in [0, 1), GroupNorm on conv blocks only); throws ConfigError naming the
// block ("block 2 (conv2d): ...").
void validate(const NetworkSpec& spec, Shape input);

}  // namespace bnlab::engine
