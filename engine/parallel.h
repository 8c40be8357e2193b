#pragma once

// The one place where the engine runs work in parallel (oneTBB stays out of the headers).
//
// Work is split into chunks whose boundaries depend only on the problem size and the grain, never on
// the number of threads, and every reduction over chunks is done by the caller in chunk order. So the
// same inputs give bit-identical results on 1 or many threads, and in serial mode.

#include <cstddef>
#include <functional>

namespace bnlab::engine::parallel {

// Calls body(begin, end) for the chunks [0, g), [g, 2g), ... of [0, n). Chunks may run concurrently.
void forChunks(std::ptrdiff_t n, std::ptrdiff_t grain, const std::function<void(std::ptrdiff_t, std::ptrdiff_t)>& body);

// As forChunks, and also passes the index of the worker slot running the chunk, in [0, maxSlots()):
// chunks that run at the same time get different slots, so per-slot scratch buffers are never shared.
// Scratch must be fully overwritten by each chunk: which slot runs a chunk varies from run to run.
void forChunksWithSlot(std::ptrdiff_t n, std::ptrdiff_t grain,
                       const std::function<void(std::ptrdiff_t, std::ptrdiff_t, int)>& body);

// Upper bound of the slot indices in the current arena (1 in serial mode).
[[nodiscard]] int maxSlots();

// Number of chunks forChunks() makes for (n, grain).
[[nodiscard]] inline std::ptrdiff_t chunkCount(std::ptrdiff_t n, std::ptrdiff_t grain) {
    return n <= 0 ? 0 : (n + grain - 1) / grain;
}

// Serial mode (for tests): forChunks runs the chunks in order on the calling thread. It is on from the start
// when the environment has BNLAB_SERIAL=1: the tsan test preset sets it, since ThreadSanitizer cannot see the
// synchronisation inside Debian's uninstrumented oneTBB and took minutes per training step sorting out the
// suppressed reports; what it can check, the program's own threads (the GUI and each run's training thread),
// is unchanged. (The oneTBB side is covered by the tests that compare parallel with serial bit for bit.)
void setSerial(bool serial);
[[nodiscard]] bool isSerial();

// Runs fn inside a oneTBB arena limited to `threads` threads (0 = all cores) and returns when it does.
void runWithThreads(int threads, const std::function<void()>& fn);

// Number of hardware threads oneTBB would use by default.
[[nodiscard]] int defaultThreadCount();

}  // namespace bnlab::engine::parallel
