// zsession/ipp/client.hpp - a C++ client of an ipyparallel cluster: connects from the client
// connection file, tracks engines, runs code on chosen, load-balanced or all engines, and
// returns a future per request that gathers the reply and the engine's iopub outputs.
//
// Protocol: docs/IPYPARALLEL-CLIENT.md (and IPYPARALLEL.md section 2). The client speaks the
// JSON packer, as ipyparallel does by default.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "zsession/buffer.hpp"
#include "zsession/message.hpp"
#include "zsession/session.hpp"

namespace zsession::ipp {

// -- connection file ------------------------------------------------------------------------

/// The fields of `ipcontroller-client.json` the client uses.
struct client_connection_info {
    std::string interface = "tcp://127.0.0.1";  ///< "tcp://<ip>", ports appended by url()
    std::string key;                            ///< HMAC key; empty = unsigned
    std::string signature_scheme = "hmac-sha256";
    std::string pack = "json";  ///< only "json" is supported (ipyparallel's default)
    std::string task_scheme;    ///< "leastload", ...
    std::string location;
    /// Non-empty (IPP_ENABLE_CURVE=1 on the controller): the controller's CurveZMQ public
    /// key (Z85). Every socket of the client is then a CurveZMQ client of it, with one fresh
    /// key pair of the client's own; `key` is then "" (CurveZMQ authenticates instead).
    std::string curve_serverkey;
    int registration = 0, control = 0, mux = 0, task = 0, iopub = 0, notification = 0,
        broadcast = 0;

    /// "<interface>:<port>".
    std::string url(int port) const;

    /// Parses a client connection file. Throws usage_error when it cannot be read or lacks a
    /// port, decode_error when it is not JSON.
    static client_connection_info from_file(const std::string& path);
    /// `<profile_dir>/security/ipcontroller[-<cluster_id>]-client.json`.
    static std::string file_in_profile(const std::string& profile_dir,
                                       const std::string& cluster_id = "");
    /// Reads the file of a profile, waiting up to `wait` for the controller to write it.
    static client_connection_info from_profile(
        const std::string& profile_dir, const std::string& cluster_id = "",
        std::chrono::milliseconds wait = std::chrono::milliseconds{0});
};

// -- errors -----------------------------------------------------------------------------------

/// Base of the client's errors (not a zsession::error: no peer sent bad bytes).
class client_error : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};
/// A wait ran out: no reply (a dead engine, a wrong key: the controller drops messages whose
/// signature fails, so a refused client sees exactly this).
class timeout_error : public client_error {
  public:
    using client_error::client_error;
};
/// The engine (or the scheduler, or this client on an engine's death) answered with an error.
class remote_error : public client_error {
  public:
    remote_error(std::string ename, std::string evalue, std::vector<std::string> traceback,
                 std::string engine_uuid);
    std::string ename, evalue;
    std::vector<std::string> traceback;
    std::string engine_uuid;
};

// -- results --------------------------------------------------------------------------------

/// One iopub message published for a request.
struct output {
    std::string msg_type;     ///< "stream", "execute_result", "display_data", "error", "comm_msg"
    std::string engine_uuid;  ///< from metadata.engine, else empty
    std::string name;         ///< stream name ("stdout", "stderr"); empty otherwise
    /// stream: the text; execute_result/display_data: data["text/plain"];
    /// error: "ename: evalue".
    std::string text;
    std::string content_json;     ///< the whole content as JSON text
    std::vector<buffer> buffers;  ///< views of the received frames (comm_msg data)
};

/// Everything gathered for one request.
struct result {
    std::string msg_id;       ///< the request's msg_id (broadcast: "<id>_<engine uuid>")
    std::string msg_type;     ///< reply type ("execute_reply", ...), "" when failed locally
    std::string engine_uuid;  ///< engine that answered (task: the one the scheduler chose)
    int engine_id = -1;
    std::string status;  ///< "ok", "error", "aborted"
    std::string ename, evalue;
    std::vector<std::string> traceback;
    int execution_count = 0;
    std::string content_json;     ///< reply content as JSON text
    std::string metadata_json;    ///< reply metadata as JSON text
    std::vector<buffer> buffers;  ///< reply buffers (views)
    std::vector<output> outputs;  ///< iopub outputs, in arrival order
    /// True when the iopub `idle` status arrived (all outputs are in); false when the
    /// result was completed after client_options::output_grace without it.
    bool outputs_complete = false;

