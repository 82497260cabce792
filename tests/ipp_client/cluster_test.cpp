// The ipyparallel client against Debian's ipcontroller and Python ipengines, started by
// cluster.py (ZSESSION_IPP_PROFILE names the profile dir). Test cases run in file order; the
// ones that kill engines come last.
#include <doctest/doctest.h>

#include <csignal>
#include <cstdlib>
#include <memory>
#include <numeric>
#include <set>
#include <string>
#include <vector>

#include "support.hpp"
#include "zsession/ipp/client.hpp"
#include "zsession/ipp/client_arrays.hpp"

using namespace zsession;
using namespace zsession::ipp;
using namespace std::chrono_literals;

namespace {

using ipp_test::profile;
using ipp_test::same_bytes;

client& shared_client() {
    return ipp_test::shared_client(3);
}

array_client& shared_arrays() {
    static std::unique_ptr<array_client> a = [] {
        auto ac = std::make_unique<array_client>(shared_client());
        ac->install({}, true, 60s);
        return ac;
    }();
    return *a;
}

std::vector<int> engine_ids() {
    std::vector<int> ids;
    for (const auto& e : shared_client().engines()) ids.push_back(e.id);
    return ids;
}

int pid_of(int engine_id) {
    const auto& r = shared_client().execute(engine_id, "import os; print(os.getpid())").get(30s);
    REQUIRE(r.ok());
    return std::stoi(r.stream_text());
}

/// A filled array of `n` bytes (uint8 pattern, or <f8 when n is a multiple of 8).
ndarray make_array(std::size_t n) {
    if (n % 8 == 0) {
        std::vector<double> v(n / 8);
        std::iota(v.begin(), v.end(), 0.5);
        return ndarray::from(std::span<const double>(v));
    }
    std::vector<std::uint8_t> v(n);
    for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::uint8_t>(i * 7 + 3);
    return ndarray::from(std::span<const std::uint8_t>(v));
}

}  // namespace

TEST_CASE("connection file and engine list") {
    auto info = client_connection_info::from_profile(profile());
    CHECK(info.interface == "tcp://127.0.0.1");
    CHECK(info.pack == "json");
    CHECK(info.mux > 0);
    CHECK(info.broadcast > 0);
    auto engines = shared_client().engines();
    CHECK(engines.size() >= 3);
    for (const auto& e : engines) CHECK(e.uuid.size() > 0);
}

TEST_CASE("execute on a chosen engine gathers stream, result and error outputs") {
    auto& c = shared_client();
    const int id = engine_ids().front();
    const auto& r = c.execute(id, "print('hello', 6 * 7)\n6 * 7").get(30s);
    CHECK(r.ok());
    CHECK(r.msg_type == "execute_reply");
    CHECK(r.engine_id == id);
    CHECK(r.outputs_complete);
    CHECK(r.stream_text() == "hello 42\n");
    bool found = false;
    for (const auto& o : r.outputs) found |= o.msg_type == "execute_result" && o.text == "42";
    CHECK(found);

    const auto& e = c.execute(id, "import sys; print('oops', file=sys.stderr); 1/0").get(30s);
    CHECK_FALSE(e.ok());
    CHECK(e.ename == "ZeroDivisionError");
    CHECK(e.stream_text("stderr") == "oops\n");
    CHECK_THROWS_AS(e.raise_if_error(), remote_error);
    found = false;
    for (const auto& o : e.outputs) found |= o.msg_type == "error";
    CHECK(found);
}

TEST_CASE("execute on every engine through the mux, and a timeout that is clear") {
    auto& c = shared_client();
    auto futures = c.execute(std::vector<int>{}, "import os; print(os.getpid())");
    CHECK(futures.size() == c.engines().size());
    std::set<std::string> pids;
    for (auto& f : futures) pids.insert(f.get(30s).stream_text());
    CHECK(pids.size() == futures.size());

    auto slow = c.execute(engine_ids().front(), "import time; time.sleep(1.5)");
    CHECK_THROWS_AS(slow.get(100ms), timeout_error);
    CHECK(slow.get(30s).ok());
}

