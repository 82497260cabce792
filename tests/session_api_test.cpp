// The session API a user reaches for (issue 9): socket timeouts, the identities of a dropped
// message, one-call send, counters, the on_drop hook, renew.
#include <doctest/doctest.h>

#include <chrono>
#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "support.hpp"

using namespace zsession;

namespace {

constexpr int test_timeout_ms = 5000;  // bounds every blocking receive below

/// A ROUTER bound on tcp 127.0.0.1 and a DEALER with routing id `id` connected to it.
struct router_dealer {
    zmq::socket_t router, dealer;
    router_dealer(zmq::context_t& ctx, const std::string& id)
        : router(ctx, zmq::socket_type::router), dealer(ctx, zmq::socket_type::dealer) {
        for (zmq::socket_t* s : {&router, &dealer}) {
            s->set(zmq::sockopt::linger, 0);
            s->set(zmq::sockopt::rcvtimeo, test_timeout_ms);
            s->set(zmq::sockopt::sndtimeo, test_timeout_ms);
        }
        dealer.set(zmq::sockopt::routing_id, id);
        router.bind("tcp://127.0.0.1:*");
        dealer.connect(router.get(zmq::sockopt::last_endpoint));
    }
};

std::uint64_t frame_bytes(const frames& f) {
    std::uint64_t n = 0;
    for (const auto& x : f) n += x.size();
    return n;
}

}  // namespace

TEST_CASE("timeouts: a blocking send that hits ZMQ_SNDTIMEO throws send_timeout_error") {
    zmq::context_t ctx;
    zmq::socket_t dealer(ctx, zmq::socket_type::dealer);  // no peer: nowhere to send
    dealer.set(zmq::sockopt::linger, 0);
    dealer.set(zmq::sockopt::sndtimeo, 50);
    session s(session_options{.key = "k"});
    message m = s.make_message("t");

    const auto t0 = std::chrono::steady_clock::now();
    CHECK_THROWS_AS(s.send(dealer, m), send_timeout_error);
    CHECK(std::chrono::steady_clock::now() - t0 >= std::chrono::milliseconds(40));
    CHECK_THROWS_AS((void)s.send(dealer, m, zmq::send_flags::none), send_timeout_error);
    try {
        s.send(dealer, m);
    } catch (const error& e) {
        CHECK(e.code() == errc::send_timeout);
        CHECK(std::string(to_string(e.code())) == "send_timeout");
    }
    // dontwait: would-block is an ordinary false, with or without SNDTIMEO
    CHECK_FALSE(s.send(dealer, m, zmq::send_flags::dontwait));
    CHECK(s.stats().sent == 0);
    CHECK(s.stats().bytes_out == 0);
}

TEST_CASE("timeouts: a full high-water mark makes a blocking send throw, not return") {
    zmq::context_t ctx;
    detail::loopback_pair p(ctx, "inproc", 1);  // nobody reads p.receiver
    p.sender.set(zmq::sockopt::sndtimeo, 20);
    session s(session_options{.key = "k"});
    int sent = 0;
    bool timed_out = false;
    for (int i = 0; i < 100 && !timed_out; ++i) {
        try {
            s.send(p.sender, s.make_message("t"));
            ++sent;
        } catch (const send_timeout_error&) {
            timed_out = true;
        }
    }
    CHECK(timed_out);
    CHECK(sent >= 1);
    CHECK(s.stats().sent == static_cast<std::uint64_t>(sent));
    // every message counted as sent arrives
    p.receiver.set(zmq::sockopt::rcvtimeo, test_timeout_ms);
    for (int i = 0; i < sent; ++i) CHECK(s.recv(p.receiver).has_value());
    p.receiver.set(zmq::sockopt::rcvtimeo, 0);
    CHECK_FALSE(s.recv(p.receiver).has_value());
}

