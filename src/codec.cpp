#include "zsession/codec.hpp"

#include <algorithm>
#include <array>
#include <utility>

#include "hmac.hpp"
#include "packer.hpp"
#include "packer_common.hpp"
#include "received_maps.hpp"
#include "replay.hpp"
#include "tls_pin.hpp"

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

bytes_view view_of(const zmq::message_t& f) noexcept {
    return {f.data(), f.size()};
}

}  // namespace

struct codec::impl {
    const detail::packer& packer;
    zsession::limits limits;
    std::size_t copy_threshold;
    std::unique_ptr<detail::hmac_signer> signer;  // null when unsigned
    detail::replay_history history;

    explicit impl(const session_options& o)
        : packer(detail::packer_for(o.packer)),
          limits(o.limits),
          copy_threshold(o.copy_threshold),
          signer(make_signer(o)),
          history(history_capacity(o), signer ? signer->digest_size() : 0) {}
};

codec::codec(const session_options& options) : impl_(std::make_unique<impl>(options)) {}
codec::~codec() = default;
codec::codec(codec&&) noexcept = default;
codec& codec::operator=(codec&&) noexcept = default;

std::string codec::sign(std::span<const bytes_view, 4> parts) const {
    if (!impl_->signer) return {};
    std::string out(impl_->signer->hex_size(), '\0');
    impl_->signer->sign_hex(parts, out.data());
    return out;
}

frames codec::encode(const message& m) const {
    frames out;
    encode_into(m, out);
    return out;
}

void codec::encode_into(const message& m, frames& out) const {
    const auto& pk = impl_->packer;
    // One scratch string per thread holds the four packed maps; it keeps its capacity so the
    // steady state allocates nothing here.
    thread_local std::string tls_scratch;
    std::string& scratch = detail::pin_thread_local(tls_scratch);  // one lookup, not three
    scratch.clear();
    std::array<std::size_t, 5> at{};
    pk.pack_header(m.header, scratch);
    at[1] = scratch.size();
    pk.pack_header(m.parent_header, scratch);
    at[2] = scratch.size();
    pk.pack_map(m.metadata(), scratch, "metadata");
    at[3] = scratch.size();
    pk.pack_map(m.content(), scratch, "content");
    at[4] = scratch.size();
    std::array<bytes_view, 4> parts;
    for (std::size_t i = 0; i < 4; ++i) parts[i] = {scratch.data() + at[i], at[i + 1] - at[i]};

    out.reserve(out.size() + m.identities.size() + 1 + signed_frame_count + m.buffers.size());
    for (const auto& id : m.identities) out.emplace_back(id.data(), id.size());
    out.emplace_back(delimiter.data(), delimiter.size());
    if (impl_->signer) {
        // Hexed straight into its frame.
        impl_->signer->sign_hex(parts, out.emplace_back(impl_->signer->hex_size()).data<char>());
    } else {
        out.emplace_back();
    }
    for (const auto& p : parts) out.emplace_back(p.data(), p.size());
    for (const auto& b : m.buffers) {
        out.push_back(make_frame(b, choose_send_mode(b.size(), impl_->copy_threshold)));
    }
    if (scratch.capacity() > (std::size_t{1} << 20)) std::string().swap(scratch);
}

namespace {

std::size_t find_delimiter(const frames& in, const limits& lim) {
    // max_identities + 1 frames may be scanned (written so SIZE_MAX cannot wrap).
    const std::size_t scan = lim.max_identities < in.size() ? lim.max_identities + 1 : in.size();
    for (std::size_t i = 0; i < scan; ++i) {
        if (view_of(in[i]).as_string_view() == delimiter) return i;
    }
    if (in.size() > scan) throw limit_error("more routing identities than limits.max_identities");
    throw protocol_error("no <IDS|MSG> delimiter");
}

/// Checks the frame count and sizes after the signature frame at `first`; sets `maps` to the
/// four map frames' bytes.
void check_sizes(const frames& in, std::size_t first, const limits& lim,
                 std::array<bytes_view, 4>& maps) {
    const std::size_t after = in.size() - first;
    if (after < signed_frame_count) {
        throw protocol_error("too few frames after <IDS|MSG>: " + std::to_string(after) +
                             " (signature and four maps needed)");
    }
    if (after - signed_frame_count > lim.max_buffers) {
        throw limit_error("more buffers than limits.max_buffers");
    }
    for (std::size_t i = 0; i < 4; ++i) maps[i] = view_of(in[first + 1 + i]);
    static constexpr const char* names[] = {"header", "parent_header", "metadata"};
    for (std::size_t i = 0; i < 3; ++i) {
        if (maps[i].size() > lim.max_map_bytes) {
            throw limit_error(std::string(names[i]) + " frame exceeds limits.max_map_bytes");
        }
    }
    if (maps[3].size() > lim.max_content_bytes) {
        throw limit_error("content frame exceeds limits.max_content_bytes");
    }
    for (std::size_t i = first + signed_frame_count; i < in.size(); ++i) {
        if (in[i].size() > lim.max_buffer_bytes) {
            throw limit_error("buffer frame exceeds limits.max_buffer_bytes");
        }
    }
}

}  // namespace

