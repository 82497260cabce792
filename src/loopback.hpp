// src/loopback.hpp (private, header-only) - two connected sockets over a loopback transport,
// and a one-way stream measured between two threads. Used by calibrate_copy_threshold
// (calibrate.cpp), by the benchmarks and by the tests' socket pairs: one copy of the
// endpoint-per-transport code. Not installed.
#pragma once

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <string>
#include <string_view>
#include <thread>

#include <zmq.hpp>

#include "zsession/error.hpp"

namespace zsession::detail {

/// Two connected sockets over a loopback `transport` in `ctx` ("inproc", "ipc" with a fresh
/// path under /tmp, or "tcp" on 127.0.0.1 with an ephemeral port): `receiver` (of type
/// `bound`) binds, `sender` (of type `connected`) connects. Both get send and receive
/// high-water marks of `hwm` messages and linger 0. Endpoints are unique per process and
/// call, so tests run in parallel. The ipc path is removed when the pair is destroyed.
/// Throws usage_error for another transport, zmq::error_t on socket errors.
class loopback_pair {
  public:
    loopback_pair(zmq::context_t& ctx, std::string_view transport, int hwm = 1000,
                  zmq::socket_type bound = zmq::socket_type::pair,
                  zmq::socket_type connected = zmq::socket_type::pair)
        : sender(ctx, connected), receiver(ctx, bound), ctx_(&ctx) {
        // The counter is per copy of this inline code: the library (calibrate.cpp) and a
        // program linking it each have one, since detail:: is not exported. The object's
        // address keeps their endpoints apart.
        static std::atomic<unsigned> counter{0};
        const std::string tag = std::to_string(::getpid()) + "-" +
                                std::to_string(reinterpret_cast<std::uintptr_t>(this)) + "-" +
                                std::to_string(counter++);
        std::string endpoint;
        if (transport == "inproc") {
            endpoint = "inproc://zsession-loopback-" + tag;
        } else if (transport == "ipc") {
            ipc_path_ = "/tmp/zsession-loopback-" + tag;
            endpoint = "ipc://" + ipc_path_;
        } else if (transport == "tcp") {
            endpoint = "tcp://127.0.0.1:*";
        } else {
            throw usage_error("unknown loopback transport: " + std::string(transport));
        }
        for (zmq::socket_t* s : {&sender, &receiver}) {
            s->set(zmq::sockopt::linger, 0);
            s->set(zmq::sockopt::sndhwm, hwm);
            s->set(zmq::sockopt::rcvhwm, hwm);
        }
        receiver.bind(endpoint);
        sender.connect(receiver.get(zmq::sockopt::last_endpoint));
    }
    ~loopback_pair() {
        sender.close();
        receiver.close();
        if (!ipc_path_.empty()) ::unlink(ipc_path_.c_str());
    }
    loopback_pair(const loopback_pair&) = delete;
    loopback_pair& operator=(const loopback_pair&) = delete;

    zmq::socket_t sender, receiver;

    /// Shuts the context down so that a receive blocked on `receiver` throws (ETERM). For
    /// failure paths only: the context is unusable afterwards.
    void abort() noexcept { ctx_->shutdown(); }

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

}  // namespace zsession::detail
