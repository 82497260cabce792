#include "replay.hpp"

#include <algorithm>
#include <bit>
#include <cstring>

namespace zsession::detail {

replay_history::replay_history(std::size_t capacity, std::size_t digest_size,
                               std::size_t bucket_count, std::uint64_t first_number)
    : capacity_(capacity),
      digest_size_(digest_size),
      next_(std::max<std::uint64_t>(first_number, 1)) {
    if (capacity_ == 0) return;
    ring_.resize(capacity_ * digest_size_);
    // Four entries per digest remembered: buckets hold 2 on average, so two choices of 8
    // almost never both fill up.
    if (bucket_count == 0) bucket_count = (capacity_ + 1) / 2;
    bucket_count = std::max<std::size_t>(2, std::bit_ceil(bucket_count));  // so shift_ < 64
    buckets_.assign(bucket_count, bucket{});
    shift_ = 64 - static_cast<unsigned>(std::countr_zero(bucket_count));
}

std::uint64_t replay_history::hash(const std::byte* digest) const {
    // Every byte counts (a digest's first bytes alone are enough for HMAC output, but the
    // table must stay exact and fast for any bytes): a multiply-xor over 8-byte words.
    std::uint64_t h = 0;
    std::size_t i = 0;
    for (; i + 8 <= digest_size_; i += 8) {
        std::uint64_t w;
        std::memcpy(&w, digest + i, 8);
        h = (h ^ w) * 0x9E3779B97F4A7C15u;
        h ^= h >> 32;
    }
    if (i < digest_size_) {
        std::uint64_t w = 0;
        std::memcpy(&w, digest + i, digest_size_ - i);
        h = (h ^ w) * 0x9E3779B97F4A7C15u;
        h ^= h >> 32;
    }
    return h;
}

bool replay_history::holds(std::uint32_t seq, const std::byte* digest) const {
    const std::uint64_t number = next_ - (static_cast<std::uint32_t>(next_) - seq);
    const std::byte* slot = ring_.data() + ((number - 1) % capacity_) * digest_size_;
    return std::memcmp(slot, digest, digest_size_) == 0;
}

bool replay_history::find(const bucket& b, std::uint32_t tag, const std::byte* digest) const {
    for (unsigned k = 0; k < ways; ++k) {
        if (b.tag[k] == tag && live(b.seq[k]) && holds(b.seq[k], digest)) return true;
    }
    return false;
}

unsigned replay_history::free_ways(const bucket& b) const {
    unsigned n = 0;
    for (unsigned k = 0; k < ways; ++k) n += live(b.seq[k]) ? 0 : 1;
    return n;
}

bool replay_history::insert(bytes_view digest) {
    if (capacity_ == 0) return true;
    const std::byte* d = digest.data();
    const std::uint64_t h = hash(d);
    const auto tag = static_cast<std::uint32_t>(h >> 32);
    bucket& b1 = buckets_[h & (buckets_.size() - 1)];
    bucket& b2 = buckets_[(h * 0xFF51AFD7ED558CCDu) >> shift_];
    std::lock_guard lock(mutex_);
    if (find(b1, tag, d) || find(b2, tag, d)) return false;
    const auto spilled_live = [this](const spilled& s) { return next_ - s.number - 1 < count_; };
    for (const spilled& s : spill_) {
        if (s.tag == tag && spilled_live(s) && holds(static_cast<std::uint32_t>(s.number), d)) {
            return false;
        }
    }

    const unsigned free1 = free_ways(b1), free2 = free_ways(b2);
    if (free1 == 0 && free2 == 0) {
        spill_.push_back({next_, tag});  // the list holds no stale entry (pruned below)
    } else {
        bucket& b = free1 >= free2 ? b1 : b2;
        unsigned k = 0;
        while (live(b.seq[k])) ++k;
        b.tag[k] = tag;
        b.seq[k] = static_cast<std::uint32_t>(next_);
    }
    std::memcpy(ring_.data() + ((next_ - 1) % capacity_) * digest_size_, d, digest_size_);
    ++next_;
    if (count_ < capacity_) ++count_;
    // Oldest first: the entries this insert made stale are at the front.
    if (!spill_.empty() && !spilled_live(spill_.front())) {
        std::erase_if(spill_, [&](const spilled& s) { return !spilled_live(s); });
    }
    return true;
}

std::size_t replay_history::size() const {
    std::lock_guard lock(mutex_);
    return count_;
}

}  // namespace zsession::detail
