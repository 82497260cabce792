// src/replay.hpp (private) - a bounded history of recent message digests.
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <vector>

#include "zsession/buffer.hpp"

namespace zsession::detail {

/// Remembers the last `capacity` digests (raw HMAC bytes), oldest forgotten first.
/// Storage is allocated once: a ring of digests and an open-addressing index over it, so
/// recording one costs no allocation. Thread-safe (one mutex).
class replay_history {
  public:
    replay_history(std::size_t capacity, std::size_t digest_size);

    /// Records `digest` (digest_size bytes); false if it is already remembered (a replay).
    /// Always true when the capacity is 0 (protection disabled).
    bool insert(bytes_view digest);
    std::size_t size() const;

  private:
    // An index entry: the digest's hash (its first bytes, low 32 bits) above, ring slot + 1
    // below; 0 is empty. The hash gives an entry's home position and rejects most
    // non-matching entries without reading the ring, so an insert touches the index and at
    // most the ring slots of real matches and of the slot it overwrites.
    static constexpr std::uint64_t empty = 0;

    const std::byte* slot(std::uint64_t s) const { return ring_.data() + s * digest_size_; }
    std::uint32_t hash(const std::byte* digest) const;
    std::size_t home_of(std::uint64_t entry) const {  // the entry's preferred index position
        return static_cast<std::size_t>(entry >> 32) & (index_.size() - 1);
    }
    static std::uint64_t slot_of(std::uint64_t entry) { return (entry & 0xFFFFFFFFu) - 1; }
    void erase_slot(std::uint64_t s);  // backward-shift deletion from the index

    std::size_t capacity_, digest_size_;
    mutable std::mutex mutex_;
    std::vector<std::byte> ring_;       // capacity_ digests, oldest at next_ once full
    std::vector<std::uint64_t> index_;  // power-of-two table, linear probing
    std::size_t next_ = 0, count_ = 0;
};

}  // namespace zsession::detail
