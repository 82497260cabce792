// The replay history's table against a simple model: a set and a FIFO of the same capacity.
#include <doctest/doctest.h>

#include <deque>
#include <random>
#include <set>
#include <thread>

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
    // Two buckets of 7 for up to 100 live digests: most entries go to a second bucket or
    // the overflow list, which must be searched, pruned and reused as exactly as the buckets.
    for (std::size_t capacity : {std::size_t{10}, std::size_t{17}, std::size_t{100}}) {
        CAPTURE(capacity);
        replay_history h(capacity, 32, 2);
        check_against_model(h, capacity, 32);
        CHECK(h.stats().displaced > 0);
    }
}

TEST_CASE("replay history stays exact when first buckets fill and mark their second") {
    // 4-16 buckets for 20-100 live digests: first buckets are often full, digests go to
    // their second bucket and marks come and go; the overflow list is rare or unused.
    for (std::size_t buckets : {std::size_t{4}, std::size_t{8}, std::size_t{16}}) {
        for (std::size_t capacity : {std::size_t{20}, std::size_t{50}, std::size_t{100}}) {
            CAPTURE(buckets);
            CAPTURE(capacity);
            replay_history h(capacity, 32, buckets);
            check_against_model(h, capacity, 32);
            const auto s = h.stats();
            CHECK(s.displaced > 0);
            CHECK(s.second_reads > 0);
        }
    }
}