std::size_t codec::verify(const frames& in, std::array<bytes_view, 4>& parts) const {
    const std::size_t delim = find_delimiter(in, impl_->limits);
    const std::size_t sig = delim + 1;
    check_sizes(in, sig, impl_->limits, parts);
    if (!impl_->signer) return delim;

    const bytes_view signature = view_of(in[sig]);
    if (signature.empty()) throw signature_error("unsigned message");
    if (signature.size() != impl_->signer->hex_size()) {
        throw signature_error("signature has the wrong length");
    }
    impl_->history.prefetch_hex(signature);  // its index line loads during the HMAC
    unsigned char digest[detail::hmac_signer::max_digest_size];
    if (!impl_->signer->verify_hex(signature, parts, digest)) {
        throw signature_error("invalid signature");
    }
    if (!impl_->history.insert({digest, impl_->signer->digest_size()})) {
        throw replay_error("duplicate signature: replayed message");
    }
    return delim;
}

void codec::parse(frames& in, std::size_t delim, const std::array<bytes_view, 4>& parts,
                  message& m) const {
    const std::size_t sig = delim + 1;
    const detail::packer& pk = impl_->packer;
    const limits& lim = impl_->limits;
    // Headers of the shape peers write are read straight from their frames (strings copied;
    // the frames are then not needed). Anything else takes the general path for all four
    // frames, in the order that decides which error a bad message raises: each frame
    // parsed in turn, then the two headers read from their objects.
    const bool direct = pk.try_read_header(parts[0], true, lim, m.header) &&
                        pk.try_read_header(parts[1], false, lim, m.parent_header);
    const std::size_t first = direct ? 2 : 0;  // the first frame parsed into the zone
    std::size_t map_bytes = 0;
    for (std::size_t i = first; i < 4; ++i) map_bytes += parts[i].size();
    // The zone's first chunk fits the objects of a typical message; it grows past 64 KiB in
    // further chunks only as objects are actually parsed. The map frames parsed move into
    // storage recycled per thread (the maps' strings point into them).
    auto maps = detail::make_received_maps(
        std::clamp<std::size_t>(2 * map_bytes, 256, std::size_t{64} << 10));
    for (std::size_t i = first; i < 4; ++i) maps->frames[i] = std::move(in[sig + 1 + i]);
    maps->first_used = first;
    const auto unpack = [&](std::size_t i, const char* what) {
        return pk.unpack_map(view_of(maps->frames[i]), maps->zone, lim, what);
    };
    msgpack::object h, p;
    if (!direct) {
        h = unpack(0, "header");
        p = unpack(1, "parent_header");
    }
    const msgpack::object metadata = unpack(2, "metadata");
    const msgpack::object content = unpack(3, "content");
    if (!direct) {
        detail::read_header(h, true, "header", m.header);
        detail::read_header(p, false, "parent_header", m.parent_header);
    }
    msgpack::zone& zone = maps->zone;
    m.adopt_storage(std::move(maps), zone, metadata, content);

    m.identities.reserve(delim);
    for (std::size_t i = 0; i < delim; ++i)
        m.identities.push_back(detail::take_frame(std::move(in[i])));
    m.buffers.reserve(in.size() - sig - signed_frame_count);
    for (std::size_t i = sig + signed_frame_count; i < in.size(); ++i) {
        m.buffers.push_back(detail::take_frame(std::move(in[i])));
    }
}

void codec::decode_into(frames& in, message& m) const {
    std::array<bytes_view, 4> parts;
    const std::size_t delim = verify(in, parts);
    parse(in, delim, parts, m);  // authenticated: only now parse
}

message codec::decode(frames&& in) const {
    message m;
    decode_into(in, m);
    return m;
}

}  // namespace zsession
