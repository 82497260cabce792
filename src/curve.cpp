// src/curve.cpp - CurveZMQ key pairs, socket configuration, the ZAP handler and ipyparallel's
// curve_serverkey.
#include "zsession/curve.hpp"

#include <atomic>
#include <cstring>
#include <fstream>
#include <iterator>
#include <mutex>
#include <set>
#include <thread>

#include <rapidjson/document.h>
#include <zmq.h>

#include "zsession/error.hpp"

namespace zsession {

namespace {

using key_bytes = std::array<std::uint8_t, 32>;

/// Overwrites secret bytes in a way the compiler may not elide.
void wipe(void* p, std::size_t n) noexcept {
    volatile auto* v = static_cast<volatile unsigned char*>(p);
    while (n--) *v++ = 0;
}

/// A key's bytes; wiped on destruction (secret keys pass through here).
struct scoped_key {
    key_bytes bytes;
    explicit scoped_key(std::string_view z85) : bytes(z85_decode_key(z85)) {}
    ~scoped_key() { wipe(bytes.data(), bytes.size()); }
};

void require_curve() {
    if (!has_curve()) throw usage_error("libzmq was built without CURVE support");
}

void set_key(zmq::socket_ref socket, int option, std::string_view z85) {
    const scoped_key k(z85);
    if (zmq_setsockopt(socket.handle(), option, k.bytes.data(), k.bytes.size()) != 0) {
        throw zmq::error_t();
    }
}

}  // namespace

bool has_curve() noexcept {
    return zmq_has("curve") != 0;
}

bool is_curve_key(std::string_view key) noexcept {
    if (key.size() != curve_key_chars) return false;
    char text[curve_key_chars + 1];
    key.copy(text, key.size());
    text[curve_key_chars] = '\0';
    key_bytes out;
    const bool ok = zmq_z85_decode(out.data(), text) != nullptr;
    wipe(out.data(), out.size());
    wipe(text, sizeof text);
    return ok;
}

std::string z85_encode_key(const key_bytes& key) {
    char text[curve_key_chars + 1];
    if (zmq_z85_encode(text, key.data(), key.size()) == nullptr) {
        throw usage_error("zmq_z85_encode failed");
    }
    std::string out(text, curve_key_chars);
    wipe(text, sizeof text);
    return out;
}

key_bytes z85_decode_key(std::string_view key) {
    if (!is_curve_key(key)) {
        throw usage_error("not a CurveZMQ key: expected 40 Z85 characters, got " +
                          std::to_string(key.size()) + " characters");
    }
    char text[curve_key_chars + 1];
    key.copy(text, key.size());
    text[curve_key_chars] = '\0';
    key_bytes out;
    zmq_z85_decode(out.data(), text);
    wipe(text, sizeof text);
    return out;
}

curve_keypair make_curve_keypair() {
    require_curve();
    char pub[curve_key_chars + 1], sec[curve_key_chars + 1];
    if (zmq_curve_keypair(pub, sec) != 0) throw usage_error("zmq_curve_keypair failed");
    curve_keypair kp{std::string(pub, curve_key_chars), std::string(sec, curve_key_chars)};
    wipe(sec, sizeof sec);
    return kp;
}

std::string curve_public_key(std::string_view secret_key) {
    require_curve();
    if (!is_curve_key(secret_key)) throw usage_error("not a CurveZMQ secret key");
    char sec[curve_key_chars + 1], pub[curve_key_chars + 1];
    secret_key.copy(sec, curve_key_chars);
    sec[curve_key_chars] = '\0';
    const int rc = zmq_curve_public(pub, sec);
    wipe(sec, sizeof sec);
    if (rc != 0) throw usage_error("zmq_curve_public failed");
    return std::string(pub, curve_key_chars);
}

void configure_curve_server(zmq::socket_ref socket, const curve_keypair& server) {
    (void)z85_decode_key(server.secret_key);  // usage_error before any option changes
    socket.set(zmq::sockopt::curve_server, 1);
    set_key(socket, ZMQ_CURVE_SECRETKEY, server.secret_key);
}

void configure_curve_client(zmq::socket_ref socket, std::string_view server_public_key,
                            const curve_keypair& client) {
    for (std::string_view k : {server_public_key, std::string_view(client.public_key),
                               std::string_view(client.secret_key)}) {
        (void)z85_decode_key(k);  // all checked before any option changes
    }
    set_key(socket, ZMQ_CURVE_SERVERKEY, server_public_key);
    set_key(socket, ZMQ_CURVE_PUBLICKEY, client.public_key);
    set_key(socket, ZMQ_CURVE_SECRETKEY, client.secret_key);
}

curve_keypair configure_curve_client(zmq::socket_ref socket, std::string_view server_public_key) {
    curve_keypair client = make_curve_keypair();
    configure_curve_client(socket, server_public_key, client);
    return client;
}

// -- ZAP -------------------------------------------------------------------------------------

namespace {

constexpr const char* zap_endpoint = "inproc://zeromq.zap.01";

/// One ZAP request's frames (RFC 27): version, request_id, domain, address, identity,
/// mechanism, then the mechanism's credentials (CURVE: the client's 32-byte public key).
bool recv_all(zmq::socket_t& s, std::vector<zmq::message_t>& parts) {
    parts.clear();
    do {
        zmq::message_t m;
        if (!s.recv(m, zmq::recv_flags::dontwait)) return !parts.empty();
        parts.push_back(std::move(m));
    } while (parts.back().more());
    return true;
}

}  // namespace

struct zap_handler::impl {
    mutable std::mutex mutex;
    std::set<std::string, std::less<>> allowed;  // Z85 public keys
    std::atomic<std::uint64_t> accepted{0}, refused{0};
    zmq::socket_t rep, stop_rx, stop_tx;
    std::thread thread;

