#include "parallel.h"

#include <tbb/blocked_range.h>
#include <tbb/info.h>
#include <tbb/parallel_for.h>
#include <tbb/partitioner.h>
#include <tbb/task_arena.h>

#include <atomic>
#include <cstdlib>
#include <string_view>

namespace bnlab::engine::parallel {
namespace {
// BNLAB_SERIAL=1 in the environment: serial from the start (see parallel.h).
bool serialFromEnvironment() {
    const char* value = std::getenv("BNLAB_SERIAL");
    return value != nullptr && std::string_view(value) != "" && std::string_view(value) != "0";
}
std::atomic<bool> gSerial{serialFromEnvironment()};
}  // namespace

void forChunks(std::ptrdiff_t n, std::ptrdiff_t grain,
               const std::function<void(std::ptrdiff_t, std::ptrdiff_t)>& body) {
    forChunksWithSlot(n, grain, [&](std::ptrdiff_t b, std::ptrdiff_t e, int) { body(b, e); });
}

int maxSlots() {
    return gSerial.load(std::memory_order_relaxed) ? 1 : tbb::this_task_arena::max_concurrency();
}

void forChunksWithSlot(std::ptrdiff_t n, std::ptrdiff_t grain,
                       const std::function<void(std::ptrdiff_t, std::ptrdiff_t, int)>& body) {
    if (n <= 0) return;
    if (grain < 1) grain = 1;
    const std::ptrdiff_t chunks = chunkCount(n, grain);
    auto runChunk = [&](std::ptrdiff_t k) {
        const int slot = chunks == 1 || gSerial.load(std::memory_order_relaxed)
                             ? 0
                             : std::max(0, tbb::this_task_arena::current_thread_index());
        body(k * grain, std::min(n, (k + 1) * grain), slot);
    };
    if (chunks == 1 || gSerial.load(std::memory_order_relaxed)) {
        for (std::ptrdiff_t k = 0; k < chunks; ++k) runChunk(k);
        return;
    }
    // simple_partitioner with grain 1 over chunk indices: every chunk is exactly one task body call.
    tbb::parallel_for(
        tbb::blocked_range<std::ptrdiff_t>(0, chunks, 1),
        [&](const tbb::blocked_range<std::ptrdiff_t>& r) {
            for (std::ptrdiff_t k = r.begin(); k != r.end(); ++k) runChunk(k);
        },
        tbb::simple_partitioner());
}

void setSerial(bool serial) { gSerial.store(serial); }
bool isSerial() { return gSerial.load(); }

void runWithThreads(int threads, const std::function<void()>& fn) {
    tbb::task_arena arena(threads > 0 ? threads : tbb::task_arena::automatic);
    arena.execute(fn);
}

int defaultThreadCount() { return tbb::info::default_concurrency(); }

}  // namespace bnlab::engine::parallel
