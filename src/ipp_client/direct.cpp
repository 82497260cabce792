// The direct path beside the controller: a DEALER client channel and an embeddable ROUTER
// server, exchanging array_request / array_reply signed with the cluster key.
#include "zsession/ipp/client_arrays.hpp"

#include <atomic>

#include "zsession/error.hpp"

#include "array_wire.hpp"

namespace zsession::ipp {

using clock = std::chrono::steady_clock;

// -- direct_channel -------------------------------------------------------------------------

struct direct_channel::impl {
    std::string endpoint;
    zsession::session sess;
    std::string curve_serverkey;
    std::optional<curve_keypair> curve_client;  // made once, reused on reconnection
    zmq::context_t ctx{1};
    zmq::socket_t sock;
    std::mutex mu;

    impl(std::string ep, session_options o, std::string serverkey)
        : endpoint(std::move(ep)), sess(std::move(o)), curve_serverkey(std::move(serverkey)) {
        if (!curve_serverkey.empty()) {
            if (!is_curve_key(curve_serverkey)) {
                throw usage_error("direct endpoint " + endpoint +
                                  ": curve_serverkey is not a Z85 key");
            }
            curve_client = make_curve_keypair();
        }
        connect();
    }
    void connect() {
        sock = zmq::socket_t(ctx, zmq::socket_type::dealer);
        sock.set(zmq::sockopt::linger, 0);
        apply_limits(sock, sess.options().limits);
        if (curve_client) configure_curve_client(sock, curve_serverkey, *curve_client);
        sock.connect(endpoint);
    }
};

direct_channel::direct_channel(const std::string& endpoint, session_options options,
                               std::string curve_serverkey)
    : impl_(std::make_unique<impl>(endpoint, std::move(options), std::move(curve_serverkey))) {}

direct_channel::~direct_channel() = default;

const std::string& direct_channel::endpoint() const noexcept {
    return impl_->endpoint;
}

array_reply direct_channel::request(const array_request& req, std::chrono::milliseconds timeout) {
    std::lock_guard lock(impl_->mu);
    auto m = impl_->sess.make_message("array_request");
    m.set_content(detail::to_wire(req, m.buffers));
    const std::string id = m.header.msg_id;
    impl_->sess.send(impl_->sock, m);
    const auto deadline = clock::now() + timeout;
    zmq::pollitem_t item{impl_->sock.handle(), 0, ZMQ_POLLIN, 0};
    while (clock::now() < deadline) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now());
        if (zmq::poll(&item, 1, std::max(left, std::chrono::milliseconds(1))) == 0) continue;
        auto r = impl_->sess.try_recv(impl_->sock, zmq::recv_flags::dontwait);
        if (!r.msg || r.msg->parent_header.msg_id != id) continue;  // bad or stale: dropped
        auto w = r.msg->content_as<detail::wire_reply>();
        auto reply = detail::from_wire(w, r.msg->buffers);
        reply.via_direct = true;
        return reply;
    }
    impl_->connect();  // a late reply must not answer the next request
    throw timeout_error(
        "no array_reply from direct endpoint " + impl_->endpoint + " within " +
        std::to_string(timeout.count()) + " ms (" +
        (impl_->curve_client ? "wrong curve_serverkey or cluster key" : "wrong key") +
        ", or engine gone)");
}

// -- direct_server --------------------------------------------------------------------------

struct direct_server::impl {
    zsession::session sess;
    handler_type handler;
    zmq::context_t ctx{1};
    zmq::socket_t sock;
    std::string endpoint;
    std::string curve_public;
    std::atomic<bool> stopping{false};
    std::atomic<std::size_t> served{0};
    std::thread thread;

    impl(session_options o, handler_type h, const std::string& url,
         const std::optional<curve_keypair>& curve)
        : sess(std::move(o)), handler(std::move(h)), sock(ctx, zmq::socket_type::router) {
        sock.set(zmq::sockopt::linger, 0);
        apply_limits(sock, sess.options().limits);
        if (curve) {
            configure_curve_server(sock, *curve);
            curve_public = curve->public_key;
        }
        sock.bind(url);
        endpoint = sock.get(zmq::sockopt::last_endpoint);
    }

    void run() {
        zmq::pollitem_t item{sock.handle(), 0, ZMQ_POLLIN, 0};
        while (!stopping) {
            if (zmq::poll(&item, 1, std::chrono::milliseconds(100)) == 0) continue;
            auto r = sess.try_recv(sock, zmq::recv_flags::dontwait);
            if (!r.msg) continue;  // would block, or a bad message (wrong key) dropped
            try {
                answer(*r.msg);
            } catch (const std::exception&) {
                // A reply that cannot be sent (a peer gone): this request is lost, the
                // server goes on.
            }
        }
    }

    void answer(const message& req) {
        array_reply reply;
        detail::wire_request in;
        try {
            in = req.content_as<detail::wire_request>();
            reply = handler(detail::from_wire(in, req.buffers));
        } catch (const std::exception& e) {
            reply =
                array_reply{.status = "error", .ename = "DirectRequestError", .evalue = e.what()};
        }
        auto m = sess.make_reply(req, "array_reply");
        auto w = detail::to_wire(reply, m.buffers);
        w.request = req.header.msg_id;
        w.op = in.op;
        m.set_content(w);
        sess.send(sock, m);
        ++served;
    }
};

direct_server::direct_server(session_options options, handler_type handler,
                             const std::string& bind_url, std::optional<curve_keypair> curve)
    : impl_(std::make_unique<impl>(std::move(options), std::move(handler), bind_url, curve)) {
    impl_->thread = std::thread([this] { impl_->run(); });
}

direct_server::~direct_server() {
    impl_->stopping = true;
    if (impl_->thread.joinable()) impl_->thread.join();
}

const std::string& direct_server::endpoint() const noexcept {
    return impl_->endpoint;
}

std::size_t direct_server::served() const noexcept {
    return impl_->served;
}

const std::string& direct_server::curve_public_key() const noexcept {
    return impl_->curve_public;
}

}  // namespace zsession::ipp