    bool ok() const noexcept { return status == "ok"; }
    /// Concatenated text of the stream outputs named `stream` ("stdout" or "stderr").
    std::string stream_text(std::string_view stream = "stdout") const;
    /// Throws remote_error unless ok().
    void raise_if_error() const;
};

namespace detail {
struct request_state;
}

/// The client's handle on one request. Copyable; all copies share the state. Thread-safe.
class future {
  public:
    future() = default;
    explicit future(std::shared_ptr<detail::request_state> state) : state_(std::move(state)) {}

    const std::string& msg_id() const;
    bool valid() const noexcept { return static_cast<bool>(state_); }
    bool ready() const;
    /// Waits up to `timeout`; true when the result is complete.
    bool wait_for(std::chrono::milliseconds timeout) const;
    /// The result once complete. Throws timeout_error when it is not complete within
    /// `timeout`. A remote error is returned as a result with !ok(), not thrown.
    /// The reference lives as long as this future (or a copy of it).
    const result& get(std::chrono::milliseconds timeout) const&;
    /// On a temporary future (`c.execute(...).get(t)`): the result by value, since the
    /// state may die with the temporary.
    result get(std::chrono::milliseconds timeout) &&;

  private:
    std::shared_ptr<detail::request_state> state_;
};

// -- the client -----------------------------------------------------------------------------

/// An engine of the cluster.
struct engine_info {
    int id = -1;
    std::string uuid;
    friend bool operator==(const engine_info&, const engine_info&) = default;
};

/// A change in the engine set, from the notification channel.
struct engine_event {
    enum class kind { registered, unregistered, hub_shutdown } what;
    engine_info engine;  ///< empty for hub_shutdown
};

struct client_options {
    /// How long the constructor waits for the hub's connection_reply. A wrong key gets no
    /// reply at all (the hub drops unsigned-correctly messages), so this is the refusal.
    std::chrono::milliseconds connect_timeout{5000};
    /// After a reply, how long to wait for the engine's iopub `idle` before completing the
    /// result anyway (result::outputs_complete == false).
    std::chrono::milliseconds output_grace{2000};
    /// At connection, how long to wait for the iopub subscription to become live (a
    /// kernel_info_request to one engine until its iopub status arrives), so that the first
    /// requests' outputs are not lost to the "slow joiner". 0 skips it.
    std::chrono::milliseconds iopub_warmup{3000};
    std::string username = "zsession";
    /// Buffers below this are copied into frames, others sent zero-copy.
    std::size_t copy_threshold = default_copy_threshold;
};

/// One engine's line of the hub's queue_reply (client::queue_status).
struct engine_queue {
    int engine_id = -1;
    int queue = 0;      ///< requests sent through the mux, not yet answered
    int tasks = 0;      ///< load-balanced tasks assigned to it, not yet answered
    int completed = 0;  ///< requests it answered (mux and task), since the last purge
};

/// The hub's queue_reply: each engine asked about, and the tasks no engine took yet.
struct hub_queue_status {
    std::vector<engine_queue> engines{};  ///< ordered by engine id
    int unassigned = 0;
};

/// One request as the hub's database recorded it (client::results).
struct stored_result {
    std::string msg_id;
    std::string msg_type;                  ///< of the reply ("execute_reply"), "" when absent
    std::string status;                    ///< the reply content's status
    std::string engine_uuid;               ///< the engine that answered (result_metadata.engine)
    std::string stdout_text, stderr_text;  ///< the outputs the hub collected from iopub
    std::string received;                  ///< when the hub got the reply (ISO 8601)
    std::string result_content_json;       ///< the reply content as JSON text
};

/// The hub's result_reply: which of the asked msg_ids are pending or completed, and (unless
/// status only) the completed ones' records.
struct hub_results {
    std::vector<std::string> pending{}, completed{};
    std::vector<stored_result> records{};  ///< one per completed id, in the hub's order
};

