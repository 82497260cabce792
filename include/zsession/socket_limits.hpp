// zsession/socket_limits.hpp - ZMQ_MAXMSGSIZE chosen by what a socket carries.
#pragma once

#include <cstdint>

#include <zmq.hpp>

#include "zsession/options.hpp"

namespace zsession {

/// What a socket carries, which decides the largest frame a peer may send it.
enum class socket_role {
    /// Session messages (shell, control, stdin, a cluster's queues): the largest frame the
    /// session's limits allow, as apply_limits(socket, limits) sets it.
    messages,
    /// Heartbeat echo sockets: pings are a few bytes (jupyter_client sends b"ping").
    heartbeat,
    /// PUB/XPUB sockets: the only frames that arrive are subscriptions (a topic prefix).
    publisher,
};

/// ZMQ_MAXMSGSIZE for heartbeat sockets: 1 KiB.
inline constexpr std::int64_t heartbeat_max_frame_bytes = 1024;
/// ZMQ_MAXMSGSIZE for PUB/XPUB sockets: 4 KiB, far more than a topic such as
/// "kernel.<uuid>.execute_result" needs.
inline constexpr std::int64_t subscription_max_frame_bytes = 4096;

/// The ZMQ_MAXMSGSIZE that suits `role` (for messages: the largest frame `l` allows).
std::int64_t max_frame_bytes(socket_role role, const limits& l = {}) noexcept;

/// Sets ZMQ_MAXMSGSIZE on `socket` for `role`. Call before bind/connect: it applies to
/// connections made afterwards. libzmq then disconnects a peer that announces a larger frame
/// before allocating it.
///
/// What this bounds: one frame. It does not bound a message: libzmq accepts any number of
/// frames per message and holds them all until the last one arrives (ZMQ_RCVHWM counts
/// whole messages only), so a peer that can connect can still make the receiver hold
/// (frames x this size) per connection, before any session limit or signature is checked.
/// Only keeping strangers from connecting bounds that: see curve.hpp and docs/CURVEZMQ.md.
void apply_limits(zmq::socket_ref socket, socket_role role, const limits& l = {});

}  // namespace zsession
