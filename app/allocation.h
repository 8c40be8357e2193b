#pragma once

namespace bnlab::app {

// Makes glibc's malloc give every block of 4 MB or more a mapping of its own, returned to the system when
// freed (mallopt M_MMAP_THRESHOLD); a no-op with other C libraries. Call first thing in main().
//
// Why: layer buffers are resized when a forward has another number of rows (the last piece of an evaluation
// chunk, a probe batch, a live batch size change). With glibc's default, whose threshold rises to the largest
// block freed (up to 32 MB), the freed 11-19 MB buffers of keras-cnn stayed in the heap, too fragmented to
// reuse, and bnlab-cli's peak resident memory was 365 MB instead of 306 MB. The step loop allocates nothing,
// so the extra system calls come only with those resizes.
void returnLargeBlocksToTheSystem();

}  // namespace bnlab::app
