#include "softmax_cross_entropy.h"

#include "error.h"

#include <cmath>

namespace bnlab::engine {

double SoftmaxCrossEntropy::forward(const Matrix& logits, const std::vector<std::uint8_t>& labels) {
    if (Index(labels.size()) != logits.rows())
        throw Error("softmax cross-entropy: " + std::to_string(labels.size()) + " labels for " +
                    std::to_string(logits.rows()) + " samples");
    m_labels = &labels;
    m_prob.resize(logits.rows(), logits.cols());
    m_predicted.resize(std::size_t(logits.rows()));  // sized once per batch size: no allocation in the step loop
    double loss = 0;
    m_correct = 0;
    for (Index n = 0; n < logits.rows(); ++n) {
        const auto z = logits.row(n);
        const Index t = labels[std::size_t(n)];
        if (t >= logits.cols())
            throw Error("softmax cross-entropy: label " + std::to_string(t) + " of sample " + std::to_string(n) +
                        " is not below the number of classes " + std::to_string(logits.cols()));
        Index argmax = 0;
        const float zmax = z.maxCoeff(&argmax);
        m_prob.row(n) = (z.array() - zmax).exp();
        const double sum = m_prob.row(n).cast<double>().sum();
        // −log p_t = log Σ e^(z − max) − (z_t − max)
        loss += std::log(sum) - double(z(t) - zmax);
        m_prob.row(n) /= float(sum);
        m_predicted[std::size_t(n)] = argmax;
        m_correct += (argmax == t);
    }
    return loss / double(std::max<Index>(1, logits.rows()));
}

const Matrix& SoftmaxCrossEntropy::backward() {
    // dL/dz = (p − onehot(t))/N
    const Index n = m_prob.rows();
    m_gradLogits = m_prob;
    for (Index i = 0; i < n; ++i) m_gradLogits(i, (*m_labels)[std::size_t(i)]) -= 1.0f;
    m_gradLogits /= float(n);
    return m_gradLogits;
}

}  // namespace bnlab::engine