    explicit impl(zmq::context_t& ctx)
        : rep(ctx, zmq::socket_type::rep),
          stop_rx(ctx, zmq::socket_type::pair),
          stop_tx(ctx, zmq::socket_type::pair) {
        static std::atomic<std::uint64_t> counter{0};
        const std::string stop = "inproc://zsession.zap-stop." + std::to_string(counter++);
        for (zmq::socket_t* s : {&rep, &stop_rx, &stop_tx}) s->set(zmq::sockopt::linger, 0);
        rep.bind(zap_endpoint);  // throws EADDRINUSE when another handler serves this context
        stop_rx.bind(stop);
        stop_tx.connect(stop);
    }

    /// Stops and joins the thread (when it runs), then releases the endpoint.
    ~impl() {
        if (thread.joinable()) {
            try {
                stop_tx.send(zmq::str_buffer(""), zmq::send_flags::dontwait);
            } catch (const zmq::error_t&) {
                // The context is terminating: serve() has returned or will on ETERM.
            }
            thread.join();
        }
        try {
            // Closing alone releases the endpoint later, on libzmq's reaper thread; unbinding
            // releases it now, so a new handler can bind as soon as this one is gone.
            rep.unbind(zap_endpoint);
        } catch (const zmq::error_t&) {
            // ETERM: the context is closing and releases the endpoint with it.
        }
    }
    impl(const impl&) = delete;
    impl& operator=(const impl&) = delete;

    /// The status code (and text) for one request.
    std::pair<const char*, const char*> decide(const std::vector<zmq::message_t>& req,
                                               std::string& user_id) const {
        if (req.size() < 6 || req[0].to_string_view() != "1.0") {
            return {"500", "malformed ZAP request"};
        }
        if (req[5].to_string_view() != "CURVE") return {"400", "mechanism not allowed"};
        if (req.size() != 7 || req[6].size() != 32) return {"400", "malformed credentials"};
        key_bytes k;
        std::memcpy(k.data(), req[6].data(), k.size());
        user_id = z85_encode_key(k);
        std::lock_guard lock(mutex);
        if (allowed.count(user_id) == 0) return {"400", "client key not allowed"};
        return {"200", "OK"};
    }

