// tests/support.hpp - shared helpers: socket pairs per transport, frame builders.
#pragma once

#include <atomic>
#include <string>
#include <vector>

#include <unistd.h>
#include <zmq.hpp>

#include "zsession/zsession.hpp"

namespace test {

inline const std::vector<std::string> transports = {"inproc", "ipc", "tcp"};

/// Two connected sockets over `transport`; `a` binds, `b` connects. Endpoints are unique
/// per process and call so tests can run in parallel.
struct socket_pair {
    zmq::socket_t a, b;
    socket_pair(zmq::context_t& ctx, const std::string& transport,
                zmq::socket_type ta = zmq::socket_type::pair,
                zmq::socket_type tb = zmq::socket_type::pair)
        : a(ctx, ta), b(ctx, tb) {
        static std::atomic<int> counter{0};
        const std::string tag = std::to_string(::getpid()) + "-" + std::to_string(counter++);
        std::string endpoint;
        if (transport == "inproc") endpoint = "inproc://zsession-test-" + tag;
        if (transport == "ipc") endpoint = "ipc:///tmp/zsession-test-" + tag;
        if (transport == "tcp") endpoint = "tcp://127.0.0.1:*";
        a.set(zmq::sockopt::linger, 0);
        b.set(zmq::sockopt::linger, 0);
        a.bind(endpoint);
        b.connect(a.get(zmq::sockopt::last_endpoint));
    }
};

inline zmq::message_t frame(std::string_view s) {
    return zmq::message_t(s.data(), s.size());
}

/// Sends raw frames (no session layer).
inline void send_raw(zmq::socket_ref s, zsession::frames&& f) {
    for (std::size_t i = 0; i < f.size(); ++i) {
        s.send(f[i], i + 1 < f.size() ? zmq::send_flags::sndmore : zmq::send_flags::none);
    }
}

/// Deep-copies frames (encode output is single-use; tests mutate copies).
inline zsession::frames clone(const zsession::frames& in) {
    zsession::frames out;
    for (const auto& f : in) out.emplace_back(f.data(), f.size());
    return out;
}

inline std::string str(const zmq::message_t& f) {
    return std::string(f.to_string_view());
}

}  // namespace test
