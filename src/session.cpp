#include "zsession/session.hpp"

#include <algorithm>
#include <utility>

#include <zmq_addon.hpp>

#include "zsession/registry.hpp"

namespace zsession {

namespace {

/// The options with the defaults a session fills in: a fresh session id, the built-ins.
session_options completed(session_options o) {
    if (o.session_id.empty()) o.session_id = new_uuid4();
    if (!o.handlers) o.handlers = std::make_shared<const registry>(registry::builtins());
    return o;
}

}  // namespace

session::session(session_options options)
    : options_(completed(std::move(options))), codec_(options_) {}
session::~session() = default;
session::session(session&&) noexcept = default;
session& session::operator=(session&&) noexcept = default;

const session_options& session::options() const noexcept {
    return options_;
}
const std::string& session::id() const noexcept {
    return options_.session_id;
}
const codec& session::codec() const noexcept {
    return codec_;
}

header session::make_header(std::string_view msg_type) const {
    return header{new_uuid4(),         std::string(msg_type), options_.username,
                  options_.session_id, utc_now_iso8601(),     std::string(protocol_version)};
}

message session::make_message(std::string_view msg_type) const {
    message m;
    m.header = make_header(msg_type);
    return m;
}

message session::make_reply(const message& request, std::string_view msg_type) const {
    message m = make_message(msg_type);
    m.parent_header = request.header;
    m.identities = request.identities;
    return m;
}

std::string session::sign(std::span<const bytes_view, 4> parts) const {
    return codec_.sign(parts);
}
frames session::encode(const message& m) const {
    return codec_.encode(m);
}
void session::encode_into(const message& m, frames& out) const {
    codec_.encode_into(m, out);
}
message session::decode(frames&& in) const {
    return codec_.decode(std::move(in));
}

namespace {

/// A frames vector that keeps its capacity across calls on this thread, and is emptied on
/// every exit path, exceptions included, so no frame (and no keepalive it holds) outlives
/// the call. A re-entrant call (a keepalive's destructor that sends) finds no spare and
/// starts from an empty vector.
class scratch_frames {
  public:
    scratch_frames() noexcept { frames_.swap(spare()); }
    ~scratch_frames() {
        frames_.clear();
        if (spare().capacity() < frames_.capacity()) spare().swap(frames_);
    }
    scratch_frames(const scratch_frames&) = delete;
    scratch_frames& operator=(const scratch_frames&) = delete;
    frames& get() noexcept { return frames_; }

  private:
    static frames& spare() noexcept {
        thread_local frames f;
        return f;
    }
    frames frames_;
};

/// Receives one whole message into `in` (cleared first); false on would-block. Unlike
/// zmq::recv_multipart, it keeps draining an oversized message (keeping nothing) so a bad
/// message never leaves the socket mid-message.
bool receive_into(zmq::socket_ref socket, zmq::recv_flags flags, const limits& lim, frames& in) {
    in.clear();
    zmq::message_t part;
    if (!socket.recv(part, flags)) return false;
    std::size_t count = 0, total = 0;
    bool over = false;
    for (;;) {
        total += part.size();
        if (++count > lim.max_frames() || total > lim.max_message_bytes) {
            over = true;  // keep draining to the end of the message, keep nothing
            in.clear();
        }
        const bool more = part.more();
        if (!over) in.push_back(std::move(part));
        if (!more) break;
        // The rest of a multipart message is already queued: this never blocks.
        part = zmq::message_t();
        (void)socket.recv(part, zmq::recv_flags::none);
    }
    if (over) throw limit_error("message exceeds limits.max_frames() or limits.max_message_bytes");
    return true;
}

}  // namespace

bool session::send(zmq::socket_ref socket, const message& m, zmq::send_flags flags) const {
    scratch_frames scratch;
    frames& out = scratch.get();
    codec_.encode_into(m, out);
    // libzmq accepts a multipart message atomically: only the first part can block, and
    // send_multipart then returns empty with nothing sent.
    return zmq::send_multipart(socket, out, flags).has_value();
}

std::optional<frames> session::recv_frames(zmq::socket_ref socket, zmq::recv_flags flags) const {
    frames in;
    if (!receive_into(socket, flags, options_.limits, in)) return std::nullopt;
    return in;
}

std::optional<message> session::recv(zmq::socket_ref socket, zmq::recv_flags flags) const {
    scratch_frames scratch;  // a bad message's frames are released even when decode throws
    frames& in = scratch.get();
    if (!receive_into(socket, flags, options_.limits, in)) return std::nullopt;
    return codec_.decode(std::move(in));
}

recv_result session::try_recv(zmq::socket_ref socket, zmq::recv_flags flags) const {
    recv_result r;
    try {
        r.msg = recv(socket, flags);
    } catch (const error& e) {
        r.code = e.code();
        r.error_message = e.what();
    }
    return r;
}

void apply_limits(zmq::socket_ref socket, const limits& l) {
    const std::size_t largest =
        std::max({l.max_buffer_bytes, l.max_content_bytes, l.max_map_bytes});
    socket.set(zmq::sockopt::maxmsgsize, static_cast<std::int64_t>(largest));
}

}  // namespace zsession
