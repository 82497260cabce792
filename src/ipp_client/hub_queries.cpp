// The hub's queries beside connection_request: queue_request, result_request,
// history_request, purge_request (ipyparallel/controller/hub.py, query_handlers). Each is a
// request on the client's query socket whose reply is parsed into a typed result.
#include "zsession/ipp/client.hpp"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <map>
#include <optional>

#include "zsession/error.hpp"

namespace zsession::ipp {

namespace {

struct queue_request_content {
    std::optional<std::vector<int>> targets{};  // null = every engine
    bool verbose = false;
    MSGPACK_DEFINE_MAP(targets, verbose)
};

struct result_request_content {
    std::vector<std::string> msg_ids;
    bool status_only = false;
    MSGPACK_DEFINE_MAP(msg_ids, status_only)
};

struct purge_ids_content {
    std::vector<std::string> msg_ids;
    std::vector<int> engine_ids;
    MSGPACK_DEFINE_MAP(msg_ids, engine_ids)
};

struct purge_all_content {
    std::string msg_ids = "all";
    MSGPACK_DEFINE_MAP(msg_ids)
};

/// The reply content of a hub query, as a JSON document. Throws remote_error when the hub
/// answered with an error, client_error when the content is not a JSON object.
rapidjson::Document hub_reply(const result& r, std::string_view expected_type) {
    r.raise_if_error();
    rapidjson::Document d;
    d.Parse(r.content_json.c_str());
    if (d.HasParseError() || !d.IsObject()) {
        throw client_error("the hub's " + std::string(expected_type) + " is not a JSON object");
    }
    if (r.msg_type != expected_type) {
        throw client_error("the hub answered " + r.msg_type + ", not " +
                           std::string(expected_type));
    }
    return d;
}

int int_member(const rapidjson::Value& v, const char* key) {
    auto it = v.FindMember(key);
    return it != v.MemberEnd() && it->value.IsInt() ? it->value.GetInt() : 0;
}

std::string string_member(const rapidjson::Value& v, const char* key) {
    auto it = v.FindMember(key);
    return it != v.MemberEnd() && it->value.IsString() ? it->value.GetString() : std::string();
}

const rapidjson::Value* object_member(const rapidjson::Value& v, const char* key) {
    auto it = v.FindMember(key);
    return it != v.MemberEnd() && it->value.IsObject() ? &it->value : nullptr;
}

std::vector<std::string> strings_member(const rapidjson::Value& v, const char* key) {
    std::vector<std::string> out;
    auto it = v.FindMember(key);
    if (it == v.MemberEnd() || !it->value.IsArray()) return out;
    for (const auto& s : it->value.GetArray()) {
        if (s.IsString()) out.emplace_back(s.GetString());
    }
    return out;
}

/// JSON text of `v` (one member of a parsed reply, written back out).
std::string json_text(const rapidjson::Value& v) {
    rapidjson::StringBuffer out;
    rapidjson::Writer<rapidjson::StringBuffer> w(out);
    v.Accept(w);
    return {out.GetString(), out.GetSize()};
}

stored_result record_of(const std::string& msg_id, const rapidjson::Value& rec) {
    stored_result s;
    s.msg_id = msg_id;
    s.received = string_member(rec, "received");
    if (const auto* h = object_member(rec, "result_header")) {
        s.msg_type = string_member(*h, "msg_type");
    }
    if (const auto* c = object_member(rec, "result_content")) {
        s.status = string_member(*c, "status");
        s.result_content_json = json_text(*c);
    }
    if (const auto* m = object_member(rec, "result_metadata")) {
        s.engine_uuid = string_member(*m, "engine");
    }
    if (const auto* io = object_member(rec, "io")) {
        s.stdout_text = string_member(*io, "stdout");
        s.stderr_text = string_member(*io, "stderr");
    }
    return s;
}

}  // namespace

hub_queue_status client::queue_status(const std::vector<int>& engine_ids,
                                      std::chrono::milliseconds timeout) {
    auto m = session().make_message("queue_request");
    queue_request_content c;
    if (!engine_ids.empty()) c.targets = engine_ids;
    m.set_content(c);
    const auto d = hub_reply(send(channel::query, -1, std::move(m)).get(timeout), "queue_reply");
    hub_queue_status out;
    for (const auto& [key, value] : d.GetObject()) {
        const std::string name(key.GetString(), key.GetStringLength());
        if (!value.IsObject() || name.empty() ||
            !std::all_of(name.begin(), name.end(),
                         [](char ch) { return ch >= '0' && ch <= '9'; })) {
            continue;  // "status", "unassigned"
        }
        out.engines.push_back(engine_queue{.engine_id = std::stoi(name),
                                           .queue = int_member(value, "queue"),
                                           .tasks = int_member(value, "tasks"),
                                           .completed = int_member(value, "completed")});
    }
    std::sort(
        out.engines.begin(), out.engines.end(),
        [](const engine_queue& a, const engine_queue& b) { return a.engine_id < b.engine_id; });
    out.unassigned = int_member(d, "unassigned");
    return out;
}

hub_results client::results(const std::vector<std::string>& msg_ids, bool status_only,
                            std::chrono::milliseconds timeout) {
    auto m = session().make_message("result_request");
    m.set_content(result_request_content{msg_ids, status_only});
    const auto d = hub_reply(send(channel::query, -1, std::move(m)).get(timeout), "result_reply");
    hub_results out;
    out.pending = strings_member(d, "pending");
    out.completed = strings_member(d, "completed");
    if (status_only) return out;
    for (const auto& id : out.completed) {
        if (const auto* rec = object_member(d, id.c_str()))
            out.records.push_back(record_of(id, *rec));
    }
    return out;
}

std::vector<std::string> client::history(std::chrono::milliseconds timeout) {
    auto m = session().make_message("history_request");
    m.set_content(std::map<std::string, int>{});
    const auto d = hub_reply(send(channel::query, -1, std::move(m)).get(timeout), "history_reply");
    return strings_member(d, "history");
}

void client::purge_results(const std::vector<std::string>& msg_ids,
                           const std::vector<int>& engine_ids, std::chrono::milliseconds timeout) {
    auto m = session().make_message("purge_request");
    m.set_content(purge_ids_content{msg_ids, engine_ids});
    (void)hub_reply(send(channel::query, -1, std::move(m)).get(timeout), "purge_reply");
}

void client::purge_all_results(std::chrono::milliseconds timeout) {
    auto m = session().make_message("purge_request");
    m.set_content(purge_all_content{});
    (void)hub_reply(send(channel::query, -1, std::move(m)).get(timeout), "purge_reply");
}

}  // namespace zsession::ipp
