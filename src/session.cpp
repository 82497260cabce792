#include "zsession/session.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <utility>

#include <zmq_addon.hpp>

#include "header_ids.hpp"
#include "zsession/registry.hpp"

namespace zsession {

namespace {

/// The options with the defaults a session fills in: a fresh session id, the built-ins.
session_options completed(session_options o) {
    if (o.session_id.empty()) o.session_id = new_uuid4();
    if (!o.handlers) o.handlers = std::make_shared<const registry>(registry::builtins());
    return o;
}

/// Overwrites `h` with a fresh header of `msg_type` made by a session with options `o`:
/// no allocation for fields within inline_string::inline_capacity.
void fill_header(header& h, std::string_view msg_type, const session_options& o) {
    detail::fresh_id_and_date(h.msg_id, h.date);
    h.msg_type = msg_type;
    h.username = o.username;
    h.session = o.session_id;
    h.version = protocol_version;
}

}  // namespace

/// The counters behind stats(): relaxed atomics, each updated once per message.
struct session::counters {
    std::atomic<std::uint64_t> received{0}, sent{0}, bytes_in{0}, bytes_out{0};
    std::array<std::atomic<std::uint64_t>, errc_count> dropped{};

    static void add(std::atomic<std::uint64_t>& c, std::uint64_t n) noexcept {
        c.fetch_add(n, std::memory_order_relaxed);
    }
};

session::session(session_options options)
    : options_(completed(std::move(options))),
      codec_(options_),
      counters_(std::make_unique<counters>()) {}
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
    header h;
    fill_header(h, msg_type, options_);
    return h;
}

message session::make_message(std::string_view msg_type) const {
    message m;
    fill_header(m.header, msg_type, options_);
    return m;
}

message session::make_message(std::string_view msg_type, const message& parent) const {
    message m = make_message(msg_type);
    m.parent_header = parent.header;
    m.identities = parent.identities;
    return m;
}

message session::make_reply(const message& request, std::string_view msg_type) const {
    return make_message(msg_type, request);
}

message session::make_reply(message&& request, std::string_view msg_type) const {
    message m = make_message(msg_type);
    m.parent_header = std::move(request.header);
    m.identities = std::move(request.identities);
    return m;
}

const header& session::renew(message& m) const {
    detail::fresh_id_and_date(m.header.msg_id, m.header.date);
    return m.header;
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
    scratch_frames() noexcept : spare_(spare()) { frames_.swap(spare_); }
    ~scratch_frames() {
        frames_.clear();
        if (spare_.capacity() < frames_.capacity()) spare_.swap(frames_);
    }
    scratch_frames(const scratch_frames&) = delete;
    scratch_frames& operator=(const scratch_frames&) = delete;
    frames& get() noexcept { return frames_; }

  private:
    static frames& spare() noexcept {
        thread_local frames f;
        return f;
    }
    frames& spare_;  // this thread's: looked up once
    frames frames_;
};

/// The delimiter's index among the frames `in` may start with (the first max_identities + 1,
/// as the codec scans), or in.size() when it is not there.
std::size_t delimiter_index(const frames& in, const limits& lim) {
    const std::size_t scan = lim.max_identities < in.size() ? lim.max_identities + 1 : in.size();
    for (std::size_t i = 0; i < scan; ++i) {
        if (in[i].to_string_view() == delimiter) return i;
    }
    return in.size();
}

/// Receives one whole message into `in` (cleared first) and adds its bytes to `bytes_in`;
/// false when nothing was received. Unlike zmq::recv_multipart, it keeps draining an
/// oversized message so a bad message never leaves the socket mid-message; of such a message
/// it keeps only what can identify its sender (the frames up to and with `<IDS|MSG>` when
/// that came first, else the first frame), then throws limit_error.
bool receive_into(zmq::socket_ref socket, zmq::recv_flags flags, const limits& lim, frames& in,
                  std::atomic<std::uint64_t>& bytes_in) {
    // Each frame is received straight into its place in `in` (no zmq_msg_t moved per frame);
    // only the frames of an oversized message past the limit go to `drained`.
    in.clear();
    if (!socket.recv(in.emplace_back(), flags)) {
        in.clear();
        return false;
    }
    zmq::message_t drained;
    std::size_t count = 1, total = 0;
    bool over = false;
    for (;;) {
        const zmq::message_t& part = over ? drained : in.back();
        total += part.size();
        const bool more = part.more();
        if (!over && (count > lim.max_frames() || total > lim.max_message_bytes)) {
            over = true;
            zmq::message_t last = std::move(in.back());
            in.pop_back();
            const std::size_t delim = delimiter_index(in, lim);
            in.resize(delim < in.size() ? delim + 1 : std::min<std::size_t>(in.size(), 1));
            if (in.empty()) in.push_back(std::move(last));
        }
        if (!more) break;
        // The rest of a multipart message is already queued: this never blocks.
        if (over) {
            (void)socket.recv(drained, zmq::recv_flags::none);  // drain: keep nothing more
        } else {
            ++count;
            (void)socket.recv(in.emplace_back(), zmq::recv_flags::none);
        }
    }
    bytes_in.fetch_add(total, std::memory_order_relaxed);
    if (over) throw limit_error("message exceeds limits.max_frames() or limits.max_message_bytes");
    return true;
}

