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

/// One packer's four operations.
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
    /// Reads a header frame straight into `out` (no object tree, no zone; strings copied)
    /// when it has the shape peers write: one map whose keys are distinct header field names
    /// (any order) and whose values are strings (a msgpack timestamp for date; nil too
    /// without `strict`), within `lim`, nothing trailing. Returns true only when
    /// unpack_map + read_header(`strict`) would give the same `out`. Returns false for
    /// anything else, valid or not (`out` is then unspecified): the caller then takes that
    /// general path, which decides. Throws only std::bad_alloc.
    bool (*try_read_header)(bytes_view bytes, bool strict, const limits& lim, header& out);
};

/// A header frame read into `out` as unpack_map then read_header(`strict`, `what`) would,
/// with pk.try_read_header first. Throws as they do.
void read_header_frame(const packer& pk, bytes_view bytes, bool strict, const limits& lim,
                       const char* what, header& out);

/// The packer for `kind`, a static object. Throws usage_error for a kind it does not know.
const packer& packer_for(packer_kind kind);

}  // namespace zsession::detail