TEST_CASE("timeouts: ZMQ_RCVTIMEO gives an empty recv and a timed-out try_recv") {
    zmq::context_t ctx;
    test::socket_pair p(ctx, "tcp");
    p.b.set(zmq::sockopt::rcvtimeo, 30);
    bool called = false;
    session s(
        session_options{.key = "k", .on_drop = [&](const dropped_message&) { called = true; }});
    CHECK_FALSE(s.recv(p.b).has_value());
    CHECK_FALSE(s.recv_frames(p.b).has_value());
    recv_result r = s.try_recv(p.b);
    CHECK(r.code == errc::ok);
    CHECK(r.would_block());
    CHECK(r.timed_out());
    recv_result d = s.try_recv(p.b, zmq::recv_flags::dontwait);
    CHECK(d.would_block());
    CHECK_FALSE(d.timed_out());
    CHECK_FALSE(called);  // a timeout is not a dropped message
    const session_stats st = s.stats();
    CHECK(st.received == 0);
    CHECK(st.dropped == 0);
    CHECK(st.bytes_in == 0);
}

TEST_CASE("a ROUTER learns which peer sent a dropped message, and still gets the next one") {
    zmq::context_t ctx;
    router_dealer rd(ctx, "peer-7");
    session server(session_options{.key = "k"});
    session client(session_options{.key = "k"});
    session forger(session_options{.key = "not the key"});

    forger.send(rd.dealer, forger.make_message("execute_request"));
    client.send(rd.dealer, client.make_message("execute_request"));

    recv_result bad = server.try_recv(rd.router);
    CHECK(bad.code == errc::signature);
    CHECK_FALSE(bad.msg.has_value());
    CHECK_FALSE(bad.would_block());
    REQUIRE(bad.identities.size() == 1);
    CHECK(bad.identities[0].as_string_view() == "peer-7");

    recv_result good = server.try_recv(rd.router);
    REQUIRE(good);
    CHECK(good.code == errc::ok);
    CHECK(good.identities.empty());
    REQUIRE(good.msg->identities.size() == 1);
    CHECK(good.msg->identities[0].as_string_view() == "peer-7");
}

TEST_CASE("identities of dropped messages: no delimiter, too many frames, a PAIR") {
    zmq::context_t ctx;
    router_dealer rd(ctx, "peer-9");
    session s(session_options{.key = "k"});
    session_options o{.key = "k"};
    o.limits.max_identities = 1;
    o.limits.max_buffers = 1;  // max_frames() = 1 + 1 + 5 + 1 = 8
    session small(o);

    // no delimiter: on a ROUTER, the routing id libzmq prepended
    test::send_raw(rd.dealer, [] {
        frames f;
        f.push_back(test::frame("garbage"));
        f.push_back(test::frame("more garbage"));
        return f;
    }());
    recv_result r = s.try_recv(rd.router);
    CHECK(r.code == errc::protocol);
    REQUIRE(r.identities.size() == 1);
    CHECK(r.identities[0].as_string_view() == "peer-9");

    // more frames than the limits allow (10 > 8): drained, identities kept
    message big = s.make_message("t");
    big.buffers.assign(3, buffer::take(std::string("b")));
    s.send(rd.dealer, big);
    r = small.try_recv(rd.router);
    CHECK(r.code == errc::limit);
    REQUIRE(r.identities.size() == 1);
    CHECK(r.identities[0].as_string_view() == "peer-9");

    // a message routed through two hops: both identities
    message hop = s.make_message("t");
    hop.identities = {buffer::take(std::string("inner"))};
    session wrong(session_options{.key = "wrong"});
    wrong.send(rd.dealer, hop);
    r = s.try_recv(rd.router);
    CHECK(r.code == errc::signature);
    REQUIRE(r.identities.size() == 2);
    CHECK(r.identities[0].as_string_view() == "peer-9");
    CHECK(r.identities[1].as_string_view() == "inner");

    // a PAIR has no routing id: garbage without a delimiter has no identities
    test::socket_pair p(ctx, "inproc");
    test::send_raw(p.a, [] {
        frames f;
        f.push_back(test::frame("garbage"));
        return f;
    }());
    r = s.try_recv(p.b);
    CHECK(r.code == errc::protocol);
    CHECK(r.identities.empty());

    s.send(rd.dealer, s.make_message("fine"));
    auto m = s.recv(rd.router);
    REQUIRE(m);
    CHECK(m->header.msg_type == "fine");
}

