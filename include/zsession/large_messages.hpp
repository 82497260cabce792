// zsession/large_messages.hpp - receiving frames of 32 MiB and more at memory speed.
//
// libzmq receives a large frame straight into a block it mallocs for that frame. glibc
// serves blocks of 32 MiB and more (its largest dynamic mmap threshold, and every block
// above 64 MiB from a thread's own arena) with a fresh mmap and returns them with munmap,
// so every 4 KiB page of every received large frame is faulted in and zeroed by the kernel
// while the frame arrives: 8192 page faults per 32 MiB message, which halve the receive rate
// (docs/PERFORMANCE.md, "Large messages"). Nothing in the wire format or the handler API is
// involved; what helps is where the receiving process's allocator takes large blocks from.
#pragma once

namespace zsession {

/// Configures glibc's malloc for this whole process so that large blocks come from the heap
/// and are reused instead of being mmap'd and unmapped per block:
///   mallopt(M_ARENA_MAX, 1)        libzmq's I/O threads allocate from the main arena (a
///                                   thread arena serves blocks above 64 MiB by mmap only)
///   mallopt(M_MMAP_MAX, 0)         no block is served by mmap
///   mallopt(M_TRIM_THRESHOLD, max) freed memory at the top of the heap is kept for reuse
/// Measured: 2.4-4.6x the raw single-frame receive rate for 32 MiB-1 GiB over ipc and tcp,
/// page faults per received 128 MiB frame from 32769 to ~0 (bench/large_bench.cpp).
///
/// Call it first in main, before any zmq::context_t exists: a thread that already allocated
/// keeps the arena it has. Process-wide and not undoable: the heap keeps its high-water mark
/// (freed large blocks stay mapped for the next message instead of returning to the OS), and
/// one arena serves every thread (more lock contention for allocation-heavy multi-threaded
/// programs). Returns false when the C library is not glibc or refused a setting.
/// Thread safety: call once, from one thread, before other threads start.
bool tune_malloc_for_large_messages() noexcept;

}  // namespace zsession
