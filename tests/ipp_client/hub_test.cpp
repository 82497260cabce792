// The hub's queries against Debian's ipcontroller with its default in-memory database
// (cluster.py --with-db --engines 1): queue_status, results (status only and records),
// history, purge_results / purge_all_results, db_query (cross-checked with Python's
// Client.db_query), resubmit, and the hub's errors as remote_error.
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "support.hpp"
#include "zsession/ipp/client.hpp"

using namespace zsession;
using namespace zsession::ipp;
using namespace std::chrono_literals;

namespace {

client& shared_client() {
    return ipp_test::shared_client(1);
}

int engine_id() {
    const auto engines = shared_client().engines();
    REQUIRE(!engines.empty());
    return engines.front().id;
}

bool contains(const std::vector<std::string>& v, const std::string& s) {
    return std::find(v.begin(), v.end(), s) != v.end();
}

/// queue_status of `id` once `pred` holds, polled for up to 5 s (the hub learns of a
/// request through its monitor socket, a little after the engine got it).
engine_queue queue_when(int id, const std::function<bool(const engine_queue&)>& pred) {
    engine_queue q;
    for (int i = 0; i < 50; ++i) {
        const auto s = shared_client().queue_status({id});
        REQUIRE(s.engines.size() == 1);
        q = s.engines.front();
        if (pred(q)) break;
        std::this_thread::sleep_for(100ms);
    }
    return q;
}

/// Waits until the hub has recorded `msg_id` as completed. The client gets the reply from the
/// scheduler, and the hub learns of it through its monitor socket, so a hub query made right
/// after get() can still see the request pending (purge_all_results would then keep it).
void hub_knows_completed(const std::string& msg_id) {
    for (int i = 0; i < 100; ++i) {
        if (contains(shared_client().results({msg_id}, true).completed, msg_id)) return;
        std::this_thread::sleep_for(50ms);
    }
    FAIL("the hub did not record " << msg_id << " as completed within 5 s");
}

const task_record& record_of(const std::vector<task_record>& recs, const std::string& id) {
    auto it = std::find_if(recs.begin(), recs.end(),
                           [&](const task_record& r) { return r.msg_id == id; });
    REQUIRE_MESSAGE(it != recs.end(), "no record of " << id);
    return *it;
}

std::set<std::string> ids_of(const std::vector<task_record>& recs) {
    std::set<std::string> out;
    for (const auto& r : recs) out.insert(r.msg_id);
    return out;
}

struct execute_content {
    std::string code;
    bool silent = false;
    bool store_history = true;
    std::map<std::string, std::string> user_expressions{};
    bool allow_stdin = false;
    bool stop_on_error = true;
    MSGPACK_DEFINE_MAP(code, silent, store_history, user_expressions, allow_stdin, stop_on_error)
};

/// A load-balanced execute_request carrying `buffers` (the engine ignores them; the hub
/// records them).
future execute_with_buffers(const std::string& code, std::vector<std::string> buffers) {
    auto m = shared_client().session().make_message("execute_request");
    m.set_content(execute_content{code});
    m.set_metadata(std::map<std::string, int>{});
    for (const auto& b : buffers) m.buffers.push_back(buffer::copy_of(bytes_view(b)));
    return shared_client().send(client::channel::task, -1, std::move(m));
}

/// Output of `/usr/bin/python3 -c <code>` (bounded by `timeout 60`), with the profile in
/// ZSESSION_IPP_PROFILE as the cluster runner set it.
std::string python_output(const std::string& code) {
    const std::string cmd = "timeout 60 /usr/bin/python3 -c '" + code + "'";
    FILE* p = popen(cmd.c_str(), "r");
    REQUIRE(p != nullptr);
    std::string out;
    char chunk[4096];
    for (std::size_t n; (n = std::fread(chunk, 1, sizeof chunk, p)) > 0;) out.append(chunk, n);
    const int rc = pclose(p);
    INFO(out);
    REQUIRE(rc == 0);
    return out;
}

}  // namespace

