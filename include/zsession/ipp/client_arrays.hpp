// zsession/ipp/client_arrays.hpp - numpy-compatible arrays to and from engines without pickle:
// through a Jupyter comm across the controller, or over a direct endpoint beside it.
//
// Wire contract (docs/IPYPARALLEL-CLIENT.md, "Arrays" and "The direct path"):
//   request  {"op": "push"|"pull"|"echo"|"info", "name", "expr", "dtype", "shape", "order"}
//            + one buffer (push, echo) holding the array's bytes in memory order
//   reply    {"status": "ok"|"error", "op", "request", "dtype", "shape", "order", "nbytes",
//             "ename", "evalue"} + one buffer (pull, echo)
// Through the controller the request is a comm_open/comm_msg to target "zsession.array" and
// the reply an iopub comm_msg; on the direct path they are `array_request` / `array_reply`
// messages on a DEALER/ROUTER pair, signed with the cluster key (JSON packer).
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "zsession/curve.hpp"
#include "zsession/ipp/client.hpp"
#include "zsession/ndarray.hpp"

namespace zsession::ipp {

/// The comm target the Python helper registers.
inline constexpr std::string_view array_comm_target = "zsession.array";

/// Source of python/zsession_ipp_comm.py, embedded at build time.
std::string_view array_helper_source();

/// Default size from which array_client takes the direct path when the engine has one:
/// 64 KiB. Measured (bench/ipp_client_bench.cpp, docs/IPYPARALLEL-CLIENT.md): the direct
/// path wins at every size, but below 64 KiB the whole controller round trip is ~2.5 ms
/// and the array fits a few network packets; there the comm is kept because it is ordered
/// with the client's other requests in the engine's shell queue (the direct endpoint is
/// served by its own thread, concurrently with running code). From 64 KiB up the controller
/// costs grow with size (0.05 GB/s at 64 KiB, 0.07 at 64 MiB against 0.28 direct).
/// Pass 0 to array_client to send every array directly.
inline constexpr std::size_t default_direct_threshold = 64 * 1024;

/// One array request: what the engine is asked to do.
struct array_request {
    std::string op{};                     ///< "push", "pull", "echo", "info"
    std::string name{};                   ///< push: the variable to bind
    std::string expr{};                   ///< pull: the expression to evaluate
    std::optional<ndarray_view> array{};  ///< push, echo: sent as one zero-copy frame
};

/// What an engine answered.
struct array_reply {
    std::string status{};  ///< "ok" or "error"
    std::string ename{}, evalue{};
    std::size_t nbytes = 0;
    std::string direct{};  ///< info: the engine's direct endpoint, "" when it has none
    /// info: the direct endpoint's CurveZMQ public key (Z85), "" when it speaks no CurveZMQ.
    std::string curve_serverkey{};
    std::optional<ndarray_view> array{};  ///< pull, echo: a view of the received frame
    bool via_direct = false;              ///< which path carried it
    bool ok() const noexcept { return status == "ok"; }
    /// Throws remote_error unless ok().
    void raise_if_error() const;
};

// -- the direct path ------------------------------------------------------------------------

/// A client's connection to one engine's direct endpoint: a DEALER, a session keyed with the
/// cluster key. Synchronous; one request at a time (calls are serialized by a mutex).
class direct_channel {
  public:
    /// Connects to `endpoint` ("tcp://host:port"). With `curve_serverkey` (the endpoint's
    /// public key, Z85), a CurveZMQ client with a fresh key pair of its own: a server with
    /// another key never completes the handshake, so requests time out. Throws zmq::error_t
    /// for a bad address, usage_error for a malformed key.
    direct_channel(const std::string& endpoint, session_options options,
                   std::string curve_serverkey = {});
    ~direct_channel();
    /// Sends `req`, waits for its reply. Throws timeout_error when none comes within
    /// `timeout` (a wrong key: the server drops the message); the channel then reconnects
    /// so a late reply cannot be taken for the next request's.
    array_reply request(const array_request& req, std::chrono::milliseconds timeout);
    const std::string& endpoint() const noexcept;

