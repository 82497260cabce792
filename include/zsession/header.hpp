// zsession/header.hpp - the Jupyter message header, and the clock and ids that fill it.
#pragma once

#include <string>
#include <string_view>

#include "zsession/inline_string.hpp"

namespace zsession {

/// Version of the Jupyter messaging protocol this library speaks.
inline constexpr std::string_view protocol_version = "5.3";

/// A message header (also the type of parent_header). An all-empty header is written as `{}`
/// (a request has no parent). Unknown keys of a received header are ignored.
///
/// The fields are inline_strings (inline_string.hpp): values up to 55 bytes, which covers
/// the UUIDs, dates and jupyter_client ids peers send, are held without a heap allocation;
/// longer ones (any length a peer sends) on the heap. They read and compare like std::string
/// and convert to std::string and std::string_view.
struct header {
    inline_string msg_id;
    inline_string msg_type;
    inline_string username;
    inline_string session;
    inline_string date;  ///< ISO 8601, UTC, microseconds: "2026-11-22T01:16:00.123456Z"
    inline_string version;

    bool empty() const noexcept {
        return msg_id.empty() && msg_type.empty() && username.empty() && session.empty() &&
               date.empty() && version.empty();
    }
    friend bool operator==(const header&, const header&) = default;
};

/// A random (version 4) UUID in its canonical 36-character form. Thread-safe.
std::string new_uuid4();
/// The same, written into `out` (replacing its contents) without allocating.
void new_uuid4(inline_string& out);

/// The current UTC time as Jupyter writes it: "YYYY-MM-DDTHH:MM:SS.ffffffZ". Thread-safe.
std::string utc_now_iso8601();
/// The same, written into `out` (replacing its contents) without allocating.
void utc_now_iso8601(inline_string& out);

}  // namespace zsession