TEST_CASE("hub: queue_status counts queued and completed requests per engine") {
    const int id = engine_id();
    const int before = shared_client().queue_status().engines.front().completed;
    REQUIRE(shared_client().execute(id, "x = 1").get(30s).ok());
    const auto done = queue_when(
        id, [before](const engine_queue& q) { return q.queue == 0 && q.completed > before; });
    CHECK(done.engine_id == id);
    CHECK(done.completed >= before + 1);  // + the warm-up kernel_info requests

    auto slow = shared_client().execute(id, "import time; time.sleep(2)");
    const auto busy = queue_when(id, [](const engine_queue& q) { return q.queue >= 1; });
    CHECK(busy.queue == 1);
    const auto all = shared_client().queue_status();
    CHECK(all.unassigned == 0);
    REQUIRE(slow.get(30s).ok());
}

TEST_CASE("hub: results gives pending and completed status, and the stored records") {
    const int id = engine_id();
    const auto done = shared_client().execute(id, "print('stored'); 6 * 7").get(30s);
    REQUIRE(done.ok());
    hub_knows_completed(done.msg_id);
    auto running = shared_client().execute(id, "import time; time.sleep(2)");
    queue_when(id, [](const engine_queue& q) { return q.queue >= 1; });

    const auto st = shared_client().results({done.msg_id, running.msg_id()}, true);
    CHECK(st.completed == std::vector<std::string>{done.msg_id});
    CHECK(st.pending == std::vector<std::string>{running.msg_id()});
    CHECK(st.records.empty());

    const auto full = shared_client().results({done.msg_id});
    REQUIRE(full.records.size() == 1);
    const auto& rec = full.records.front();
    CHECK(rec.msg_id == done.msg_id);
    CHECK(rec.msg_type == "execute_reply");
    CHECK(rec.status == "ok");
    CHECK(rec.engine_uuid == shared_client().engine(id)->uuid);
    CHECK(rec.stdout_text == "stored\n");
    CHECK(!rec.received.empty());
    CHECK(rec.result_content_json.find("\"status\":\"ok\"") != std::string::npos);
    REQUIRE(running.get(30s).ok());

    // An unknown msg_id: the hub's KeyError.
    try {
        (void)shared_client().results({"no-such-msg-id"});
        FAIL("an unknown msg_id was answered");
    } catch (const remote_error& e) {
        CHECK(e.ename == "KeyError");
    }
}

TEST_CASE("hub: history lists requests; purge drops completed records") {
    const int id = engine_id();
    const auto a = shared_client().execute(id, "a = 1").get(30s);
    const auto b = shared_client().execute(id, "b = 2").get(30s);
    REQUIRE((a.ok() && b.ok()));
    hub_knows_completed(a.msg_id);
    hub_knows_completed(b.msg_id);
    auto h = shared_client().history();
    CHECK(contains(h, a.msg_id));
    CHECK(contains(h, b.msg_id));

    shared_client().purge_results({a.msg_id});
    h = shared_client().history();
    CHECK(!contains(h, a.msg_id));
    CHECK(contains(h, b.msg_id));

    // A pending request cannot be purged.
    auto running = shared_client().execute(id, "import time; time.sleep(2)");
    queue_when(id, [](const engine_queue& q) { return q.queue >= 1; });
    CHECK_THROWS_AS(shared_client().purge_results({running.msg_id()}), remote_error);
    const auto finished = running.get(30s);
    REQUIRE(finished.ok());
    hub_knows_completed(finished.msg_id);

    shared_client().purge_all_results();
    CHECK(shared_client().history().empty());
}

TEST_CASE("hub: an unknown engine id is the hub's IndexError") {
    try {
        (void)shared_client().queue_status({12345});
        FAIL("an unknown engine was answered");
    } catch (const remote_error& e) {
        CHECK(e.ename == "IndexError");
    }
    CHECK_THROWS_AS(shared_client().purge_results({}, {12345}), remote_error);
}

