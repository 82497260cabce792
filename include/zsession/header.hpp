// zsession/header.hpp - the Jupyter message header, and the clock and ids that fill it.
#pragma once

#include <string>
#include <string_view>

namespace zsession {

/// Version of the Jupyter messaging protocol this library speaks.
inline constexpr std::string_view protocol_version = "5.3";

/// A message header (also the type of parent_header). An all-empty header is written as `{}`
/// (a request has no parent). Unknown keys of a received header are ignored.
struct header {
    std::string msg_id;
    std::string msg_type;
    std::string username;
    std::string session;
    std::string date;  ///< ISO 8601, UTC, microseconds: "2026-11-22T01:16:00.123456Z"
    std::string version;

    bool empty() const noexcept {
        return msg_id.empty() && msg_type.empty() && username.empty() && session.empty() &&
               date.empty() && version.empty();
    }
    friend bool operator==(const header&, const header&) = default;
};

/// A random (version 4) UUID in its canonical 36-character form. Thread-safe.
std::string new_uuid4();

/// The current UTC time as Jupyter writes it: "YYYY-MM-DDTHH:MM:SS.ffffffZ". Thread-safe.
std::string utc_now_iso8601();

}  // namespace zsession
