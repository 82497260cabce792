#include "zsession/calibrate.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "loopback.hpp"
#include "zsession/session.hpp"

namespace zsession {

std::vector<std::size_t> log_sizes(std::size_t min_bytes, std::size_t max_bytes,
                                   unsigned steps_per_octave) {
    if (min_bytes == 0 || steps_per_octave == 0) {
        throw usage_error("log_sizes: min_bytes and steps_per_octave must be positive");
    }
    std::vector<std::size_t> out;
    for (unsigned k = 0;; ++k) {
        const double x = std::round(min_bytes * std::exp2(double(k) / steps_per_octave));
        const auto size = static_cast<std::size_t>(x);
        if (x > double(max_bytes)) break;
        if (out.empty() || size > out.back()) out.push_back(size);
    }
    if (!out.empty() && out.back() != max_bytes) out.push_back(max_bytes);
    return out;
}

std::size_t pick_crossover(std::span<const crossover_point> points) noexcept {
    if (points.empty()) return 0;
    // Slowdown of one mode at one point against the faster mode there (>= 1).
    auto slowdown = [](const crossover_point& p, bool zero_copy) {
        const double best = std::max(p.copy_msgs_per_s, p.zero_copy_msgs_per_s);
        const double got = zero_copy ? p.zero_copy_msgs_per_s : p.copy_msgs_per_s;
        return got > 0 ? best / got : std::numeric_limits<double>::infinity();
    };
    // Candidate k: points [0, k) copied, [k, n) zero-copy; k == n copies everything.
    std::size_t best_k = 0;
    double best_cost = std::numeric_limits<double>::infinity();
    for (std::size_t k = 0; k <= points.size(); ++k) {
        double cost = 0;
        for (std::size_t i = 0; i < points.size(); ++i) cost += slowdown(points[i], i >= k);
        if (cost < best_cost) {
            best_cost = cost;
            best_k = k;
        }
    }
    return best_k < points.size() ? points[best_k].bytes : points.back().bytes + 1;
}

namespace {

using detail::loopback_pair;
using detail::measure_stream;

// One run over `pair`: messages of `s` with one fresh buffer of `bytes` each.
double session_stream_rate(loopback_pair& pair, const session& s, std::size_t bytes,
                           const calibrate_options& o) {
    auto send_one = [&](zmq::socket_ref sock) {
        message m = s.make_message("calibrate");
        m.buffers.push_back(buffer::take(std::vector<std::byte>(bytes)));
        s.send(sock, m);
    };
    auto send_end = [&](zmq::socket_ref sock) { s.send(sock, s.make_message("calibrate_end")); };
    auto recv_one = [&](zmq::socket_ref sock) { return !s.recv(sock)->buffers.empty(); };
    return measure_stream(pair, o.time_per_point, 1, o.max_messages, send_one, send_end, recv_one)
        .msgs_per_s();
}

session measuring_session(const calibrate_options& o, send_mode mode) {
    session_options so;
    so.key = o.key;
    so.copy_threshold = mode == send_mode::copy ? std::numeric_limits<std::size_t>::max() : 0;
    return session(so);
}

}  // namespace

std::vector<crossover_point> measure_copy_crossover(zmq::context_t& ctx, std::string_view transport,
                                                    const calibrate_options& options) {
    const std::vector<std::size_t> sizes =
        log_sizes(options.min_bytes, options.max_bytes, options.steps_per_octave);
    loopback_pair pair(ctx, transport);
    const session copying = measuring_session(options, send_mode::copy);
    const session sharing = measuring_session(options, send_mode::zero_copy);
    // Warm-up (connection, allocator, caches): not measured.
    calibrate_options warm = options;
    warm.time_per_point = std::chrono::milliseconds(5);
    session_stream_rate(pair, copying, options.min_bytes, warm);

    std::vector<crossover_point> points;
    for (std::size_t bytes : sizes) {
        crossover_point p{bytes, 0, 0};
        for (unsigned r = 0; r < options.repeats; ++r) {
            // Alternate which mode goes first so neither always runs on a warmer machine.
            for (int j = 0; j < 2; ++j) {
                const bool zero_copy = (j + r) % 2 == 1;
                const double rate =
                    session_stream_rate(pair, zero_copy ? sharing : copying, bytes, options);
                double& best = zero_copy ? p.zero_copy_msgs_per_s : p.copy_msgs_per_s;
                best = std::max(best, rate);
            }
        }
        points.push_back(p);
    }
    return points;
}

std::size_t calibrate_copy_threshold(zmq::context_t& ctx, std::string_view transport,
                                     const calibrate_options& options) {
    return pick_crossover(measure_copy_crossover(ctx, transport, options));
}

}  // namespace zsession
