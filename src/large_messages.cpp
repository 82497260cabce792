#include "zsession/large_messages.hpp"

#include <climits>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace zsession {

bool tune_malloc_for_large_messages() noexcept {
#if defined(__GLIBC__)
    // mallopt returns 1 on success. Order: the arena limit first, so that no thread created
    // after this call (libzmq's I/O threads) gets an arena of its own.
    bool ok = mallopt(M_ARENA_MAX, 1) == 1;
    ok = mallopt(M_MMAP_MAX, 0) == 1 && ok;
    ok = mallopt(M_TRIM_THRESHOLD, INT_MAX) == 1 && ok;
    return ok;
#else
    return false;
#endif
}

}  // namespace zsession
