// src/packer_common.hpp (private) - what both packers share, below both: the header's
// fields, reading a header map, the msgpack timestamp as ISO 8601, the write depth limit.
#pragma once

#include <array>
#include <string>
#include <string_view>
#include <utility>

#include "zsession/header.hpp"
#include "zsession/message.hpp"

namespace zsession::detail {

/// Deepest object either packer writes: far beyond any message, short of exhausting the
/// stack (both writers recurse). Deeper content is a usage_error on encode.
inline constexpr std::size_t max_pack_depth = 1024;

/// The six header fields in wire order: (name, pointer into `h`). Valid while `h` lives.
std::array<std::pair<std::string_view, const inline_string*>, 6> header_fields(const header& h);
std::array<std::pair<std::string_view, inline_string*>, 6> header_fields(header& h);

/// Reads a header map into `out` (every field is overwritten or cleared). With `strict`,
/// every field must be present (msg_id, msg_type, username, session, date, version);
/// without, missing fields stay empty (parent_header). Throws decode_error for a missing or
/// repeated field or a value of the wrong type; `out` is then unspecified. Keys that are not
/// header fields are ignored. Fields in wire order (as every known peer writes them) cost
/// one key comparison each.
void read_header(const msgpack::object& map, bool strict, const char* what, header& out);

/// A msgpack timestamp extension (type -1, as Python's msgpack writes datetimes) as ISO 8601
/// "YYYY-MM-DDTHH:MM:SS.ffffffZ". Throws decode_error (naming `where`) for another extension
/// type or an invalid timestamp.
std::string timestamp_to_iso(const msgpack::object& ext, const std::string& where);

}  // namespace zsession::detail
