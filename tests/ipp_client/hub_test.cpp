// The hub's queries against Debian's ipcontroller with its default in-memory database
// (cluster.py --with-db --engines 1): queue_status, results (status only and records),
// history, purge_results / purge_all_results, and the hub's errors as remote_error.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdlib>
#include <functional>
#include <memory>
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
