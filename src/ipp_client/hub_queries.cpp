// The hub's queries beside connection_request: queue_request, result_request,
// history_request, purge_request, resubmit_request, db_request
// (ipyparallel/controller/hub.py, query_handlers). Each is a
// request on the client's query socket whose reply is parsed into a typed result.
#include "zsession/ipp/client.hpp"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <map>
#include <optional>
#include <thread>

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

struct resubmit_content {
    std::vector<std::string> msg_ids;
    MSGPACK_DEFINE_MAP(msg_ids)
};

struct db_request_content {
    msgpack::object query;
    std::optional<std::vector<std::string>> keys{};  // null = every key but the buffers
    MSGPACK_DEFINE_MAP(query, keys)
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

/// A hub record's result fields: result_header.msg_type, result_content.status and
/// result_content as JSON text (each left empty when absent).
void read_result(const rapidjson::Value& rec, std::string& msg_type, std::string& status,
                 std::string& content_json) {
    if (const auto* h = object_member(rec, "result_header")) {
        msg_type = string_member(*h, "msg_type");
    }
    if (const auto* c = object_member(rec, "result_content")) {
        status = string_member(*c, "status");
        content_json = json_text(*c);
    }
}

stored_result record_of(const std::string& msg_id, const rapidjson::Value& rec) {
    stored_result s;
    s.msg_id = msg_id;
    s.received = string_member(rec, "received");
    read_result(rec, s.msg_type, s.status, s.result_content_json);
    if (const auto* m = object_member(rec, "result_metadata")) {
        s.engine_uuid = string_member(*m, "engine");
    }
    if (const auto* io = object_member(rec, "io")) {
        s.stdout_text = string_member(*io, "stdout");
        s.stderr_text = string_member(*io, "stderr");
    }
    return s;
}

/// `len[i]` of a reply's `buffer_lens` / `result_buffer_lens` (null: not requested).
std::optional<std::vector<std::size_t>> lens_member(const rapidjson::Value& v, const char* key) {
    auto it = v.FindMember(key);
    if (it == v.MemberEnd() || it->value.IsNull()) return std::nullopt;
    if (!it->value.IsArray())
        throw client_error(std::string("db_reply: ") + key + " is not a list");
    std::vector<std::size_t> out;
    for (const auto& n : it->value.GetArray()) {
        if (!n.IsUint()) throw client_error(std::string("db_reply: ") + key + " holds a non-count");
        out.push_back(n.GetUint());
    }
    return out;
}

/// The next `n` of `bufs` from `next` on. Throws client_error when the reply has fewer.
std::vector<buffer> take_buffers(std::vector<buffer>& bufs, std::size_t& next, std::size_t n) {
    if (n > bufs.size() - next) {
        throw client_error("db_reply: buffer_lens count more buffers than the reply carries");
    }
    std::vector<buffer> out(
        std::make_move_iterator(bufs.begin() + static_cast<std::ptrdiff_t>(next)),
        std::make_move_iterator(bufs.begin() + static_cast<std::ptrdiff_t>(next + n)));
    next += n;
    return out;
}

task_record task_record_of(const rapidjson::Value& rec) {
    task_record t;
    t.msg_id = string_member(rec, "msg_id");
    for (const auto& [key, value] : rec.GetObject()) {
        t.keys.emplace_back(key.GetString(), key.GetStringLength());
    }
    if (const auto* h = object_member(rec, "header")) t.msg_type = string_member(*h, "msg_type");
    t.client_uuid = string_member(rec, "client_uuid");
    t.engine_uuid = string_member(rec, "engine_uuid");
    t.submitted = string_member(rec, "submitted");
    t.started = string_member(rec, "started");
    t.completed = string_member(rec, "completed");
    t.received = string_member(rec, "received");
    t.resubmitted = string_member(rec, "resubmitted");
    read_result(rec, t.result_msg_type, t.status, t.result_content_json);
    t.stdout_text = string_member(rec, "stdout");
    t.stderr_text = string_member(rec, "stderr");
    t.record_json = json_text(rec);
    return t;
}

}  // namespace

bool task_record::has(std::string_view key) const {
    return std::find(keys.begin(), keys.end(), key) != keys.end();
}

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

std::map<std::string, std::string> client::resubmit(const std::vector<std::string>& msg_ids,
                                                    std::chrono::milliseconds timeout) {
    auto m = session().make_message("resubmit_request");
    m.set_content(resubmit_content{msg_ids});
    const auto d = hub_reply(send(channel::query, -1, std::move(m)).get(timeout), "resubmit_reply");
    const auto* re = object_member(d, "resubmitted");
    if (re == nullptr) throw client_error("resubmit_reply: no 'resubmitted' map");
    std::map<std::string, std::string> out;
    for (const auto& [key, value] : re->GetObject()) {
        if (!value.IsString()) throw client_error("resubmit_reply: a new msg_id is not a string");
        out.emplace(std::string(key.GetString(), key.GetStringLength()),
                    std::string(value.GetString(), value.GetStringLength()));
    }
    for (const auto& id : msg_ids) {
        if (!out.contains(id)) throw client_error("resubmit_reply: no new msg_id for " + id);
    }
    return out;
}

