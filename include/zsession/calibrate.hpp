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
#include <exception>
#include <span>
#include <string>
#include <string_view>
#include <thread>
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

// -- building blocks, also used by the benchmarks --------------------------------------------

/// Two connected PAIR sockets over a loopback `transport` in `ctx` ("inproc", "ipc" with a
/// fresh path under /tmp, or "tcp" on 127.0.0.1 with an ephemeral port). Both ends get
/// send and receive high-water marks of `hwm` messages and linger 0. The ipc path is
/// removed when the pair is destroyed. Throws usage_error for another transport.
struct loopback_pair {
    loopback_pair(zmq::context_t& ctx, std::string_view transport, int hwm = 1000);
    ~loopback_pair();
    loopback_pair(const loopback_pair&) = delete;
    loopback_pair& operator=(const loopback_pair&) = delete;

    zmq::socket_t sender, receiver;

    /// Shuts the context down so that a receive blocked on `receiver` throws (ETERM). For
    /// failure paths only: the context is unusable afterwards.
    void abort() noexcept;

  private:
    zmq::context_t* ctx_;
    std::string ipc_path_;
};

/// Result of one stream: messages received (the terminator not counted) and the time from
/// the first send to the terminator's arrival.
struct stream_result {
    std::uint64_t messages = 0;
    double seconds = 0;
    double msgs_per_s() const noexcept { return seconds > 0 ? messages / seconds : 0; }
};

/// Streams messages one way over `pair` for about `duration` (at least `min_messages`, at
/// most `max_messages`): the calling thread calls send_one(sender) repeatedly, then
/// send_end(sender) once; a second thread calls recv_one(receiver) until it returns false
/// (it saw the terminator). Each callable must send or receive one whole message. An
/// exception from the receiving side is rethrown here after the thread joined.
template <class SendOne, class SendEnd, class RecvOne>
stream_result measure_stream(loopback_pair& pair, std::chrono::nanoseconds duration,
                             std::uint64_t min_messages, std::uint64_t max_messages,
                             SendOne send_one, SendEnd send_end, RecvOne recv_one) {
    using clock = std::chrono::steady_clock;
    std::uint64_t received = 0;
    std::exception_ptr failure;
    std::thread receiver([&] {
        try {
            while (recv_one(zmq::socket_ref(pair.receiver))) ++received;
        } catch (...) {
            failure = std::current_exception();
        }
    });
    const auto start = clock::now();
    std::uint64_t sent = 0;
    try {
        while (sent < max_messages && (sent < min_messages || clock::now() - start < duration)) {
            send_one(zmq::socket_ref(pair.sender));
            ++sent;
        }
        send_end(zmq::socket_ref(pair.sender));
    } catch (...) {
        pair.abort();  // the terminator cannot be sent: wake the receiver with ETERM
        receiver.join();
        throw;
    }
    receiver.join();
    const std::chrono::duration<double> elapsed = clock::now() - start;
    if (failure) std::rethrow_exception(failure);
    return {received, elapsed.count()};
}

}  // namespace zsession
