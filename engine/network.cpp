#include "network.h"

#include "bn_noise.h"
#include "conv2d.h"
#include "dense.h"
#include "dropout.h"
#include "error.h"
#include "flatten.h"
#include "group_norm.h"
#include "max_pool2d.h"

namespace bnlab::engine {
namespace {
constexpr std::uint64_t kDropoutStream = 4;  // Random::derive streams: 1 weights, 2 shuffle, 3 probe batch
constexpr std::uint64_t kNoiseStream = 5;    // the BN noise layers (bn_noise)
}  // namespace

Network::Network(const NetworkSpec& spec, Shape input, int classes, BatchNormOptions bn, const InitOptions& init,
                 std::uint64_t seed)
    : m_input(input), m_classes(classes) {
    validate(spec, input);
    if (classes < 2) throw ConfigError("network: the data must have at least 2 classes, got " + std::to_string(classes));
    Random random(Random::derive(seed, 1));
    int counts[4] = {0, 0, 0, 0};  // per BlockKind, for names
    int activationCounts[3] = {0, 0, 0};  // per ActivationKind, for names
    int dropoutCount = 0, noiseCount = 0;
    Shape shape = input;

    auto addBlock = [&](const BlockSpec& b, const std::string& name) {
        BlockInfo info;
        info.name = name;
        info.first = int(m_layers.size());
        std::string normName;
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
            std::unique_ptr<Layer> layer;
            switch (b.normKind) {
                case NormKind::Batch: layer = std::make_unique<BatchNorm>(shape, bn); break;
                case NormKind::Renorm: layer = std::make_unique<BatchNorm>(shape, bn, true); break;
                case NormKind::Layer: layer = std::make_unique<GroupNorm>(shape, 1, bn.epsilon); break;
                case NormKind::Group:
                    layer = std::make_unique<GroupNorm>(shape, GroupNorm::groupsFor(shape.c, bn.groups), bn.epsilon);
                    break;
            }
            add(std::move(layer), nextNormName(b.normKind));
            normName = m_layerNames.back();
            if (bn.noise && usesBatchStatistics(b.normKind)) {
                // each noise layer draws from its own stream of the run seed
                const int n = ++noiseCount;
                info.noise = int(m_layers.size());
                add(std::make_unique<BatchNormNoise>(shape, bn.noiseMean, bn.noiseScale,
                                                     Random::derive(Random::derive(seed, kNoiseStream), n)),
                    "noise" + std::to_string(n));
            }
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
        if (b.dropout > 0) {
            info.dropout = int(m_layers.size());
            // each Dropout layer draws from its own stream of the run seed
            const int n = ++dropoutCount;
            add(std::make_unique<Dropout>(shape, b.dropout, Random::derive(Random::derive(seed, kDropoutStream), n)),
                "dropout" + std::to_string(n));
        }
        info.last = int(m_layers.size()) - 1;
        m_blocks.push_back(info);
        m_normNames.push_back(normName);
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
        m_normNames.emplace_back();
    }
    BlockSpec output;
    output.kind = BlockKind::Dense;
    output.size = classes;
    // The output layer is initialised with Glorot (or the bad Gaussian scale): logits feed softmax, not ReLU.
    addBlock(output, "output");
}

std::string Network::nextNormName(NormKind kind) {
    static constexpr const char* kPrefix[] = {"bn", "ln", "gn", "brn"};  // by NormKind
    return kPrefix[int(kind)] + std::to_string(++m_normCounts[int(kind)]);
}

void Network::add(std::unique_ptr<Layer> layer, std::string name) {
    m_layers.push_back(std::move(layer));
    m_layerNames.push_back(std::move(name));
}

const Matrix& Network::forward(const Matrix& x, Mode mode, const ForwardObserver& observe) {
    const Matrix* h = &x;
    m_leftRelus = !observe;
    for (std::size_t i = 0; i < m_layers.size(); ++i) {
        Layer& layer = *m_layers[i];
        if (!observe && leavesToNextLayer(int(i))) {
            static_cast<Activation&>(layer).leaveToNextLayer();
            h = &static_cast<BatchNorm&>(*m_layers[i + 1]).forwardAfterRelu(*h, mode);
            ++i;
            continue;
        }
        // *h is layer i − 1's own output buffer when that layer lets it be overwritten (never the caller's x).
        const bool inPlace = i > 0 && layer.canForwardInPlace() && m_layers[i - 1]->outputMayBeOverwritten();
        h = inPlace ? &layer.forwardInPlace(const_cast<Matrix&>(*h), mode) : &layer.forward(*h, mode);
        if (observe) observe(int(i), *h);
    }
    return *h;
}

bool Network::leavesToNextLayer(int i) const {
    if (i <= 0 || std::size_t(i) + 1 >= m_layers.size()) return false;  // never the first layer: backward stops there
    const auto* relu = dynamic_cast<const Activation*>(m_layers[std::size_t(i)].get());
    const auto* bn = dynamic_cast<const BatchNorm*>(m_layers[std::size_t(i) + 1].get());
    return relu && relu->activationKind() == ActivationKind::ReLU && bn && bn->canReadThroughRelu();
}

bool Network::leftToNextLayer(int i) const { return m_leftRelus && leavesToNextLayer(i); }

void Network::backward(const Matrix& gradLogits) {
    const Matrix* g = &gradLogits;
    for (std::size_t i = m_layers.size() - 1; i > 0; --i) {
        if (leftToNextLayer(int(i))) continue;  // the BatchNorm above applied its mask
        Layer& layer = *m_layers[i];
        Layer& below = *m_layers[i - 1];
        // The layer below's output, when it lets it be overwritten, is read by nobody but this layer any more:
        // a layer that can writes its input gradient there (Layer::canBackwardOver).
        if (layer.canBackwardOver() && below.outputMayBeOverwritten()) {
            g = &layer.backwardOver(*g, const_cast<Matrix&>(below.output()));
            continue;
        }
        // A gradient that a layer of this network returned is that layer's buffer (or one it was handed), which
        // nothing reads after the next layer down: that layer may write over it. The loss's is not ours.
        g = g == &gradLogits ? &layer.backward(*g) : &layer.backwardInPlace(const_cast<Matrix&>(*g));
    }
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
    for (const auto& layer : m_layers) n += dynamic_cast<const BatchNorm*>(layer.get()) != nullptr;
    return n;
}

void Network::setStep(long step) {
    for (auto& layer : m_layers)
        if (auto* dropout = dynamic_cast<Dropout*>(layer.get())) dropout->setStep(std::uint64_t(step));
        else if (auto* noise = dynamic_cast<BatchNormNoise*>(layer.get())) noise->setStep(std::uint64_t(step));
}

Network::NormNames Network::normNames() const { return {m_normNames, m_normCounts}; }

void Network::restoreNormNames(const NormNames& names) {
    if (names.perBlock.size() != m_blocks.size())
        throw Error("network: the saved norm names are for " + std::to_string(names.perBlock.size()) +
                    " blocks, this network has " + std::to_string(m_blocks.size()));
    for (std::size_t b = 0; b < m_blocks.size(); ++b) {
        if (m_blocks[b].norm < 0) continue;
        if (names.perBlock[b].empty())
            throw Error("network: block " + m_blocks[b].name + " has a norm layer but the saved names give it none");
        m_layerNames[std::size_t(m_blocks[b].norm)] = names.perBlock[b];
    }
    m_normNames = names.perBlock;
    m_normCounts = names.counts;
}

void Network::forwardKeepingRunningStatistics(const Matrix& x, Mode mode, const ForwardObserver& observe) {
    std::vector<std::pair<Vector, Vector>> saved;
    const std::vector<BatchNorm*> bns = batchNormLayers();
    for (BatchNorm* bn : bns) saved.emplace_back(bn->runningMean(), bn->runningVar());
    (void)forward(x, mode, observe);
    for (std::size_t k = 0; k < bns.size(); ++k) {
        bns[k]->runningMean() = saved[k].first;
        bns[k]->runningVar() = saved[k].second;
    }
}

int Network::firstNonFiniteLayer(const Matrix& x, Mode mode) {
    int first = -1;
    forwardKeepingRunningStatistics(x, mode, [&](int layer, const Matrix& output) {
        if (first < 0 && !output.allFinite()) first = layer;
    });
    return first;
}

}  // namespace bnlab::engine