TEST_CASE("hub: db_query returns the records by msg_id, with keys and buffers") {
    std::vector<result> done;
    for (int i = 1; i <= 3; ++i) {
        done.push_back(
            shared_client().execute_balanced("print(" + std::to_string(i) + " * 7)").get(30s));
        REQUIRE(done.back().ok());
    }
    std::vector<std::string> ids;
    for (const auto& r : done) {
        hub_knows_completed(r.msg_id);
        ids.push_back(r.msg_id);
    }

    const auto recs = shared_client().db_query_ids(ids);
    REQUIRE(recs.size() == 3);
    CHECK(ids_of(recs) == std::set<std::string>(ids.begin(), ids.end()));
    for (int i = 1; i <= 3; ++i) {
        const auto& r = done[static_cast<std::size_t>(i - 1)];
        const auto& rec = record_of(recs, r.msg_id);
        CHECK(rec.engine_uuid == r.engine_uuid);
        CHECK(rec.msg_type == "execute_request");
        CHECK(rec.result_msg_type == "execute_reply");
        CHECK(rec.status == "ok");
        CHECK(rec.client_uuid == shared_client().session().id());
        CHECK(!rec.submitted.empty());
        CHECK(!rec.started.empty());
        CHECK(!rec.completed.empty());
        CHECK(!rec.received.empty());
        CHECK(rec.submitted <= rec.completed);  // ISO 8601, same zone: ordered as text
        CHECK(rec.stdout_text == std::to_string(i * 7) + "\n");
        CHECK(!rec.has("buffers"));  // keys = null: everything but the buffers
        CHECK(rec.has("result_content"));
        CHECK(rec.record_json.find(r.msg_id) != std::string::npos);
    }

    // Only the requested keys (and msg_id).
    const auto some = shared_client().db_query_ids(ids, {"engine_uuid", "completed"});
    REQUIRE(some.size() == 3);
    for (const auto& rec : some) {
        CHECK(std::set<std::string>(rec.keys.begin(), rec.keys.end()) ==
              std::set<std::string>{"msg_id", "engine_uuid", "completed"});
        CHECK(!rec.engine_uuid.empty());
        CHECK(!rec.completed.empty());
        CHECK(rec.started.empty());
        CHECK(rec.result_content_json.empty());
    }

    // Completed query: every one of ours is in.
    const auto completed = ids_of(shared_client().db_query_completed({"msg_id"}));
    for (const auto& id : ids) CHECK(completed.count(id) == 1);

    // Nothing matches.
    CHECK(shared_client().db_query_ids({"no-such-msg-id"}).empty());

    // Buffers come back split per record: request buffers, then (empty) result buffers.
    auto one = execute_with_buffers("x = 1", {"alpha"});
    auto two = execute_with_buffers("y = 2", {"beta", std::string(100000, 'g')});
    const auto r1 = one.get(30s), r2 = two.get(30s);
    REQUIRE((r1.ok() && r2.ok()));
    hub_knows_completed(r1.msg_id);
    hub_knows_completed(r2.msg_id);
    const auto with_bufs =
        shared_client().db_query_ids({r1.msg_id, r2.msg_id}, {"buffers", "result_buffers"});
    REQUIRE(with_bufs.size() == 2);
    const auto& b1 = record_of(with_bufs, r1.msg_id);
    const auto& b2 = record_of(with_bufs, r2.msg_id);
    REQUIRE(b1.buffers.size() == 1);
    CHECK(b1.buffers[0].as_string_view() == "alpha");
    REQUIRE(b2.buffers.size() == 2);
    CHECK(b2.buffers[0].as_string_view() == "beta");
    CHECK(b2.buffers[1].as_string_view() == std::string(100000, 'g'));
    CHECK(b1.result_buffers.empty());
    CHECK(b2.result_buffers.empty());

    // Python's Client.db_query on the same cluster sees the same records.
    std::string list;
    for (const auto& id : ids) list += "\"" + id + "\",";
    const auto py = python_output(
        "import os, ipyparallel as ipp\n"
        "c = ipp.Client(profile_dir=os.environ[\"ZSESSION_IPP_PROFILE\"], timeout=30)\n"
        "for r in sorted(c.db_query({\"msg_id\": {\"$in\": [" +
        list +
        "]}}, keys=[\"engine_uuid\"]), key=lambda r: r[\"msg_id\"]):\n"
        "    print(r[\"msg_id\"], r[\"engine_uuid\"])\n"
        "c.close()\n");
    std::map<std::string, std::string> mine;
    for (const auto& rec : recs) mine[rec.msg_id] = rec.engine_uuid;
    std::string expected;
    for (const auto& [id, engine] : mine) expected += id + " " + engine + "\n";
    CHECK(py == expected);
}

