// zsession/calibrate.hpp - measures where sending a buffer zero-copy becomes cheaper than
// copying it, on this machine and transport, and returns a copy_threshold to use.
//
//     zmq::context_t ctx;
//     session_options o;
//     o.copy_threshold = calibrate_copy_threshold(ctx, "tcp");
//
// The measurement streams signed session messages with one buffer each from one thread to
// another over real sockets, alternating copy and zero-copy runs per size (so both see the
// same machine load), with a fresh buffer per message whose keepalive libzmq releases: the
// real zero-copy costs (a pin, libzmq's message bookkeeping, a free on another thread) are
// paid, not hidden behind a reused static buffer.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <zmq.hpp>

namespace zsession {

/// What calibrate_copy_threshold measures and for how long. The defaults take about
/// 2 x repeats x 13 sizes x time_per_point (about 3 s) per transport.
struct calibrate_options {
    std::size_t min_bytes = 256;         ///< smallest buffer measured
    std::size_t max_bytes = 256 * 1024;  ///< largest buffer measured
    unsigned steps_per_octave = 2;       ///< sizes per doubling (2: 256, 362, 512, ...)
    /// Length of one run (one size, one mode). Runs end early at max_messages.
    std::chrono::milliseconds time_per_point{50};
    std::uint64_t max_messages = 200'000;
    /// Runs per size and mode, interleaved copy/zero-copy; the fastest of each is kept
    /// (load from other processes only ever slows a run down).
    unsigned repeats = 3;
    /// Signing key of the measuring sessions (signing costs the same in both modes).
    std::string key = "zsession-calibrate";
};

/// Throughput of one size in both modes, in messages per second.
struct crossover_point {
    std::size_t bytes = 0;
    double copy_msgs_per_s = 0;
    double zero_copy_msgs_per_s = 0;
};

/// Sizes from `min_bytes` to `max_bytes` (both included), `steps_per_octave` per doubling,
/// geometrically spaced and rounded to whole bytes, strictly increasing. Empty when
/// min_bytes > max_bytes; throws usage_error when min_bytes is 0 or steps_per_octave is 0.
std::vector<std::size_t> log_sizes(std::size_t min_bytes, std::size_t max_bytes,
                                   unsigned steps_per_octave);

/// Pure: the threshold that makes a session fastest over the measured points. Tries every
/// measured size as threshold (smaller sizes copied, it and larger ones zero-copy) and "copy
/// everything measured" (returns the largest size + 1), and returns the one whose summed
/// slowdown against the faster mode at each point is smallest (the smaller threshold on a
/// tie). This ignores a single noisy point instead of letting it move the threshold, unlike
/// "first size where zero-copy wins". `points` must be sorted by bytes; empty returns 0.
std::size_t pick_crossover(std::span<const crossover_point> points) noexcept;

/// Measures both curves over `transport` ("inproc", "ipc" or "tcp"; loopback only) in
/// `ctx`. Blocks for the whole measurement, using the calling thread and one more.
/// Throws usage_error for an unknown transport, zmq::error_t on socket errors.
std::vector<crossover_point> measure_copy_crossover(zmq::context_t& ctx, std::string_view transport,
                                                    const calibrate_options& options = {});

/// pick_crossover(measure_copy_crossover(ctx, transport, options)).
std::size_t calibrate_copy_threshold(zmq::context_t& ctx, std::string_view transport,
                                     const calibrate_options& options = {});

}  // namespace zsession
