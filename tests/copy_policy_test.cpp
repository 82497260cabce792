#include "zsession/copy_policy.hpp"

#include <doctest/doctest.h>

#include <limits>

using zsession::choose_send_mode;
using zsession::send_mode;

TEST_CASE("copy below the threshold, zero-copy at and above it") {
    for (std::size_t t : {std::size_t{1}, std::size_t{1024}, std::size_t{50'000}}) {
        CAPTURE(t);
        CHECK(choose_send_mode(t - 1, t) == send_mode::copy);
        CHECK(choose_send_mode(t, t) == send_mode::zero_copy);
        CHECK(choose_send_mode(t + 1, t) == send_mode::zero_copy);
    }
}

TEST_CASE("threshold 0 is always zero-copy; SIZE_MAX always copies") {
    constexpr auto max = std::numeric_limits<std::size_t>::max();
    CHECK(choose_send_mode(0, 0) == send_mode::zero_copy);
    CHECK(choose_send_mode(1, 0) == send_mode::zero_copy);
    CHECK(choose_send_mode(max - 1, max) == send_mode::copy);
    static_assert(choose_send_mode(10, 11) == send_mode::copy, "usable at compile time");
}
