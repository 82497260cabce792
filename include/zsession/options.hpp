// zsession/options.hpp - what a session is configured with, and every limit it enforces.
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "zsession/buffer.hpp"
#include "zsession/compression.hpp"
#include "zsession/error.hpp"

namespace zsession {

class registry;

/// How the four maps (header, parent_header, metadata, content) are written on the wire.
enum class packer_kind {
    msgpack,  ///< msgpack-c: the fast default.
    json,     ///< JSON (RapidJSON), what stock Jupyter peers speak; see docs/PACKERS.md.
};

/// Bounds on what a received message may hold. Each is checked before the bytes it guards
/// are parsed or allocated by the session; exceeding one throws limit_error (errc::limit)
/// after the whole message was consumed from the socket. Frames are received by libzmq
/// before any of these is checked: see max_message_bytes for what bounds that memory.
struct limits {
    /// Routing identities before `<IDS|MSG>`. A ROUTER adds one per hop; 32 hops is far more
    /// than any Jupyter or cluster topology uses.
    std::size_t max_identities = 32;
    /// Buffers after content. Each buffer costs one zmq frame and one pin; thousands per
    /// message would already be a design error upstream.
    std::size_t max_buffers = 4096;
    /// Bytes of each of the header, parent_header and metadata frames. Real ones are a few
    /// hundred bytes; 1 MiB leaves room for rich metadata.
    std::size_t max_map_bytes = std::size_t{1} << 20;
    /// Bytes of the content frame. Bulk data belongs in buffers; 256 MiB of inline content
    /// is a generous ceiling for display data.
    std::size_t max_content_bytes = std::size_t{256} << 20;
    /// Bytes of one buffer frame: 16 GiB, the same as max_message_bytes (arrays of several
    /// GB are normal in a cluster). Sizes are 64-bit end to end (ZMTP frame lengths,
    /// placeholder sizes, ndarray shapes); a 5 GiB buffer is tested over ipc. Only lz4 has a
    /// 32-bit limit: buffers above lz4_max_input() (~2 GiB) always travel uncompressed.
    std::size_t max_buffer_bytes = std::size_t{16} << 30;
    /// Bytes of all frames of one message together (16 GiB). Checked when the session takes
    /// the message from libzmq: a larger message is drained, released and reported as
    /// limit_error, and nothing is parsed.
    ///
    /// It does NOT bound the memory a peer can make the receiver hold: libzmq hands a
    /// multipart message over only after its last frame arrived, so by the time this is
    /// checked every frame is already in memory (a peer holding no key made a kernel with a
    /// 64 MiB limit reach 976 MiB of RSS with 64 frames of 15 MiB). What bounds memory below
    /// the session: ZMQ_MAXMSGSIZE bounds each frame (apply_limits, socket_limits.hpp),
    /// nothing in libzmq bounds the frames per message, and ZMQ_RCVHWM bounds the whole
    /// messages queued per connection. So a peer that can connect can make us hold (frames
    /// x ZMQ_MAXMSGSIZE) per message it has not finished, and up to ZMQ_RCVHWM finished
    /// ones, per connection: no finite bound. The defence is to let no stranger connect:
    /// CurveZMQ with an allow-list of client keys (curve.hpp, docs/CURVEZMQ.md).
    std::size_t max_message_bytes = std::size_t{16} << 30;
    /// Values (scalars, strings, map keys, containers) in any one of the four maps: 4 Mi.
    /// Each costs 24 bytes once parsed, so one map never holds more than 96 MiB of objects
    /// whatever its frame's size; bulk data belongs in buffers.
    std::size_t max_map_elements = std::size_t{1} << 22;
    /// Depth of nested maps and arrays in any of the four maps. 64 is deeper than any real
    /// message and keeps recursive consumers' stacks small.
    std::size_t max_nesting = 64;
    /// Bytes one compressed buffer may decompress to (checked against its declared size
    /// before any allocation). The lz4 block format itself stops at lz4_max_input()
    /// (~2 GiB), so a larger declared size is refused as a compression_error anyway.
    std::size_t max_decompressed_bytes = std::size_t{4} << 30;
    /// Bytes all compressed buffers of one message (every placeholder one resolver resolves)
    /// may decompress to together: 1 GiB. Checked against the declared sizes before each
    /// allocation, so a message never makes the receiver allocate more than this for
    /// decompression, however many placeholders it holds. Raise it for larger compressed
    /// arrays (compression is off by default on the sending side).
    std::size_t max_decompressed_per_message = std::size_t{1} << 30;
    /// A compressed buffer may declare at most ratio x its compressed size + 1 MiB. lz4 can
    /// expand 255-fold, so without this bound a 7.8 MB block forces a 2 GB allocation; 64
    /// keeps that to 64x (plus the 1 MiB every small buffer may use whatever its ratio)
    /// while real data (text ~3-10x, sparse numeric arrays up to ~64x) passes. Data that
    /// compresses better (long runs of zeros) needs a larger ratio on the receiver.
    std::size_t max_decompression_ratio = 64;

