// src/text_util.hpp (private) - the byte and text helpers several modules share: one hex
// table, one big-endian reader, one ISO 8601 writer, one zone-string copier.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <string_view>

#ifndef MSGPACK_NO_BOOST
#define MSGPACK_NO_BOOST
#endif
#include <msgpack.hpp>

namespace zsession::detail {

/// The big-endian unsigned integer in p[0, n), n <= 8. The caller checked the bounds.
inline std::uint64_t read_be(const unsigned char* p, std::size_t n) noexcept {
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < n; ++i) v = (v << 8) | p[i];
    return v;
}

/// Length of "YYYY-MM-DDTHH:MM:SS" and of "YYYY-MM-DDTHH:MM:SS.ffffffZ".
inline constexpr std::size_t iso8601_seconds_size = 19;
inline constexpr std::size_t iso8601_size = 27;

/// Writes "YYYY-MM-DDTHH:MM:SS" (UTC) for `secs` since the epoch to out[0, 19] (with a NUL
/// at out[19]). False when the time is not representable (out unchanged).
inline bool write_iso8601_seconds(std::int64_t secs, char* out) noexcept {
    const std::time_t t = static_cast<std::time_t>(secs);
    std::tm tm{};
    if (!gmtime_r(&t, &tm)) return false;
    char text[64];
    std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    std::memcpy(out, text, iso8601_seconds_size + 1);
    return true;
}

/// Writes ".ffffffZ" for `micros` (< 1'000'000) to out[0, 8).
inline void write_iso8601_fraction(std::uint32_t micros, char* out) noexcept {
    out[0] = '.';
    for (int i = 6; i >= 1; --i, micros /= 10) out[i] = static_cast<char>('0' + micros % 10);
    out[7] = 'Z';
}

/// A STR object holding a copy of `s` in `zone` ("" needs no allocation).
inline msgpack::object zone_string(std::string_view s, msgpack::zone& zone) {
    msgpack::object o;
    o.type = msgpack::type::STR;
    o.via.str.size = static_cast<std::uint32_t>(s.size());
    o.via.str.ptr = "";
    if (!s.empty()) {
        char* p = static_cast<char*>(zone.allocate_no_align(s.size()));
        std::memcpy(p, s.data(), s.size());
        o.via.str.ptr = p;
    }
    return o;
}

}  // namespace zsession::detail