/// One task record of the hub's database, as db_query returns it (ipyparallel's
/// `Client.db_query` dicts). A key the query's `keys` did not select, or that the hub stored as
/// null, is empty here; `keys` lists the keys the hub sent (msg_id always).
struct task_record {
    std::string msg_id;
    std::vector<std::string> keys{};  ///< the record's keys as sent, in the hub's order
    std::string msg_type;             ///< of the request (header.msg_type)
    std::string client_uuid, engine_uuid;
    /// ISO 8601 dates as the hub sent them (null: empty): the request's, when an engine
    /// started it, when it completed, when the hub got the reply.
    std::string submitted, started, completed, received;
    std::string resubmitted;      ///< the msg_id this request was resubmitted as
    std::string result_msg_type;  ///< result_header.msg_type ("execute_reply")
    std::string status;           ///< result_content.status
    std::string stdout_text, stderr_text;
    std::string result_content_json;  ///< result_content as JSON text ("" when absent/null)
    std::string record_json;          ///< the whole record (without buffers) as JSON text
    /// The request's and the reply's buffers (only when `keys` named "buffers" /
    /// "result_buffers"): views of the db_reply's frames, split per record.
    std::vector<buffer> buffers{}, result_buffers{};

    bool has(std::string_view key) const;
};

/// Load-balanced request options: the task scheduler's metadata.
struct task_options {
    std::vector<int> targets{};         ///< engine ids allowed; empty = any
    std::vector<std::string> after{};   ///< msg_ids that must finish first (time dependency)
    std::vector<std::string> follow{};  ///< msg_ids whose engine must run this one
    double timeout = 0;                 ///< seconds until the scheduler fails it; 0 = none
    int retries = 0;                    ///< resubmissions after a failure (or engine death)
};

/// A client of one cluster. Owns a background I/O thread that owns every socket; the public
/// member functions may be called from any thread. Requests are encoded on the calling
/// thread (buffers sent zero-copy by the I/O thread) and matched to replies and iopub
/// messages by msg_id.
class client {
  public:
    /// Connects and asks the hub for its engines (connection_request). Throws timeout_error
    /// when the hub does not answer within options.connect_timeout (wrong key, wrong
    /// curve_serverkey: the message says whether a CurveZMQ handshake completed; no hub),
    /// usage_error for an unsupported connection file (a non-JSON packer, a malformed
    /// curve_serverkey, CurveZMQ with a libzmq built without it).
    explicit client(client_connection_info info, client_options options = {});
    /// Stops the I/O thread; requests still pending complete with status "error",
    /// ename "ClientClosed".
    ~client();
    client(const client&) = delete;
    client& operator=(const client&) = delete;

    const client_connection_info& connection() const noexcept;
    const zsession::session& session() const noexcept;

    /// The engines registered now, by id.
    std::vector<engine_info> engines() const;
    std::optional<engine_info> engine(int id) const;
    /// Waits until at least `n` engines are registered. True on success.
    bool wait_for_engines(std::size_t n, std::chrono::milliseconds timeout) const;
    /// Called on the I/O thread for every engine event (keep it short; do not call back
    /// into blocking client functions from it).
    void on_engine_event(std::function<void(const engine_event&)> callback);

    /// execute_request on one engine through the mux. Throws usage_error for an unknown id.
    future execute(int engine_id, const std::string& code, bool silent = false);
    /// One mux request per engine; empty ids = all engines.
    std::vector<future> execute(const std::vector<int>& engine_ids, const std::string& code,
                                bool silent = false);
    /// execute_request through the task scheduler (load-balanced).
    future execute_balanced(const std::string& code, const task_options& options = {});
    /// execute_request through the broadcast scheduler to `engine_ids` (empty = all). Not
    /// coalescing: one future per engine. Coalescing: one future, completed by the single
    /// coalesced reply (the scheduler keeps one engine's content and every engine's
    /// buffers), with the outputs of all engines.
    std::vector<future> broadcast(const std::string& code, const std::vector<int>& engine_ids = {},
                                  bool coalescing = false);

    /// abort_request on an engine's control channel: the listed queued msg_ids (all queued
    /// when empty) are answered "aborted".
    future abort(int engine_id, const std::vector<std::string>& msg_ids = {});
    /// shutdown_request on an engine's control channel.
    future shutdown(int engine_id);

    // -- hub queries (the query socket; docs/IPYPARALLEL-CLIENT.md "Hub queries") ---------
    // Each throws remote_error when the hub answers with an error (an unknown engine id, a
    // pending msg_id to purge, a query the controller's database cannot serve: --nodb keeps
    // no history and no records) and timeout_error when it does not answer within `timeout`.