TEST_CASE("hub: db_query with a malformed query is the hub's error") {
    msgpack::zone z;
    try {
        (void)shared_client().db_query(msgpack::object(std::string("not a map"), z));
        FAIL("a non-map query was answered");
    } catch (const remote_error& e) {
        CHECK(e.ename == "AttributeError");  // DictDB calls query.items()
    }
    // An operator the database does not know.
    using op = std::map<std::string, int>;
    try {
        (void)shared_client().db_query(
            msgpack::object(std::map<std::string, op>{{"msg_id", op{{"$bogus", 1}}}}, z));
        FAIL("an unknown operator was answered");
    } catch (const remote_error& e) {
        CHECK(e.ename == "KeyError");
        CHECK(e.evalue.find("$bogus") != std::string::npos);
    }
}

TEST_CASE("hub: resubmit runs a completed task again under a new msg_id") {
    const auto orig = shared_client().execute_balanced("print('again', 6 * 7)").get(30s);
    REQUIRE(orig.ok());
    REQUIRE(orig.stream_text() == "again 42\n");
    hub_knows_completed(orig.msg_id);

    const auto mapping = shared_client().resubmit({orig.msg_id});
    REQUIRE(mapping.size() == 1);
    REQUIRE(mapping.count(orig.msg_id) == 1);
    const std::string fresh = mapping.at(orig.msg_id);
    CHECK(fresh != orig.msg_id);
    CHECK(!fresh.empty());

    const auto again = shared_client().wait_stored_result(fresh, 30s);
    CHECK(again.msg_id == fresh);
    CHECK(again.status == "ok");
    CHECK(again.msg_type == "execute_reply");
    CHECK(again.stdout_text == orig.stream_text());
    CHECK(again.engine_uuid == orig.engine_uuid);  // one engine

    const auto old_rec = shared_client().db_query_ids({orig.msg_id}, {"resubmitted"});
    REQUIRE(old_rec.size() == 1);
    CHECK(old_rec.front().resubmitted == fresh);

    try {
        (void)shared_client().resubmit({"no-such-msg-id"});
        FAIL("an unknown msg_id was resubmitted");
    } catch (const remote_error& e) {
        CHECK(e.ename == "KeyError");
        CHECK(e.evalue.find("no-such-msg-id") != std::string::npos);
    }
    // An id the hub never learns of: its KeyError, once the wait is over.
    CHECK_THROWS_AS(shared_client().wait_stored_result("no-such-msg-id", 300ms), remote_error);
}

TEST_CASE("hub: wait_stored_result gives up at its deadline, not before, not long after") {
    // A task that runs for 3 s: still pending when the wait's 400 ms are up.
    auto slow = shared_client().execute_balanced("import time; time.sleep(3); print('late')");
    const auto t0 = std::chrono::steady_clock::now();
    CHECK_THROWS_AS(shared_client().wait_stored_result(slow.msg_id(), 400ms, 150ms), timeout_error);
    const auto waited = std::chrono::steady_clock::now() - t0;
    CHECK(waited >= 400ms);  // polled up to the deadline (it used to stop one poll early)
    CHECK(waited < 2s);      // and each query was given only the time left
    REQUIRE(slow.get(30s).ok());
    hub_knows_completed(slow.msg_id());
    CHECK(shared_client().wait_stored_result(slow.msg_id(), 10s).stdout_text == "late\n");
}
