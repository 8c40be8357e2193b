#include "network_spec.h"

#include "error.h"

#include <sstream>

namespace bnlab::engine {

BlockSpec denseBlock(int units, std::optional<ActivationKind> activation, NormPlacement norm) {
    BlockSpec b;
    b.kind = BlockKind::Dense;
    b.size = units;
    b.activation = activation;
    b.norm = norm;
    return b;
}

BlockSpec convBlock(int filters, int kernel, std::optional<ActivationKind> activation, NormPlacement norm) {
    BlockSpec b = denseBlock(filters, activation, norm);
    b.kind = BlockKind::Conv2D;
    b.kernel = kernel;
    return b;
}

BlockSpec maxPoolBlock(int kernel) {
    BlockSpec b;
    b.kind = BlockKind::MaxPool2D;
    b.kernel = kernel;
    return b;
}

BlockSpec flattenBlock() {
    BlockSpec b;
    b.kind = BlockKind::Flatten;
    return b;
}

std::string toString(BlockKind kind) {
    switch (kind) {
        case BlockKind::Dense: return "dense";
        case BlockKind::Conv2D: return "conv2d";
        case BlockKind::MaxPool2D: return "maxpool2d";
        case BlockKind::Flatten: return "flatten";
    }
    return "?";
}

std::string toString(NormPlacement norm) {
    switch (norm) {
        case NormPlacement::None: return "none";
        case NormPlacement::Before: return "before";
        case NormPlacement::After: return "after";
    }
    return "?";
}

std::string toString(NormKind kind) {
    switch (kind) {
        case NormKind::Batch: return "batch";
        case NormKind::Layer: return "layer";
        case NormKind::Group: return "group";
        case NormKind::Renorm: return "renorm";
    }
    return "?";
}

std::string toString(ActivationKind kind) {
    switch (kind) {
        case ActivationKind::ReLU: return "relu";
        case ActivationKind::Sigmoid: return "sigmoid";
        case ActivationKind::Tanh: return "tanh";
    }
    return "?";
}

BlockKind blockKindFromString(const std::string& s) {
    for (BlockKind k : {BlockKind::Dense, BlockKind::Conv2D, BlockKind::MaxPool2D, BlockKind::Flatten})
        if (toString(k) == s) return k;
    throw ConfigError("block kind: unknown '" + s + "' (expected dense, conv2d, maxpool2d or flatten)");
}

NormPlacement normFromString(const std::string& s) {
    for (NormPlacement n : {NormPlacement::None, NormPlacement::Before, NormPlacement::After})
        if (toString(n) == s) return n;
    throw ConfigError("norm: unknown placement '" + s + "' (expected none, before or after)");
}

NormKind normKindFromString(const std::string& s) {
    for (NormKind k : {NormKind::Batch, NormKind::Layer, NormKind::Group, NormKind::Renorm})
        if (toString(k) == s) return k;
    throw ConfigError("norm_kind: unknown '" + s + "' (expected batch, layer, group or renorm)");
}

std::optional<ActivationKind> activationFromString(const std::string& s) {
    if (s == "none" || s == "linear") return std::nullopt;
    for (ActivationKind a : {ActivationKind::ReLU, ActivationKind::Sigmoid, ActivationKind::Tanh})
        if (toString(a) == s) return a;
    throw ConfigError("activation: unknown '" + s + "' (expected relu, sigmoid, tanh or none)");
}

void setNormKind(NetworkSpec& spec, NormKind kind) {
    for (BlockSpec& b : spec.blocks)
        if (b.isLinear()) b.normKind = kind == NormKind::Group && b.kind == BlockKind::Dense ? NormKind::Layer : kind;
}

std::string describe(const NetworkSpec& spec) {
    std::ostringstream out;
    for (const BlockSpec& b : spec.blocks) {
        out << toString(b.kind);
        if (b.isLinear()) out << ' ' << b.size;
        if (b.kind == BlockKind::Conv2D || b.kind == BlockKind::MaxPool2D) out << ' ' << b.kernel << 'x' << b.kernel;
        if (b.isLinear()) {
            out << ' ' << (b.activation ? toString(*b.activation) : std::string("linear"));
            static constexpr const char* kPrefix[] = {"bn", "ln", "gn", "brn"};  // by NormKind
            if (b.norm != NormPlacement::None) out << ' ' << kPrefix[int(b.normKind)] << '-' << toString(b.norm);
            if (b.dropout != 0) out << " dropout " << b.dropout;
        }
        out << '\n';
    }
    out << "dense (classes) softmax\n";
    return out.str();
}

void validate(const NetworkSpec& spec, Shape input) {
    Shape shape = input;
    for (std::size_t i = 0; i < spec.blocks.size(); ++i) {
        const BlockSpec& b = spec.blocks[i];
        const std::string where = "block " + std::to_string(i + 1) + " (" + toString(b.kind) + "): ";
        switch (b.kind) {
            case BlockKind::Dense:
                if (b.size < 1) throw ConfigError(where + "size must be at least 1, got " + std::to_string(b.size));
                shape = {b.size, 1, 1};
                break;
            case BlockKind::Conv2D: {
                if (!shape.isImage()) throw ConfigError(where + "needs an image input, got " + shape.toString());
                if (b.size < 1) throw ConfigError(where + "filters must be at least 1, got " + std::to_string(b.size));
                if (b.kernel < 1 || b.stride < 0 || b.padding < 0)
                    throw ConfigError(where + "kernel must be at least 1, stride and padding at least 0");
                const int h = shape.h + 2 * b.padding - b.kernel, w = shape.w + 2 * b.padding - b.kernel;
                if (h < 0 || w < 0)
                    throw ConfigError(where + "kernel " + std::to_string(b.kernel) + " does not fit " + shape.toString());
                shape = {b.size, h / b.effectiveStride() + 1, w / b.effectiveStride() + 1};
                break;
            }
            case BlockKind::MaxPool2D: {
                if (!shape.isImage()) throw ConfigError(where + "needs an image input, got " + shape.toString());
                const int stride = b.effectiveStride();
                if (b.stride < 0 || b.kernel < 1 || b.kernel > shape.h || b.kernel > shape.w)
                    throw ConfigError(where + "window " + std::to_string(b.kernel) + " does not fit " + shape.toString());
                shape = {shape.c, (shape.h - b.kernel) / stride + 1, (shape.w - b.kernel) / stride + 1};
                break;
            }
            case BlockKind::Flatten:
                shape = {int(shape.size()), 1, 1};
                break;
        }
        if (!b.isLinear() && b.norm != NormPlacement::None)
            throw ConfigError(where + "Batch Normalization applies to dense and conv2d blocks only");
        if (!(b.dropout >= 0 && b.dropout < 1))  // NaN fails too
            throw ConfigError(where + "the dropout rate must be in [0, 1), got " + std::to_string(b.dropout));
        if (!b.isLinear() && b.dropout != 0) throw ConfigError(where + "Dropout applies to dense and conv2d blocks only");
        if (b.kind == BlockKind::Dense && b.norm != NormPlacement::None && b.normKind == NormKind::Group)
            throw ConfigError(where + "GroupNorm normalises groups of channels of a feature map, which a dense block "
                              "does not have (groups of a few units would normalise to ±1 or 0); use norm_kind "
                              "layer, GroupNorm's one-group case");
    }
}

}  // namespace bnlab::engine
