// tests/socket_limits_test.cpp - ZMQ_MAXMSGSIZE by socket role.
#include "zsession/socket_limits.hpp"

#include <chrono>
#include <cstdint>
#include <string>

#include <doctest/doctest.h>

using namespace zsession;

TEST_CASE("max_frame_bytes by role") {
    CHECK(max_frame_bytes(socket_role::heartbeat) == 1024);
    CHECK(max_frame_bytes(socket_role::publisher) == 4096);
    limits l;
    l.max_buffer_bytes = 100;
    l.max_content_bytes = 300;
    l.max_map_bytes = 200;
    CHECK(max_frame_bytes(socket_role::messages, l) == 300);
    // The roles with their own sizes do not follow the session's limits.
    CHECK(max_frame_bytes(socket_role::heartbeat, l) == 1024);
    // "No limit" saturates instead of wrapping to a negative (libzmq's -1, or worse).
    l.max_buffer_bytes = SIZE_MAX;
    CHECK(max_frame_bytes(socket_role::messages, l) == INT64_MAX);
    CHECK(max_frame_bytes(socket_role::messages) ==
          static_cast<std::int64_t>(limits{}.max_buffer_bytes));
}

TEST_CASE("a heartbeat socket echoes a ping and drops a peer that sends a large frame") {
    zmq::context_t ctx;
    zmq::socket_t hb(ctx, zmq::socket_type::rep), big(ctx, zmq::socket_type::req),
        small(ctx, zmq::socket_type::req);
    for (zmq::socket_t* s : {&hb, &big, &small}) s->set(zmq::sockopt::linger, 0);
    apply_limits(hb, socket_role::heartbeat);
    CHECK(hb.get(zmq::sockopt::maxmsgsize) == 1024);
    hb.bind("tcp://127.0.0.1:*");
    const std::string endpoint = hb.get(zmq::sockopt::last_endpoint);
    big.connect(endpoint);
    small.connect(endpoint);

    const std::string large(1025, 'x');
    big.send(zmq::buffer(large));
    small.send(zmq::str_buffer("ping"));
    // Echo loop: only the ping arrives.
    hb.set(zmq::sockopt::rcvtimeo, 5000);
    zmq::message_t m;
    REQUIRE(hb.recv(m));
    CHECK(m.to_string_view() == "ping");
    hb.send(m, zmq::send_flags::none);
    small.set(zmq::sockopt::rcvtimeo, 5000);
    zmq::message_t echo;
    REQUIRE(small.recv(echo));
    CHECK(echo.to_string_view() == "ping");
    hb.set(zmq::sockopt::rcvtimeo, 300);
    CHECK_FALSE(hb.recv(m));  // the 1025-byte frame never arrived
}
