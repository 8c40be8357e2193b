#include "network.h"

#include "conv2d.h"
#include "dense.h"
#include "error.h"
#include "flatten.h"
#include "max_pool2d.h"

namespace bnlab::engine {

Network::Network(const NetworkSpec& spec, Shape input, int classes, BatchNormOptions bn, const InitOptions& init,
                 std::uint64_t seed)
    : m_input(input), m_classes(classes) {
    validate(spec, input);
    if (classes < 2) throw ConfigError("network: the data must have at least 2 classes, got " + std::to_string(classes));
    Random random(Random::derive(seed, 1));
    int counts[4] = {0, 0, 0, 0};  // per BlockKind, for names
    int bnCount = 0;
    int activationCounts[3] = {0, 0, 0};  // per ActivationKind, for names
    Shape shape = input;

    auto addBlock = [&](const BlockSpec& b, const std::string& name) {
        BlockInfo info;
        info.name = name;
        info.first = int(m_layers.size());
        if (b.kind == BlockKind::Dense) {
            auto dense = std::make_unique<Dense>(shape, b.size);
            initWeights(dense->weight(), shape.size(), b.size, init, random);
            info.linear = int(m_layers.size());
            add(std::move(dense), name);
        } else {
            auto conv = std::make_unique<Conv2D>(shape, b.size, b.kernel, b.effectiveStride(), b.padding);
            const Index k2 = Index(b.kernel) * b.kernel;
            initWeights(conv->weight(), shape.c * k2, b.size * k2, init, random);
            info.linear = int(m_layers.size());
            add(std::move(conv), name);
        }
        shape = m_layers.back()->outputShape();
        auto addNorm = [&] {
            info.norm = int(m_layers.size());
            add(std::make_unique<BatchNorm>(shape, bn), "bn" + std::to_string(++bnCount));
        };
        if (b.norm == NormPlacement::Before) addNorm();
        info.preActivation = int(m_layers.size()) - 1;
        if (b.activation) {
            info.activation = int(m_layers.size());
            // numbered per kind over the whole network, as BN layers are: relu1, relu2, relu3
            const int n = ++activationCounts[int(*b.activation)];
            add(std::make_unique<Activation>(shape, *b.activation), toString(*b.activation) + std::to_string(n));
        }
        info.postActivation = int(m_layers.size()) - 1;
        if (b.norm == NormPlacement::After) addNorm();
        info.last = int(m_layers.size()) - 1;
        m_blocks.push_back(info);
    };

    for (const BlockSpec& b : spec.blocks) {
        static constexpr const char* kBase[] = {"dense", "conv", "pool", "flatten"};  // by BlockKind
        const std::string blockName = kBase[int(b.kind)] + std::to_string(++counts[int(b.kind)]);
        if (b.isLinear()) {
            addBlock(b, blockName);
            continue;
        }
        BlockInfo info;
        info.name = blockName;
        info.first = info.last = info.preActivation = info.postActivation = int(m_layers.size());
        if (b.kind == BlockKind::MaxPool2D) add(std::make_unique<MaxPool2D>(shape, b.kernel, b.effectiveStride()), blockName);
        else add(std::make_unique<Flatten>(shape), blockName);
        shape = m_layers.back()->outputShape();
        m_blocks.push_back(info);
    }
    BlockSpec output;
    output.kind = BlockKind::Dense;
    output.size = classes;
    // The output layer is initialised with Glorot (or the bad Gaussian scale): logits feed softmax, not ReLU.
    addBlock(output, "output");
}

void Network::add(std::unique_ptr<Layer> layer, std::string name) {
    m_layers.push_back(std::move(layer));
    m_layerNames.push_back(std::move(name));
}

const Matrix& Network::forward(const Matrix& x, Mode mode) {
    const Matrix* h = &x;
    for (auto& layer : m_layers) h = &layer->forward(*h, mode);
    return *h;
}

void Network::backward(const Matrix& gradLogits) {
    const Matrix* g = &gradLogits;
    for (std::size_t i = m_layers.size() - 1; i > 0; --i) g = &m_layers[i]->backward(*g);
    m_layers.front()->backwardParameters(*g);  // the input gradient of the first layer is never used
}

std::vector<NamedParam> Network::params() {
    std::vector<NamedParam> out;
    for (std::size_t i = 0; i < m_layers.size(); ++i)
        for (Param& p : m_layers[i]->params())
            out.push_back({m_layerNames[i] + "." + p.name, int(i), p});
    return out;
}

std::vector<Param> Network::optimizerParams() {
    std::vector<Param> out;
    for (NamedParam& p : params()) {
        p.param.name = p.name;
        out.push_back(p.param);
    }
    return out;
}

std::vector<BatchNorm*> Network::batchNormLayers() {
    std::vector<BatchNorm*> out;
    for (auto& layer : m_layers)
        if (auto* bn = dynamic_cast<BatchNorm*>(layer.get())) out.push_back(bn);
    return out;
}

int Network::batchNormLayerCount() const {
    int n = 0;
    for (const auto& layer : m_layers) n += layer->kind() == "batchnorm";
    return n;
}

int Network::firstNonFiniteLayer() const {
    for (std::size_t i = 0; i < m_layers.size(); ++i)
        if (!m_layers[i]->output().allFinite()) return int(i);
    return -1;
}

}  // namespace bnlab::engine
