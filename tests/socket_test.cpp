// Sending and receiving over inproc, ipc and tcp loopback.
#include <doctest/doctest.h>

#include <map>

#include "support.hpp"

using namespace zsession;

TEST_CASE("round trip over every transport, buffers included") {
    for (const auto& transport : test::transports) {
        CAPTURE(transport);
        zmq::context_t ctx;
        test::socket_pair p(ctx, transport);
        session s(session_options{.key = "k"});
        message m = s.make_message("apply_request");
        m.set_content(std::map<std::string, std::string>{{"f", "sum"}});
        m.buffers.push_back(buffer::take(std::vector<float>(250000, 0.5f)));
        m.buffers.push_back(buffer::take(std::string("tiny")));
        s.send(p.a, m);
        auto r = s.recv(p.b);
        REQUIRE(r);
        CHECK(r->header == m.header);
        CHECK(r->content_as<std::map<std::string, std::string>>().at("f") == "sum");
        REQUIRE(r->buffers.size() == 2);
        CHECK(r->buffers[0].view() == m.buffers[0].view());
        CHECK(r->buffers[1].as_string_view() == "tiny");
    }
}

TEST_CASE("zero-copy end to end over inproc: the receiver sees the sender's own bytes") {
    zmq::context_t ctx;
    test::socket_pair p(ctx, "inproc");
    session_options o{.key = "k"};
    o.copy_threshold = 4096;
    session s(o);
    message m = s.make_message("t");
    m.buffers.push_back(buffer::take(std::vector<char>(4096, 'z')));  // at threshold: shared
    m.buffers.push_back(buffer::take(std::vector<char>(4095, 'c')));  // below: copied
    s.send(p.a, m);
    auto r = s.recv(p.b);
    REQUIRE(r);
    CHECK(r->buffers[0].data() == m.buffers[0].data());
    CHECK(r->buffers[1].data() != m.buffers[1].data());
    CHECK(r->buffers[1].view() == m.buffers[1].view());
}

TEST_CASE("the sent buffer stays pinned while the receiver holds its view") {
    zmq::context_t ctx;
    test::socket_pair p(ctx, "inproc");
    session s(session_options{.key = "k", .copy_threshold = 0});
    std::weak_ptr<const void> watch;
    {
        message m = s.make_message("t");
        m.buffers.push_back(buffer::take(std::vector<int>(100000, 9)));
        watch = m.buffers[0].keepalive();
        s.send(p.a, m);
    }
    auto r = s.recv(p.b);
    REQUIRE(r);
    CHECK_FALSE(watch.expired());
    buffer view = r->buffers[0];
    r.reset();
    CHECK_FALSE(watch.expired());
    CHECK(reinterpret_cast<const int*>(view.data())[99999] == 9);
    view = buffer();
    CHECK(watch.expired());
}

TEST_CASE("dontwait: recv and try_recv return empty when nothing is waiting") {
    zmq::context_t ctx;
    test::socket_pair p(ctx, "tcp");
    session s(session_options{.key = "k"});
    CHECK_FALSE(s.recv(p.b, zmq::recv_flags::dontwait).has_value());
    recv_result r = s.try_recv(p.b, zmq::recv_flags::dontwait);
    CHECK(r.would_block());
    CHECK(r.code == errc::ok);
}

TEST_CASE("dontwait send on a full pipe returns false and sends nothing") {
    zmq::context_t ctx;
    zmq::socket_t a(ctx, zmq::socket_type::dealer);
    a.set(zmq::sockopt::linger, 0);
    a.set(zmq::sockopt::sndhwm, 1);
    a.bind("inproc://full-pipe");  // nobody connected: a DEALER blocks at once
    session s(session_options{.key = "k"});
    CHECK_FALSE(s.send(a, s.make_message("t"), zmq::send_flags::dontwait));
}