TEST_CASE("one-call send and reply, as jupyter_client's Session.send") {
    zmq::context_t ctx;
    router_dealer rd(ctx, "client-1");
    session client(session_options{.key = "k"});
    session server(session_options{.key = "k"});

    const header sent = client.send(rd.dealer, "execute_request",
                                    std::map<std::string, std::string>{{"code", "1+1"}});
    CHECK(sent.msg_type == "execute_request");
    CHECK(sent.session == client.id());

    auto req = server.recv(rd.router);
    REQUIRE(req);
    CHECK(req->header == sent);
    CHECK(req->content_map().get<std::string>("code") == "1+1");

    // the reply goes back to the requester: identities default to the parent's
    const header replied =
        server.send(rd.router, "execute_reply", std::map<std::string, int>{{"n", 2}}, &*req, {},
                    {buffer::take(std::string("payload"))});
    auto rep = client.recv(rd.dealer);
    REQUIRE(rep);
    CHECK(rep->header == replied);
    CHECK(rep->parent_header == sent);
    CHECK(rep->parent_header.msg_id == sent.msg_id);
    CHECK(rep->content_map().get<int>("n") == 2);
    REQUIRE(rep->buffers.size() == 1);
    CHECK(rep->buffers[0].as_string_view() == "payload");

    // explicit identities win over the parent's
    message fake_parent = server.make_message("x");
    fake_parent.identities = {buffer::take(std::string("nobody"))};
    (void)server.send(rd.router, "status", std::map<std::string, int>{}, &fake_parent,
                      {buffer::take(std::string("client-1"))});
    rep = client.recv(rd.dealer);
    REQUIRE(rep);
    CHECK(rep->parent_header == fake_parent.header);
}

TEST_CASE("make_message with a parent, make_reply the same") {
    session s(session_options{.key = "k"});
    message req = s.make_message("kernel_info_request");
    req.identities = {buffer::take(std::string("id-a")), buffer::take(std::string("id-b"))};
    message made[] = {s.make_message("kernel_info_reply", req),
                      s.make_reply(req, "kernel_info_reply")};
    for (const message& m : made) {
        CHECK(m.header.msg_type == "kernel_info_reply");
        CHECK(m.header.msg_id != req.header.msg_id);
        CHECK(m.parent_header == req.header);
        REQUIRE(m.identities.size() == 2);
        CHECK(m.identities[1].as_string_view() == "id-b");
    }
    CHECK(s.make_message("x").parent_header.empty());
}

TEST_CASE("counters: sent, received, dropped by code, replays, bytes, reset") {
    zmq::context_t ctx;
    test::socket_pair p(ctx, "inproc");
    session tx(session_options{.key = "k"});
    session rx(session_options{.key = "k"});
    session wrong(session_options{.key = "wrong"});

    message m = tx.make_message("t");
    m.set_content(std::map<std::string, std::string>{{"a", "b"}});
    m.buffers.push_back(buffer::take(std::string(1000, 'x')));
    const std::uint64_t size = frame_bytes(tx.encode(m));
    tx.send(p.a, m);
    tx.send(p.a, m);  // a replay
    tx.send(p.a, tx.make_message("u"));
    wrong.send(p.a, wrong.make_message("v"));
    const session_stats out = tx.stats();
    CHECK(out.sent == 3);
    CHECK(out.bytes_out >= 2 * size);
    CHECK(out.received == 0);

    CHECK(rx.recv(p.b).has_value());
    CHECK_THROWS_AS(rx.recv(p.b), replay_error);
    CHECK(rx.try_recv(p.b).msg.has_value());
    CHECK(rx.try_recv(p.b).code == errc::signature);
    const session_stats in = rx.stats();
    CHECK(in.received == 2);
    CHECK(in.dropped == 2);
    CHECK(in.replays == 1);
    CHECK(in.dropped_for(errc::replay) == 1);
    CHECK(in.dropped_for(errc::signature) == 1);
    CHECK(in.dropped_for(errc::protocol) == 0);
    CHECK(in.sent == 0);
    CHECK(in.bytes_in == out.bytes_out + wrong.stats().bytes_out);

    rx.reset_stats();
    const session_stats zero = rx.stats();
    CHECK(zero.received == 0);
    CHECK(zero.dropped == 0);
    CHECK(zero.replays == 0);
    CHECK(zero.bytes_in == 0);
}

