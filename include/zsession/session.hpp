// zsession/session.hpp - signs, encodes, sends, receives, verifies and decodes messages.
#pragma once

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <zmq.hpp>

#include "zsession/buffer.hpp"
#include "zsession/copy_policy.hpp"
#include "zsession/error.hpp"
#include "zsession/header.hpp"
#include "zsession/message.hpp"
#include "zsession/options.hpp"

namespace zsession {

/// The frames of one message, in wire order.
using frames = std::vector<zmq::message_t>;

/// The delimiter between routing identities and the signed part.
inline constexpr std::string_view delimiter = "<IDS|MSG>";

/// Outcome of the non-throwing receive.
struct recv_result {
    /// ok with a message, ok without one (would block), or why a bad message was dropped.
    errc code = errc::ok;
    std::optional<message> msg;
    std::string error_message;  ///< what() of the error when code != ok

    bool would_block() const noexcept { return code == errc::ok && !msg; }
    explicit operator bool() const noexcept { return msg.has_value(); }
};

/// A Jupyter-protocol session: the signing key, the identity of the sender, the packer and
/// the limits, plus the history of recent signatures.
///
/// Thread safety: every member function is const and may be called concurrently from
/// several threads on one session (a kernel's shell, control and iopub threads share one):
/// the HMAC key state is read-only after construction and duplicated per message, and the
/// replay history is guarded by a mutex. Sockets are not thread-safe (a libzmq rule): use
/// each socket from one thread at a time.
class session {
  public:
    /// Throws usage_error for an unknown signature scheme.
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

    // -- codec: no socket ------------------------------------------------------------------

    /// Hex signature of the four packed maps in order, or "" when the session is unsigned.
    std::string sign(std::span<const bytes_view, 4> parts) const;

    /// Encodes `m` into wire frames: identities, delimiter, signature, the four packed maps,
    /// then one frame per buffer, copied or zero-copy by choose_send_mode(size,
    /// copy_threshold). Throws usage_error if metadata or content is neither nil nor a map.
    frames encode(const message& m) const;
    /// Same, appending to `out` (reuse its capacity across messages).
    void encode_into(const message& m, frames& out) const;

    /// Verifies and decodes one message's frames. Order: frame count and sizes, signature
    /// length, constant-time HMAC, replay history; only then the maps are parsed, within
    /// the limits. Buffers (and identities) become views of their frames: no copy.
    /// Throws protocol_error, limit_error, signature_error, replay_error or decode_error.
    message decode(frames&& in) const;

    // -- sockets -----------------------------------------------------------------------------

    /// Encodes and sends `m`. Returns false only when flags contain dontwait and the socket
    /// cannot take the message now (nothing was sent). Throws zmq::error_t on socket errors.
    bool send(zmq::socket_ref socket, const message& m,
              zmq::send_flags flags = zmq::send_flags::none) const;

    /// Receives one whole message. Empty when flags contain dontwait and none is waiting.
    /// A bad message is consumed whole (never leaves the socket mid-message), then its typed
    /// error is thrown; the next call receives the next message.
    std::optional<message> recv(zmq::socket_ref socket,
                                zmq::recv_flags flags = zmq::recv_flags::none) const;

    /// Non-throwing twin of recv for bad input: a bad message is consumed and reported in
    /// the result. Socket errors (zmq::error_t) and std::bad_alloc still throw.
    recv_result try_recv(zmq::socket_ref socket,
                         zmq::recv_flags flags = zmq::recv_flags::none) const;

    /// Receives the raw frames of one message, enforcing limits.max_frames() and
    /// max_message_bytes while draining. Empty on would-block. Throws limit_error after the
    /// whole oversized message was drained.
    std::optional<frames> recv_frames(zmq::socket_ref socket,
                                      zmq::recv_flags flags = zmq::recv_flags::none) const;

  private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

/// Sets ZMQ_MAXMSGSIZE on `socket` from `l` (the largest single frame a message may have),
/// so libzmq drops a peer that announces a larger frame before allocating it. Call before
/// connect/bind.
void apply_limits(zmq::socket_ref socket, const limits& l);

}  // namespace zsession
