#include "allocation.h"

#if __has_include(<malloc.h>)
#include <malloc.h>
#endif

namespace bnlab::app {

void returnLargeBlocksToTheSystem() {
#if defined(__GLIBC__) && defined(M_MMAP_THRESHOLD)
    mallopt(M_MMAP_THRESHOLD, 4 * 1024 * 1024);
#endif
}

}  // namespace bnlab::app
