// The replay history's table against a simple model: a set and a FIFO of the same capacity.
#include <doctest/doctest.h>

#include <deque>
#include <random>
#include <set>

#include "../src/replay.hpp"

using zsession::bytes_view;
using zsession::detail::replay_history;

namespace {

/// `h` against the model over 20000 digests of `size` bytes, a third of them repeats.
void check_against_model(replay_history& h, std::size_t capacity, std::size_t size) {
    std::set<std::string> model;
    std::deque<std::string> order;
    std::mt19937_64 rng(capacity);
    std::vector<std::string> seen;
    for (int i = 0; i < 20000; ++i) {
        std::string d(size, '\0');
        if (!seen.empty() && rng() % 3 == 0) {
            d = seen[rng() % seen.size()];  // a repeat, remembered or forgotten
        } else {
            // Few distinct first bytes: digests alike in their first word.
            for (auto& c : d) c = static_cast<char>(rng());
            d[0] = static_cast<char>(rng() % 4);
            for (int k = 1; k < 8; ++k) d[static_cast<std::size_t>(k)] = 0;
            seen.push_back(d);
        }
        const bool fresh = model.insert(d).second;
        if (fresh) {
            order.push_back(d);
            if (order.size() > capacity) {
                model.erase(order.front());
                order.pop_front();
            }
        }
        REQUIRE(h.insert(bytes_view(d)) == fresh);
        REQUIRE(h.size() == model.size());
    }
}

}  // namespace

TEST_CASE("replay history behaves as a FIFO-bounded set, through many evictions") {
    for (std::size_t capacity : {std::size_t{1}, std::size_t{3}, std::size_t{100}}) {
        CAPTURE(capacity);
        replay_history h(capacity, 32);
        check_against_model(h, capacity, 32);
    }
}

TEST_CASE("replay history stays exact when its buckets overflow") {
    // Two buckets of 8 for up to 100 live digests: most entries go to the overflow list,
    // which must be searched, pruned and reused as exactly as the buckets.
    for (std::size_t capacity : {std::size_t{10}, std::size_t{17}, std::size_t{100}}) {
        CAPTURE(capacity);
        replay_history h(capacity, 32, 2);
        check_against_model(h, capacity, 32);
    }
}

TEST_CASE("replay history stays exact across the wrap of its 32-bit entry numbers") {
    // Numbering starts 5000 below 2^32: the index's 32-bit numbers wrap mid-run, and the
    // never-used entries (number 0) then look live for a while.
    for (std::size_t buckets : {std::size_t{0}, std::size_t{2}}) {
        CAPTURE(buckets);
        replay_history h(100, 32, buckets, (std::uint64_t{1} << 32) - 5000);
        check_against_model(h, 100, 32);
    }
}

TEST_CASE("replay history hashes digests of every HMAC size") {
    // 16 (md5), 20 (sha1), 28 (sha224), 48 (sha384), 64 (sha512): a tail of the last
    // 8-byte word or none.
    for (std::size_t size : {16, 20, 28, 48, 64}) {
        CAPTURE(size);
        replay_history h(50, size);
        check_against_model(h, 50, size);
    }
}

TEST_CASE("capacity 0 disables the history") {
    replay_history h(0, 32);
    const std::string d(32, 'x');
    CHECK(h.insert(bytes_view(d)));
    CHECK(h.insert(bytes_view(d)));
    CHECK(h.size() == 0);
}
