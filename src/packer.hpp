// src/packer.hpp (private) - the packer strategy: the four maps to and from wire bytes.
// The codec picks one packer when it is built (packer_for) and calls through it; the
// packers themselves (msgpack_packer.cpp, json_packer.cpp) are siblings that share only
// packer_common.hpp. A new packer is one more file and one more row in packer_for.
#pragma once

#include <string>

#include "zsession/buffer.hpp"
#include "zsession/header.hpp"
#include "zsession/message.hpp"
#include "zsession/options.hpp"

namespace zsession::detail {

/// One packer's three operations.
struct packer {
    /// Appends the packed form of `h` (`{}` when empty) to `out`.
    void (*pack_header)(const header& h, std::string& out);
    /// Appends the packed form of `obj` (a map; nil is written as `{}`) to `out`. Throws
    /// usage_error when `obj` is neither nil nor a map or holds a value the packer cannot
    /// write; `out` may then hold a partial document.
    void (*pack_map)(const msgpack::object& obj, std::string& out, const char* what);
    /// Parses one frame that must hold exactly one map, into `zone` (strings may point into
    /// `bytes`, which the caller keeps alive as long as the result). Checks the nesting and
    /// element limits before allocating. Throws decode_error (invalid, trailing bytes, not a
    /// map) or limit_error.
    msgpack::object (*unpack_map)(bytes_view bytes, msgpack::zone& zone, const limits& lim,
                                  const char* what);
};

/// The packer for `kind`, a static object. Throws usage_error for a kind it does not know.
const packer& packer_for(packer_kind kind);

}  // namespace zsession::detail