stored_result client::wait_stored_result(const std::string& msg_id,
                                         std::chrono::milliseconds timeout,
                                         std::chrono::milliseconds poll) {
    using clock = std::chrono::steady_clock;
    const auto start = clock::now();
    // No overflow for any timeout: the deadline is at most a year ahead.
    const auto deadline =
        start + std::min<std::chrono::milliseconds>(timeout, std::chrono::hours(24 * 365));
    // Each query gets the time left, but at least `grace` (the hub answers in milliseconds),
    // so the last query, at the deadline, can still bring the hub's answer: the wait ends at
    // most 2 x grace after the deadline.
    const std::chrono::milliseconds grace(250);
    const auto left = [&] {
        return std::max(
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now()), grace);
    };
    for (;;) {
        const bool last = clock::now() >= deadline;
        hub_results st;
        try {
            st = results({msg_id}, true, left());
        } catch (const remote_error& e) {
            // The hub learns of a request submitted through a scheduler a moment after the
            // client sent it: until then the id is unknown to it. A KeyError is final only
            // at the deadline.
            if (e.ename != "KeyError" || last) throw;
        }
        if (std::find(st.completed.begin(), st.completed.end(), msg_id) != st.completed.end()) {
            auto full = results({msg_id}, false, left());
            if (full.records.empty()) {
                throw client_error("the hub completed " + msg_id + " but sent no record");
            }
            return std::move(full.records.front());
        }
        if (last) throw timeout_error("the hub did not record " + msg_id + " as completed in time");
        std::this_thread::sleep_for(std::min<clock::duration>(poll, deadline - clock::now()));
    }
}

std::vector<task_record> client::db_query(const msgpack::object& query,
                                          const std::vector<std::string>& keys,
                                          std::chrono::milliseconds timeout) {
    auto m = session().make_message("db_request");
    db_request_content c{.query = query};
    if (!keys.empty()) c.keys = keys;
    m.set_content(c);
    auto r = send(channel::query, -1, std::move(m)).get(timeout);
    const auto d = hub_reply(r, "db_reply");
    auto it = d.FindMember("records");
    if (it == d.MemberEnd() || !it->value.IsArray()) {
        throw client_error("db_reply: records is not a list");
    }
    const auto& records = it->value;
    const auto buffer_lens = lens_member(d, "buffer_lens");
    const auto result_buffer_lens = lens_member(d, "result_buffer_lens");
    if ((buffer_lens && buffer_lens->size() != records.Size()) ||
        (result_buffer_lens && result_buffer_lens->size() != records.Size())) {
        throw client_error("db_reply: buffer_lens do not match the records");
    }
    std::vector<task_record> out;
    out.reserve(records.Size());
    std::size_t next = 0;  // the hub sends each record's buffers, then its result buffers
    for (rapidjson::SizeType i = 0; i < records.Size(); ++i) {
        if (!records[i].IsObject()) throw client_error("db_reply: a record is not a map");
        auto t = task_record_of(records[i]);
        if (buffer_lens) t.buffers = take_buffers(r.buffers, next, (*buffer_lens)[i]);
        if (result_buffer_lens) {
            t.result_buffers = take_buffers(r.buffers, next, (*result_buffer_lens)[i]);
        }
        out.push_back(std::move(t));
    }
    if (next != r.buffers.size()) {
        throw client_error("db_reply: " + std::to_string(r.buffers.size() - next) +
                           " buffers not claimed by buffer_lens / result_buffer_lens");
    }
    return out;
}

std::vector<task_record> client::db_query_ids(const std::vector<std::string>& msg_ids,
                                              const std::vector<std::string>& keys,
                                              std::chrono::milliseconds timeout) {
    msgpack::zone z;
    using in_list = std::map<std::string, std::vector<std::string>>;
    const std::map<std::string, in_list> q{{"msg_id", in_list{{"$in", msg_ids}}}};
    return db_query(msgpack::object(q, z), keys, timeout);
}

std::vector<task_record> client::db_query_completed(const std::vector<std::string>& keys,
                                                    std::chrono::milliseconds timeout) {
    msgpack::zone z;
    using not_null = std::map<std::string, msgpack::type::nil_t>;
    const std::map<std::string, not_null> q{{"completed", not_null{{"$ne", {}}}}};
    return db_query(msgpack::object(q, z), keys, timeout);
}

}  // namespace zsession::ipp
