// tests/support.hpp - shared helpers: socket pairs per transport, frame builders.
#pragma once

#include <string>
#include <vector>

#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "../src/loopback.hpp"
#include "zsession/zsession.hpp"

namespace test {

inline const std::vector<std::string> transports = {"inproc", "ipc", "tcp"};

/// Two connected sockets over `transport`; `a` binds, `b` connects (the library's loopback
/// pair, src/loopback.hpp, also used by calibrate and the benchmarks).
struct socket_pair : zsession::detail::loopback_pair {
    zmq::socket_t& a = receiver;
    zmq::socket_t& b = sender;
    socket_pair(zmq::context_t& ctx, const std::string& transport,
                zmq::socket_type ta = zmq::socket_type::pair,
                zmq::socket_type tb = zmq::socket_type::pair)
        : loopback_pair(ctx, transport, 1000, ta, tb) {}
};

inline zmq::message_t frame(std::string_view s) {
    return zmq::message_t(s.data(), s.size());
}

/// Sends raw frames (no session layer).
inline void send_raw(zmq::socket_ref s, zsession::frames&& f) {
    (void)zmq::send_multipart(s, f);
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