TEST_CASE("load-balanced: targets, after dependency, retries metadata") {
    auto& c = shared_client();
    const int target = engine_ids().back();
    const auto& r = c.execute_balanced("x = 5\nprint(x * 2)", {.targets = {target}}).get(30s);
    CHECK(r.ok());
    CHECK(r.engine_id == target);
    CHECK(r.stream_text() == "10\n");

    auto first = c.execute_balanced("import time; time.sleep(0.5); t_first = time.time()");
    auto second = c.execute_balanced("import time; print('after')",
                                     {.after = {first.msg_id()}, .retries = 1});
    CHECK(second.get(30s).ok());
    CHECK(first.ready());  // `after` held the second back until the first finished
    CHECK(second.get(1s).stream_text() == "after\n");
}

TEST_CASE("broadcast, coalescing or not") {
    auto& c = shared_client();
    const auto ids = engine_ids();
    auto futures = c.broadcast("import os; print('b', os.getpid())");
    REQUIRE(futures.size() == ids.size());
    std::set<std::string> outs;
    for (auto& f : futures) {
        const auto& r = f.get(30s);
        CHECK(r.ok());
        CHECK(r.msg_id.find('_') != std::string::npos);
        outs.insert(r.stream_text());
    }
    CHECK(outs.size() == ids.size());

    auto co = c.broadcast("print('c')", {ids[0], ids[1]}, true);
    REQUIRE(co.size() == 1);
    const auto& r = co[0].get(30s);
    CHECK(r.ok());
    CHECK(r.outputs_complete);
    CHECK(r.stream_text() == "c\nc\n");  // the outputs of both engines
}

TEST_CASE("abort through control") {
    auto& c = shared_client();
    const int id = engine_ids().front();
    auto busy = c.execute(id, "import time; time.sleep(1.0)");
    auto queued = c.execute(id, "print('should not run')");
    const auto& a = c.abort(id, {queued.msg_id()}).get(30s);
    CHECK(a.ok());
    CHECK(a.msg_type == "abort_reply");
    CHECK(busy.get(30s).ok());
    const auto& q = queued.get(30s);
    CHECK(q.status == "aborted");
    CHECK(q.stream_text().empty());
}

TEST_CASE("an array request before the helper is installed fails clearly") {
    auto& c = shared_client();
    array_client fresh(c);
    const int id = engine_ids().front();  // no helper yet: no comm target on the engine
    const auto a = make_array(16);
    auto r = fresh.request_via_controller(id, {.op = "echo", .array = a.view()}, 30s);
    CHECK_FALSE(r.ok());
    CHECK(r.ename == "CommClosed");
}

TEST_CASE("arrays through the comm: 8 B, 8 MiB and 256 MiB both ways, bytes checked") {
    auto& arrays = shared_arrays();
    const int id = engine_ids().front();
    for (std::size_t n : {std::size_t{8}, std::size_t{8} << 20, std::size_t{256} << 20}) {
        CAPTURE(n);
        const auto a = make_array(n);
        auto pushed = arrays.request_via_controller(
            id, array_request{.op = "push", .name = "a_in", .array = a.view()}, 120s);
        REQUIRE(pushed.ok());
        CHECK(pushed.nbytes == n);
        CHECK_FALSE(pushed.via_direct);
        auto pulled =
            arrays.request_via_controller(id, array_request{.op = "pull", .expr = "a_in"}, 120s);
        REQUIRE(pulled.ok());
        REQUIRE(pulled.array);
        CHECK(same_bytes(*pulled.array, a.view()));
    }
    // Computed on the engine: numpy's arange, checked element by element here.
    auto r = arrays.request_via_controller(
        id, array_request{.op = "pull", .expr = "__import__('numpy').arange(10, dtype='<i4')"},
        30s);
    REQUIRE(r.array);
    // A received frame may sit at any offset in libzmq's receive buffer: copy() aligns.
    const auto owned = r.array->copy();
    auto v = owned.values<std::int32_t>();
    REQUIRE(v.size() == 10);
    for (int i = 0; i < 10; ++i) CHECK(v[i] == i);
    // An error on the engine comes back as an error reply.
    auto bad = arrays.request_via_controller(id, array_request{.op = "pull", .expr = "nope"}, 30s);
    CHECK_FALSE(bad.ok());
    CHECK(bad.ename == "NameError");
}

