#include "zsession/error.hpp"

namespace zsession {

const char* to_string(errc code) noexcept {
    switch (code) {
        case errc::ok:
            return "ok";
        case errc::protocol:
            return "protocol";
        case errc::signature:
            return "signature";
        case errc::replay:
            return "replay";
        case errc::decode:
            return "decode";
        case errc::limit:
            return "limit";
        case errc::unknown_handler:
            return "unknown_handler";
        case errc::registry:
            return "registry";
        case errc::compression:
            return "compression";
        case errc::usage:
            return "usage";
        case errc::crypto:
            return "crypto";
        case errc::send_timeout:
            return "send_timeout";
    }
    return "unknown";
}

}  // namespace zsession