TEST_CASE("ROUTER/DEALER: identities route the reply back") {
    for (const auto& transport : test::transports) {
        CAPTURE(transport);
        zmq::context_t ctx;
        test::socket_pair p(ctx, transport, zmq::socket_type::router, zmq::socket_type::dealer);
        session s(session_options{.key = "k"});
        message req = s.make_message("kernel_info_request");
        s.send(p.b, req);
        auto got = s.recv(p.a);
        REQUIRE(got);
        CHECK(got->identities.size() == 1);
        message rep = s.make_reply(*got, "kernel_info_reply");
        s.send(p.a, rep);
        auto back = s.recv(p.b);
        REQUIRE(back);
        CHECK(back->identities.empty());
        CHECK(back->parent_header.msg_id == req.header.msg_id);
    }
}

TEST_CASE("apply_limits sets ZMQ_MAXMSGSIZE to the largest allowed frame") {
    zmq::context_t ctx;
    zmq::socket_t s(ctx, zmq::socket_type::pull);
    limits l;
    l.max_buffer_bytes = 12345;
    l.max_content_bytes = 999;
    l.max_map_bytes = 100;
    apply_limits(s, l);
    CHECK(s.get(zmq::sockopt::maxmsgsize) == 12345);
}

TEST_CASE("a send that throws releases the message's zero-copy buffers at once") {
    zmq::context_t ctx;
    zmq::socket_t router(ctx, zmq::socket_type::router);
    router.set(zmq::sockopt::linger, 0);
    router.set(zmq::sockopt::router_mandatory, 1);
    router.bind("inproc://mandatory");
    session s(session_options{.key = "k", .copy_threshold = 0});
    std::weak_ptr<const void> watch;
    {
        message m = s.make_message("apply_request");
        m.identities = {buffer::take(std::string("dead-engine"))};  // nobody has this identity
        m.buffers.push_back(buffer::take(std::vector<char>(1 << 20, 'x')));
        watch = m.buffers[0].keepalive();
        CHECK_THROWS_AS(s.send(router, m), zmq::error_t);
    }
    CHECK(watch.expired());  // not kept alive by a per-thread frame vector
}

TEST_CASE("a bad message's frames are released even though decode threw") {
    zmq::context_t ctx;
    test::socket_pair p(ctx, "inproc");
    session s(session_options{.key = "k", .copy_threshold = 0});
    session wrong(session_options{.key = "wrong", .copy_threshold = 0});
    std::weak_ptr<const void> watch;
    {
        message m = wrong.make_message("t");
        m.buffers.push_back(buffer::take(std::vector<char>(1 << 20, 'x')));
        watch = m.buffers[0].keepalive();
        wrong.send(p.a, m);
    }
    CHECK_FALSE(watch.expired());  // inproc: the receiver's frame still pins the sender's bytes
    CHECK_THROWS_AS(s.recv(p.b), signature_error);
    CHECK(watch.expired());
}

TEST_CASE("recv_frames: whole raw messages, empty on would-block, oversized ones drained") {
    zmq::context_t ctx;
    test::socket_pair p(ctx, "inproc");
    session_options o{.key = "k"};
    o.limits.max_identities = 0;
    o.limits.max_buffers = 2;  // max_frames() = 0 + 1 + 5 + 2 = 8
    session s(o);
    CHECK_FALSE(s.recv_frames(p.b, zmq::recv_flags::dontwait).has_value());

    message big = s.make_message("t");
    big.buffers.assign(3, buffer::take(std::string("b")));  // 9 frames
    s.send(p.a, big);
    message ok = s.make_message("t");
    s.send(p.a, ok);
    CHECK_THROWS_AS(s.recv_frames(p.b), limit_error);
    std::optional<frames> f = s.recv_frames(p.b);  // the next message, whole, not a remnant
    REQUIRE(f.has_value());
    CHECK(f->size() == 6);
    CHECK(test::str((*f)[0]) == "<IDS|MSG>");
    CHECK(s.decode(std::move(*f)).header.msg_id == ok.header.msg_id);
}