namespace bnlab::engine {
namespace {

// The inference-mode map of a BN layer per feature: y = scale·x + shift (double, for the fold arithmetic).
struct Affine {
    Eigen::ArrayXd scale, shift;
};

Affine inferenceAffine(BatchNorm& bn) {
    const double eps = bn.options().epsilon;
    Affine a;
    a.scale = bn.gamma().row(0).transpose().cast<double>().array() /
              (bn.runningVar().cast<double>().array() + eps).sqrt();
    a.shift = bn.beta().row(0).transpose().cast<double>().array() - a.scale * bn.runningMean().cast<double>().array();
    return a;
}

// Weight (rows = outputs) and bias of a Dense or Conv2D layer, or nullptrs.
struct LinearParams {
    Matrix* weight = nullptr;
    Matrix* bias = nullptr;
};

LinearParams linearParams(Layer& layer) {
    if (auto* d = dynamic_cast<Dense*>(&layer)) return {&d->weight(), &d->bias()};
    if (auto* c = dynamic_cast<Conv2D*>(&layer)) return {&c->weight(), &c->bias()};
    return {};
}

}  // namespace

void Network::checkBlock(int block, const char* what) const {
    if (block < 0 || block >= int(m_blocks.size()) - 1 || m_blocks[std::size_t(block)].linear < 0)
        throw ConfigError(std::string(what) + ": block " + std::to_string(block + 1) +
                          " is not a hidden dense or conv block of this network");
}

NormPlacement Network::normPlacement(int block) const {
    const BlockInfo& b = m_blocks.at(std::size_t(block));
    if (b.norm < 0) return NormPlacement::None;
    return b.activation >= 0 && b.norm > b.activation ? NormPlacement::After : NormPlacement::Before;
}

void Network::shiftIndices(int from, int delta) {
    for (BlockInfo& b : m_blocks)
        for (int* f : {&b.linear, &b.norm, &b.noise, &b.activation, &b.dropout, &b.first, &b.last, &b.preActivation,
                       &b.postActivation})
            if (*f >= from) *f += delta;
}

std::string Network::removeBatchNorm(int block) {
    checkBlock(block, "remove Batch Normalization");
    BlockInfo& info = m_blocks[std::size_t(block)];
    if (info.norm < 0) throw ConfigError("remove Batch Normalization: block " + info.name + " has none");
    if (info.noise >= 0)
        throw ConfigError("remove Batch Normalization: block " + info.name + " has BN noise after its BN (bn_noise=on), "
                          "which cannot be folded; set the block's norm before the run starts");
    const int p = info.norm;
    const std::string bnName = m_layerNames[std::size_t(p)];
    auto* found = dynamic_cast<BatchNorm*>(m_layers[std::size_t(p)].get());
    if (!found)
        throw ConfigError("remove normalisation: " + bnName + " normalises each sample with its own statistics, which "
                          "no weight can absorb, so it cannot be removed during a run without changing what the "
                          "network computes; set its block's norm before the run starts");
    BatchNorm& bn = *found;
    const Affine a = inferenceAffine(bn);
    std::string target;

    if (normPlacement(block) == NormPlacement::Before || info.activation < 0) {
        // Linear → BN: fold into the linear layer's rows (one row per output feature or filter).
        LinearParams lin = linearParams(*m_layers[std::size_t(info.linear)]);
        Matrix& w = *lin.weight;
        Matrix& b = *lin.bias;
        for (Index f = 0; f < w.rows(); ++f) {
            w.row(f) = (w.row(f).cast<double>() * a.scale[f]).cast<float>();
            b(0, f) = float(a.scale[f] * double(b(0, f)) + a.shift[f]);
        }
        target = m_layerNames[std::size_t(info.linear)];
    } else {
        // Activation → BN → [MaxPool2D | Flatten]* → Dense/Conv2D: fold into the next linear layer's columns.
        int q = p + 1;
        for (; q < int(m_layers.size()); ++q) {
            const std::string kind = m_layers[std::size_t(q)]->kind();
            if (kind == "flatten" || kind == "dropout") continue;  // Dropout is the identity in Eval mode
            if (kind == "maxpool2d") {
                if ((a.scale < 0).any())
                    throw ConfigError("remove Batch Normalization: " + bnName + " is followed by max-pooling and some "
                                      "of its scales γ/√(running var + ε) are negative, so it cannot be folded exactly "
                                      "into " + m_layerNames[std::size_t(p - 1)] + " or the next layer");
                continue;
            }
            break;
        }
        Layer* next = q < int(m_layers.size()) ? m_layers[std::size_t(q)].get() : nullptr;
        LinearParams lin = next ? linearParams(*next) : LinearParams{};
        if (!lin.weight)
            throw ConfigError("remove Batch Normalization: " + bnName + " sits after the activation and no Dense or "
                              "Conv2D layer follows it, so it cannot be folded exactly");
        if (auto* conv = dynamic_cast<Conv2D*>(next); conv && conv->padding() > 0)
            throw ConfigError("remove Batch Normalization: " + bnName + " sits after the activation and the next layer, " +
                              m_layerNames[std::size_t(q)] + ", pads its input with zeros, which the fold cannot shift; "
                              "it cannot be folded exactly");
        Matrix& w = *lin.weight;
        Matrix& b = *lin.bias;
        // Column j of the next layer's weight reads channel j / (columns per channel) of the BN output
        // (NCHW layout for a Dense input; C·kh·kw patch rows for a Conv2D).
        const Index perChannel = w.cols() / a.scale.size();
        Eigen::ArrayXd scale(w.cols()), shift(w.cols());
        for (Index j = 0; j < w.cols(); ++j) {
            scale[j] = a.scale[j / perChannel];
            shift[j] = a.shift[j / perChannel];
        }
        for (Index o = 0; o < w.rows(); ++o) {
            const Eigen::ArrayXd row = w.row(o).transpose().cast<double>().array();
            // For a Conv2D without padding every patch element sees a shifted value, so the bias gains Σ_k w·shift.
            b(0, o) = float(double(b(0, o)) + (row * shift).sum());
            w.row(o) = (row * scale).cast<float>().matrix().transpose();
        }
        target = m_layerNames[std::size_t(q)];
    }

    m_layers.erase(m_layers.begin() + p);
    m_leftRelus = false;  // the layers changed since the latest forward
    m_layerNames.erase(m_layerNames.begin() + p);
    info.norm = -1;
    if (info.preActivation == p) info.preActivation = p - 1;
    if (info.postActivation == p) info.postActivation = p - 1;
    if (info.last == p) info.last = p - 1;
    shiftIndices(p + 1, -1);
    return bnName + " removed: its inference-mode scale and shift (running statistics, γ, β) were folded into " +
           target + ", so the network computes the same function in inference mode";
}

std::string Network::insertBatchNorm(int block, NormPlacement placement, const Matrix& batch, BatchNormOptions options,
                                     NormKind kind) {
    checkBlock(block, "add Batch Normalization");
    if (!usesBatchStatistics(kind))
        throw ConfigError("add normalisation: " + std::string(kind == NormKind::Layer ? "LayerNorm" : "GroupNorm") +
                          " normalises each sample with its own statistics, so no γ and β make it the identity on "
                          "every sample and adding it would change what the network has learnt; it cannot be added "
                          "during a run (set the block's norm before the run starts)");
    if (placement == NormPlacement::None) throw ConfigError("add Batch Normalization: the placement must be before or after");
    BlockInfo& info = m_blocks[std::size_t(block)];
    if (info.norm >= 0) throw ConfigError("add Batch Normalization: block " + info.name + " already has it");
    if (batch.rows() < 2)
        throw ConfigError("add Batch Normalization: the batch statistics need at least 2 samples, got " +
                          std::to_string(batch.rows()));
    const int p = placement == NormPlacement::Before ? info.linear + 1 : info.postActivation + 1;

    // The input the new layer will see: the batch through layers [0, p) with batch statistics, leaving every
    // running statistic as it was (as the probes do).
    std::vector<std::pair<Vector, Vector>> saved;
    std::vector<BatchNorm*> bns = batchNormLayers();
    for (BatchNorm* bn : bns) saved.emplace_back(bn->runningMean(), bn->runningVar());
    const Matrix* h = &batch;
    for (int i = 0; i < p; ++i) h = &m_layers[std::size_t(i)]->forward(*h, Mode::Train);
    for (std::size_t i = 0; i < bns.size(); ++i) {
        bns[i]->runningMean() = saved[i].first;
        bns[i]->runningVar() = saved[i].second;
    }

    const Shape shape = m_layers[std::size_t(p - 1)]->outputShape();
    const Index s = Index(shape.h) * shape.w;
    Eigen::ArrayXd sum = Eigen::ArrayXd::Zero(shape.c), sq = Eigen::ArrayXd::Zero(shape.c);
    for (Index n = 0; n < h->rows(); ++n)
        for (Index c = 0; c < shape.c; ++c) sum[c] += h->row(n).segment(c * s, s).cast<double>().sum();
    const double m = double(h->rows() * s);
    const Eigen::ArrayXd mean = sum / m;
    for (Index n = 0; n < h->rows(); ++n)
        for (Index c = 0; c < shape.c; ++c)
            sq[c] += (h->row(n).segment(c * s, s).cast<double>().array() - mean[c]).square().sum();
    const Eigen::ArrayXd var = sq / m;

    auto bn = std::make_unique<BatchNorm>(shape, options, kind == NormKind::Renorm);
    bn->gamma() = (var + double(options.epsilon)).sqrt().cast<float>().matrix().transpose();
    bn->beta() = mean.cast<float>().matrix().transpose();
    bn->runningMean() = mean.cast<float>().matrix();
    bn->runningVar() = var.cast<float>().matrix();

    std::string& name = m_normNames[std::size_t(block)];
    if (name.empty()) name = nextNormName(kind);
    m_layers.insert(m_layers.begin() + p, std::move(bn));
    m_leftRelus = false;  // the layers changed since the latest forward
    m_layerNames.insert(m_layerNames.begin() + p, name);
    shiftIndices(p, +1);
    info.norm = p;
    if (placement == NormPlacement::Before) {  // as the constructor: BN after a missing activation is not "pre"
        info.preActivation = p;
        if (info.activation < 0) info.postActivation = p;
    }
    info.last = std::max(info.last, p);
    return name + " added " + (placement == NormPlacement::Before ? "before" : "after") + " the activation of " +
           info.name + ", with γ, β and running statistics set from the current batch so that the network computes "
           "the same function at this moment";
}

}  // namespace bnlab::engine
