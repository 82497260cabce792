#include "replay.hpp"

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace zsession::detail {

namespace {

constexpr std::size_t huge_page = std::size_t{2} << 20;

}  // namespace

void replay_history::free_memory::operator()(bucket* p) const {
#if defined(__linux__)
    if (mapped_bytes != 0) {
        (void)munmap(p, mapped_bytes);
        return;
    }
#endif
    std::free(p);
}

replay_history::bucket_array replay_history::allocate_buckets(std::size_t n) {
    const std::size_t bytes = n * sizeof(bucket);
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    // An index of 2 MiB or more gets its own mapping, aligned to (and a multiple of) 2 MiB and
    // asked to be backed by transparent huge pages: its lookups land anywhere in it, one TLB
    // entry per 2 MiB instead of one per 4 KiB. Its own mapping, not malloc's memory: the
    // hint must not outlive the index on heap memory malloc hands out later, and fresh
    // anonymous pages are already zero, so nothing is touched before its first use (no
    // compaction stall at construction). If mmap fails or THP is off it is ordinary memory.
    if (bytes >= huge_page) {
        const std::size_t size = (bytes + huge_page - 1) / huge_page * huge_page;
        void* m = mmap(nullptr, size + huge_page, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m != MAP_FAILED) {
            // Keep the 2 MiB-aligned `size` bytes inside the mapping, unmap the rest.
            const auto base = reinterpret_cast<std::uintptr_t>(m);
            const std::uintptr_t start = (base + huge_page - 1) / huge_page * huge_page;
            if (start > base) (void)munmap(m, start - base);
            const std::uintptr_t tail = base + size + huge_page - (start + size);
            if (tail != 0) (void)munmap(reinterpret_cast<void*>(start + size), tail);
            void* p = reinterpret_cast<void*>(start);
            (void)madvise(p, size, MADV_HUGEPAGE);  // a hint: failure is fine
            return bucket_array(static_cast<bucket*>(p), free_memory{size});
        }
    }
#endif
    void* p = std::aligned_alloc(alignof(bucket), bytes);  // bytes: a multiple of 64
    if (p == nullptr) throw std::bad_alloc();
    std::memset(p, 0, bytes);
    return bucket_array(static_cast<bucket*>(p), free_memory{0});
}

replay_history::replay_history(std::size_t capacity, std::size_t digest_size,
                               std::size_t bucket_count, std::uint64_t first_number)
    : capacity_(capacity),
      digest_size_(digest_size),
      next_(std::max<std::uint64_t>(first_number, 1)) {
    if (capacity_ == 0) return;
    ring_.resize(capacity_ * digest_size_);
    // Seven entries per bucket, two digests per bucket on average: a first bucket is full
    // (7 live) for under 1 % of the digests recorded, so second buckets are rarely read.
    if (bucket_count == 0) bucket_count = (capacity_ + 1) / 2;
    bucket_count = std::max<std::size_t>(2, std::bit_ceil(bucket_count));  // so shift_ < 64
    buckets_ = allocate_buckets(bucket_count);
    mask_ = bucket_count - 1;
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

unsigned replay_history::free_way(const bucket& b) const {
    unsigned k = 0;
    while (k < ways && live(b.seq[k])) ++k;
    return k;
}

void replay_history::prefetch_hex(bytes_view hex) const noexcept {
    if (capacity_ == 0 || hex.size() != 2 * digest_size_ || digest_size_ > 64) return;
    std::byte digest[64];
    const auto* c = reinterpret_cast<const unsigned char*>(hex.data());
    for (std::size_t i = 0; i < digest_size_; ++i) {
        // '0'-'9' -> 0-9, 'a'-'f' (and 'A'-'F') -> 10-15; other bytes give some value: the
        // line fetched is then only a wasted hint.
        const auto nibble = [](unsigned v) { return (v & 0xFu) + 9u * (v >> 6); };
        digest[i] = static_cast<std::byte>((nibble(c[2 * i]) << 4) | (nibble(c[2 * i + 1]) & 0xFu));
    }
    __builtin_prefetch(&buckets_[hash(digest) & mask_]);
}

replay_history::placement replay_history::buckets_of(bytes_view digest) const {
    if (capacity_ == 0) return {0, 0};
    const std::uint64_t h = hash(digest.data());
    return {h & mask_, (h * 0xFF51AFD7ED558CCDu) >> shift_};
}

bool replay_history::insert(bytes_view digest) {
    if (capacity_ == 0) return true;
    const std::byte* d = digest.data();
    const std::uint64_t h = hash(d);
    const auto tag = static_cast<std::uint32_t>(h >> 32);
    bucket& b1 = buckets_[h & mask_];
    bucket& b2 = buckets_[(h * 0xFF51AFD7ED558CCDu) >> shift_];
    std::lock_guard lock(mutex_);
    const auto seq = static_cast<std::uint32_t>(next_);
    if (find(b1, tag, d)) return false;
    // A live mark: some digest that found b1 full may be remembered in its second bucket.
    const bool marked = live(b1.mark);
    if (marked) {
        ++stats_.second_reads;
        if (find(b2, tag, d)) return false;
    }
    const auto spilled_live = [this](const spilled& s) { return next_ - s.number - 1 < count_; };
    for (const spilled& s : spill_) {
        if (s.tag == tag && spilled_live(s) && holds(static_cast<std::uint32_t>(s.number), d)) {
            return false;
        }
    }

    if (const unsigned k = free_way(b1); k < ways) {
        b1.tag[k] = tag;
        b1.seq[k] = seq;
    } else if (const unsigned k2 = free_way(b2); k2 < ways) {
        b2.tag[k2] = tag;
        b2.seq[k2] = seq;
        b1.mark = seq;
        ++stats_.displaced;
    } else {
        spill_.push_back({next_, tag});  // the list holds no stale entry (pruned below)
        ++stats_.spilled;
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

replay_history::counters replay_history::stats() const {
    std::lock_guard lock(mutex_);
    return stats_;
}

}  // namespace zsession::detail