TEST_CASE("the direct path above the threshold, the controller below it") {
    auto& arrays = shared_arrays();
    const int id = engine_ids().front();
    REQUIRE(arrays.direct_endpoint(id).rfind("tcp://127.0.0.1:", 0) == 0);
    // Python engines advertise no endpoint in kernel_info (C++ engines do): none found.
    const int other = engine_ids().back();
    const auto before = arrays.direct_endpoint(other);
    CHECK(arrays.discover_direct(other, 30s).empty());
    CHECK(arrays.direct_endpoint(other) == before);  // kept the helper's endpoint
    const auto small = make_array(arrays.direct_threshold() - 8);
    auto rs = arrays.echo(id, small.view(), 30s);
    REQUIRE(rs.ok());
    CHECK_FALSE(rs.via_direct);
    CHECK(same_bytes(*rs.array, small.view()));
    for (std::size_t n :
         {arrays.direct_threshold(), std::size_t{8} << 20, std::size_t{256} << 20}) {
        CAPTURE(n);
        const auto a = make_array(n);
        auto r = arrays.push(id, "d_in", a.view(), 120s);
        REQUIRE(r.ok());
        CHECK(r.via_direct);
        auto back = arrays.pull(id, "d_in", 120s);
        REQUIRE(back.ok());
        CHECK(back.via_direct);
        CHECK(same_bytes(*back.array, a.view()));
    }
    // The comm path sees what the direct path pushed: one namespace.
    auto seen =
        arrays.request_via_controller(id, array_request{.op = "pull", .expr = "d_in[:4]"}, 30s);
    REQUIRE(seen.ok());
    CHECK(seen.array->copy().values<double>()[1] == 1.5);
}

TEST_CASE("a client with the wrong key is refused: no reply, a clear timeout") {
    auto info = client_connection_info::from_profile(profile());
    info.key = "not-the-cluster-key";
    try {
        client bad(info, {.connect_timeout = 1500ms});
        FAIL("a client with the wrong key connected");
    } catch (const timeout_error& e) {
        CHECK(std::string(e.what()).find("wrong key") != std::string::npos);
    }
    // The direct endpoint drops it too.
    auto& arrays = shared_arrays();
    auto opts = shared_client().session().options();
    opts.key = "not-the-cluster-key";
    opts.session_id.clear();
    direct_channel ch(arrays.direct_endpoint(engine_ids().front()), opts);
    const auto a = make_array(64);
    CHECK_THROWS_AS(ch.request({.op = "echo", .array = a.view()}, 1000ms), timeout_error);
}

TEST_CASE("an engine SIGKILLed mid-request: the mux request fails clearly, never hangs") {
    auto& c = shared_client();
    const int victim = engine_ids().back();
    const int pid = pid_of(victim);
    std::vector<engine_event> events;
    std::mutex mu;
    c.on_engine_event([&](const engine_event& e) {
        std::lock_guard lock(mu);
        events.push_back(e);
    });
    struct reset {
        client& c;
        ~reset() { c.on_engine_event(nullptr); }
    } reset_callback{c};  // even when a REQUIRE below fails
    auto f = c.execute(victim, "import time; time.sleep(60)");
    std::this_thread::sleep_for(300ms);
    REQUIRE(::kill(pid, SIGKILL) == 0);
    const auto& r = f.get(30s);  // the hub notices in ~2 s (period 500 ms, 4 misses)
    CHECK(r.status == "error");
    CHECK(r.ename == "EngineError");
    CHECK(r.evalue.find("unregistered") != std::string::npos);
    CHECK_FALSE(c.engine(victim).has_value());
    std::lock_guard lock(mu);
    REQUIRE(events.size() >= 1);
    CHECK(events.back().what == engine_event::kind::unregistered);
    CHECK(events.back().engine.id == victim);
}

TEST_CASE("a load-balanced task whose engine dies is retried on another engine") {
    auto& c = shared_client();
    REQUIRE(c.engines().size() >= 2);
    // The first attempt kills its own engine (SIGKILL, mid-request); the retry survives.
    const std::string flag = profile() + "/retry-flag";
    const std::string code =
        "import os, signal, pathlib\n"
        "p = pathlib.Path('" +
        flag +
        "')\n"
        "first = not p.exists()\n"
        "p.touch()\n"
        "if first: os.kill(os.getpid(), signal.SIGKILL)\n"
        "print('retried', os.getpid())\n";
    const auto& r = c.execute_balanced(code, {.retries = 1}).get(60s);
    CHECK(r.ok());
    CHECK(r.stream_text().rfind("retried", 0) == 0);
}