  private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

/// The server side of the direct path, for an engine to embed (C++ engines): a ROUTER bound
/// to `bind_url` and a thread that answers each `array_request` with `handler`'s reply.
/// The handler runs on the server's thread; it must not throw (an exception becomes an
/// error reply). Stops and joins in the destructor.
///
/// With `curve` the ROUTER is a CurveZMQ server with that key pair: only clients that know
/// curve->public_key complete a handshake (a curve-enabled cluster's engines use a key pair
/// of their own, advertised through the controller; docs/IPYPARALLEL-CLIENT.md).
class direct_server {
  public:
    using handler_type = std::function<array_reply(const array_request&)>;
    direct_server(session_options options, handler_type handler,
                  const std::string& bind_url = "tcp://127.0.0.1:*",
                  std::optional<curve_keypair> curve = std::nullopt);
    ~direct_server();
    direct_server(const direct_server&) = delete;
    direct_server& operator=(const direct_server&) = delete;
    /// The bound address to advertise ("tcp://127.0.0.1:41234").
    const std::string& endpoint() const noexcept;
    /// Requests answered so far.
    std::size_t served() const noexcept;
    /// The CurveZMQ public key clients must know, "" when the server speaks no CurveZMQ.
    const std::string& curve_public_key() const noexcept;

  private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

// -- arrays through a client ----------------------------------------------------------------

/// Arrays to and from the engines of a client, by the comm through the controller or, when
/// the engine advertises a direct endpoint and the array is at least direct_threshold
/// bytes, over the direct path. Thread-safe.
class array_client {
  public:
    explicit array_client(client& c, std::size_t direct_threshold = default_direct_threshold);
    ~array_client();

    /// Sends the Python helper to `engine_ids` (empty = all) in one execute_request each and
    /// registers the comm target; with `direct`, also starts each engine's direct endpoint
    /// and records it. Throws remote_error when an engine fails, timeout_error on no reply.
    void install(const std::vector<int>& engine_ids = {}, bool direct = false,
                 std::chrono::milliseconds timeout = std::chrono::seconds(30));
    /// Uses `endpoint` as `engine_id`'s direct path (learned elsewhere, e.g. a C++ engine's
    /// kernel_info "zsession" field), speaking CurveZMQ to `curve_serverkey` when given.
    /// "" removes it. Throws usage_error when the cluster uses CurveZMQ and no key is given:
    /// a curve cluster's messages are unsigned (its key is ""), so its direct path must be
    /// encrypted and authenticated by CurveZMQ too.
    void set_direct_endpoint(int engine_id, const std::string& endpoint,
                             const std::string& curve_serverkey = "");
    std::string direct_endpoint(int engine_id) const;
    /// Asks the engine for kernel_info and, when its content has
    /// `"zsession": {"direct": "<endpoint>", "curve_serverkey": "<key>"}` (how C++ engines
    /// advertise it), uses that endpoint. Returns it, or "" when the engine advertises none
    /// (Python engines), or none usable (a curve cluster and an endpoint without a key).
    std::string discover_direct(int engine_id, std::chrono::milliseconds timeout);
    std::size_t direct_threshold() const noexcept { return threshold_; }

    /// Binds `name` on the engine to a read-only numpy view of `a` (a's bytes leave as one
    /// zero-copy frame; `a` must stay unchanged until the call returns).
    array_reply push(int engine_id, const std::string& name, const ndarray_view& a,
                     std::chrono::milliseconds timeout);
    /// Evaluates `expr` on the engine; the array comes back as a view of the received frame.
    array_reply pull(int engine_id, const std::string& expr, std::chrono::milliseconds timeout);
    /// Sends `a` and receives it back (the round trip the benchmark measures).
    array_reply echo(int engine_id, const ndarray_view& a, std::chrono::milliseconds timeout);
    /// Forces a path: the comm through the controller, whatever the size.
    array_reply request_via_controller(int engine_id, const array_request& req,
                                       std::chrono::milliseconds timeout);

  private:
    array_reply dispatch(int engine_id, const array_request& req,
                         std::chrono::milliseconds timeout);
    client& client_;
    std::size_t threshold_;
    mutable std::mutex mu_;
    std::map<std::string, std::string> comm_ids_;  // engine uuid -> opened comm id
    std::map<int, std::shared_ptr<direct_channel>> direct_;
};

}  // namespace zsession::ipp
