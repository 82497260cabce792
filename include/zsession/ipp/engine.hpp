// zsession/ipp/engine.hpp - an ipyparallel engine in C++: registers with Debian's/PyPI's
// `ipcontroller`, echoes its heartbeats, and serves the mux, task and broadcast schedulers and
// the control channel with a user-supplied interpreter and comm targets. The protocol it
// speaks is mapped in docs/IPYPARALLEL.md.
//
// Threads: run() is called on one thread; while it runs the engine has four more: the heart
// (echoes pings, so a long execute never stops the beats), shell (mux + task + broadcast,
// one ROUTER), control (abort, clear, shutdown, kernel_info: served while an execute runs)
// and the caller's, which watches for a lost controller. iopub is shared under a mutex.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "zsession/codec.hpp"
#include "zsession/ipp/comm.hpp"
#include "zsession/ipp/connection.hpp"
#include "zsession/ipp/interpreter.hpp"
#include "zsession/options.hpp"

namespace zsession::ipp {

/// What the engine does when the controller stops sending heartbeats.
enum class on_controller_lost {
    exit,        ///< run() returns run_result::controller_lost
    reregister,  ///< tear down, register again (a fresh uuid) once the controller answers
};

struct engine_options {
    engine_connection connection;
    /// Requested engine id (an MPI rank). The hub may give another one (logged).
    std::optional<int> requested_id;
    on_controller_lost lost_policy = on_controller_lost::exit;
    /// The controller is lost after this many heartbeat periods (+500 ms each) without a
    /// ping. 50, as ipengine.
    int max_missed_heartbeats = 50;
    /// How long to wait for the registration_reply before retrying (reregister) or failing.
    std::chrono::milliseconds registration_timeout{10'000};
    /// Limits for received messages (a comm array may be large: the defaults allow 4 GiB
    /// per buffer).
    zsession::limits limits;
    std::size_t copy_threshold = default_copy_threshold;
    /// Log lines ("[ipengine N] ...") on stderr.
    bool verbose = true;
    /// A direct data endpoint beside the controller ("tcp://127.0.0.1:41234") that the engine
    /// advertises in its kernel_info_reply as `"zsession": {"version": 1, "direct": url}`
    /// (docs/IPYPARALLEL-CLIENT.md). The engine does not serve it: the program does (e.g. a
    /// zsession::ipp::direct_server of the client library, as zcalc-ipengine). "" = none.
    std::string direct_endpoint;
    /// The direct endpoint's CurveZMQ public key (Z85), advertised beside it as
    /// `"curve_serverkey"`; "" = the endpoint speaks no CurveZMQ. A client of a curve-enabled
    /// cluster uses a direct endpoint only with a key (docs/IPYPARALLEL-CLIENT.md).
    std::string direct_curve_serverkey;
};

enum class run_result {
    shutdown,         ///< a shutdown_request was answered
    stopped,          ///< stop() was called; the engine unregistered
    controller_lost,  ///< no heartbeat for max_missed_heartbeats periods (policy exit)
};

/// One engine. Ownership: owns its interpreter, comm handlers, context and sockets.
/// Thread safety: register targets before run(); stop() may be called from any thread or a
/// signal handler; nothing else concurrently.
class engine {
  public:
    engine(engine_options options, std::unique_ptr<interpreter> interp);
    ~engine();
    engine(const engine&) = delete;
    engine& operator=(const engine&) = delete;

    /// Registers a comm target. Throws std::invalid_argument for a duplicate name.
    void register_comm_target(std::string name, comm_target target);

    /// Registers with the controller and serves until shutdown, stop() or a lost controller.
    /// Throws std::runtime_error when the registration fails (status error, e.g. an id in
    /// use, or no reply within registration_timeout under the exit policy), and
    /// zmq::error_t on socket failure. Nothing a peer sends makes it throw.
    run_result run();

    /// Asks run() to unregister and return. Async-signal-safe (one atomic store).
    void stop() noexcept;

    /// The id the hub gave (-1 before registration) and this registration's uuid.
    int id() const noexcept;
    std::string uuid() const;

    /// The channel a message arrived on, for handle().
    enum class channel { shell, control };
    /// What handle() produced: the frame sets run() would have sent.
    struct handled {
        std::vector<frames> replies;  ///< on the request's channel, identities first
        std::vector<frames> iopub;    ///< on iopub, topic first
    };
    /// Socket-free dispatch (tests, fuzzing): verifies, decodes and serves one message as
    /// received from the shell (mux, task, broadcast) or control ROUTER, identities first,
    /// exactly as run() does, and returns what it would have sent. Without a registration
    /// (run() not called) the first call starts one as engine 0 with a fresh uuid. Each
    /// request the channel serves gets one reply (status "error" when its content has the
    /// wrong shape; a request that belongs on shell gets a "WrongChannel" error on control);
    /// messages that fail verification and unknown types get none. Not concurrently with
    /// run(); an abort_request without ids aborts the next shell message handled.
    handled handle(channel ch, frames&& in);

  private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace zsession::ipp
