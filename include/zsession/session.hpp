// zsession/session.hpp - the thin socket layer: makes messages and sends and receives them
// through its codec (codec.hpp), which signs, encodes, verifies and decodes.
#pragma once

#include <array>
#include <cstdint>
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

/// Outcome of the non-throwing receive (session::try_recv). Exactly one of:
///  - a message: msg holds it, code is ok;
///  - nothing received: code is ok, msg is empty; would_block() is true, and timed_out()
///    tells a blocking call whose ZMQ_RCVTIMEO expired from a dontwait call that found no
///    message waiting;
///  - a dropped message: code says why (errc::signature, replay, protocol, limit, decode,
///    ...), error_message is the error's what(), and identities holds its routing frames.
struct recv_result {
    errc code = errc::ok;
    std::optional<message> msg;
    std::string error_message;  ///< what() of the error when code != ok
    /// When code != ok: the routing identities of the dropped message, so a ROUTER can tell
    /// which peer sent it. These are the frames before `<IDS|MSG>` when that delimiter is
    /// among the first limits.max_identities + 1 frames; otherwise, on a ROUTER socket, the
    /// first frame (the routing id libzmq prepended); otherwise none. Views of the received
    /// frames (no copy). Empty when code == ok (a message carries its own identities).
    std::vector<buffer> identities;
    /// True when nothing was received because a blocking call (flags without dontwait) hit
    /// the socket's ZMQ_RCVTIMEO.
    bool timeout = false;

    /// Nothing was received (no message, no error): dontwait found none waiting, or
    /// ZMQ_RCVTIMEO expired (then timed_out() is also true).
    bool would_block() const noexcept { return code == errc::ok && !msg; }
    /// Nothing was received within ZMQ_RCVTIMEO (a blocking call).
    bool timed_out() const noexcept { return would_block() && timeout; }
    explicit operator bool() const noexcept { return msg.has_value(); }
};

/// What a session counted since it was made or since reset_stats(): a snapshot.
struct session_stats {
    std::uint64_t received = 0;   ///< messages recv/try_recv returned (good ones)
    std::uint64_t sent = 0;       ///< messages send handed to the socket
    std::uint64_t dropped = 0;    ///< received messages dropped for an error (any code)
    std::uint64_t replays = 0;    ///< of which rejected as replays (errc::replay)
    std::uint64_t bytes_in = 0;   ///< bytes of all frames received, dropped messages included
    std::uint64_t bytes_out = 0;  ///< bytes of all frames sent
    /// Dropped messages by code, indexed by static_cast<std::size_t>(errc).
    std::array<std::uint64_t, errc_count> dropped_by_code{};

    /// Dropped messages whose error had `code`.
    std::uint64_t dropped_for(errc code) const noexcept {
        return dropped_by_code[static_cast<std::size_t>(code)];
    }
};

