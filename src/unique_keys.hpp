// src/unique_keys.hpp (private) - the duplicate-key rule shared by both packers' readers.
#pragma once

#include <msgpack.hpp>

namespace zsession::detail {

/// Whether two keys of `map` are equal (same type and value; strings byte for byte). Both
/// readers (msgpack and JSON) refuse such a map with decode_error: Python's json and
/// msgpack readers keep the last value of a repeated key, msgpack-c's struct adaptors and
/// zsession's find_key the first, so accepting one would let two readers of one signed
/// message see different values (docs/PROTOCOL.md, "Duplicate keys").
/// Cost: pairwise for up to 16 keys, otherwise O(n log n) over string keys.
bool has_duplicate_key(const msgpack::object_map& map);

}  // namespace zsession::detail