    /// Frames after `<IDS|MSG>` that can be legitimate: signature, 4 maps, buffers.
    /// Saturates: a limit set to SIZE_MAX ("no limit") never wraps around.
    std::size_t max_frames_after_delimiter() const noexcept { return add(5, max_buffers); }
    /// All frames of one message, delimiter included.
    std::size_t max_frames() const noexcept {
        return add(add(max_identities, 1), max_frames_after_delimiter());
    }

  private:
    static constexpr std::size_t add(std::size_t a, std::size_t b) noexcept {
        return a > SIZE_MAX - b ? SIZE_MAX : a + b;
    }
};

/// The default copy_threshold: buffers smaller than this are copied into the frame, larger
/// ones are handed to libzmq zero-copy.
///
/// 16 KiB, from the project's benchmark sweep on a 2-vCPU VM (docs/PERFORMANCE.md): with a
/// fresh buffer per message zero-copy wins from 32 KiB on inproc and is within noise of copy
/// up to 256 KiB on ipc and tcp; with a buffer the sender keeps, zero-copy leads from 32-64
/// KiB on all three. 16 KiB is below every measured crossover and a size where both modes are
/// within noise on every transport. (The seed's 50 kB was measured through Python and included
/// its per-frame overhead.) Measure your own machine and transport with
/// zsession::calibrate_copy_threshold or the zsession-calibrate command.
inline constexpr std::size_t default_copy_threshold = 16 * 1024;

/// How values are offloaded into buffers (placeholder.hpp).
struct offload_options {
    /// inline_or_offloaded keeps a value inline in the content when its payload is smaller
    /// than this many bytes, and offloads it to a buffer otherwise. The project's raw C++
    /// measurement put the copy/zero-copy crossover at 1-2 KiB; 1 KiB keeps small values in
    /// the one msgpack pass.
    std::size_t inline_threshold = 1024;
    /// Per-buffer lz4 compression (off by default).
    compression_options compression{};
};

/// What session_options::on_drop is told about a received message the session dropped.
/// Every view is valid only during the call: copy what you keep.
struct dropped_message {
    errc code = errc::ok;     ///< why it was dropped (signature, replay, protocol, limit, ...)
    std::string_view what{};  ///< the error's what()
    /// The routing identities it came with (see recv_result::identities): on a ROUTER, the
    /// first one names the peer that sent it.
    std::span<const buffer> identities{};
};

/// Everything a session is built from. Copied into the session; the session never changes.
/// Meant for designated initializers (`{.key = k}`): every member has a default member
/// initializer, `{}` at least, which is what keeps GCC's -Wmissing-field-initializers quiet
/// about the members left out (keep it so for new members).
struct session_options {
    /// HMAC key. Empty means unsigned messages (as in Jupyter): the signature frame is empty
    /// and incoming signatures are not checked.
    std::string key{};
    /// "hmac-" followed by any digest OpenSSL knows; Jupyter uses "hmac-sha256".
    std::string signature_scheme = "hmac-sha256";
    /// header.username of messages this session makes.
    std::string username = "zsession";
    /// header.session of messages this session makes; empty draws a fresh UUID4.
    std::string session_id{};
    packer_kind packer = packer_kind::msgpack;
    /// Buffers with size < copy_threshold are copied, the others sent zero-copy.
    std::size_t copy_threshold = default_copy_threshold;
    /// How many recent signatures are remembered to reject replays (jupyter_client keeps
    /// 2^16). 0 disables replay protection.
    std::size_t replay_history = std::size_t{1} << 16;
    /// Bounds on received messages.
    zsession::limits limits{};
    /// How offload() and inline_or_offloaded::make() treat values sent with this session.
    offload_options offload{};
    /// Handlers for typed values (placeholder.hpp). Null: the session makes its own
    /// registry::builtins(). Shared read-only, so one registry can serve many sessions.
    std::shared_ptr<const registry> handlers{};
    /// Called by session::recv and session::try_recv for each received message they drop
    /// (bad layout, signature, replay, limits, decode), after the message was consumed whole
    /// and before the error is thrown or returned; never for a good message, never for a
    /// timeout. Runs on the receiving thread, so keep it short (log, count). It should not
    /// throw: an exception it throws is caught and discarded, so the drop is still reported
    /// and the next message is received normally. Empty: nothing is called.
    std::function<void(const dropped_message&)> on_drop{};
};

/// Anything that hands out session_options through options() (a session): the convenience
/// overloads of placeholder.hpp take it, so the value layer needs no socket headers.
template <class S>
concept has_session_options = requires(const S& s) {
    { s.options() } -> std::convertible_to<const session_options&>;
};

}  // namespace zsession
