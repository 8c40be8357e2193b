#pragma once

// Seeded mini-batches over a DataView: a fresh permutation each epoch, the last batch partial (as
// PyTorch's DataLoader with drop_last=False and Keras' fit), pixels scaled to [0, 1] on the fly.

#include "dataset.h"
#include "init.h"

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
    // Takes effect from the next batch; the current epoch goes on from where it is.
    void setBatchSize(Index batchSize);
    [[nodiscard]] Index batchesPerEpoch() const { return (m_view.size() + m_batchSize - 1) / m_batchSize; }
    [[nodiscard]] long epoch() const { return m_epoch; }      // epochs started so far, from 1
    [[nodiscard]] Index position() const { return m_position; }  // samples taken in this epoch

    // Fills the next batch; starts a new epoch (reshuffling) when the current one is used up.
    // Returns true when the batch is the first of an epoch.
    bool next(Matrix& x, std::vector<std::uint8_t>& labels);
    [[nodiscard]] bool epochDone() const { return m_position >= m_view.size(); }

private:
    void shuffle();

    DataView m_view;
    Index m_batchSize;
    Random m_random;
    std::vector<std::uint32_t> m_order;
    Index m_position = 0;
    long m_epoch = 0;
};

}  // namespace bnlab::engine
