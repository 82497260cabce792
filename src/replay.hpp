// src/replay.hpp (private) - a bounded history of recent message digests.
#pragma once

#include <cstddef>
#include <cstdint>
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
    /// index drives the overflow list, a first number near 2^32 the numbers' wrap.
    replay_history(std::size_t capacity, std::size_t digest_size, std::size_t bucket_count = 0,
                   std::uint64_t first_number = 1);

    /// Records `digest` (digest_size bytes); false if it is already remembered (a replay).
    /// Always true when the capacity is 0 (protection disabled).
    bool insert(bytes_view digest);
    std::size_t size() const;

  private:
    // Digest number s (1, 2, ... in insertion order) lives in ring slot (s - 1) % capacity
    // while it is among the last `count_`: its age, next_ - s, is then 1..count_. The index
    // is a table of 8-entry buckets of one cache line; a digest's entry (a 32-bit tag from
    // its hash, the low 32 bits of its number) is in one of two buckets chosen by the hash,
    // the emptier when it was recorded. An entry whose age (computed in 32 bits) is outside
    // 1..count_ is free: forgetting the oldest digest is implicit, no index write. A lookup
    // reads the two bucket lines, and the ring only for a tag match; a match counts only
    // when the ring slot of a live number holds the same bytes, so a stale entry that looks
    // live after the 32-bit numbers wrap can never make a false replay. When both buckets
    // are full of live entries (beyond 5-6 is already improbable at the default size) the
    // number goes to `spill_`, checked on every lookup while it is not empty (tags first).
    // The hash is not keyed: a peer holding the HMAC key could search for digests that
    // collide, as with any table indexed by the digest, and slow lookups down; it cannot
    // make the history forget or invent a digest.
    static constexpr unsigned ways = 8;
    struct alignas(64) bucket {
        std::uint32_t tag[ways];
        std::uint32_t seq[ways];
    };

    std::uint64_t hash(const std::byte* digest) const;
    bool live(std::uint32_t seq) const {  // age 1..count_, in 32 bits
        const std::uint32_t age = static_cast<std::uint32_t>(next_) - seq;
        return age - 1 < count_;
    }
    /// Whether digest number `seq` (its low 32 bits, live) is `digest`.
    bool holds(std::uint32_t seq, const std::byte* digest) const;
    bool find(const bucket& b, std::uint32_t tag, const std::byte* digest) const;
    unsigned free_ways(const bucket& b) const;  // entries not live

    std::size_t capacity_, digest_size_;
    mutable std::mutex mutex_;
    std::vector<std::byte> ring_;  // capacity_ digests
    std::vector<bucket> buckets_;  // a power of two of them
    unsigned shift_ = 0;           // 64 - log2(buckets_.size()): the second bucket's hash bits
    struct spilled {
        std::uint64_t number;  // full number of a digest no bucket had room for
        std::uint32_t tag;
    };
    std::vector<spilled> spill_;  // oldest first
    std::uint64_t next_;          // the number of the next digest recorded
    std::uint32_t count_ = 0;     // digests remembered: min(recorded, capacity_)
};

}  // namespace zsession::detail