/// A Jupyter-protocol session: the options (identity of the sender, registry, offload
/// policy) and a codec (signing key, replay history, packer, limits), plus the sockets' side:
/// send, recv, try_recv, recv_frames.
///
/// Thread safety: every member function is const and may be called concurrently from
/// several threads on one session (a kernel's shell, control and iopub threads share one):
/// the HMAC key state is read-only after construction and duplicated per message, and the
/// replay history is guarded by a mutex, and the counters (stats()) are relaxed atomics.
/// Sockets are not thread-safe (a libzmq rule): use each socket from one thread at a time.
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
    /// A new message answering `parent`: fresh header, parent_header = parent.header, and the
    /// parent's routing identities (so it goes back to the peer `parent` came from).
    message make_message(std::string_view msg_type, const message& parent) const;
    /// The same as make_message(msg_type, request).
    message make_reply(const message& request, std::string_view msg_type) const;
    /// The same, moving the request's header into parent_header and its identities into
    /// the reply instead of copying them: `request` is left without header and identities
    /// (its content, metadata and buffers stay readable).
    message make_reply(message&& request, std::string_view msg_type) const;
    /// Gives `m` a fresh msg_id and date (the rest of its header is kept), so that it can be
    /// sent again: a message sent twice unchanged has the same signature, which the peer's
    /// replay history rejects (replay_error). Returns m.header.
    const zsession::header& renew(message& m) const;

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

    /// Encodes and sends `m` (zmq::send_multipart), blocking until the socket takes it.
    /// Throws send_timeout_error when the socket's ZMQ_SNDTIMEO expires first (no peer, or every
    /// peer at its high-water mark): nothing was sent. Throws what encode throws, and
    /// zmq::error_t on socket errors. libzmq takes a multipart message whole or not at all.
    ///
    /// Sending the same message object twice sends the same header and so the same
    /// signature: a signed peer rejects the second one as a replay (replay_error). Call
    /// renew(m) before sending it again.
    void send(zmq::socket_ref socket, const message& m) const;
    /// The same with flags. With dontwait: true when sent, false when the socket cannot take
    /// the message now (nothing was sent; ZMQ_SNDTIMEO plays no part). Without dontwait:
    /// true, or send_timeout_error as above; it never returns false.
    [[nodiscard]] bool send(zmq::socket_ref socket, const message& m, zmq::send_flags flags) const;

    /// One-call send, like jupyter_client's Session.send(stream, msg_type, content, parent,
    /// ident, buffers): makes a message of `msg_type` (make_message(msg_type, *parent) when
    /// `parent` is given, so parent_header = parent->header), sets its content from `content`
    /// (anything with a msgpack adaptor), its identities (when empty and `parent` is given:
    /// the parent's), its buffers, and sends it as send(socket, m) does (blocking; throws
    /// send_timeout_error on ZMQ_SNDTIMEO). Returns the sent header: its msg_id is what replies
    /// carry in their parent_header.
    template <class Content>
    zsession::header send(zmq::socket_ref socket, std::string_view msg_type, const Content& content,
                          const message* parent = nullptr, std::vector<buffer> identities = {},
                          std::vector<buffer> buffers = {}) const {
        message m = parent ? make_message(msg_type, *parent) : make_message(msg_type);
        m.set_content(content);
        if (!identities.empty() || !parent) m.identities = std::move(identities);
        m.buffers = std::move(buffers);
        send(socket, m);
        return std::move(m.header);
    }

    /// Receives one whole message. Empty when nothing was received: flags contain dontwait
    /// and no message is waiting, or (without dontwait) the socket's ZMQ_RCVTIMEO expired
    /// (use try_recv to tell them apart). A bad message is consumed whole (never leaves the
    /// socket mid-message), counted, reported to options().on_drop, then its typed error is
    /// thrown; the next call receives the next message.
    [[nodiscard]] std::optional<message> recv(zmq::socket_ref socket,
                                              zmq::recv_flags flags = zmq::recv_flags::none) const;

    /// Non-throwing twin of recv for bad input: a bad message is consumed and reported in
    /// the result with its code, text and routing identities (recv_result says what each
    /// outcome looks like; timed_out() marks a ZMQ_RCVTIMEO expiry). Socket errors
    /// (zmq::error_t) and std::bad_alloc still throw.
    [[nodiscard]] recv_result try_recv(zmq::socket_ref socket,
                                       zmq::recv_flags flags = zmq::recv_flags::none) const;

    /// Receives the raw frames of one message, enforcing limits.max_frames() and
    /// max_message_bytes while draining. Empty when nothing was received (dontwait with no
    /// message waiting, or ZMQ_RCVTIMEO expired). Throws limit_error after the whole
    /// oversized message was drained. Counts bytes_in only: the frames are not decoded, so
    /// neither received nor dropped counts them, and on_drop is not called.
    [[nodiscard]] std::optional<frames> recv_frames(
        zmq::socket_ref socket, zmq::recv_flags flags = zmq::recv_flags::none) const;

    // -- counters ----------------------------------------------------------------------------

    /// A snapshot of the counters (session_stats). Each counter is exact; counters updated
    /// by other threads during the call may be seen in different states.
    session_stats stats() const noexcept;
    /// Sets every counter to zero.
    void reset_stats() const noexcept;

  private:
    struct counters;
    /// recv's work: receives into `in` and decodes; false when nothing was received. On a
    /// bad message, fills `identities` (when not null), counts it, calls on_drop, and throws.
    bool receive(zmq::socket_ref socket, zmq::recv_flags flags, std::optional<message>& out,
                 std::vector<buffer>* identities) const;

    session_options options_;
    zsession::codec codec_;
    std::unique_ptr<counters> counters_;
};

/// Sets ZMQ_MAXMSGSIZE on `socket` from `l` (the largest single frame a message may have),
/// so libzmq drops a peer that announces a larger frame before allocating it. Call before
/// connect/bind.
void apply_limits(zmq::socket_ref socket, const limits& l);

}  // namespace zsession
