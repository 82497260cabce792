// The pure parts of the calibration: the size grid and the choice of a threshold from
// measured curves (synthetic curves here; nothing is timed).
#include "zsession/calibrate.hpp"

#include <doctest/doctest.h>

#include <vector>

#include "zsession/error.hpp"

using zsession::crossover_point;
using zsession::pick_crossover;

namespace {

// Copy costs a + b*bytes per message, zero-copy a flat c: they cross at (c - a) / b.
std::vector<crossover_point> linear_curves(double a, double b, double c) {
    std::vector<crossover_point> out;
    for (std::size_t bytes : zsession::log_sizes(256, 256 * 1024, 2)) {
        out.push_back({bytes, 1e9 / (a + b * bytes), 1e9 / c});
    }
    return out;
}

}  // namespace

TEST_CASE("log_sizes: geometric, strictly increasing, both ends included") {
    CHECK(zsession::log_sizes(256, 2048, 1) == std::vector<std::size_t>{256, 512, 1024, 2048});
    CHECK(zsession::log_sizes(256, 1024, 2) == std::vector<std::size_t>{256, 362, 512, 724, 1024});
    CHECK(zsession::log_sizes(100, 300, 1) == std::vector<std::size_t>{100, 200, 300});
    CHECK(zsession::log_sizes(1, 3, 8) == std::vector<std::size_t>{1, 2, 3});
    CHECK(zsession::log_sizes(10, 5, 1).empty());
    CHECK_THROWS_AS(zsession::log_sizes(0, 5, 1), zsession::usage_error);
    CHECK_THROWS_AS(zsession::log_sizes(1, 5, 0), zsession::usage_error);
}

TEST_CASE("pick_crossover: the first grid size at or above where the curves cross") {
    // 1000 ns + 0.5 ns/B against a flat 2000 ns: crossing at 2000 B; grid: 1448, 2048.
    CHECK(pick_crossover(linear_curves(1000, 0.5, 2000)) == 2048);
    // crossing at 20000 B; grid: 16384, 23170.
    CHECK(pick_crossover(linear_curves(1000, 0.05, 2000)) == 23170);
}

TEST_CASE("pick_crossover: one noisy point does not move the threshold") {
    auto points = linear_curves(1000, 0.5, 2000);
    // A spike at 64 KiB where copy looks faster than zero-copy.
    for (auto& p : points) {
        if (p.bytes == 65536) std::swap(p.copy_msgs_per_s, p.zero_copy_msgs_per_s);
    }
    CHECK(pick_crossover(points) == 2048);
}

TEST_CASE("pick_crossover: edges") {
    CHECK(pick_crossover({}) == 0);
    // Zero-copy always faster: the smallest measured size.
    CHECK(pick_crossover(linear_curves(3000, 0.5, 2000)) == 256);
    // Copy always faster: everything measured is copied.
    CHECK(pick_crossover(linear_curves(1000, 0, 2000)) == 256 * 1024 + 1);
    // Equal everywhere: the smaller threshold.
    const std::vector<crossover_point> flat = {{100, 5, 5}, {200, 5, 5}};
    CHECK(pick_crossover(flat) == 100);
    // A mode that never completed a message counts as infinitely slow.
    const std::vector<crossover_point> dead = {{100, 5, 0}, {200, 5, 0}};
    CHECK(pick_crossover(dead) == 201);
}
