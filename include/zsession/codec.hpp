// zsession/codec.hpp - messages to wire frames and back, with no socket: signing, replay
// history, the packer and the limits. session (session.hpp) is the thin socket layer above.
#pragma once

#include <array>
#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <zmq.hpp>

#include "zsession/buffer.hpp"
#include "zsession/copy_policy.hpp"
#include "zsession/error.hpp"
#include "zsession/message.hpp"
#include "zsession/options.hpp"

namespace zsession {

/// The frames of one message, in wire order.
using frames = std::vector<zmq::message_t>;

/// The delimiter between routing identities and the signed part.
inline constexpr std::string_view delimiter = "<IDS|MSG>";

/// Frames after the delimiter that every message has: the signature and the four maps
/// (header, parent_header, metadata, content). Buffers follow them.
inline constexpr std::size_t signed_frame_count = 5;

/// Encodes messages into frames and verifies and decodes frames into messages. Knows no
/// socket, so it is tested and fuzzed on frames alone.
///
/// Thread safety: every member function is const and may be called concurrently: the HMAC
/// key state is read-only after construction and duplicated per message, and the replay
/// history is guarded by a mutex.
class codec {
  public:
    /// Takes the options as given (an empty session_id stays empty; session fills it).
    /// Throws usage_error for an unknown signature scheme or a replay_history above 2^24.
    explicit codec(const session_options& options);
    ~codec();
    codec(codec&&) noexcept;
    codec& operator=(codec&&) noexcept;

    /// Hex signature of the four packed maps in order, or "" when the codec is unsigned.
    /// Throws std::bad_alloc when OpenSSL cannot allocate.
    [[nodiscard]] std::string sign(std::span<const bytes_view, 4> parts) const;

    /// Encodes `m` into wire frames: identities, delimiter, signature, the four packed maps,
    /// then one frame per buffer, copied or zero-copy by choose_send_mode(size,
    /// copy_threshold). Throws usage_error if metadata or content is neither nil nor a map,
    /// or holds a value the packer cannot write.
    [[nodiscard]] frames encode(const message& m) const;
    /// Same, appending to `out` (reuse its capacity across messages).
    void encode_into(const message& m, frames& out) const;

    /// Verifies and decodes one message's frames. Order: frame count and sizes, signature
    /// length, constant-time HMAC, replay history; only then the maps are parsed, within
    /// the limits. Buffers (and identities) become views of their frames: no copy.
    /// Throws protocol_error, limit_error, signature_error, replay_error or decode_error.
    [[nodiscard]] message decode(frames&& in) const;

  private:
    friend class session;  // decodes straight into the message it returns
    struct impl;
    /// decode(), into `m` (a default-constructed message): what session::receive uses to
    /// parse straight into its result (a message is ~900 bytes: no move). `m` is
    /// unspecified when this throws.
    void decode_into(frames& in, message& m) const;
    /// Checks layout, sizes, signature and replay history of `in`; returns the delimiter's
    /// index and sets `maps` to the four map frames' bytes. Parses nothing.
    std::size_t verify(const frames& in, std::array<bytes_view, 4>& maps) const;
    /// Parses verified frames (delimiter at `delim`, map frames' bytes `maps` as verify set
    /// them) into `m`, a default-constructed message; moves the frames out (the identities
    /// last, after everything that can throw).
    void parse(frames& in, std::size_t delim, const std::array<bytes_view, 4>& maps,
               message& m) const;

    std::unique_ptr<impl> impl_;
};

}  // namespace zsession
