#include "replay.hpp"

#include <bit>
#include <cstring>

namespace zsession::detail {

replay_history::replay_history(std::size_t capacity, std::size_t digest_size)
    : capacity_(capacity), digest_size_(digest_size) {
    if (capacity_ == 0) return;
    ring_.resize(capacity_ * digest_size_);
    // At most half full: probe sequences stay short.
    index_.assign(std::bit_ceil(2 * capacity_), empty);
}

std::uint32_t replay_history::hash(const std::byte* digest) const {
    // HMAC output is uniformly distributed: its first bytes are a good hash already. The
    // index has at most 2^25 positions (capacity <= 2^24), so 32 bits address all of it.
    std::uint32_t h = 0;
    std::memcpy(&h, digest, std::min<std::size_t>(sizeof h, digest_size_));
    return h;
}

void replay_history::erase_slot(std::uint64_t s) {
    const std::size_t mask = index_.size() - 1;
    std::size_t i = hash(slot(s)) & mask;
    while (slot_of(index_[i]) != s) i = (i + 1) & mask;  // empty: slot_of is all ones
    // Backward shift: pull later entries of the cluster into the hole when their home
    // position allows it, so lookups never need tombstones.
    for (std::size_t j = (i + 1) & mask; index_[j] != empty; j = (j + 1) & mask) {
        const std::size_t h = home_of(index_[j]);
        if (((j - h) & mask) >= ((j - i) & mask)) {
            index_[i] = index_[j];
            i = j;
        }
    }
    index_[i] = empty;
}

bool replay_history::insert(bytes_view digest) {
    if (capacity_ == 0) return true;
    const std::byte* d = digest.data();
    const std::uint64_t tag = std::uint64_t{hash(d)} << 32;
    const std::size_t mask = index_.size() - 1;
    std::lock_guard lock(mutex_);
    std::size_t i = home_of(tag);
    for (; index_[i] != empty; i = (i + 1) & mask) {
        const std::uint64_t e = index_[i];
        if ((e & ~std::uint64_t{0xFFFFFFFFu}) == tag &&
            std::memcmp(slot(slot_of(e)), d, digest_size_) == 0) {
            return false;
        }
    }
    if (count_ == capacity_) {
        erase_slot(next_);  // forget the oldest
        for (i = home_of(tag); index_[i] != empty; i = (i + 1) & mask) {
        }
    } else {
        ++count_;
    }
    std::memcpy(ring_.data() + next_ * digest_size_, d, digest_size_);
    index_[i] = tag | (next_ + 1);
    next_ = (next_ + 1) % capacity_;
    return true;
}

std::size_t replay_history::size() const {
    std::lock_guard lock(mutex_);
    return count_;
}

}  // namespace zsession::detail
