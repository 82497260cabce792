// The client against a CurveZMQ cluster: Debian's ipcontroller with IPP_ENABLE_CURVE=1, one
// Python ipengine and one C++ engine (zcalc-ipengine), started by
// cluster.py --curve --engines 1 --cxx-engine EXE. Execute on both; the direct path to each
// engine is a CurveZMQ server with the engine's own key; a wrong server key (controller or
// direct endpoint) is refused with a timeout_error that says so, never a hang.
#include <doctest/doctest.h>

#include <cstdlib>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include "support.hpp"
#include "zsession/curve.hpp"
#include "zsession/ipp/client.hpp"
#include "zsession/ipp/client_arrays.hpp"

using namespace zsession;
using namespace zsession::ipp;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

namespace {

using ipp_test::connection;

client& shared_client() {
    return ipp_test::shared_client(2);
}

/// The engine that advertises a direct endpoint in kernel_info (the C++ one), and the other.
struct engine_ids {
    int cxx = -1, python = -1;
};
engine_ids identify(array_client& arrays) {
    engine_ids ids;
    for (const auto& e : shared_client().engines()) {
        (arrays.discover_direct(e.id, 30s).empty() ? ids.python : ids.cxx) = e.id;
    }
    REQUIRE(ids.cxx >= 0);
    REQUIRE(ids.python >= 0);
    return ids;
}

std::vector<double> sample(std::size_t bytes) {
    std::vector<double> v(bytes / sizeof(double));
    std::iota(v.begin(), v.end(), 0.5);
    return v;
}

}  // namespace

TEST_CASE("curve cluster: the connection file carries the server key and no HMAC key") {
    const auto info = connection();
    CHECK(is_curve_key(info.curve_serverkey));
    CHECK(info.key.empty());
}

TEST_CASE("curve cluster: execute on the Python and the C++ engine") {
    array_client arrays(shared_client());
    const auto ids = identify(arrays);
    const auto py = shared_client().execute(ids.python, "print(6 * 7)").get(30s);
    REQUIRE(py.ok());
    CHECK(py.stream_text() == "42\n");
    const auto cxx = shared_client().execute(ids.cxx, "print(\"calc\", 6*7)").get(30s);
    REQUIRE(cxx.ok());
    CHECK(cxx.stream_text() == "calc 42\n");
    // Load-balanced and broadcast go through the curve-secured schedulers too.
    CHECK(shared_client().execute_balanced("print(1)").get(30s).ok());
    for (const auto& f : shared_client().broadcast("print(2)")) CHECK(f.get(30s).ok());
}

TEST_CASE("curve cluster: the direct path speaks CurveZMQ to both engines") {
    array_client arrays(shared_client(), 0);
    const auto ids = identify(arrays);
    arrays.install({ids.python}, true, 60s);
    const auto v = sample(1 << 20);
    const auto a = ndarray::from(std::span<const double>(v));
    for (int id : {ids.cxx, ids.python}) {
        INFO("engine " << id);
        CHECK(!arrays.direct_endpoint(id).empty());
        const auto r = arrays.echo(id, a.view(), 60s);
        REQUIRE(r.ok());
        CHECK(r.via_direct);
        REQUIRE(r.array);
        CHECK(bytes_view(r.array->bytes()) == bytes_view(a.view().bytes()));
    }
    // Through the controller the same ops answer too (the comm, curve-secured).
    const auto info = arrays.request_via_controller(ids.python, array_request{.op = "info"}, 30s);
    REQUIRE(info.ok());
    CHECK(is_curve_key(info.curve_serverkey));
    // An endpoint without a key is refused in a curve cluster.
    CHECK_THROWS_AS(arrays.set_direct_endpoint(ids.python, info.direct), usage_error);
}

TEST_CASE("curve cluster: a direct channel with a wrong server key times out") {
    array_client arrays(shared_client());
    const auto ids = identify(arrays);
    const std::string ep = arrays.direct_endpoint(ids.cxx);
    REQUIRE(!ep.empty());
    direct_channel wrong(ep, session_options{.packer = packer_kind::json},
                         make_curve_keypair().public_key);
    const auto start = clock_type::now();
    try {
        (void)wrong.request(array_request{.op = "info"}, 1500ms);
        FAIL("a wrong server key was answered");
    } catch (const timeout_error& e) {
        CHECK(std::string(e.what()).find("curve_serverkey") != std::string::npos);
    }
    CHECK(clock_type::now() - start < 10s);
}

TEST_CASE("curve cluster: a client with a wrong server key is refused within the timeout") {
    auto info = connection();
    info.curve_serverkey = make_curve_keypair().public_key;
    const auto start = clock_type::now();
    try {
        client c(info, client_options{.connect_timeout = 2000ms});
        FAIL("a client with a wrong server key connected");
    } catch (const timeout_error& e) {
        const std::string what = e.what();
        CHECK(what.find("no CurveZMQ handshake completed") != std::string::npos);
    }
    CHECK(clock_type::now() - start < 10s);
}

TEST_CASE("curve cluster: a client without CurveZMQ is refused within the timeout") {
    auto info = connection();
    info.curve_serverkey.clear();
    const auto start = clock_type::now();
    CHECK_THROWS_AS(client(info, client_options{.connect_timeout = 2000ms}), timeout_error);
    CHECK(clock_type::now() - start < 10s);
}

TEST_CASE("curve cluster: a malformed server key is a usage error") {
    auto info = connection();
    info.curve_serverkey = "not a key";
    CHECK_THROWS_AS(client(info, client_options{}), usage_error);
}
