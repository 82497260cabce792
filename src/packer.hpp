// src/packer.hpp (private) - the four maps to and from wire bytes, for each packer.
#pragma once

#include <array>
#include <string>
#include <string_view>
#include <utility>

#include "zsession/buffer.hpp"
#include "zsession/header.hpp"
#include "zsession/message.hpp"
#include "zsession/options.hpp"

namespace zsession::detail {

/// Deepest object either packer writes: far beyond any message, short of exhausting the
/// stack (both writers recurse). Deeper content is a usage_error on encode.
inline constexpr std::size_t max_pack_depth = 1024;

/// Appends the packed form of `h` (`{}` when empty) to `out`.
void pack_header(packer_kind kind, const header& h, std::string& out);
/// Appends the packed form of `obj` (a map; nil is written as `{}`) to `out`.
/// Throws usage_error when `obj` is neither nil nor a map.
void pack_map(packer_kind kind, const msgpack::object& obj, std::string& out, const char* what);

/// Parses one frame that must hold exactly one map. Strings and binaries may point into
/// `bytes`, which the caller keeps alive as long as the result. Checks the nesting limit
/// and that the declared sizes of all containers fit in the frame before anything is
/// allocated. Throws decode_error (invalid, trailing bytes, not a map) or limit_error.
msgpack::object unpack_map(packer_kind kind, bytes_view bytes, msgpack::zone& zone,
                           const limits& lim, const char* what);

/// Reads a header map. With `strict`, every field must be present (msg_id, msg_type,
/// username, session, date, version); without, missing fields stay empty (parent_header).
/// Throws decode_error for a missing or repeated field or a value of the wrong type.
/// Keys that are not header fields are ignored.
header header_from_object(const msgpack::object& map, bool strict, const char* what);

/// The six header fields in wire order: (name, pointer into `h`). Valid while `h` lives.
std::array<std::pair<std::string_view, const std::string*>, 6> header_fields(const header& h);
std::array<std::pair<std::string_view, std::string*>, 6> header_fields(header& h);

/// A msgpack timestamp extension (type -1, as Python's msgpack writes datetimes) as ISO 8601
/// "YYYY-MM-DDTHH:MM:SS.ffffffZ". Throws decode_error (naming `where`) for another extension
/// type or an invalid timestamp.
std::string timestamp_to_iso(const msgpack::object& ext, const std::string& where);

}  // namespace zsession::detail
