#pragma once

// A network built from a NetworkSpec: the layers in order, the output Dense layer, and the names and
// positions the probes need.

#include "batch_norm.h"
#include "init.h"
#include "layer.h"
#include "network_spec.h"

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace bnlab::engine {

// Where a block's layers sit in Network::layers().
struct BlockInfo {
    std::string name;       // "dense1", "conv2", "pool1", "flatten1", "output"
    int linear = -1;        // the Dense or Conv2D layer
    int norm = -1;          // its norm layer (BatchNorm, or GroupNorm for layer/group kinds), if any
    int noise = -1;         // its BatchNormNoise layer right after the norm layer (bn_noise), if any
    int activation = -1;    // its activation layer, if any
    int dropout = -1;       // its Dropout layer, if any (the block's last layer)
    int first = -1, last = -1;  // the block's layers are [first, last]
    // The pre-activation (the input of the nonlinearity) is the output of layer preActivation; the
    // post-activation the output of layer postActivation (the same layer for a linear block).
    int preActivation = -1, postActivation = -1;
};

// A named trainable tensor of the whole network, e.g. "dense1.weight", "bn1.gamma".
struct NamedParam {
    std::string name;
    int layer;
    Param param;
};

class Network final {
public:
    Network(const NetworkSpec& spec, Shape input, int classes, BatchNormOptions bn, const InitOptions& init,
            std::uint64_t seed);

    // x (N, input) -> logits (N, classes). An activation runs in place on the output of a Dense, Conv2D or
    // BatchNorm layer before it (Layer::canForwardInPlace), so that layer's output() then shows the activation's:
    // whoever needs the values in between (the probes) reads them through `observe`, called with each layer's
    // index and output as soon as it has run. Without an observer, a ReLU followed by BatchNorm over channels is
    // left to the BatchNorm, which reads its input through it (BatchNorm::forwardAfterRelu; the ReLU's output()
    // is then empty): the same values, two passes over the batch fewer.
    using ForwardObserver = std::function<void(int layer, const Matrix& output)>;
    const Matrix& forward(const Matrix& x, Mode mode, const ForwardObserver& observe = {});
    // dL/dlogits (N, classes) -> parameter gradients (assigned) of every layer
    void backward(const Matrix& gradLogits);
    // Whether forward without an observer leaves layer i to the next one: a ReLU (not the first layer) followed
    // by a BatchNorm over channels. And whether the latest forward did: the BatchNorm's backward is then the
    // ReLU's too, and whoever chains the layers' own backward calls after Network::forward skips layer i.
    [[nodiscard]] bool leavesToNextLayer(int i) const;
    [[nodiscard]] bool leftToNextLayer(int i) const;

    [[nodiscard]] std::vector<NamedParam> params();
    [[nodiscard]] std::vector<Param> optimizerParams();  // params() as the optimizer takes them

    [[nodiscard]] const std::vector<std::unique_ptr<Layer>>& layers() const { return m_layers; }
    [[nodiscard]] Layer& layer(int i) { return *m_layers[std::size_t(i)]; }
    [[nodiscard]] const std::string& layerName(int i) const { return m_layerNames[std::size_t(i)]; }
    [[nodiscard]] const std::vector<BlockInfo>& blocks() const { return m_blocks; }
    // The layers with batch and running statistics: BatchNorm, in both its plain and its renormalising form.
    [[nodiscard]] std::vector<BatchNorm*> batchNormLayers();
    [[nodiscard]] int batchNormLayerCount() const;
    // The training step whose masks the Dropout layers and whose noise the BatchNormNoise layers draw (the Trainer
    // sets it before every step).
    void setStep(long step);
    [[nodiscard]] Shape inputShape() const { return m_input; }
    [[nodiscard]] int classes() const { return m_classes; }

    // The first layer whose output holds a NaN or an infinity when x goes through the network in this mode, or
    // −1: a second forward (the same step's Dropout masks and BN noise; the running statistics kept as they
    // are) with each output checked as soon as it is computed. The outputs the first forward left cannot say:
    // an activation in place overwrites the output before it (tanh and the sigmoid map ±inf to finite values).
    [[nodiscard]] int firstNonFiniteLayer(const Matrix& x, Mode mode);
    // forward(x, mode, observe) that leaves the BN running statistics as they were (the probes' forward, the
    // divergence diagnosis above): a look at the network that changes no run.
    void forwardKeepingRunningStatistics(const Matrix& x, Mode mode, const ForwardObserver& observe);

    // Batch Normalization switched on or off in a trained network (the window's mid-run BN toggle).
    // `block` indexes blocks(): the spec's blocks in order, then the output block (which never has BN).
    //
    // removeBatchNorm folds the block's BN layer, in its inference form y = s·(x − running_mean) + β with
    // s = γ/√(running_var + ε), into an adjacent linear layer, so that the network computes the same function in
    // Eval mode (up to float rounding; this is how inference engines deploy BN):
    //   BN before the activation: into the preceding Dense/Conv2D, W ← s·W (per output), b ← s·(b − μ) + β;
    //   BN after the activation: into the next Dense/Conv2D, through Flatten and (when every s ≥ 0, so that the
    //   max commutes with the scaling) MaxPool2D; a next Conv2D must have no padding (padded zeros would not be
    //   shifted). Dropout, the identity in Eval mode, is passed through too. When no exact fold exists it throws
    //   ConfigError saying why and changes nothing. A Batch Renormalization layer folds the same way (its inference
    //   form is BN's); a LayerNorm or GroupNorm layer cannot be folded (its statistics are each sample's own), so
    //   removing one throws ConfigError. A block with BN noise (bn_noise) throws ConfigError too.
    // Returns a sentence saying what was done.
    std::string removeBatchNorm(int block);

    // Inserts a BN layer into the block (placement Before or After its activation) whose statistics are those of
    // `batch` at that point (forwarded in Train mode; the running statistics of other BN layers are left as they
    // were): γ = √(σ² + ε), β = μ, running mean = μ, running variance = σ² (biased). The new layer is then the
    // identity on that batch in training mode and in inference mode, so the function is unchanged at that moment.
    // `batch` needs at least 2 samples. kind Renorm inserts Batch Renormalization the same way (with running
    // statistics equal to the batch's, r = 1 and d = 0, so it too is the identity); kinds Layer and Group throw
    // ConfigError (per-sample statistics: no γ, β make them the identity on every sample). Returns a sentence
    // saying what was done.
    std::string insertBatchNorm(int block, NormPlacement placement, const Matrix& batch, BatchNormOptions options,
                                NormKind kind = NormKind::Batch);

    [[nodiscard]] NormPlacement normPlacement(int block) const;

    // The names of the norm layers, which removals and insertions during a run make differ from those a fresh
    // network of the same blocks would have (block 1's bn1 removed: block 2's layer stays bn2). A checkpoint
    // saves them; restoreNormNames gives a network built from the changed spec the run's names back.
    struct NormNames {
        std::vector<std::string> perBlock;  // per block: the name its norm layer has or had, or empty
        std::array<int, 4> counts{};       // per NormKind: names handed out so far
    };
    [[nodiscard]] NormNames normNames() const;
    // Throws Error when the number of blocks differs or a block with a norm layer gets no name.
    void restoreNormNames(const NormNames& names);

private:
    void add(std::unique_ptr<Layer> layer, std::string name);
    void shiftIndices(int from, int delta);  // every layer index ≥ from in m_blocks moves by delta
    void checkBlock(int block, const char* what) const;
    std::string nextNormName(NormKind kind);  // "bn1", "ln1", "gn1", "brn1": numbered per kind

    Shape m_input;
    int m_classes;
    std::vector<std::unique_ptr<Layer>> m_layers;
    std::vector<std::string> m_layerNames;
    std::vector<BlockInfo> m_blocks;
    std::vector<std::string> m_normNames;  // per block: the name its BN layer has or had ("bn2"), or empty
    std::array<int, 4> m_normCounts{};     // per NormKind: names handed out so far
    // Whether the latest forward left the ReLUs of leavesToNextLayer to the BatchNorms after them (it had no
    // observer, and the layers have not changed since), so backward skips them too.
    bool m_leftRelus = false;
};

}  // namespace bnlab::engine
