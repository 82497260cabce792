// src/msgpack_reader.hpp (private) - one bounded pass from msgpack bytes to msgpack::object.
#pragma once

#include <cstddef>
#include <cstdint>

#include "zsession/buffer.hpp"
#include "zsession/message.hpp"

namespace zsession::detail {

/// Parses exactly one msgpack value that fills `bytes`, into objects allocated in `zone`.
///
/// The result is what msgpack-c's unpack returns (non-negative signed integers read as
/// POSITIVE_INTEGER, float32 as FLOAT32, extension ptr at its type byte), with every
/// string, binary and extension pointing into `bytes`: the caller keeps them alive as long
/// as the result. Bounds, checked before anything is allocated:
///  - nesting of maps and arrays deeper than `max_depth` -> limit_error;
///  - containers declaring more elements, all together, than `bytes` has bytes (every
///    element of a valid document starts at a byte of its own) -> decode_error; more than
///    `max_elements` -> limit_error; so the zone never holds more than
///    min(size, max_elements) objects;
///  - truncation, the unused type byte 0xc1, or bytes left after the value -> decode_error.
/// Recursion depth is at most `max_depth`. Thread-safe (no shared state).
msgpack::object read_msgpack(bytes_view bytes, msgpack::zone& zone, std::size_t max_depth,
                             std::size_t max_elements = SIZE_MAX);

}  // namespace zsession::detail