TEST_CASE("replay history stays exact across the wrap of its 32-bit entry numbers") {
    // Numbering starts 5000 below 2^32: the index's 32-bit numbers wrap mid-run, and the
    // never-used entries (number 0) then look live for a while.
    for (std::size_t buckets : {std::size_t{0}, std::size_t{2}, std::size_t{8}}) {
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

namespace {

/// Random 32-byte digests whose buckets in `h` satisfy `want`.
template <class Pred>
std::vector<std::string> digests_where(const replay_history& h, std::mt19937_64& rng, std::size_t n,
                                       Pred want) {
    std::vector<std::string> out;
    while (out.size() < n) {
        std::string d(32, '\0');
        for (auto& c : d) c = static_cast<char>(rng());
        if (want(h.buckets_of(bytes_view(d)))) out.push_back(d);
    }
    return out;
}

}  // namespace

TEST_CASE(
    "a digest displaced from its full first bucket is found in its second, until it expires") {
    constexpr std::size_t capacity = 20;
    replay_history h(capacity, 32, 64);
    std::mt19937_64 rng(7);
    // The first digest's buckets (distinct) are X and Y; seven more hash first to X, and D
    // hashes first to X with Y as its second; the fillers touch neither X nor Y.
    const auto first = digests_where(h, rng, 1, [](auto p) { return p.first != p.second; });
    const std::size_t x = h.buckets_of(bytes_view(first[0])).first;
    const std::size_t y = h.buckets_of(bytes_view(first[0])).second;
    auto in_x = digests_where(h, rng, 6, [&](auto p) { return p.first == x; });
    in_x.insert(in_x.begin(), first[0]);
    const std::string d =
        digests_where(h, rng, 1, [&](auto p) { return p.first == x && p.second == y; })[0];
    const std::string e = digests_where(h, rng, 1, [&](auto p) { return p.first == x; })[0];
    const auto fillers = digests_where(h, rng, 2 * capacity, [&](auto p) {
        return p.first != x && p.first != y && p.second != x && p.second != y;
    });
    std::size_t next_filler = 0;
    const auto fill = [&](std::size_t n) {
        for (std::size_t i = 0; i < n; ++i) REQUIRE(h.insert(bytes_view(fillers[next_filler++])));
    };

    for (const auto& s : in_x) REQUIRE(h.insert(bytes_view(s)));  // X is full
    CHECK(h.stats().displaced == 0);
    CHECK(h.stats().second_reads == 0);  // no mark yet: one line per lookup
    REQUIRE(h.insert(bytes_view(d)));    // to Y, X marked
    CHECK(h.stats().displaced == 1);
    CHECK_FALSE(h.insert(bytes_view(d)));  // found in Y through X's mark
    CHECK(h.stats().second_reads == 1);

    // D's age becomes capacity: the seven others of X expire, D and X's mark stay live.
    fill(capacity - 1);
    CHECK(h.size() == capacity);
    CHECK_FALSE(h.insert(bytes_view(d)));  // X has no live entry left; D is still in Y
    CHECK(h.stats().second_reads == 2);

    fill(1);  // D expires, and with it X's mark (D was its latest displaced digest)
    const auto reads = h.stats().second_reads;
    CHECK(h.insert(bytes_view(e)));  // a lookup in X reads X only
    CHECK(h.stats().second_reads == reads);
    CHECK(h.insert(bytes_view(d)));  // forgotten: recorded again, now in X (it has room)
    CHECK_FALSE(h.insert(bytes_view(d)));
    CHECK(h.stats().second_reads == reads);
    CHECK(h.stats().displaced == 1);
    for (const auto& s : in_x) CHECK(h.insert(bytes_view(s)));  // forgotten too
    CHECK(h.stats().spilled == 0);
}

TEST_CASE("a later displacement renews the mark, which then outlives the earlier one") {
    constexpr std::size_t capacity = 30;
    replay_history h(capacity, 32, 64);
    std::mt19937_64 rng(11);
    const auto first = digests_where(h, rng, 1, [](auto p) { return p.first != p.second; });
    const std::size_t x = h.buckets_of(bytes_view(first[0])).first;
    auto in_x = digests_where(h, rng, 8, [&](auto p) { return p.first == x && p.second != x; });
    in_x.insert(in_x.begin(), first[0]);  // 9 digests of X: the last two displaced
    const auto fillers =
        digests_where(h, rng, 2 * capacity, [&](auto p) { return p.first != x && p.second != x; });
    for (const auto& s : in_x) REQUIRE(h.insert(bytes_view(s)));
    CHECK(h.stats().displaced == 2);
    // The ninth reaches age `capacity`, the eighth (the first displaced) is forgotten: the
    // ninth is still found, through the mark its displacement renewed (the eighth's expired).
    for (std::size_t i = 0; i + 1 < capacity; ++i) REQUIRE(h.insert(bytes_view(fillers[i])));
    CHECK_FALSE(h.insert(bytes_view(in_x[8])));
    CHECK(h.insert(bytes_view(in_x[7])));  // forgotten
    CHECK(h.stats().spilled == 0);
}

TEST_CASE("at the default size few digests leave their first bucket") {
    // 2^16 digests, 2^15 buckets of 7: about 2 live entries per bucket, so a first bucket is
    // full (and a lookup reads a second line) for well under 1 % (resp. 2 %) of digests.
    replay_history h(std::size_t{1} << 16, 32);
    std::mt19937_64 rng(3);
    constexpr std::size_t n = 300000;
    for (std::size_t i = 0; i < n; ++i) {
        std::string d(32, '\0');
        for (auto& c : d) c = static_cast<char>(rng());
        REQUIRE(h.insert(bytes_view(d)));
    }
    const auto s = h.stats();
    CHECK(s.displaced < n / 100);
    CHECK(s.second_reads < n / 50);
    CHECK(s.spilled < n / 10000);
    MESSAGE("per 300000: displaced ", s.displaced, ", second-line reads ", s.second_reads,
            ", spilled ", s.spilled);
}

TEST_CASE("threads recording the same digests: each is accepted exactly once") {
    // Four threads offer the same 4000 digests (in different orders) to a history that
    // remembers them all, on a small index so that marks and second buckets are in play.
    replay_history h(8000, 32, 1024);
    std::vector<std::string> ds(4000, std::string(32, '\0'));
    std::mt19937_64 rng(5);
    for (auto& d : ds) {
        for (auto& c : d) c = static_cast<char>(rng());
    }
    std::vector<int> accepted(4, 0);
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&, t] {
            for (std::size_t i = 0; i < ds.size(); ++i) {
                const std::size_t k = t % 2 == 0 ? i : ds.size() - 1 - i;
                accepted[static_cast<std::size_t>(t)] += h.insert(bytes_view(ds[k])) ? 1 : 0;
            }
        });
    }
    for (auto& th : threads) th.join();
    CHECK(accepted[0] + accepted[1] + accepted[2] + accepted[3] == 4000);
    CHECK(h.size() == 4000);
    CHECK(h.stats().displaced > 0);
}

TEST_CASE("capacity 0 disables the history") {
    replay_history h(0, 32);
    const std::string d(32, 'x');
    CHECK(h.insert(bytes_view(d)));
    CHECK(h.insert(bytes_view(d)));
    CHECK(h.size() == 0);
}
