// src/json_packer.hpp (private) - the JSON packer: the four maps to and from JSON text, with
// the same in-memory form (msgpack::object) as the msgpack packer. Its reader and writer are
// its own (issue 13: no intermediate tree, no per-value allocation, an ASCII fast path sixteen
// bytes at a time); they keep RapidJSON 1.1's accepted language and output byte for byte,
// and use RapidJSON's Grisu2 dtoa for doubles (docs/PACKERS.md, docs/PERFORMANCE.md).
//
// Mapping (documented in docs/PACKERS.md, tested in tests/interop/json_packer_test.cpp):
//   nil/bool/integers/strings/arrays/maps  <-> null/true,false/numbers/strings/arrays/objects
//   finite float32/float64                  -> shortest round-trip number; JSON reals -> FLOAT64
//   NaN, +inf, -inf                         -> the strings "nan", "inf", "-inf" (what
//                                              jupyter_client's json_clean writes)
//   BIN                                     -> standard base64 string, padded, no newline
//   EXT -1 (msgpack timestamp)              -> ISO 8601 string "YYYY-MM-DDTHH:MM:SS.ffffffZ"
//   other EXT                               -> usage_error (no JSON form)
//   map keys: strings; integers, bool, nil  -> their JSON text ("1", "true", "null"), as
//                                              Python's json.dumps does; other keys usage_error
//   invalid UTF-8 in a string, either way   -> each maximal invalid subsequence becomes U+FFFD
//                                              (Python's bytes.decode("utf8", "replace"))
//   NaN, Infinity, -Infinity literals read  -> FLOAT64 (Python's json.loads accepts them)
//   numbers read                            -> what Python's json.loads gives (integers within
//                                              64 bits, correctly rounded doubles) or
//                                              decode_error (wider integers); docs/PACKERS.md
//   an object repeating a key, read         -> decode_error (docs/PROTOCOL.md)
#pragma once

#include <string>

#include "zsession/buffer.hpp"
#include "zsession/header.hpp"
#include "zsession/message.hpp"
#include "zsession/options.hpp"

namespace zsession::detail {

/// Appends `h` as a JSON object (`{}` when empty) to `out`. Throws only std::bad_alloc.
void json_pack_header(const header& h, std::string& out);

/// Appends `obj` (a map; nil is written as `{}`) as a JSON object to `out`. Throws
/// usage_error when `obj` is neither nil nor a map, or holds a value with no JSON form (see
/// the mapping above); `out` may then hold a partial document.
void json_pack_map(const msgpack::object& obj, std::string& out, const char* what);

/// Parses one frame that must hold exactly one JSON object (surrounding whitespace allowed).
/// Strings that need no decoding (no escape, valid UTF-8) point into `bytes`, which the
/// caller keeps alive as long as the result (as with msgpack); the others are decoded into
/// `zone`. Memory is proportional to the frame's size (JSON declares no sizes); the parser is
/// iterative and stops at depth limits.max_nesting + 1. Throws decode_error (not JSON, trailing
/// bytes, not an object, a repeated key, a number outside what msgpack holds) or limit_error (too
/// deep, too many values, U+FFFD replacement growing the strings by more than the frame's size).
msgpack::object json_unpack_map(bytes_view bytes, msgpack::zone& zone, const limits& lim,
                                const char* what);

/// packer::try_read_header for JSON: plain ASCII strings only (no escape, no byte >= 0x80),
/// whitespace anywhere JSON allows it.
bool json_try_read_header(bytes_view bytes, bool strict, const limits& lim, header& out);

}  // namespace zsession::detail
