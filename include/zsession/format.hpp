// zsession/format.hpp - a readable one-line rendering of a header and a message, for logs
// and debugging (GCC 12 has no <format>, so this is operator<< and to_string).
//
//   std::cerr << m << '\n';
//   message{identities: [00800041a7], header: {msg_id: "m1", msg_type: "execute_request",
//     ...}, parent: "p0", metadata: {}, content: {"code": "1+1", "silent": false},
//     buffers: 2 [8 B, 8388608 B]}
//
// Metadata and content are written as compact JSON-like text (msgpack bin and ext values as
// <bin N B> and <ext T, N B>), each cut at format_options::max_value_chars. Identities are
// short hex. Buffers are summarized as their count and sizes: no buffer byte is ever read.
#pragma once

#ifndef MSGPACK_NO_BOOST
#define MSGPACK_NO_BOOST
#endif
#include <msgpack.hpp>

#include <cstddef>
#include <iosfwd>
#include <string>

#include "zsession/header.hpp"
#include "zsession/message.hpp"

namespace zsession {

/// How much of a message the rendering shows.
struct format_options {
    /// Characters of metadata or content text kept; a longer text is cut there and ends
    /// with "..." (so it is at most max_value_chars + 3 characters). 0: no limit.
    std::size_t max_value_chars = 256;
    /// Bytes of each identity shown as hex; a longer identity ends with "..(N B)".
    std::size_t max_identity_bytes = 8;
};

/// {msg_id: "...", msg_type: "...", username: "...", session: "...", date: "...",
/// version: "..."}; an empty header (a request's parent) as {}. Strings are quoted and
/// escaped as in JSON.
std::string to_string(const header& h);
/// message{identities: [hex, ...], header: {...}, parent: "<parent msg_id>" or none,
/// metadata: {...}, content: {...}, buffers: N [size B, ...]}. Reads no buffer byte.
std::string to_string(const message& m, const format_options& opts = {});
/// A msgpack object as compact JSON-like text, cut at `max_chars` (0: no limit) with "...".
std::string to_string(const msgpack::object& o, std::size_t max_chars);

/// Writes to_string(h).
std::ostream& operator<<(std::ostream& os, const header& h);
/// Writes to_string(m) with the default format_options.
std::ostream& operator<<(std::ostream& os, const message& m);

}  // namespace zsession