/// The routing identities of a dropped message, taken out of its frames `in`: see
/// recv_result::identities.
std::vector<buffer> take_identities(frames& in, const limits& lim, zmq::socket_ref socket) {
    std::vector<buffer> ids;
    std::size_t n = delimiter_index(in, lim);
    if (n == in.size()) {
        // No delimiter within the limits: only a ROUTER's first frame is known to be one.
        if (in.empty() ||
            socket.get(zmq::sockopt::type) != static_cast<int>(zmq::socket_type::router)) {
            return ids;
        }
        n = 1;
    }
    ids.reserve(n);
    for (std::size_t i = 0; i < n; ++i) ids.push_back(buffer::take(std::move(in[i])));
    return ids;
}

}  // namespace

void session::send(zmq::socket_ref socket, const message& m) const {
    (void)send(socket, m, zmq::send_flags::none);
}

bool session::send(zmq::socket_ref socket, const message& m, zmq::send_flags flags) const {
    scratch_frames scratch;
    frames& out = scratch.get();
    codec_.encode_into(m, out);
    std::size_t bytes = 0;
    for (const auto& f : out) bytes += f.size();
    // libzmq accepts a multipart message atomically: only the first part can block, and
    // send_multipart then returns empty with nothing sent.
    if (!zmq::send_multipart(socket, out, flags)) {
        if ((static_cast<int>(flags) & ZMQ_DONTWAIT) != 0) return false;
        throw send_timeout_error(
            "send: ZMQ_SNDTIMEO expired before the socket took the message; "
            "nothing was sent");
    }
    counters::add(counters_->sent, 1);
    counters::add(counters_->bytes_out, bytes);
    return true;
}

std::optional<frames> session::recv_frames(zmq::socket_ref socket, zmq::recv_flags flags) const {
    frames in;
    if (!receive_into(socket, flags, options_.limits, in, counters_->bytes_in)) {
        return std::nullopt;
    }
    return in;
}

bool session::receive(zmq::socket_ref socket, zmq::recv_flags flags, std::optional<message>& out,
                      std::vector<buffer>* identities) const {
    scratch_frames scratch;  // a bad message's frames are released even when decode throws
    frames& in = scratch.get();
    try {
        if (!receive_into(socket, flags, options_.limits, in, counters_->bytes_in)) return false;
        // Decoded straight into `out` (no move of the whole message).
        try {
            codec_.decode_into(in, out.emplace());
        } catch (...) {
            out.reset();
            throw;
        }
    } catch (const error& e) {
        // decode moves the identities out of `in` last, after everything that can throw a
        // zsession::error, so the dropped message's identities are still there.
        counters::add(counters_->dropped[static_cast<std::size_t>(e.code())], 1);
        std::vector<buffer> ids = take_identities(in, options_.limits, socket);
        if (options_.on_drop) {
            try {
                options_.on_drop(dropped_message{e.code(), e.what(), ids});
            } catch (...) {  // documented: a throwing hook changes nothing
            }
        }
        if (identities) *identities = std::move(ids);
        throw;
    }
    counters::add(counters_->received, 1);
    return true;
}

std::optional<message> session::recv(zmq::socket_ref socket, zmq::recv_flags flags) const {
    std::optional<message> m;
    (void)receive(socket, flags, m, nullptr);
    return m;
}

recv_result session::try_recv(zmq::socket_ref socket, zmq::recv_flags flags) const {
    recv_result r;
    try {
        if (!receive(socket, flags, r.msg, &r.identities)) {
            r.timeout = (static_cast<int>(flags) & ZMQ_DONTWAIT) == 0;
        }
    } catch (const error& e) {
        r.code = e.code();
        r.error_message = e.what();
    }
    return r;
}

session_stats session::stats() const noexcept {
    session_stats s;
    const auto get = [](const std::atomic<std::uint64_t>& c) {
        return c.load(std::memory_order_relaxed);
    };
    s.received = get(counters_->received);
    s.sent = get(counters_->sent);
    s.bytes_in = get(counters_->bytes_in);
    s.bytes_out = get(counters_->bytes_out);
    for (std::size_t i = 0; i < errc_count; ++i) {
        s.dropped_by_code[i] = get(counters_->dropped[i]);
        s.dropped += s.dropped_by_code[i];
    }
    s.replays = s.dropped_for(errc::replay);
    return s;
}

void session::reset_stats() const noexcept {
    for (auto* c :
         {&counters_->received, &counters_->sent, &counters_->bytes_in, &counters_->bytes_out}) {
        c->store(0, std::memory_order_relaxed);
    }
    for (auto& c : counters_->dropped) c.store(0, std::memory_order_relaxed);
}

void apply_limits(zmq::socket_ref socket, const limits& l) {
    const std::size_t largest =
        std::max({l.max_buffer_bytes, l.max_content_bytes, l.max_map_bytes});
    socket.set(zmq::sockopt::maxmsgsize, static_cast<std::int64_t>(largest));
}

}  // namespace zsession
