#include "zsession/session.hpp"

#include <algorithm>
#include <array>
#include <utility>

#include "hmac.hpp"
#include "packer.hpp"
#include "replay.hpp"
#include "zsession/registry.hpp"

namespace zsession {

namespace {

/// The largest replay history accepted: 16 M digests (512 MiB of SHA-256 digests).
constexpr std::size_t max_replay_history = std::size_t{1} << 24;

std::unique_ptr<detail::hmac_signer> make_signer(const session_options& o) {
    if (o.key.empty()) return nullptr;
    return std::make_unique<detail::hmac_signer>(o.key, o.signature_scheme);
}

std::size_t history_capacity(const session_options& o) {
    if (o.replay_history > max_replay_history) {
        throw usage_error("replay_history is larger than 2^24 digests");
    }
    return o.key.empty() ? 0 : o.replay_history;
}

}  // namespace

struct session::impl {
    session_options opts;
    std::unique_ptr<detail::hmac_signer> signer;  // null when unsigned
    detail::replay_history history;

    explicit impl(session_options o)
        : opts(std::move(o)),
          signer(make_signer(opts)),
          history(history_capacity(opts), signer ? signer->digest_size() : 0) {
        if (opts.session_id.empty()) opts.session_id = new_uuid4();
        if (!opts.handlers) opts.handlers = std::make_shared<const registry>(registry::builtins());
    }
};

session::session(session_options options) : impl_(std::make_unique<impl>(std::move(options))) {}
session::~session() = default;
session::session(session&&) noexcept = default;
session& session::operator=(session&&) noexcept = default;

const session_options& session::options() const noexcept {
    return impl_->opts;
}
const std::string& session::id() const noexcept {
    return impl_->opts.session_id;
}

header session::make_header(std::string_view msg_type) const {
    return header{new_uuid4(),          std::string(msg_type),
                  impl_->opts.username, impl_->opts.session_id,
                  utc_now_iso8601(),    std::string(protocol_version)};
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
    if (!impl_->signer) return {};
    std::string out(impl_->signer->hex_size(), '\0');
    impl_->signer->sign_hex(parts, out.data());
    return out;
}

frames session::encode(const message& m) const {
    frames out;
    encode_into(m, out);
    return out;
}

void session::encode_into(const message& m, frames& out) const {
    const auto& o = impl_->opts;
    // One scratch string per thread holds the four packed maps; it keeps its capacity so the
    // steady state allocates nothing here.
    thread_local std::string scratch;
    scratch.clear();
    std::array<std::size_t, 5> at{};
    detail::pack_header(o.packer, m.header, scratch);
    at[1] = scratch.size();
    detail::pack_header(o.packer, m.parent_header, scratch);
    at[2] = scratch.size();
    detail::pack_map(o.packer, m.metadata, scratch, "metadata");
    at[3] = scratch.size();
    detail::pack_map(o.packer, m.content, scratch, "content");
    at[4] = scratch.size();
    std::array<bytes_view, 4> parts;
    for (std::size_t i = 0; i < 4; ++i) parts[i] = {scratch.data() + at[i], at[i + 1] - at[i]};

    out.reserve(out.size() + m.identities.size() + 6 + m.buffers.size());
    for (const auto& id : m.identities) out.emplace_back(id.data(), id.size());
    out.emplace_back(delimiter.data(), delimiter.size());
    if (impl_->signer) {
        char signature[2 * detail::hmac_signer::max_digest_size];
        impl_->signer->sign_hex(parts, signature);
        out.emplace_back(signature, impl_->signer->hex_size());
    } else {
        out.emplace_back();
    }
    for (const auto& p : parts) out.emplace_back(p.data(), p.size());
    for (const auto& b : m.buffers) {
        out.push_back(make_frame(b, choose_send_mode(b.size(), o.copy_threshold)));
    }
    if (scratch.capacity() > (std::size_t{1} << 20)) std::string().swap(scratch);
}

namespace {

bytes_view view_of(const zmq::message_t& f) noexcept {
    return {f.data(), f.size()};
}

std::size_t find_delimiter(const frames& in, const limits& lim) {
    // max_identities + 1 frames may be scanned (written so SIZE_MAX cannot wrap).
    const std::size_t scan = lim.max_identities < in.size() ? lim.max_identities + 1 : in.size();
    for (std::size_t i = 0; i < scan; ++i) {
        if (view_of(in[i]).as_string_view() == delimiter) return i;
    }
    if (in.size() > scan) throw limit_error("more routing identities than limits.max_identities");
    throw protocol_error("no <IDS|MSG> delimiter");
}

void check_sizes(const frames& in, std::size_t first, const limits& lim) {
    const std::size_t after = in.size() - first;
    if (after < 5) {
        throw protocol_error("too few frames after <IDS|MSG>: " + std::to_string(after) +
                             " (signature and four maps needed)");
    }
    if (after - 5 > lim.max_buffers) throw limit_error("more buffers than limits.max_buffers");
    static constexpr const char* names[] = {"header", "parent_header", "metadata"};
    for (std::size_t i = 0; i < 3; ++i) {
        if (in[first + 1 + i].size() > lim.max_map_bytes) {
            throw limit_error(std::string(names[i]) + " frame exceeds limits.max_map_bytes");
        }
    }
    if (in[first + 4].size() > lim.max_content_bytes) {
        throw limit_error("content frame exceeds limits.max_content_bytes");
    }
    for (std::size_t i = first + 5; i < in.size(); ++i) {
        if (in[i].size() > lim.max_buffer_bytes) {
            throw limit_error("buffer frame exceeds limits.max_buffer_bytes");
        }
    }
}

}  // namespace

message session::decode(frames&& in) const {
    const auto& o = impl_->opts;
    const std::size_t delim = find_delimiter(in, o.limits);
    const std::size_t sig = delim + 1;
    check_sizes(in, sig, o.limits);

    std::array<bytes_view, 4> parts;
    for (std::size_t i = 0; i < 4; ++i) parts[i] = view_of(in[sig + 1 + i]);
    if (impl_->signer) {
        const bytes_view signature = view_of(in[sig]);
        if (signature.empty()) throw signature_error("unsigned message");
        if (signature.size() != impl_->signer->hex_size()) {
            throw signature_error("signature has the wrong length");
        }
        unsigned char digest[detail::hmac_signer::max_digest_size];
        if (!impl_->signer->verify_hex(signature, parts, digest)) {
            throw signature_error("invalid signature");
        }
        if (!impl_->history.insert({digest, impl_->signer->digest_size()})) {
            throw replay_error("duplicate signature: replayed message");
        }
    }

    // Authenticated: now parse. The four map frames move to the heap once (the maps' strings
    // point into them), and every buffer frame becomes a pinned view.
    message m;
    std::size_t map_bytes = 0;
    for (std::size_t i = 0; i < 4; ++i) map_bytes += in[sig + 1 + i].size();
    // One allocation holds the four frames and the zone their parsed objects live in.
    struct received_maps {
        std::array<zmq::message_t, 4> frames;
        msgpack::zone zone;
        explicit received_maps(std::size_t chunk) : zone(chunk) {}
    };
    // The zone's first chunk fits the objects of a typical message; it grows past 64 KiB in
    // further chunks only as objects are actually parsed.
    auto maps = std::make_shared<received_maps>(
        std::clamp<std::size_t>(2 * map_bytes, 256, std::size_t{64} << 10));
    for (std::size_t i = 0; i < 4; ++i) maps->frames[i] = std::move(in[sig + 1 + i]);
    const auto unpack = [&](std::size_t i, const char* what) {
        return detail::unpack_map(o.packer, view_of(maps->frames[i]), maps->zone, o.limits, what);
    };
    const msgpack::object h = unpack(0, "header");
    const msgpack::object p = unpack(1, "parent_header");
    m.metadata = unpack(2, "metadata");
    m.content = unpack(3, "content");
    m.header = detail::header_from_object(h, true, "header");
    m.parent_header = detail::header_from_object(p, false, "parent_header");
    msgpack::zone& zone = maps->zone;
    m.adopt_storage(std::move(maps), zone);

    m.identities.reserve(delim);
    for (std::size_t i = 0; i < delim; ++i) m.identities.push_back(buffer::take(std::move(in[i])));
    m.buffers.reserve(in.size() - sig - 5);
    for (std::size_t i = sig + 5; i < in.size(); ++i) {
        m.buffers.push_back(buffer::take(std::move(in[i])));
    }
    return m;
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

}  // namespace

bool session::send(zmq::socket_ref socket, const message& m, zmq::send_flags flags) const {
    scratch_frames scratch;
    frames& out = scratch.get();
    encode_into(m, out);
    for (std::size_t i = 0; i < out.size(); ++i) {
        const bool last = i + 1 == out.size();
        const auto f = last ? flags : flags | zmq::send_flags::sndmore;
        if (!socket.send(out[i], f)) {
            // libzmq accepts a multipart message atomically: only the first part can block.
            if (i == 0) return false;
            throw zmq::error_t();
        }
    }
    return true;
}

namespace {

/// Receives one whole message into `in` (cleared first); false on would-block.
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

std::optional<frames> session::recv_frames(zmq::socket_ref socket, zmq::recv_flags flags) const {
    frames in;
    if (!receive_into(socket, flags, impl_->opts.limits, in)) return std::nullopt;
    return in;
}

std::optional<message> session::recv(zmq::socket_ref socket, zmq::recv_flags flags) const {
    scratch_frames scratch;  // a bad message's frames are released even when decode throws
    frames& in = scratch.get();
    if (!receive_into(socket, flags, impl_->opts.limits, in)) return std::nullopt;
    return decode(std::move(in));
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