    /// queue_request: per engine (empty ids = all) its queued, task and completed counts.
    hub_queue_status queue_status(const std::vector<int>& engine_ids = {},
                                  std::chrono::milliseconds timeout = std::chrono::seconds(10));
    /// result_request: the records of `msg_ids` (status_only: only pending/completed, which
    /// the hub knows without a database). An unknown msg_id is a remote_error (KeyError).
    hub_results results(const std::vector<std::string>& msg_ids, bool status_only = false,
                        std::chrono::milliseconds timeout = std::chrono::seconds(10));
    /// history_request: every msg_id in the hub's database, oldest first.
    std::vector<std::string> history(std::chrono::milliseconds timeout = std::chrono::seconds(10));
    /// purge_request: drops the records of completed `msg_ids` and of every completed request
    /// of `engine_ids` from the hub's database (neither given: nothing is dropped).
    void purge_results(const std::vector<std::string>& msg_ids,
                       const std::vector<int>& engine_ids = {},
                       std::chrono::milliseconds timeout = std::chrono::seconds(10));
    /// purge_request "all": drops every completed record.
    void purge_all_results(std::chrono::milliseconds timeout = std::chrono::seconds(10));

    /// resubmit_request: the hub sends each of `msg_ids` (requests it recorded, with their
    /// buffers) again through the task scheduler under a new msg_id; returns old -> new.
    /// The scheduler answers the hub, not this client, so a resubmitted request has no
    /// future: follow it with results({new_id}) or wait_stored_result(new_id). An unknown
    /// msg_id is a remote_error (KeyError, the hub's message names it); a reply without a
    /// new msg_id for each of `msg_ids` is a client_error.
    std::map<std::string, std::string> resubmit(
        const std::vector<std::string>& msg_ids,
        std::chrono::milliseconds timeout = std::chrono::seconds(10));
    /// Polls result_request until the hub has recorded `msg_id` as completed, then returns
    /// its record. timeout_error when it is still pending after `timeout`; the hub's
    /// remote_error (KeyError) when it still does not know `msg_id` then (a request just
    /// submitted through a scheduler reaches the hub a moment later, so a KeyError before the
    /// deadline is polled through). Each query is given the time left, at least
    /// 250 ms (so a zero timeout still asks once): the call returns at most 0.5 s after the
    /// deadline.
    stored_result wait_stored_result(const std::string& msg_id, std::chrono::milliseconds timeout,
                                     std::chrono::milliseconds poll = std::chrono::milliseconds{
                                         50});
    /// db_request: the records matching `query`, a MongoDB-style map (`{"msg_id": {"$in":
    /// [...]}}`, `{"completed": {"$ne": null}}`, `{"engine_uuid": "..."}`; the hub reads
    /// ISO 8601 strings as dates). `keys`: the record keys to return (msg_id always); empty =
    /// every key but the buffers. A query the database rejects (not a map, an unknown
    /// operator) is a remote_error.
    std::vector<task_record> db_query(const msgpack::object& query,
                                      const std::vector<std::string>& keys = {},
                                      std::chrono::milliseconds timeout = std::chrono::seconds(10));
    /// db_query of `{"msg_id": {"$in": msg_ids}}`.
    std::vector<task_record> db_query_ids(
        const std::vector<std::string>& msg_ids, const std::vector<std::string>& keys = {},
        std::chrono::milliseconds timeout = std::chrono::seconds(10));
    /// db_query of `{"completed": {"$ne": null}}`: every completed request still recorded.
    std::vector<task_record> db_query_completed(
        const std::vector<std::string>& keys = {},
        std::chrono::milliseconds timeout = std::chrono::seconds(10));

    /// Which socket a raw request goes through (query: the hub itself; engine_id ignored).
    enum class channel { mux, task, control, query };
    /// How a raw request completes.
    enum class completion {
        reply,       ///< on the shell/control reply (+ iopub idle within output_grace)
        comm_reply,  ///< on the first iopub comm_msg whose parent is the request
    };
    /// Sends a message made with session().make_message (any type, any buffers) to an
    /// engine (mux, control) or to the scheduler (task: engine_id ignored, -1) and returns
    /// its future. The building block of the array helpers.
    future send(channel ch, int engine_id, message&& m, completion c = completion::reply);

  private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace zsession::ipp
