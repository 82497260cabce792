// src/socket_limits.cpp - ZMQ_MAXMSGSIZE chosen by what a socket carries.
#include "zsession/socket_limits.hpp"

#include <algorithm>
#include <limits>

namespace zsession {

std::int64_t max_frame_bytes(socket_role role, const limits& l) noexcept {
    switch (role) {
        case socket_role::heartbeat:
            return heartbeat_max_frame_bytes;
        case socket_role::publisher:
            return subscription_max_frame_bytes;
        case socket_role::messages:
            break;
    }
    const std::size_t largest =
        std::max({l.max_buffer_bytes, l.max_content_bytes, l.max_map_bytes});
    // libzmq takes an int64; -1 means no limit, so a larger size_t saturates to the maximum.
    constexpr auto most = static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max());
    return static_cast<std::int64_t>(std::min(largest, most));
}

void apply_limits(zmq::socket_ref socket, socket_role role, const limits& l) {
    socket.set(zmq::sockopt::maxmsgsize, max_frame_bytes(role, l));
}

}  // namespace zsession
