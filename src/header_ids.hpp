// src/header_ids.hpp (private) - a fresh msg_id and date for a header in one call: the
// per-thread generator and clock cache behind them are one thread-local object, so making a
// message costs one thread-local lookup (a __tls_get_addr call in a shared library) for both.
#pragma once

#include "zsession/inline_string.hpp"

namespace zsession::detail {

/// Writes a new random version 4 UUID to `msg_id` and the current UTC time
/// ("YYYY-MM-DDTHH:MM:SS.ffffffZ") to `date`, as new_uuid4 and utc_now_iso8601 do.
/// Thread-safe. Allocates only when a field holds a heap block that is too small (never
/// for a field that fits inline_string's inline capacity).
void fresh_id_and_date(inline_string& msg_id, inline_string& date);

}  // namespace zsession::detail