TEST_CASE("counters are exact under concurrent senders") {
    zmq::context_t ctx;
    session s(session_options{.key = "k"});
    test::socket_pair p1(ctx, "inproc"), p2(ctx, "inproc");
    constexpr int n = 2000;
    auto run = [&](zmq::socket_t& sock) {
        for (int i = 0; i < n; ++i) s.send(sock, s.make_message("t"));
    };
    auto drain = [&](zmq::socket_t& sock) {
        for (int i = 0; i < n; ++i) (void)s.recv(sock);
    };
    std::thread a(run, std::ref(p1.a)), b(run, std::ref(p2.a));
    std::thread c(drain, std::ref(p1.b)), d(drain, std::ref(p2.b));
    a.join();
    b.join();
    c.join();
    d.join();
    const session_stats st = s.stats();
    CHECK(st.sent == 2 * n);
    CHECK(st.received == 2 * n);
    CHECK(st.bytes_in == st.bytes_out);
}

TEST_CASE(
    "on_drop: called for each dropped message, never for a good one; a throw loses "
    "nothing") {
    zmq::context_t ctx;
    router_dealer rd(ctx, "peer-3");
    std::vector<errc> codes;
    std::vector<std::string> ids, texts;
    bool throw_from_hook = false;
    session_options o{.key = "k"};
    o.on_drop = [&](const dropped_message& d) {
        codes.push_back(d.code);
        texts.emplace_back(d.what);
        ids.emplace_back(d.identities.empty() ? "" : d.identities[0].as_string_view());
        if (throw_from_hook) throw std::runtime_error("hook failed");
    };
    session server(o);
    session client(session_options{.key = "k"});
    session forger(session_options{.key = "nope"});

    client.send(rd.dealer, client.make_message("good"));
    forger.send(rd.dealer, forger.make_message("bad"));
    client.send(rd.dealer, client.make_message("good"));
    forger.send(rd.dealer, forger.make_message("bad"));
    client.send(rd.dealer, client.make_message("good"));

    CHECK(server.recv(rd.router)->header.msg_type == "good");
    CHECK(codes.empty());
    CHECK(server.try_recv(rd.router).code == errc::signature);
    REQUIRE(codes.size() == 1);
    CHECK(codes[0] == errc::signature);
    CHECK(texts[0] == "invalid signature");
    CHECK(ids[0] == "peer-3");
    CHECK(server.recv(rd.router)->header.msg_type == "good");
    CHECK(codes.size() == 1);

    throw_from_hook = true;  // the session's error is reported, not the hook's
    CHECK_THROWS_AS(server.recv(rd.router), signature_error);
    CHECK(codes.size() == 2);
    auto next = server.recv(rd.router);
    REQUIRE(next);
    CHECK(next->header.msg_type == "good");
    CHECK(codes.size() == 2);
}

TEST_CASE("re-sending a message is a replay; renew makes it sendable again") {
    zmq::context_t ctx;
    test::socket_pair p(ctx, "tcp");
    p.b.set(zmq::sockopt::rcvtimeo, test_timeout_ms);
    session tx(session_options{.key = "k"});
    session rx(session_options{.key = "k"});
    message m = tx.make_message("apply_request");
    m.set_content(std::map<std::string, int>{{"x", 1}});

    tx.send(p.a, m);
    CHECK(rx.recv(p.b)->header == m.header);
    tx.send(p.a, m);
    recv_result again = rx.try_recv(p.b);
    CHECK(again.code == errc::replay);

    const header before = m.header;
    const header& renewed = tx.renew(m);
    CHECK(&renewed == &m.header);
    CHECK(m.header.msg_id != before.msg_id);
    CHECK(m.header.msg_type == before.msg_type);
    CHECK(m.header.session == before.session);
    tx.send(p.a, m);
    auto got = rx.recv(p.b);
    REQUIRE(got);
    CHECK(got->header.msg_id == m.header.msg_id);
    CHECK(got->content_map().get<int>("x") == 1);
}
