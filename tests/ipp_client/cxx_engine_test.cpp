// The client against one C++ engine (zcalc-ipengine) under Debian's ipcontroller, started by
// cluster.py --engines 0 --cxx-engine EXE: the engine advertises its direct endpoint in
// kernel_info, arrays travel over it, and code runs on it through the controller.
#include <doctest/doctest.h>

#include <cstdlib>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include "support.hpp"
#include "zsession/ipp/client.hpp"
#include "zsession/ipp/client_arrays.hpp"

using namespace zsession;
using namespace zsession::ipp;
using namespace std::chrono_literals;

namespace {

using ipp_test::same_bytes;

client& shared_client() {
    return ipp_test::shared_client(1);
}

int engine_id() {
    const auto engines = shared_client().engines();
    REQUIRE(engines.size() == 1);
    return engines.front().id;
}

}  // namespace

TEST_CASE("C++ engine: execute through the controller gathers its output") {
    const auto r =
        shared_client().execute(engine_id(), "x = 6*7; print(\"hello from\", x); x + 0.5").get(30s);
    REQUIRE(r.ok());
    CHECK(r.msg_type == "execute_reply");
    CHECK(r.stream_text() == "hello from 42\n");
    bool found = false;
    for (const auto& o : r.outputs) found |= o.msg_type == "execute_result" && o.text == "42.5";
    CHECK(found);
}

TEST_CASE("C++ engine: direct endpoint discovered, 8 MiB over it byte for byte") {
    array_client arrays(shared_client());
    const int id = engine_id();
    const std::string ep = arrays.discover_direct(id, 30s);
    REQUIRE(ep.rfind("tcp://127.0.0.1:", 0) == 0);
    CHECK(arrays.direct_endpoint(id) == ep);

    std::vector<double> v(8 * 1024 * 1024 / sizeof(double));
    std::iota(v.begin(), v.end(), 0.25);
    const auto a = ndarray::from(std::span<const double>(v));
    REQUIRE(a.view().nbytes() == 8u * 1024 * 1024);

    const auto echoed = arrays.echo(id, a.view(), 60s);
    REQUIRE(echoed.ok());
    CHECK(echoed.via_direct);
    REQUIRE(echoed.array);
    CHECK(same_bytes(*echoed.array, a.view()));

    const auto pushed = arrays.push(id, "big", a.view(), 60s);
    REQUIRE(pushed.ok());
    CHECK(pushed.via_direct);
    CHECK(pushed.nbytes == a.view().nbytes());
    const auto pulled = arrays.pull(id, "big", 60s);
    REQUIRE(pulled.ok());
    CHECK(pulled.via_direct);
    REQUIRE(pulled.array);
    CHECK(same_bytes(*pulled.array, a.view()));

    const auto missing = arrays.pull(id, "nothing_here", 30s);
    CHECK_FALSE(missing.ok());
    CHECK(missing.ename == "NameError");

    // info over the direct path names the same endpoint.
    direct_channel ch(ep, [] {
        auto o = shared_client().session().options();
        o.session_id.clear();
        return o;
    }());
    const auto info = ch.request({.op = "info"}, 10s);
    REQUIRE(info.ok());
    CHECK(info.direct == ep);
}

TEST_CASE("C++ engine: zsession.array comm through the controller, info names the endpoint") {
    array_client arrays(shared_client());  // default threshold: 64 KiB
    const int id = engine_id();
    const std::string ep = arrays.discover_direct(id, 30s);
    const auto info = arrays.request_via_controller(id, {.op = "info"}, 30s);
    REQUIRE(info.ok());
    CHECK_FALSE(info.via_direct);
    CHECK(info.direct == ep);

    std::vector<double> v(16);
    std::iota(v.begin(), v.end(), 1.5);
    const auto a = ndarray::from(std::span<const double>(v));
    const auto echoed = arrays.echo(id, a.view(), 30s);  // 128 B: below the threshold
    REQUIRE(echoed.ok());
    CHECK_FALSE(echoed.via_direct);
    REQUIRE(echoed.array);
    CHECK(same_bytes(*echoed.array, a.view()));
    // Pushed through the controller, pulled over the direct path: one store.
    REQUIRE(arrays.push(id, "small", a.view(), 30s).ok());
    const auto pulled = arrays.pull(id, "small", 30s);
    REQUIRE(pulled.ok());
    CHECK(pulled.via_direct);
    REQUIRE(pulled.array);
    CHECK(same_bytes(*pulled.array, a.view()));
}

TEST_CASE("C++ engine: a wrong key gets no answer on the direct path") {
    array_client arrays(shared_client());
    const std::string ep = arrays.discover_direct(engine_id(), 30s);
    auto o = shared_client().session().options();
    o.session_id.clear();
    o.key = "not-the-cluster-key";
    direct_channel wrong(ep, o);
    CHECK_THROWS_AS(wrong.request({.op = "info"}, 500ms), timeout_error);
}
