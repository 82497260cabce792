// tests/curve_test.cpp - CurveZMQ: keys, servers and clients, the ZAP allow-list, and
// ipyparallel's curve_serverkey. Every socket is on tcp://127.0.0.1; every wait is bounded.
#include "zsession/curve.hpp"

#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <thread>

#include <doctest/doctest.h>
#include <unistd.h>

#include "zsession/zsession.hpp"

namespace {

using namespace zsession;
using namespace std::chrono_literals;

constexpr auto give_up = 5s;  // every wait in this file ends by then

struct endpoints {
    zmq::socket_t server, client;
    std::string address;
    endpoints(zmq::context_t& ctx)
        : server(ctx, zmq::socket_type::router), client(ctx, zmq::socket_type::dealer) {
        server.set(zmq::sockopt::linger, 0);
        client.set(zmq::sockopt::linger, 0);
    }
    void bind() {
        server.bind("tcp://127.0.0.1:*");
        address = server.get(zmq::sockopt::last_endpoint);
    }
    void connect() { client.connect(address); }
};

session make_session(std::string key = "") {
    session_options o;
    o.key = std::move(key);
    o.packer = packer_kind::json;
    return session(o);
}

std::map<std::string, std::string> ping_content() {
    return {{"ping", "pong"}};
}

void send_ping(const session& s, zmq::socket_ref sock) {
    message m = s.make_message("ping_request");
    m.set_content(ping_content());
    s.send(sock, m);
}

/// A message on `sock` within `wait`, or none.
std::optional<message> recv_within(const session& s, zmq::socket_ref sock,
                                   std::chrono::milliseconds wait) {
    zmq::pollitem_t item{sock.handle(), 0, ZMQ_POLLIN, 0};
    if (zmq::poll(&item, 1, wait) == 0) return std::nullopt;
    return s.recv(sock, zmq::recv_flags::dontwait);
}

/// Waits until `done()` or give_up; returns done().
template <class F>
bool eventually(F done) {
    const auto deadline = std::chrono::steady_clock::now() + give_up;
    while (!done() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(5ms);
    return done();
}

/// Watches `sock`'s handshake-failure events through a socket monitor.
struct handshake_monitor {
    zmq::socket_t pair;
    explicit handshake_monitor(zmq::context_t& ctx, zmq::socket_ref sock) : pair(ctx, ZMQ_PAIR) {
        static int n = 0;
        const std::string ep = "inproc://curve-test-monitor-" + std::to_string(n++);
        REQUIRE(zmq_socket_monitor(sock.handle(), ep.c_str(),
                                   ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                                       ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |
                                       ZMQ_EVENT_HANDSHAKE_SUCCEEDED) == 0);
        pair.set(zmq::sockopt::linger, 0);
        pair.connect(ep);
    }
    /// The first event within give_up (0 when none came).
    std::uint16_t next_event() {
        zmq::pollitem_t item{pair.handle(), 0, ZMQ_POLLIN, 0};
        if (zmq::poll(&item, 1, std::chrono::duration_cast<std::chrono::milliseconds>(give_up)) ==
            0) {
            return 0;
        }
        zmq::message_t ev, addr;
        REQUIRE(pair.recv(ev));
        REQUIRE(pair.recv(addr));
        std::uint16_t id;
        std::memcpy(&id, ev.data(), sizeof id);
        return id;
    }
};

}  // namespace

TEST_CASE("a key pair round-trips through Z85 and zmq_curve_public") {
    REQUIRE(has_curve());
    const curve_keypair kp = make_curve_keypair();
    CHECK(kp.public_key.size() == curve_key_chars);
    CHECK(is_curve_key(kp.public_key));
    CHECK(is_curve_key(kp.secret_key));
    CHECK(kp.public_key != kp.secret_key);
    CHECK(curve_public_key(kp.secret_key) == kp.public_key);
    CHECK(z85_encode_key(z85_decode_key(kp.public_key)) == kp.public_key);
    CHECK(make_curve_keypair().public_key != kp.public_key);

    // The Z85 test vector of libzmq's test_security_curve (its well-known server key).
    const std::string server_public = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7";
    const std::string server_secret = "JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6";
    CHECK(curve_public_key(server_secret) == server_public);

    CHECK_FALSE(is_curve_key(kp.public_key.substr(1)));
    CHECK_FALSE(is_curve_key(kp.public_key + "0"));
    CHECK_FALSE(is_curve_key(std::string(39, '0') + "~"));  // '~' is not Z85
    CHECK_FALSE(is_curve_key(""));
    CHECK_THROWS_AS(z85_decode_key("short"), usage_error);
    CHECK_THROWS_AS(curve_public_key(std::string(40, '~')), usage_error);
}

TEST_CASE("a client with an allowed key is served, and the application learns its key") {
    zmq::context_t ctx;
    const curve_keypair server = make_curve_keypair(), client = make_curve_keypair();
    zap_handler zap(ctx, {client.public_key});
    CHECK(zap.is_allowed(client.public_key));

    endpoints e(ctx);
    configure_curve_server(e.server, server);
    e.bind();
    configure_curve_client(e.client, server.public_key, client);
    e.connect();

    const session s = make_session();
    send_ping(s, e.client);
    e.server.set(zmq::sockopt::rcvtimeo, 5000);
    // The ZAP handler's user id (the client's Z85 public key) rides on every frame.
    zsession::frames rest;
    do {
        rest.emplace_back();
        REQUIRE(e.server.recv(rest.back()));
    } while (rest.back().more());
    CHECK(std::string(rest.front().gets("User-Id")) == client.public_key);
    const message got = s.decode(std::move(rest));
    CHECK(got.content_as<std::map<std::string, std::string>>() == ping_content());

    // And the reply goes back through the encrypted connection.
    message reply = s.make_reply(got, "ping_reply");
    reply.set_content(ping_content());
    s.send(e.server, reply);
    const auto back = recv_within(s, e.client, 5000ms);
    REQUIRE(back);
    CHECK(back->header.msg_type == "ping_reply");
    CHECK(zap.accepted() == 1);
    CHECK(zap.refused() == 0);
}

TEST_CASE("an unknown client key is refused before any frame reaches the application") {
    zmq::context_t ctx;
    const curve_keypair server = make_curve_keypair(), known = make_curve_keypair(),
                        stranger = make_curve_keypair();
    zap_handler zap(ctx, {known.public_key});

    endpoints e(ctx);
    configure_curve_server(e.server, server);
    e.bind();
    handshake_monitor client_events(ctx, e.client);
    // The stranger knows the server's public key (the strongest stranger there is) but its own
    // key is not on the allow-list.
    configure_curve_client(e.client, server.public_key, stranger);
    e.connect();
    const session s = make_session();
    // A burst of large multipart messages queued on the client: none may reach the server.
    // (Once libzmq has seen the refusal the client may have no pipe left: a send may fail.)
    for (int i = 0; i < 4; ++i) {
        message m = s.make_message("execute_request");
        m.set_content(ping_content());
        m.buffers.push_back(buffer::take(std::string(1 << 20, 'x')));
        (void)s.send(e.client, m, zmq::send_flags::dontwait);
    }

    CHECK(client_events.next_event() == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH);
    CHECK(eventually([&] { return zap.refused() >= 1; }));
    CHECK(zap.accepted() == 0);
    CHECK_FALSE(recv_within(s, e.server, 300ms));  // nothing was delivered

    // Allowed at run time: a new connection with that key is served (the allow-list is live).
    zap.allow(stranger.public_key);
    zmq::socket_t again(ctx, zmq::socket_type::dealer);
    again.set(zmq::sockopt::linger, 0);
    configure_curve_client(again, server.public_key, stranger);
    again.connect(e.address);
    send_ping(s, again);
    const auto got = recv_within(s, e.server, 5000ms);
    REQUIRE(got);
    CHECK(got->header.msg_type == "ping_request");
    CHECK(zap.accepted() >= 1);

    // Denied again: the next connection is refused.
    CHECK(zap.deny(stranger.public_key));
    CHECK_FALSE(zap.deny(stranger.public_key));
    const auto refused_before = zap.refused();
    zmq::socket_t third(ctx, zmq::socket_type::dealer);
    third.set(zmq::sockopt::linger, 0);
    configure_curve_client(third, server.public_key, stranger);
    third.connect(e.address);
    send_ping(s, third);
    CHECK(eventually([&] { return zap.refused() > refused_before; }));
    CHECK_FALSE(recv_within(s, e.server, 300ms));
}

TEST_CASE("a client without CURVE, or with a wrong server key, is refused in the handshake") {
    zmq::context_t ctx;
    const curve_keypair server = make_curve_keypair();
    const session s = make_session();

    SUBCASE("plain (NULL mechanism) client") {
        endpoints e(ctx);
        configure_curve_server(e.server, server);
        e.bind();
        handshake_monitor server_events(ctx, e.server);
        e.connect();  // no curve options
        send_ping(s, e.client);
        CHECK(server_events.next_event() == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL);
        CHECK_FALSE(recv_within(s, e.server, 300ms));
    }
    SUBCASE("client that does not know the server's public key") {
        endpoints e(ctx);
        configure_curve_server(e.server, server);
        e.bind();
        handshake_monitor server_events(ctx, e.server);
        configure_curve_client(e.client, make_curve_keypair().public_key);
        e.connect();
        send_ping(s, e.client);
        CHECK(server_events.next_event() == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL);
        CHECK_FALSE(recv_within(s, e.server, 300ms));
    }
    SUBCASE("with a ZAP handler, a NULL client on a socket with a ZAP domain is refused too") {
        zap_handler zap(ctx);
        endpoints e(ctx);
        e.server.set(zmq::sockopt::zap_domain, "zsession");
        e.bind();
        e.connect();
        send_ping(s, e.client);
        CHECK(eventually([&] { return zap.refused() >= 1; }));
        CHECK_FALSE(recv_within(s, e.server, 300ms));
    }
}

TEST_CASE("one ZAP handler per context; it stops on destruction and can be replaced") {
    zmq::context_t ctx;
    {
        zap_handler first(ctx);
        CHECK_THROWS_AS(zap_handler{ctx}, zmq::error_t);
        CHECK_THROWS_AS(first.allow("not a key"), usage_error);
        CHECK(first.accepted() == 0);
    }
    // A handler refused for a bad key releases the endpoint at once too.
    CHECK_THROWS_AS((zap_handler{ctx, {"bad"}}), usage_error);
    const curve_keypair server = make_curve_keypair(), client = make_curve_keypair();
    zap_handler second(ctx);
    second.allow(client.public_key);
    second.clear();
    CHECK_FALSE(second.is_allowed(client.public_key));
    CHECK_THROWS_AS((zap_handler{ctx, {"bad"}}), zmq::error_t);  // endpoint taken comes first

    // An empty allow-list refuses every client.
    endpoints e(ctx);
    configure_curve_server(e.server, server);
    e.bind();
    configure_curve_client(e.client, server.public_key, client);
    e.connect();
    send_ping(make_session(), e.client);
    CHECK(eventually([&] { return second.refused() >= 1; }));
}

TEST_CASE("an ipyparallel connection file's curve_serverkey is honoured") {
    zmq::context_t ctx;
    const curve_keypair server = make_curve_keypair();

    // What ipcontroller writes with IPP_ENABLE_CURVE=1 (ipcontroller-client.json): an empty
    // HMAC key (unsigned messages) and the controller's public key.
    const std::string path = "/tmp/zsession-curve-test-" + std::to_string(::getpid()) + ".json";
    {
        std::ofstream f(path);
        f << R"({"key": "", "curve_serverkey": ")" << server.public_key
          << R"(", "location": "127.0.0.1", "pack": "json", "unpack": "json",)"
          << R"( "signature_scheme": "hmac-sha256", "ssh": "",)"
          << R"( "interface": "tcp://127.0.0.1", "registration": 0})";
    }
    std::optional<std::string> key;
    REQUIRE_NOTHROW(key = read_curve_serverkey(path));
    std::remove(path.c_str());
    REQUIRE(key);
    CHECK(*key == server.public_key);

    endpoints e(ctx);
    configure_curve_server(e.server, server);
    e.bind();
    const curve_keypair client = configure_curve_client(e.client, *key);  // ipyparallel's way
    CHECK(is_curve_key(client.public_key));
    e.connect();
    const session s = make_session("");  // key "" as in the file: unsigned, curve protects
    send_ping(s, e.client);
    const auto got = recv_within(s, e.server, 5000ms);
    REQUIRE(got);
    CHECK(got->content_as<std::map<std::string, std::string>>() == ping_content());

    // Curve not in use: null, "" or absent. Anything else that is not a key is refused.
    CHECK_FALSE(curve_serverkey_of(R"({"key": "abc", "curve_serverkey": null})"));
    CHECK_FALSE(curve_serverkey_of(R"({"key": "abc", "curve_serverkey": ""})"));
    CHECK_FALSE(curve_serverkey_of(R"({"key": "abc"})"));
    CHECK_THROWS_AS(curve_serverkey_of(R"({"curve_serverkey": 5})"), usage_error);
    CHECK_THROWS_AS(curve_serverkey_of(R"({"curve_serverkey": "abc"})"), usage_error);
    CHECK_THROWS_AS(curve_serverkey_of("[1]"), usage_error);
    CHECK_THROWS_AS(curve_serverkey_of("{"), usage_error);
    CHECK_THROWS_AS(read_curve_serverkey("/nonexistent/zsession-curve.json"), usage_error);
}
