// zsession/session.hpp - the thin socket layer: makes messages and sends and receives them
// through its codec (codec.hpp), which signs, encodes, verifies and decodes.
#pragma once

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <zmq.hpp>

#include "zsession/buffer.hpp"
#include "zsession/codec.hpp"
#include "zsession/error.hpp"
#include "zsession/header.hpp"
#include "zsession/message.hpp"
#include "zsession/options.hpp"

namespace zsession {

/// Outcome of the non-throwing receive.
struct recv_result {
    /// ok with a message, ok without one (would block), or why a bad message was dropped.
    errc code = errc::ok;
    std::optional<message> msg;
    std::string error_message;  ///< what() of the error when code != ok

    bool would_block() const noexcept { return code == errc::ok && !msg; }
    explicit operator bool() const noexcept { return msg.has_value(); }
};

/// A Jupyter-protocol session: the options (identity of the sender, registry, offload
/// policy) and a codec (signing key, replay history, packer, limits), plus the sockets' side:
/// send, recv, try_recv, recv_frames.
///
/// Thread safety: every member function is const and may be called concurrently from
/// several threads on one session (a kernel's shell, control and iopub threads share one):
/// the HMAC key state is read-only after construction and duplicated per message, and the
/// replay history is guarded by a mutex. Sockets are not thread-safe (a libzmq rule): use
/// each socket from one thread at a time.
class session {
  public:
    /// Throws usage_error for an unknown signature scheme (see codec).
    explicit session(session_options options);
    ~session();
    session(session&&) noexcept;
    session& operator=(session&&) noexcept;

    const session_options& options() const noexcept;
    /// This session's id (options().session_id, or the UUID drawn for it).
    const std::string& id() const noexcept;

    /// A fresh header: new msg_id, this session's username and id, the current date.
    zsession::header make_header(std::string_view msg_type) const;
    /// A new message with a fresh header and no parent.
    message make_message(std::string_view msg_type) const;
    /// A reply: fresh header, parent_header = request.header, same routing identities.
    message make_reply(const message& request, std::string_view msg_type) const;

    /// The codec this session encodes and decodes with (no socket).
    const zsession::codec& codec() const noexcept;

    // -- forwarded to codec() (kept so callers need not reach through) -------------------

    /// codec().sign(parts).
    [[nodiscard]] std::string sign(std::span<const bytes_view, 4> parts) const;
    /// codec().encode(m).
    [[nodiscard]] frames encode(const message& m) const;
    /// codec().encode_into(m, out).
    void encode_into(const message& m, frames& out) const;
    /// codec().decode(in).
    [[nodiscard]] message decode(frames&& in) const;

    // -- sockets -----------------------------------------------------------------------------

    /// Encodes and sends `m` (zmq::send_multipart). Returns false only when flags contain
    /// dontwait and the socket cannot take the message now (nothing was sent). Throws what
    /// encode throws, and zmq::error_t on socket errors.
    bool send(zmq::socket_ref socket, const message& m,
              zmq::send_flags flags = zmq::send_flags::none) const;

    /// Receives one whole message. Empty when flags contain dontwait and none is waiting.
    /// A bad message is consumed whole (never leaves the socket mid-message), then its typed
    /// error is thrown; the next call receives the next message.
    [[nodiscard]] std::optional<message> recv(zmq::socket_ref socket,
                                              zmq::recv_flags flags = zmq::recv_flags::none) const;

    /// Non-throwing twin of recv for bad input: a bad message is consumed and reported in
    /// the result. Socket errors (zmq::error_t) and std::bad_alloc still throw.
    [[nodiscard]] recv_result try_recv(zmq::socket_ref socket,
                                       zmq::recv_flags flags = zmq::recv_flags::none) const;

    /// Receives the raw frames of one message, enforcing limits.max_frames() and
    /// max_message_bytes while draining. Empty on would-block. Throws limit_error after the
    /// whole oversized message was drained.
    [[nodiscard]] std::optional<frames> recv_frames(
        zmq::socket_ref socket, zmq::recv_flags flags = zmq::recv_flags::none) const;

  private:
    session_options options_;
    zsession::codec codec_;
};

/// Sets ZMQ_MAXMSGSIZE on `socket` from `l` (the largest single frame a message may have),
/// so libzmq drops a peer that announces a larger frame before allocating it. Call before
/// connect/bind.
void apply_limits(zmq::socket_ref socket, const limits& l);

}  // namespace zsession
