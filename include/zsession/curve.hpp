// zsession/curve.hpp - CurveZMQ: key pairs, server and client sockets, a ZAP allow-list of
// client keys, and ipyparallel's curve_serverkey. See docs/CURVEZMQ.md.
//
// Why: the session's limits are checked on messages libzmq has already received whole, and
// the HMAC key is checked only after that, so a peer holding no key can make a receiver hold
// up to (frames per message) x ZMQ_MAXMSGSIZE bytes. CurveZMQ authenticates the peer during
// the ZMTP handshake, before libzmq accepts a single message frame: a peer without the
// server's public key (and, with a zap_handler, without an allowed client key) cannot make
// us hold anything beyond a handshake.
//
// Keys are exchanged as Z85 text, 40 characters for 32 bytes, as zmq_curve_keypair,
// pyzmq's zmq.curve_keypair() and ipyparallel's connection files write them.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <zmq.hpp>

namespace zsession {

/// Characters of a Z85-encoded CurveZMQ key.
inline constexpr std::size_t curve_key_chars = 40;

/// A CurveZMQ key pair, both keys as 40 Z85 characters. The secret key is secret: do not log
/// it or write it where others can read it.
struct curve_keypair {
    std::string public_key;
    std::string secret_key;
};

/// True when the libzmq this process links was built with CURVE (zmq_has("curve")).
bool has_curve() noexcept;

/// A fresh key pair from libzmq's random source (zmq_curve_keypair).
/// Throws usage_error when libzmq has no CURVE support.
curve_keypair make_curve_keypair();

/// The public key belonging to `secret_key` (zmq_curve_public).
/// Throws usage_error when `secret_key` is not a Z85 key or libzmq has no CURVE support.
std::string curve_public_key(std::string_view secret_key);

/// True when `key` is 40 characters of the Z85 alphabet (a key, not necessarily one in use).
bool is_curve_key(std::string_view key) noexcept;

/// Z85 text of 32 key bytes (zmq_z85_encode).
std::string z85_encode_key(const std::array<std::uint8_t, 32>& key);
/// The 32 bytes of a Z85 key. Throws usage_error when `key` is not one.
std::array<std::uint8_t, 32> z85_decode_key(std::string_view key);

/// Makes `socket` a CurveZMQ server with `server`'s secret key (ZMQ_CURVE_SERVER,
/// ZMQ_CURVE_SECRETKEY). Call before bind/connect; it applies to connections made afterwards.
/// A client must then know server.public_key to complete a handshake; a client speaking no
/// CURVE is refused during the handshake. Every client key is accepted unless a zap_handler
/// runs in the socket's context. Throws usage_error for a malformed key, zmq::error_t when
/// libzmq refuses the option (no CURVE support).
void configure_curve_server(zmq::socket_ref socket, const curve_keypair& server);

/// Makes `socket` a CurveZMQ client of the server whose public key is `server_public_key`,
/// authenticating as `client` (ZMQ_CURVE_SERVERKEY, ZMQ_CURVE_PUBLICKEY, ZMQ_CURVE_SECRETKEY).
/// Call before connect/bind. Throws usage_error for a malformed key, zmq::error_t when
/// libzmq refuses the option.
void configure_curve_client(zmq::socket_ref socket, std::string_view server_public_key,
                            const curve_keypair& client);

/// Same with a fresh client key pair, which is returned (what ipyparallel's clients and
/// engines do: the server's public key alone is the credential, the client's key only
/// encrypts). Use the three-argument form when the server keeps an allow-list of clients.
curve_keypair configure_curve_client(zmq::socket_ref socket, std::string_view server_public_key);

/// A ZAP (ZeroMQ Authentication Protocol, RFC 27) handler: accepts a CURVE client only when
/// its public key is on the allow-list, and refuses every other request (other mechanisms,
/// unknown keys, malformed requests).
///
/// libzmq consults the one handler bound to inproc://zeromq.zap.01 of a context for every
/// CURVE (and PLAIN) handshake on every socket of that context, before the connection may
/// carry a message; NULL-mechanism connections are consulted only when the socket has a
/// ZMQ_ZAP_DOMAIN. So a refused client never delivers a frame to the application.
///
/// Lifetime: the constructor binds the endpoint and starts one thread that answers requests;
/// the destructor stops and joins it (RAII). Only one handler may exist per context at a
/// time; the constructor throws zmq::error_t (EADDRINUSE) for a second one. The context must
/// outlive the handler. While no handler runs, libzmq accepts every CURVE client that knows
/// the server's public key.
///
/// Thread safety: allow, deny, is_allowed, clear and the counters may be called from any
/// thread while the handler serves; a change applies to handshakes that start after it.
class zap_handler {
  public:
    /// Binds inproc://zeromq.zap.01 in `ctx` and starts serving with an empty allow-list
    /// (every client refused until allowed). Throws zmq::error_t when the endpoint is taken.
    explicit zap_handler(zmq::context_t& ctx);
    /// Same, allowing each of `client_public_keys` (Z85). Throws usage_error for a bad key.
    zap_handler(zmq::context_t& ctx, const std::vector<std::string>& client_public_keys);
    /// Stops the thread, then unbinds. From then on CURVE servers in the context accept any
    /// client that knows their public key (libzmq's behaviour without a handler): keep the
    /// handler alive at least as long as the sockets it guards.
    ~zap_handler();
    zap_handler(const zap_handler&) = delete;
    zap_handler& operator=(const zap_handler&) = delete;

    /// Adds a client public key (Z85). Throws usage_error when it is not a key.
    void allow(std::string_view client_public_key);
    /// Removes a client public key; returns whether it was allowed. Existing connections stay.
    bool deny(std::string_view client_public_key);
    bool is_allowed(std::string_view client_public_key) const;
    /// Removes every key: every later client is refused.
    void clear();

    /// Handshakes accepted and refused since construction.
    std::uint64_t accepted() const noexcept;
    std::uint64_t refused() const noexcept;

  private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

/// The `curve_serverkey` of an ipyparallel connection file's JSON text (ipcontroller writes
/// it into ipcontroller-engine.json and ipcontroller-client.json when IPP_ENABLE_CURVE=1, and
/// null otherwise). Empty when the key is absent, null or "" (curve not in use). Throws
/// usage_error when the text is not a JSON object or the key is neither of those nor a Z85
/// key. ipyparallel writes `"key": ""` (unsigned messages) alongside a curve key: CurveZMQ
/// authenticates and encrypts each connection instead.
std::optional<std::string> curve_serverkey_of(std::string_view connection_json);

/// Same, reading the file at `path`. Throws usage_error when it cannot be read.
/// (ipyparallel's own clients and engines fall back to the IPP_CURVE_SERVERKEY environment
/// variable when the file has no key; callers who want that do it themselves.)
std::optional<std::string> read_curve_serverkey(const std::string& path);

}  // namespace zsession
