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
    static constexpr std::uint32_t empty = 0;  // index_ entries hold ring slot + 1

    const std::byte* slot(std::uint32_t s) const { return ring_.data() + s * digest_size_; }
    std::size_t home(const std::byte* digest) const;  // the digest's preferred index position
    bool same(std::uint32_t s, const std::byte* digest) const;
    void erase_slot(std::uint32_t s);  // backward-shift deletion from the index

    std::size_t capacity_, digest_size_;
    mutable std::mutex mutex_;
    std::vector<std::byte> ring_;       // capacity_ digests, oldest at next_ once full
    std::vector<std::uint32_t> index_;  // power-of-two table, linear probing
    std::size_t next_ = 0, count_ = 0;
};

}  // namespace zsession::detail
