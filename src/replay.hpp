// src/replay.hpp (private) - a bounded history of recent message digests.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "zsession/buffer.hpp"

namespace zsession::detail {

/// Remembers the last `capacity` digests (raw HMAC bytes), oldest forgotten first: exactly,
/// whatever the digests' bytes. Storage is allocated once: a ring of digests and an index
/// of cache-line buckets over it, so recording one costs no allocation in the steady state.
/// Thread-safe (one mutex).
class replay_history {
  public:
    /// `bucket_count` (rounded up to a power of two, at least 2) overrides the index's size; 0
    /// sizes it for `capacity`. `first_number` numbers the first digest. Both are for tests: a tiny
    /// index drives the second buckets and the overflow list, a first number near 2^32 the
    /// numbers' wrap.
    replay_history(std::size_t capacity, std::size_t digest_size, std::size_t bucket_count = 0,
                   std::uint64_t first_number = 1);

    /// Records `digest` (digest_size bytes); false if it is already remembered (a replay).
    /// Always true when the capacity is 0 (protection disabled).
    bool insert(bytes_view digest);
    std::size_t size() const;
    /// A hint, nothing recorded: starts loading the index line that insert() of the digest
    /// whose lower-case hex is `hex` (2 x digest_size characters) will read first, so that
    /// the load overlaps the HMAC check that comes before it. Any bytes; no lock (it reads
    /// only what the constructor set); safe from any thread.
    void prefetch_hex(bytes_view hex) const noexcept;

    /// For tests and benches: the indexes of `digest`'s first and second bucket (they may be
    /// equal), and how many lookups so far read a second bucket (a live mark) and how many
    /// digests went to a second bucket or to the overflow list.
    struct placement {
        std::size_t first, second;
    };
    placement buckets_of(bytes_view digest) const;
    struct counters {
        std::uint64_t second_reads = 0, displaced = 0, spilled = 0;
    };
    counters stats() const;

  private:
    // Digest number s (1, 2, ... in insertion order) lives in ring slot (s - 1) % capacity
    // while it is among the last `count_`: its age, next_ - s, is then 1..count_. The index
    // is a table of buckets of one cache line: 7 entries (a 32-bit tag from the digest's
    // hash, the low 32 bits of its number) and a mark. An entry whose age (computed in 32
    // bits) is outside 1..count_ is free: forgetting the oldest digest is implicit, no index
    // write. A digest goes to its first bucket (chosen by the hash); only if that one is full
    // of live entries, to its second, and the first bucket's mark then becomes the digest's
    // number. The mark is live by the same rule as an entry: while a digest recorded in its
    // second bucket is remembered, the mark of its first bucket (its own number or a later
    // one) is live. So a lookup reads the first bucket's line and, only while its mark is
    // live (rare: the default size keeps buckets 2/7 full on average; with random digests
    // 0.3 % go to a second bucket and 0.4 % of lookups read one; replay_test bounds them at
    // 1 % and 2 %), the second's, and prefetch_hex() can start that read before the HMAC is
    // checked; the mark expires by age, no write clears it (after the numbers' 32-bit wrap a stale
    // mark may look live: one needless read, never a wrong answer). The ring is read only on a tag
    // match; a match counts only when the ring slot of a live number holds the same bytes, so
    // a stale entry that looks live after the wrap can never make a false replay. When both
    // buckets are full the number goes to `spill_`, checked on every lookup while it is not
    // empty (tags first). The hash is not keyed: a peer holding the HMAC key could search for
    // digests that collide, as with any table indexed by the digest, and slow lookups down;
    // it cannot make the history forget or invent a digest. Memory: the ring (2 MiB at the
    // default 2^16 SHA-256 digests) and 64 bytes per two digests of index (2 MiB), an index
    // of 2 MiB or more on transparent huge pages where the kernel grants them (one TLB
    // entry per 2 MiB: the lookups land anywhere in it).
    static constexpr unsigned ways = 7;
    struct alignas(64) bucket {
        std::uint32_t tag[ways];
        std::uint32_t seq[ways];
        std::uint32_t mark;  // the latest digest displaced from here to its second bucket
        std::uint32_t unused;
    };
    static_assert(sizeof(bucket) == 64);
    struct free_memory {
        std::size_t mapped_bytes;  // non-zero: an mmap'd range of this size, else malloc'd
        void operator()(bucket* p) const;
    };
    using bucket_array = std::unique_ptr<bucket[], free_memory>;
    static bucket_array allocate_buckets(std::size_t n);  // zeroed: every entry and mark stale

    std::uint64_t hash(const std::byte* digest) const;
    bool live(std::uint32_t seq) const {  // age 1..count_, in 32 bits
        const std::uint32_t age = static_cast<std::uint32_t>(next_) - seq;
        return age - 1 < count_;
    }
    /// Whether digest number `seq` (its low 32 bits, live) is `digest`.
    bool holds(std::uint32_t seq, const std::byte* digest) const;
    bool find(const bucket& b, std::uint32_t tag, const std::byte* digest) const;
    unsigned free_way(const bucket& b) const;  // the first entry not live, or `ways`

    std::size_t capacity_, digest_size_;
    mutable std::mutex mutex_;
    std::vector<std::byte> ring_;  // capacity_ digests
    bucket_array buckets_;         // a power of two of them
    std::size_t mask_ = 0;         // bucket count - 1
    unsigned shift_ = 0;           // 64 - log2(bucket count): the second bucket's hash bits
    struct spilled {
        std::uint64_t number;  // full number of a digest no bucket had room for
        std::uint32_t tag;
    };
    std::vector<spilled> spill_;  // oldest first
    std::uint64_t next_;          // the number of the next digest recorded
    std::uint32_t count_ = 0;     // digests remembered: min(recorded, capacity_)
    counters stats_;
};

}  // namespace zsession::detail
