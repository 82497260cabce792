// src/replay.hpp (private) - a bounded history of recent signatures.
#pragma once

#include <cstddef>
#include <deque>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_set>

namespace zsession::detail {

/// Remembers the last `capacity` signatures, oldest forgotten first. Thread-safe.
class replay_history {
  public:
    explicit replay_history(std::size_t capacity) : capacity_(capacity) {}

    /// Records `signature`; false if it is already remembered (a replay). Always true when
    /// the capacity is 0 (protection disabled).
    bool insert(std::string_view signature);
    std::size_t size() const;

  private:
    std::size_t capacity_;
    mutable std::mutex mutex_;
    std::unordered_set<std::string> seen_;
    std::deque<const std::string*> order_;  // points at seen_'s nodes (stable addresses)
};

}  // namespace zsession::detail
