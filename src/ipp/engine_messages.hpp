// src/ipp/engine_messages.hpp - content and metadata of the messages an ipyparallel engine
// reads and writes, as msgpack-adapted structs (the session's JSON packer writes them).
// Internal to zsession_ipp.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "zsession/ipp/interpreter.hpp"
#include "zsession/message.hpp"

namespace zsession::ipp::detail {

using empty_map = std::map<std::string, std::string>;

struct registration_request {
    std::string uuid;
    MSGPACK_DEFINE_MAP(uuid)
};
struct registration_request_with_id {
    std::string uuid;
    int id = 0;
    MSGPACK_DEFINE_MAP(uuid, id)
};
struct unregistration_request {
    int id = 0;
    MSGPACK_DEFINE_MAP(id)
};

struct execute_request {
    std::string code;
    bool silent = false;
    bool store_history = true;
    MSGPACK_DEFINE_MAP(code, silent, store_history)
};

struct code_request {
    std::string code;
    std::optional<std::int64_t> cursor_pos;
    MSGPACK_DEFINE_MAP(code, cursor_pos)
};

/// Metadata of every message the engine sends except execute/apply replies.
struct engine_metadata {
    std::string engine;
    MSGPACK_DEFINE_MAP(engine)
};

struct engine_info {
    std::string engine_uuid;
    int engine_id = -1;
    std::string method;
    MSGPACK_DEFINE_MAP(engine_uuid, engine_id, method)
};

/// Metadata of execute_reply and apply_reply: what the task scheduler (status), the broadcast
/// scheduler (original_msg_id, is_coalescing), the hub and the client (engine) read.
struct reply_metadata {
    std::string started;
    bool dependencies_met = true;
    std::string engine;
    std::string status = "ok";
    bool is_broadcast = false;
    bool is_coalescing = false;
    std::string original_msg_id;
    std::optional<detail::engine_info> engine_info;  // on errors, as ipykernel's engine
    MSGPACK_DEFINE_MAP(started, dependencies_met, engine, status, is_broadcast, is_coalescing,
                       original_msg_id, engine_info)
};

struct status_content {
    std::string execution_state;
    MSGPACK_DEFINE_MAP(execution_state)
};
struct status_ok {
    std::string status = "ok";
    MSGPACK_DEFINE_MAP(status)
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
struct clear_output {
    bool wait = false;
    MSGPACK_DEFINE_MAP(wait)
};
struct execute_result {
    int execution_count = 0;
    mime_bundle data;
    empty_map metadata;
    MSGPACK_DEFINE_MAP(execution_count, data, metadata)
};
struct execute_ok {
    std::string status = "ok";
    int execution_count = 0;
    std::vector<empty_map> payload;
    empty_map user_expressions;
    MSGPACK_DEFINE_MAP(status, execution_count, payload, user_expressions)
};
/// execute_reply / apply_reply content with status "error", and the iopub `error`.
struct error_content {
    std::string status = "error";
    std::string ename, evalue;
    std::vector<std::string> traceback;
    detail::engine_info engine_info;
    int execution_count = 0;
    MSGPACK_DEFINE_MAP(status, ename, evalue, traceback, engine_info, execution_count)
};

struct language_info_content {
    std::string name, version, mimetype, file_extension;
    MSGPACK_DEFINE_MAP(name, version, mimetype, file_extension)
};
struct kernel_info_content {
    std::string status = "ok", protocol_version, implementation, implementation_version;
    language_info_content language_info;
    std::string banner;
    std::vector<empty_map> help_links;
    MSGPACK_DEFINE_MAP(status, protocol_version, implementation, implementation_version,
                       language_info, banner, help_links)
};
/// kernel_info_reply's "zsession" field: how a C++ engine advertises its direct data
/// endpoint (docs/IPYPARALLEL-CLIENT.md, "The direct path").
struct zsession_info_content {
    int version = 1;
    std::string direct;
    std::string curve_serverkey;  // "" = the endpoint speaks no CurveZMQ
    MSGPACK_DEFINE_MAP(version, direct, curve_serverkey)
};
/// kernel_info_reply content of an engine with a direct endpoint.
struct kernel_info_direct_content {
    std::string status = "ok", protocol_version, implementation, implementation_version;
    language_info_content language_info;
    std::string banner;
    std::vector<empty_map> help_links;
    zsession_info_content zsession;
    MSGPACK_DEFINE_MAP(status, protocol_version, implementation, implementation_version,
                       language_info, banner, help_links, zsession)
};

struct complete_content {
    std::string status = "ok";
    std::vector<std::string> matches;
    std::int64_t cursor_start = 0, cursor_end = 0;
    empty_map metadata;
    MSGPACK_DEFINE_MAP(status, matches, cursor_start, cursor_end, metadata)
};
struct inspect_content {
    std::string status = "ok";
    bool found = false;
    mime_bundle data;
    empty_map metadata;
    MSGPACK_DEFINE_MAP(status, found, data, metadata)
};
struct is_complete_content {
    std::string status;
    std::string indent;
    MSGPACK_DEFINE_MAP(status, indent)
};
struct comm_info_entry {
    std::string target_name;
    MSGPACK_DEFINE_MAP(target_name)
};
struct comm_info_content {
    std::string status = "ok";
    std::map<std::string, comm_info_entry> comms;
    MSGPACK_DEFINE_MAP(status, comms)
};
struct comm_close_content {
    std::string comm_id;
    empty_map data;
    MSGPACK_DEFINE_MAP(comm_id, data)
};
struct shutdown_content {
    std::string status = "ok";
    bool restart = false;
    MSGPACK_DEFINE_MAP(status, restart)
};

}  // namespace zsession::ipp::detail
