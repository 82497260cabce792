// examples/kernel/replies.hpp - content of the Jupyter messages the kernel reads and writes, as
// msgpack-adapted structs (the session's packer turns them into JSON), plus Jupyter's
// code-point cursor positions.
//
// Reading: a key missing from a request keeps the member's default, extra keys are ignored,
// and a value of the wrong type makes message::content_as throw decode_error.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "zsession/message.hpp"

namespace replies {

using mime_bundle = std::map<std::string, std::string>;
using empty_map = std::map<std::string, std::string>;

// -- requests ------------------------------------------------------------------------------

struct execute_request {
    std::string code;
    bool silent = false;
    bool store_history = true;
    MSGPACK_DEFINE_MAP(code, silent, store_history)
};

/// is_complete, complete and inspect requests. No cursor_pos means the end of the code.
struct code_request {
    std::string code;
    std::optional<std::int64_t> cursor_pos;
    MSGPACK_DEFINE_MAP(code, cursor_pos)
};

struct history_request {
    bool output = false;
    std::string hist_access_type = "tail";
    std::optional<std::int64_t> session, start, stop, n;
    std::optional<std::string> pattern;
    bool unique = false;
    MSGPACK_DEFINE_MAP(output, hist_access_type, session, start, stop, n, pattern, unique)
};

/// shutdown_request, and its reply.
struct shutdown {
    std::string status = "ok";
    bool restart = false;
    MSGPACK_DEFINE_MAP(status, restart)
};

/// comm_open; its data and metadata are ignored (the kernel registers no comm targets).
struct comm_open {
    std::string comm_id, target_name;
    MSGPACK_DEFINE_MAP(comm_id, target_name)
};

// -- replies on shell and control ------------------------------------------------------------

/// The reply to a request the kernel cannot serve (content of the wrong type, or a request
/// on the wrong channel): `<type>_reply` with the error structure every reply may have.
struct error_reply {
    std::string status = "error", ename, evalue;
    std::vector<std::string> traceback;
    MSGPACK_DEFINE_MAP(status, ename, evalue, traceback)
};

struct language_info_t {
    std::string name = "calc", version = "1.0", mimetype = "text/x-calc";
    std::string file_extension = ".calc", pygments_lexer = "text";
    MSGPACK_DEFINE_MAP(name, version, mimetype, file_extension, pygments_lexer)
};

struct kernel_info {
    std::string status = "ok", protocol_version, implementation = "zcalc", implementation_version;
    language_info_t language_info;
    std::string banner = "zcalc: a calculator kernel on zsession. Try help().";
    bool debugger = false;
    std::vector<std::map<std::string, std::string>> help_links;
    MSGPACK_DEFINE_MAP(status, protocol_version, implementation, implementation_version,
                       language_info, banner, debugger, help_links)
};

struct page_payload {
    std::string source;
    mime_bundle data;
    int start = 0;
    MSGPACK_DEFINE_MAP(source, data, start)
};

struct execute_ok {
    std::string status = "ok";
    int execution_count = 0;
    std::vector<page_payload> payload;
    empty_map user_expressions;
    MSGPACK_DEFINE_MAP(status, execution_count, payload, user_expressions)
};

struct execute_error {
    std::string status, ename, evalue;
    std::vector<std::string> traceback;
    int execution_count = 0;
    MSGPACK_DEFINE_MAP(status, ename, evalue, traceback, execution_count)
};

struct is_complete {
    std::string status, indent;
    MSGPACK_DEFINE_MAP(status, indent)
};

struct complete {
    std::string status = "ok";
    std::vector<std::string> matches;
    std::int64_t cursor_start = 0, cursor_end = 0;
    empty_map metadata;
    MSGPACK_DEFINE_MAP(status, matches, cursor_start, cursor_end, metadata)
};

struct inspect {
    std::string status = "ok";
    bool found = false;
    mime_bundle data;
    empty_map metadata;
    MSGPACK_DEFINE_MAP(status, found, data, metadata)
};

/// One history entry: [session, line, input] or, with output, [session, line, [input, output]].
using history_line = msgpack::type::tuple<int, int, std::string>;
using history_line_output =
    msgpack::type::tuple<int, int, msgpack::type::tuple<std::string, std::optional<std::string>>>;

template <class Line>
struct history {
    std::string status = "ok";
    std::vector<Line> history;
    MSGPACK_DEFINE_MAP(status, history)
};

struct comm_info {
    std::string status = "ok";
    empty_map comms;
    MSGPACK_DEFINE_MAP(status, comms)
};

struct status_ok {
    std::string status = "ok";
    MSGPACK_DEFINE_MAP(status)
};

// -- iopub --------------------------------------------------------------------------------------

struct status {
    std::string execution_state;
    MSGPACK_DEFINE_MAP(execution_state)
};

struct execute_input {
    std::string code;
    int execution_count = 0;
    MSGPACK_DEFINE_MAP(code, execution_count)
};

struct stream {
    std::string name, text;
    MSGPACK_DEFINE_MAP(name, text)
};

struct display_data {
    mime_bundle data;
    empty_map metadata;
    MSGPACK_DEFINE_MAP(data, metadata)
};

struct execute_result {
    int execution_count = 0;
    mime_bundle data;
    empty_map metadata;
    MSGPACK_DEFINE_MAP(execution_count, data, metadata)
};

struct clear_output {
    bool wait = false;
    MSGPACK_DEFINE_MAP(wait)
};

/// comm_close on iopub, the answer to a comm_open for a target the kernel does not have.
struct comm_close {
    std::string comm_id;
    empty_map data;
    MSGPACK_DEFINE_MAP(comm_id, data)
};

struct error {
    std::string ename, evalue;
    std::vector<std::string> traceback;
    MSGPACK_DEFINE_MAP(ename, evalue, traceback)
};

// -- cursor positions ----------------------------------------------------------------------
// Jupyter counts cursor positions in Unicode code points (protocol 5.2+); the code is UTF-8.

/// Code points in `utf8` (bytes that are not continuation bytes).
inline std::int64_t code_points(std::string_view utf8) {
    std::int64_t n = 0;
    for (const char c : utf8) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
    return n;
}

/// Byte offset of code point `pos` in `utf8`; its end when `pos` is absent, negative or past it.
inline std::size_t byte_offset(std::string_view utf8, std::optional<std::int64_t> pos) {
    if (!pos || *pos < 0) return utf8.size();
    std::int64_t seen = 0;
    for (std::size_t i = 0; i < utf8.size(); ++i) {
        if ((static_cast<unsigned char>(utf8[i]) & 0xC0) != 0x80 && seen++ == *pos) return i;
    }
    return utf8.size();
}

}  // namespace replies
