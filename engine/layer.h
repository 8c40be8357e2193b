#pragma once

// The layer contract.
//
// - forward(input, mode) reads a batch (N, inputShape().size()) and returns a reference to the layer's
//   own output buffer (N, outputShape().size()). The reference stays valid until the next forward call.
//   The layer keeps what backward needs (a pointer to the input, or derived values such as the BN
//   normalised input); the caller keeps the input matrix alive and unchanged until backward has run.
// - backward(gradOutput) needs the latest forward of the same batch, in Mode::Train. It returns
//   dL/dinput in the layer's own buffer and ASSIGNS (never accumulates) the gradient of every parameter.
//   backwardParameters(gradOutput) does the same but may skip dL/dinput: the network calls it for its
//   first layer, whose input gradient nobody needs (for a first Dense layer that is a third of its work).
// - Mode::Train uses batch statistics and updates running statistics (BatchNorm) and drops values (Dropout);
//   Mode::Eval uses the running statistics, drops nothing and changes nothing; Mode::EvalBatch is Eval except that
//   BatchNorm normalises with the statistics of the forward's batch (it too changes nothing, and backward after it
//   throws). Other layers (LayerNorm and GroupNorm included: their statistics are each sample's own) behave the
//   same in every mode.
// - Buffers are sized by the first batch of a given size and reused: no allocation in the step loop.

#include "tensor.h"

#include <string>
#include <vector>

namespace bnlab::engine {

// A trainable tensor and its gradient, as the optimizer sees it.
struct Param {
    std::string name;     // "weight", "bias", "gamma", "beta"
    Matrix* value;        // the parameter, updated in place by the optimizer
    Matrix* grad;         // same shape, assigned by backward()
    bool decay = true;    // L2 weight decay applies (weights yes; biases, γ and β no)
};

class Layer {
public:
    explicit Layer(Shape inputShape) : m_inputShape(inputShape) {}
    virtual ~Layer() = default;
    Layer(const Layer&) = delete;
    Layer& operator=(const Layer&) = delete;

    // "dense", "conv2d", "maxpool2d", "flatten", "relu", "sigmoid", "tanh", "batchnorm", "batchrenorm",
    // "layernorm", "groupnorm", "dropout".
    [[nodiscard]] virtual std::string kind() const = 0;
    [[nodiscard]] Shape inputShape() const { return m_inputShape; }
    [[nodiscard]] virtual Shape outputShape() const = 0;

    virtual const Matrix& forward(const Matrix& input, Mode mode) = 0;  // (N, in) -> (N, out)
    virtual const Matrix& backward(const Matrix& gradOutput) = 0;       // (N, out) -> (N, in)
    virtual void backwardParameters(const Matrix& gradOutput) { (void)backward(gradOutput); }
    // backward() that may write the input gradient over gradOutput, which the caller will not read again (the
    // Network's chain of gradients): the element-wise layers (activations, BN, Dropout, BN noise) do and keep
    // no gradient buffer of their own, a batch of activations less each. Returns the input gradient.
    virtual const Matrix& backwardInPlace(Matrix& gradOutput) { return backward(gradOutput); }

    // In-place forward, the forward counterpart: the Network calls forwardInPlace(x) instead of forward(x) when
    // this layer can write its output over its input (canForwardInPlace: the activations, whose backward needs
    // only their output) and the input is the previous layer's output buffer, which that layer lets be
    // overwritten (outputMayBeOverwritten: Dense, Conv2D and BatchNorm, whose backward reads their input, not
    // their output). Saves one batch of activations per such pair: 30 MB per keras-cnn run at batch 128.
    // Afterwards the previous layer's output() shows this layer's output.
    [[nodiscard]] virtual bool canForwardInPlace() const { return false; }
    [[nodiscard]] virtual bool outputMayBeOverwritten() const { return false; }
    virtual const Matrix& forwardInPlace(Matrix& input, Mode mode) { return forward(input, mode); }

    // backward() that writes the input gradient into `buffer` (N, in) instead of a buffer of its own: the Network
    // hands over the previous layer's output when that layer lets it be overwritten (outputMayBeOverwritten) and
    // this layer can (canBackwardOver: MaxPool2D, which reads only its argmax; Conv2D, whose buffer is then its
    // own input, read sample by sample before that sample's gradient is written). Saves the input-gradient
    // buffer: 30 MB per keras-cnn run. After Network::backward such outputs hold gradients, not activations.
    [[nodiscard]] virtual bool canBackwardOver() const { return false; }
    virtual const Matrix& backwardOver(const Matrix& gradOutput, Matrix& buffer) {
        (void)buffer;
        return backward(gradOutput);
    }

    [[nodiscard]] virtual std::vector<Param> params() { return {}; }

    // The output of the latest forward call (empty before the first).
    [[nodiscard]] virtual const Matrix& output() const { return m_output; }

protected:
    Shape m_inputShape;
    Matrix m_output;     // (N, out)
    Matrix m_gradInput;  // (N, in)
};

}  // namespace bnlab::engine
