// bench/alloc_count.cpp - counts the process's heap allocations (every thread: ours,
// libzmq's, the C++ runtime's) by interposing malloc and its siblings in the executable and
// forwarding to glibc's own entry points. Linked only into latency_allocs, so the timed
// benches keep the plain allocator; latency_bench.cpp finds the counter through a weak
// declaration of zsession_bench_allocations().
#include <atomic>
#include <cerrno>
#include <cstddef>

extern "C" {
void* __libc_malloc(std::size_t size);
void* __libc_calloc(std::size_t n, std::size_t size);
void* __libc_realloc(void* p, std::size_t size);
void* __libc_memalign(std::size_t alignment, std::size_t size);
}

namespace {

std::atomic<unsigned long long> allocations{0};

void count() noexcept {
    allocations.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace

extern "C" {

/// Heap allocations so far (malloc, calloc, realloc, the aligned forms), all threads.
unsigned long long zsession_bench_allocations() noexcept {
    return allocations.load(std::memory_order_relaxed);
}

void* malloc(std::size_t size) noexcept {
    count();
    return __libc_malloc(size);
}
void* calloc(std::size_t n, std::size_t size) noexcept {
    count();
    return __libc_calloc(n, size);
}
void* realloc(void* p, std::size_t size) noexcept {
    count();
    return __libc_realloc(p, size);
}
void* memalign(std::size_t alignment, std::size_t size) noexcept {
    count();
    return __libc_memalign(alignment, size);
}
void* aligned_alloc(std::size_t alignment, std::size_t size) noexcept {
    count();
    return __libc_memalign(alignment, size);
}
int posix_memalign(void** out, std::size_t alignment, std::size_t size) noexcept {
    count();
    void* p = __libc_memalign(alignment, size);
    if (p == nullptr && size != 0) return ENOMEM;
    *out = p;
    return 0;
}

}  // extern "C"