    void answer(const std::vector<zmq::message_t>& req) {
        std::string user_id;
        const auto [code, text] = decide(req, user_id);
        const bool ok = std::string_view(code) == "200";
        if (!ok) user_id.clear();
        (ok ? accepted : refused).fetch_add(1, std::memory_order_relaxed);
        const std::string_view request_id = req.size() > 1 ? req[1].to_string_view() : "";
        const std::string_view reply[] = {"1.0", request_id, code, text, user_id, ""};
        for (std::size_t i = 0; i < std::size(reply); ++i) {
            rep.send(zmq::buffer(reply[i]),
                     i + 1 < std::size(reply) ? zmq::send_flags::sndmore : zmq::send_flags::none);
        }
    }

    void serve() {
        std::vector<zmq::message_t> req;
        try {
            for (;;) {
                zmq::pollitem_t items[] = {{rep.handle(), 0, ZMQ_POLLIN, 0},
                                           {stop_rx.handle(), 0, ZMQ_POLLIN, 0}};
                zmq::poll(items, 2, std::chrono::milliseconds(-1));
                if (items[1].revents & ZMQ_POLLIN) return;
                if ((items[0].revents & ZMQ_POLLIN) && recv_all(rep, req)) answer(req);
            }
        } catch (const zmq::error_t&) {
            // ETERM: the context is being closed; the handler can serve no more.
        } catch (const std::exception&) {
            // std::bad_alloc: nothing can be answered. Failing closed: later handshakes get
            // no ZAP reply and never complete, so no client is let in unchecked.
        }
    }
};

zap_handler::zap_handler(zmq::context_t& ctx) : impl_(std::make_unique<impl>(ctx)) {
    impl_->thread = std::thread([p = impl_.get()] { p->serve(); });
}

zap_handler::zap_handler(zmq::context_t& ctx, const std::vector<std::string>& client_public_keys)
    : impl_(std::make_unique<impl>(ctx)) {
    for (const auto& k : client_public_keys) allow(k);  // before the thread: throws cleanly
    impl_->thread = std::thread([p = impl_.get()] { p->serve(); });
}

zap_handler::~zap_handler() = default;

void zap_handler::allow(std::string_view client_public_key) {
    (void)z85_decode_key(client_public_key);
    std::lock_guard lock(impl_->mutex);
    impl_->allowed.emplace(client_public_key);
}

bool zap_handler::deny(std::string_view client_public_key) {
    std::lock_guard lock(impl_->mutex);
    const auto it = impl_->allowed.find(client_public_key);
    if (it == impl_->allowed.end()) return false;
    impl_->allowed.erase(it);
    return true;
}

bool zap_handler::is_allowed(std::string_view client_public_key) const {
    std::lock_guard lock(impl_->mutex);
    return impl_->allowed.find(client_public_key) != impl_->allowed.end();
}

void zap_handler::clear() {
    std::lock_guard lock(impl_->mutex);
    impl_->allowed.clear();
}

std::uint64_t zap_handler::accepted() const noexcept {
    return impl_->accepted.load(std::memory_order_relaxed);
}

std::uint64_t zap_handler::refused() const noexcept {
    return impl_->refused.load(std::memory_order_relaxed);
}

// -- ipyparallel connection files -------------------------------------------------------------

std::optional<std::string> curve_serverkey_of(std::string_view connection_json) {
    rapidjson::Document d;
    d.Parse(connection_json.data(), connection_json.size());
    if (d.HasParseError() || !d.IsObject()) {
        throw usage_error("connection file is not a JSON object");
    }
    const auto it = d.FindMember("curve_serverkey");
    if (it == d.MemberEnd() || it->value.IsNull()) return std::nullopt;
    if (!it->value.IsString()) throw usage_error("curve_serverkey is not a string");
    const std::string_view key(it->value.GetString(), it->value.GetStringLength());
    if (key.empty()) return std::nullopt;
    if (!is_curve_key(key)) throw usage_error("curve_serverkey is not a Z85 CurveZMQ key");
    return std::string(key);
}

std::optional<std::string> read_curve_serverkey(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw usage_error("cannot read connection file " + path);
    const std::string text{std::istreambuf_iterator<char>(in), {}};
    return curve_serverkey_of(text);
}

}  // namespace zsession
