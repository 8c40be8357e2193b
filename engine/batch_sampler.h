#pragma once

// Seeded mini-batches over a DataView: a fresh permutation each epoch, the last batch partial (as
// PyTorch's DataLoader with drop_last=False and Keras' fit), pixels scaled to [0, 1] on the fly.

#include "dataset.h"
#include "init.h"

#include <array>
#include <cstdint>
#include <vector>

namespace bnlab::engine {

// Copies samples [begin, end) of `order` (indices into view) into x (n, C·H·W) as pixel/255 and their labels.
void gatherBatch(const DataView& view, const std::vector<std::uint32_t>& order, Index begin, Index end, Matrix& x,
                 std::vector<std::uint8_t>& labels);

// Copies the contiguous samples [begin, end) of view (no shuffle), for evaluation in chunks.
void gatherRange(const DataView& view, Index begin, Index end, Matrix& x, std::vector<std::uint8_t>& labels);

class BatchSampler final {
public:
    BatchSampler(DataView view, Index batchSize, std::uint64_t seed);

    [[nodiscard]] Index batchSize() const { return m_batchSize; }
    [[nodiscard]] Index size() const { return m_view.size(); }  // samples per epoch
    // Takes effect from the next batch; the current epoch goes on from where it is.
    void setBatchSize(Index batchSize);
    [[nodiscard]] Index batchesPerEpoch() const { return (m_view.size() + m_batchSize - 1) / m_batchSize; }
    [[nodiscard]] long epoch() const { return m_epoch; }      // epochs started so far, from 1
    [[nodiscard]] Index position() const { return m_position; }  // samples taken in this epoch

    // Fills the next batch; starts a new epoch (reshuffling) when the current one is used up.
    // Returns true when the batch is the first of an epoch.
    bool next(Matrix& x, std::vector<std::uint8_t>& labels);
    [[nodiscard]] bool epochDone() const { return m_position >= m_view.size(); }

    // Everything that decides the batches to come (a checkpoint saves it): the epoch, the position in this
    // epoch's order, where the latest batch began, the shuffle generator and the order itself (each epoch
    // shuffles the previous order further, so it cannot be rebuilt from the generator alone without replaying
    // every epoch).
    struct State {
        long epoch = 0;
        Index position = 0;
        Index latestBegin = 0;
        std::array<std::uint64_t, 4> random{};
        std::vector<std::uint32_t> order;
    };
    [[nodiscard]] State state() const;
    // Throws Error when the order is not a permutation of this view's samples or the position is outside it.
    void setState(State state);
    // Gathers the latest batch again (x empty before the first next()).
    void latest(Matrix& x, std::vector<std::uint8_t>& labels) const;

private:
    void shuffle();

    DataView m_view;
    Index m_batchSize;
    Random m_random;
    std::vector<std::uint32_t> m_order;
    Index m_position = 0;
    Index m_latestBegin = 0;  // the latest batch is m_order[m_latestBegin, m_position)
    long m_epoch = 0;
};

}  // namespace bnlab::engine
