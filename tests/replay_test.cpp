// The replay history's table against a simple model: a set and a FIFO of the same capacity.
#include <doctest/doctest.h>

#include <deque>
#include <random>
#include <set>

#include "../src/replay.hpp"

using zsession::bytes_view;
using zsession::detail::replay_history;

TEST_CASE("replay history behaves as a FIFO-bounded set, through many evictions") {
    for (std::size_t capacity : {std::size_t{1}, std::size_t{3}, std::size_t{100}}) {
        CAPTURE(capacity);
        replay_history h(capacity, 32);
        std::set<std::string> model;
        std::deque<std::string> order;
        std::mt19937_64 rng(capacity);
        std::vector<std::string> seen;
        for (int i = 0; i < 20000; ++i) {
            std::string d(32, '\0');
            if (!seen.empty() && rng() % 3 == 0) {
                d = seen[rng() % seen.size()];  // a repeat, remembered or forgotten
            } else {
                // Few distinct first bytes: long probe clusters and many hash collisions.
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
}

TEST_CASE("capacity 0 disables the history") {
    replay_history h(0, 32);
    const std::string d(32, 'x');
    CHECK(h.insert(bytes_view(d)));
    CHECK(h.insert(bytes_view(d)));
    CHECK(h.size() == 0);
}
