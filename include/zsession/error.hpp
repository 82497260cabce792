// zsession/error.hpp - one typed exception hierarchy, and the codes of its non-throwing twins.
//
// Every failure a peer can cause derives from zsession::error. After any of them the session
// and the socket are usable: the bad message was consumed whole, and the next one is received.
#pragma once

#include <cstddef>
#include <stdexcept>
#include <string>

namespace zsession {

/// What went wrong, for the non-throwing calls and for error::code().
enum class errc {
    ok = 0,
    protocol,         ///< frame layout: no delimiter, too few frames, bad identities
    signature,        ///< missing, malformed, or wrong HMAC signature
    replay,           ///< a signature seen before (replayed message)
    decode,           ///< a frame that is not valid for the packer, or a map of the wrong shape
    limit,            ///< a configured limit was exceeded (frames, bytes, nesting)
    unknown_handler,  ///< a placeholder names a handler the registry does not have
    registry,         ///< a handler registration conflicts with an existing one
    compression,      ///< a compressed buffer that does not decompress to its declared size
    usage,            ///< the caller broke an API contract (bad option, bad argument)
    crypto,           ///< OpenSSL failed to compute a MAC (out of memory, provider failure)
    send_timeout,     ///< a blocking send found no room within the socket's ZMQ_SNDTIMEO
};

/// How many codes errc has (the size of session_stats::dropped_by_code).
inline constexpr std::size_t errc_count = static_cast<std::size_t>(errc::send_timeout) + 1;

/// Short stable name of a code ("signature", "limit", ...).
const char* to_string(errc code) noexcept;

/// Base of every zsession exception.
class error : public std::runtime_error {
  public:
    error(errc code, const std::string& what) : std::runtime_error(what), code_(code) {}
    errc code() const noexcept { return code_; }

  private:
    errc code_;
};

#define ZSESSION_DEFINE_ERROR(name, base, code_value)                            \
    class name : public base {                                                   \
      public:                                                                    \
        explicit name(const std::string& what) : base(errc::code_value, what) {} \
                                                                                 \
      protected:                                                                 \
        name(errc code, const std::string& what) : base(code, what) {}           \
    };

/// A received message's frame layout is wrong: no `<IDS|MSG>` delimiter, or fewer than
/// signed_frame_count frames after it. Thrown by codec::decode (session::recv).
ZSESSION_DEFINE_ERROR(protocol_error, error, protocol)
/// A signed session received a message with no signature, one of the wrong length, or one
/// that does not match its HMAC. Thrown by codec::decode before anything is parsed.
ZSESSION_DEFINE_ERROR(signature_error, error, signature)
/// A correctly signed message whose signature is in the replay history (a replay).
/// Thrown by codec::decode; catchable as signature_error.
ZSESSION_DEFINE_ERROR(replay_error, signature_error, replay)
/// Bytes that are not valid for the packer, a map or header of the wrong shape, a content
/// that does not convert to the requested type (content_as, map_view::get), or a
/// placeholder that does not fit its buffers. Thrown by decode, the typed accessors and the
/// resolver.
ZSESSION_DEFINE_ERROR(decode_error, error, decode)
/// A configured limit (options.hpp's limits) was exceeded: frames, bytes, nesting, elements,
/// identities, buffers, decompressed size. Thrown by recv (after draining the message) and
/// decode.
ZSESSION_DEFINE_ERROR(limit_error, error, limit)
/// A placeholder names a handler the registry does not have (resolver::resolve,
/// registry::find by name, registry::decode_any). Catchable as decode_error.
ZSESSION_DEFINE_ERROR(unknown_handler_error, decode_error, unknown_handler)
/// registry::add found a duplicate type or wire name, an empty wire name, or an alias whose
/// target is not registered.
ZSESSION_DEFINE_ERROR(registry_error, error, registry)
/// An unknown compression name, or a compressed buffer that does not decompress to its
/// declared size. Thrown by the resolver and decompress; catchable as decode_error.
ZSESSION_DEFINE_ERROR(compression_error, decode_error, compression)
/// The caller broke a contract: a bad option (unknown signature scheme, replay_history too
/// large), a content that is not a map or has no wire form, a type not registered, a
/// buffer::slice outside the buffer, an array whose size overflows. Never caused by a peer.
ZSESSION_DEFINE_ERROR(usage_error, error, usage)
/// OpenSSL failed while computing a MAC (it could not allocate or reset a context). Thrown
/// by encode, decode and sign of a signed codec; the codec stays usable.
ZSESSION_DEFINE_ERROR(crypto_error, error, crypto)
/// A blocking session::send (no dontwait) could not hand the message to the socket within
/// its ZMQ_SNDTIMEO (no peer connected, or every peer at its high-water mark). Nothing was
/// sent; the session and the socket are usable. Never caused by a received message.
ZSESSION_DEFINE_ERROR(send_timeout_error, error, send_timeout)

#undef ZSESSION_DEFINE_ERROR

}  // namespace zsession
