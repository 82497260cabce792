// The direct path without a cluster: a direct_server (as a C++ engine embeds it) answering a
// direct_channel, zero-copy both ways, signed, and refusing a wrong key.
#include <doctest/doctest.h>

#include <map>
#include <mutex>
#include <numeric>
#include <string>
#include <vector>

#include "zsession/ipp/client_arrays.hpp"

using namespace zsession;
using namespace zsession::ipp;
using namespace std::chrono_literals;

namespace {

session_options opts(std::string key) {
    return session_options{.key = std::move(key), .packer = packer_kind::json};
}

/// An engine's side: a namespace of arrays, the ops of the Python helper.
struct store {
    std::mutex mu;
    std::map<std::string, ndarray_view> values;
    std::vector<const std::byte*> received;  // data pointers the handler saw

    array_reply operator()(const array_request& r) {
        std::lock_guard lock(mu);
        if (r.array) received.push_back(r.array->data());
        if (r.op == "push" && r.array) {
            values[r.name] = *r.array;  // keeps the received frame alive: no copy
            return {.status = "ok", .nbytes = r.array->nbytes()};
        }
        if (r.op == "echo" && r.array) return {.status = "ok", .array = *r.array};
        if (r.op == "pull") {
            auto it = values.find(r.expr);
            if (it == values.end()) {
                return {.status = "error", .ename = "NameError", .evalue = r.expr};
            }
            return {.status = "ok", .array = it->second};
        }
        if (r.op == "info") return {.status = "ok", .direct = "self"};
        throw std::invalid_argument("unknown op " + r.op);
    }
};

ndarray doubles(std::size_t n) {
    std::vector<double> v(n);
    std::iota(v.begin(), v.end(), 1.0);
    return ndarray::from(std::span<const double>(v), {n / 2, 2});
}

}  // namespace

TEST_CASE("direct_server answers push, pull, echo; arrays round-trip byte for byte") {
    store engine;
    direct_server server(opts("k"), std::ref(engine));
    CHECK(server.endpoint().rfind("tcp://127.0.0.1:", 0) == 0);
    direct_channel ch(server.endpoint(), opts("k"));

    for (std::size_t n : {std::size_t{2}, std::size_t{1} << 20}) {
        CAPTURE(n);
        const auto a = doubles(n);
        auto pushed = ch.request({.op = "push", .name = "x", .array = a.view()}, 10s);
        REQUIRE(pushed.ok());
        CHECK(pushed.nbytes == n * 8);
        auto back = ch.request({.op = "pull", .expr = "x"}, 10s);
        REQUIRE(back.ok());
        REQUIRE(back.array);
        CHECK(back.via_direct);
        CHECK(back.array->shape() == std::vector<std::size_t>{n / 2, 2});
        CHECK(back.array->type().str() == "<f8");
        CHECK(bytes_view(back.array->bytes()) == bytes_view(a.view().bytes()));
        auto echoed = ch.request({.op = "echo", .array = a.view()}, 10s);
        REQUIRE(echoed.array);
        CHECK(echoed.array->values<double>()[n - 1] == static_cast<double>(n));
    }
    CHECK(server.served() == 6);
}

TEST_CASE("a received array is a view of the frame (zero-copy), not a copy") {
    store engine;
    direct_server server(opts("k"), std::ref(engine));
    direct_channel ch(server.endpoint(), opts("k"));
    const auto a = doubles(1 << 16);
    REQUIRE(ch.request({.op = "push", .name = "x", .array = a.view()}, 10s).ok());
    std::lock_guard lock(engine.mu);
    REQUIRE(engine.received.size() == 1);
    // The stored view points at the bytes the handler saw: the received frame itself.
    CHECK(engine.values.at("x").data() == engine.received[0]);
    CHECK(engine.values.at("x").data() != a.data());
}

TEST_CASE("errors: a handler error, an exception, a wrong key") {
    store engine;
    direct_server server(opts("k"), std::ref(engine));
    direct_channel ch(server.endpoint(), opts("k"));
    auto missing = ch.request({.op = "pull", .expr = "nothing"}, 10s);
    CHECK_FALSE(missing.ok());
    CHECK(missing.ename == "NameError");
    CHECK_THROWS_AS(missing.raise_if_error(), remote_error);
    auto thrown = ch.request({.op = "frobnicate"}, 10s);
    CHECK(thrown.ename == "DirectRequestError");

    direct_channel wrong(server.endpoint(), opts("other"));
    const auto a = doubles(4);
    CHECK_THROWS_AS(wrong.request({.op = "echo", .array = a.view()}, 500ms), timeout_error);
    // The server is unharmed, and the right key still works.
    CHECK(ch.request({.op = "info"}, 10s).direct == "self");
}

TEST_CASE("direct_server with CurveZMQ: the right server key is answered, others time out") {
    store engine;
    const auto keys = make_curve_keypair();
    direct_server server(opts(""), std::ref(engine), "tcp://127.0.0.1:*", keys);
    CHECK(server.curve_public_key() == keys.public_key);

    const auto a = doubles(1 << 16);  // 512 KiB
    direct_channel good(server.endpoint(), opts(""), keys.public_key);
    const auto r = good.request({.op = "echo", .array = a.view()}, 10s);
    REQUIRE(r.ok());
    REQUIRE(r.array);
    CHECK(bytes_view(r.array->bytes()) == bytes_view(a.view().bytes()));

    direct_channel wrong(server.endpoint(), opts(""), make_curve_keypair().public_key);
    CHECK_THROWS_AS(wrong.request({.op = "info"}, 500ms), timeout_error);
    direct_channel plain(server.endpoint(), opts(""));  // no CurveZMQ at all
    CHECK_THROWS_AS(plain.request({.op = "info"}, 500ms), timeout_error);
    CHECK(server.served() == 1);
    CHECK_THROWS_AS(direct_channel(server.endpoint(), opts(""), "not a key"), usage_error);

    direct_server no_curve(opts("k"), std::ref(engine));
    CHECK(no_curve.curve_public_key().empty());
}
