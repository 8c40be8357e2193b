#include "batch_sampler.h"

#include "error.h"

#include <numeric>

namespace bnlab::engine {

namespace {
template <typename IndexOf>
void gather(const DataView& view, Index count, IndexOf indexOf, Matrix& x, std::vector<std::uint8_t>& labels) {
    const Index cols = view.set->shape.size();
    x.resize(count, cols);
    labels.resize(std::size_t(count));
    constexpr float kScale = 1.0f / 255.0f;
    for (Index i = 0; i < count; ++i) {
        const Index s = indexOf(i);
        const std::uint8_t* px = view.image(s);
        float* row = x.row(i).data();
        for (Index j = 0; j < cols; ++j) row[j] = float(px[j]) * kScale;
        labels[std::size_t(i)] = view.label(s);
    }
}
}  // namespace

void gatherBatch(const DataView& view, const std::vector<std::uint32_t>& order, Index begin, Index end, Matrix& x,
                 std::vector<std::uint8_t>& labels) {
    gather(view, end - begin, [&](Index i) { return Index(order[std::size_t(begin + i)]); }, x, labels);
}

void gatherRange(const DataView& view, Index begin, Index end, Matrix& x, std::vector<std::uint8_t>& labels) {
    gather(view, end - begin, [&](Index i) { return begin + i; }, x, labels);
}

BatchSampler::BatchSampler(DataView view, Index batchSize, std::uint64_t seed)
    : m_view(view), m_batchSize(batchSize), m_random(seed), m_order(std::size_t(view.size())) {
    if (batchSize < 1) throw ConfigError("batch_size: must be at least 1, got " + std::to_string(batchSize));
    if (view.size() < 1) throw ConfigError("train_size: the training split is empty");
    std::iota(m_order.begin(), m_order.end(), 0u);
    m_position = m_view.size();  // the first next() starts epoch 1
}

void BatchSampler::setBatchSize(Index batchSize) {
    if (batchSize < 1) throw ConfigError("batch_size: must be at least 1, got " + std::to_string(batchSize));
    m_batchSize = batchSize;
}

void BatchSampler::shuffle() {
    // Fisher-Yates with the portable generator: the same order on every platform.
    for (std::size_t i = m_order.size() - 1; i > 0; --i) std::swap(m_order[i], m_order[m_random.below(i + 1)]);
}

bool BatchSampler::next(Matrix& x, std::vector<std::uint8_t>& labels) {
    bool first = false;
    if (epochDone()) {
        shuffle();
        m_position = 0;
        ++m_epoch;
        first = true;
    }
    const Index end = std::min(m_view.size(), m_position + m_batchSize);
    gatherBatch(m_view, m_order, m_position, end, x, labels);
    m_latestBegin = m_position;
    m_position = end;
    return first;
}

BatchSampler::State BatchSampler::state() const {
    return {m_epoch, m_position, m_latestBegin, m_random.state(), m_order};
}

void BatchSampler::setState(State s) {
    const Index n = m_view.size();
    if (Index(s.order.size()) != n)
        throw Error("sampler: the saved order holds " + std::to_string(s.order.size()) + " samples, the training split " +
                    std::to_string(n));
    std::vector<bool> seen(std::size_t(n), false);
    for (std::uint32_t i : s.order) {
        if (Index(i) >= n || seen[i]) throw Error("sampler: the saved order is not a permutation of the training split");
        seen[i] = true;
    }
    if (s.epoch < 0 || s.position < 0 || s.position > n || s.latestBegin < 0 || s.latestBegin > s.position)
        throw Error("sampler: the saved position (epoch " + std::to_string(s.epoch) + ", sample " +
                    std::to_string(s.position) + ") is outside the training split of " + std::to_string(n));
    m_epoch = s.epoch;
    m_position = s.position;
    m_latestBegin = s.latestBegin;
    m_random.setState(s.random);
    m_order = std::move(s.order);
}

void BatchSampler::latest(Matrix& x, std::vector<std::uint8_t>& labels) const {
    if (m_epoch == 0) {
        x.resize(0, m_view.set->shape.size());
        labels.clear();
        return;
    }
    gatherBatch(m_view, m_order, m_latestBegin, m_position, x, labels);
}

}  // namespace bnlab::engine
