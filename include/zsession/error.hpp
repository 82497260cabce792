// zsession/error.hpp - one typed exception hierarchy, and the codes of its non-throwing twins.
//
// Every failure a peer can cause derives from zsession::error. After any of them the session
// and the socket are usable: the bad message was consumed whole, and the next one is received.
#pragma once

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
};

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

ZSESSION_DEFINE_ERROR(protocol_error, error, protocol)
ZSESSION_DEFINE_ERROR(signature_error, error, signature)
ZSESSION_DEFINE_ERROR(replay_error, signature_error, replay)
ZSESSION_DEFINE_ERROR(decode_error, error, decode)
ZSESSION_DEFINE_ERROR(limit_error, error, limit)
ZSESSION_DEFINE_ERROR(unknown_handler_error, decode_error, unknown_handler)
ZSESSION_DEFINE_ERROR(registry_error, error, registry)
ZSESSION_DEFINE_ERROR(compression_error, decode_error, compression)
ZSESSION_DEFINE_ERROR(usage_error, error, usage)

#undef ZSESSION_DEFINE_ERROR

}  // namespace zsession
