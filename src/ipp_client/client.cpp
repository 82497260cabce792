// The ipyparallel client: one I/O thread owns every socket; user threads encode requests and
// hand the frames over through a queue and an inproc wake-up pipe.
#include "zsession/ipp/client.hpp"

#include <algorithm>
#include <atomic>
#include <deque>
#include <map>
#include <sstream>
#include <thread>
#include <tuple>
#include <unordered_map>

#include "zsession/curve.hpp"
#include "zsession/error.hpp"

namespace zsession::ipp {

using clock = std::chrono::steady_clock;
using object_map = std::map<std::string, msgpack::object>;

// -- errors and results ---------------------------------------------------------------------

remote_error::remote_error(std::string name, std::string value, std::vector<std::string> tb,
                           std::string engine)
    : client_error(name + ": " + value + (engine.empty() ? "" : " (engine " + engine + ")")),
      ename(std::move(name)),
      evalue(std::move(value)),
      traceback(std::move(tb)),
      engine_uuid(std::move(engine)) {}

std::string result::stream_text(std::string_view stream) const {
    std::string out;
    for (const auto& o : outputs) {
        if (o.msg_type == "stream" && o.name == stream) out += o.text;
    }
    return out;
}

void result::raise_if_error() const {
    if (!ok()) throw remote_error(ename, evalue, traceback, engine_uuid);
}

namespace detail {

/// One request's shared state. `res` and the I/O fields are written by the I/O thread only
/// until `done`; after that `res` is read-only and read under `mu` by future holders.
struct request_state {
    std::string msg_id;
    mutable std::mutex mu;
    mutable std::condition_variable cv;
    bool done = false;
    result res;

    // I/O thread only.
    client::completion how = client::completion::reply;
    std::string target_uuid;  // engine the request was sent to (mux, control, broadcast)
    std::vector<std::string> coalesced_uuids;  // a coalescing broadcast's engines
    std::vector<std::string> keys;             // msg_ids this state is registered under
    int idle_needed = 1;
    int idle_seen = 0;
    bool replied = false;
    clock::time_point grace_deadline{};

    void complete(bool outputs_complete) {
        std::lock_guard lock(mu);
        res.outputs_complete = outputs_complete;
        done = true;
        cv.notify_all();
    }
};

}  // namespace detail

const std::string& future::msg_id() const {
    if (!state_) throw usage_error("empty future");
    return state_->msg_id;
}

bool future::ready() const {
    if (!state_) return false;
    std::lock_guard lock(state_->mu);
    return state_->done;
}

bool future::wait_for(std::chrono::milliseconds timeout) const {
    if (!state_) throw usage_error("empty future");
    std::unique_lock lock(state_->mu);
    return state_->cv.wait_for(lock, timeout, [&] { return state_->done; });
}

result future::get(std::chrono::milliseconds timeout) && {
    return static_cast<const future&>(*this).get(timeout);
}

const result& future::get(std::chrono::milliseconds timeout) const& {
    if (!wait_for(timeout)) {
        throw timeout_error("no reply to " + state_->msg_id + " within " +
                            std::to_string(timeout.count()) + " ms");
    }
    return state_->res;
}

// -- helpers --------------------------------------------------------------------------------

namespace {

std::string to_json(const msgpack::object& o) {
    std::ostringstream s;
    s << o;
    return s.str();
}

std::string str_of(const object_map& m, const std::string& key) {
    auto it = m.find(key);
    if (it == m.end() || it->second.type != msgpack::type::STR) return {};
    return it->second.as<std::string>();
}

object_map map_of(const msgpack::object& o) {
    if (o.type != msgpack::type::MAP) return {};
    try {
        return o.as<object_map>();
    } catch (const msgpack::type_error&) {
        return {};
    }
}

struct execute_content {
    std::string code{};
    bool silent = false;
    bool store_history = true;
    std::map<std::string, std::string> user_expressions{};
    bool allow_stdin = false;
    bool stop_on_error = false;  // true would abort other requests queued on the engine
    MSGPACK_DEFINE_MAP(code, silent, store_history, user_expressions, allow_stdin, stop_on_error)
};

struct task_metadata {
    std::vector<std::string> after{}, follow{}, targets{};
    double timeout = 0;
    int retries = 0;
    MSGPACK_DEFINE_MAP(after, follow, targets, timeout, retries)
};

struct broadcast_metadata {
    std::vector<std::tuple<std::string, int>> targets{};
    bool is_broadcast = true;
    bool is_coalescing = false;
    MSGPACK_DEFINE_MAP(targets, is_broadcast, is_coalescing)
};

struct abort_content {
    std::vector<std::string> msg_ids;
    MSGPACK_DEFINE_MAP(msg_ids)
};

struct shutdown_content {
    bool restart = false;
    MSGPACK_DEFINE_MAP(restart)
};

void fill_error(result& r, std::string ename, std::string evalue) {
    r.status = "error";
    r.ename = std::move(ename);
    r.evalue = std::move(evalue);
}

enum sock_index { s_wake, s_mux, s_task, s_bcast, s_control, s_query, s_iopub, s_notif, s_count };

}  // namespace

// -- the I/O machinery ----------------------------------------------------------------------

struct client::impl {
    client_connection_info info;
    client_options opts;
    zsession::session sess;
    zmq::context_t ctx{1};
    std::array<zmq::socket_t, s_count> socks;
    zmq::socket_t wake_tx;
    std::string wake_url;
    /// With a curve_serverkey: this client's key pair, one for all its sockets (as
    /// ipyparallel's Client does); the server's public key is the credential.
    std::optional<curve_keypair> curve;
    zmq::socket_t query_monitor;  // see watch_handshakes; closed once connected

    struct outgoing {
        int sock;
        frames f;
        std::vector<std::shared_ptr<detail::request_state>> states;
    };
    std::mutex q_mu;  // guards queue and wake_tx
    std::deque<outgoing> queue;

    mutable std::mutex eng_mu;  // guards engines and callback
    mutable std::condition_variable eng_cv;
    std::map<int, engine_info> engines;
    std::function<void(const engine_event&)> callback;

    // I/O thread only.
    std::unordered_map<std::string, std::shared_ptr<detail::request_state>> pending;
    std::atomic<bool> stopping{false};
    std::thread thread;

    impl(client_connection_info i, client_options o)
        : info(std::move(i)),
          opts(std::move(o)),
          sess(session_options{.key = info.key,
                               .signature_scheme = info.signature_scheme,
                               .username = opts.username,
                               .packer = packer_kind::json,
                               .copy_threshold = opts.copy_threshold}) {}

    /// A socket connected to `port`; `watch`: its handshakes go to query_monitor.
    zmq::socket_t make(zmq::socket_type type, int port, bool watch = false) {
        zmq::socket_t s(ctx, type);
        s.set(zmq::sockopt::linger, 0);
        if (type == zmq::socket_type::sub) s.set(zmq::sockopt::subscribe, "");
        if (curve) configure_curve_client(s, info.curve_serverkey, *curve);
        if (watch) query_monitor = watch_handshakes(s);
        s.connect(info.url(port));
        return s;
    }

    void connect() {
        if (!info.curve_serverkey.empty()) {
            if (!is_curve_key(info.curve_serverkey)) {
                throw usage_error("curve_serverkey \"" + info.curve_serverkey +
                                  "\" is not a 40-character Z85 key");
            }
            curve = make_curve_keypair();  // throws usage_error without CURVE in libzmq
        }
        if (info.pack != "json") {
            throw usage_error("packer \"" + info.pack + "\" is not supported (only json)");
        }
        socks[s_notif] = make(zmq::socket_type::sub, info.notification);
        socks[s_iopub] = make(zmq::socket_type::sub, info.iopub);
        socks[s_mux] = make(zmq::socket_type::dealer, info.mux);
        socks[s_task] = make(zmq::socket_type::dealer, info.task);
        socks[s_bcast] = make(zmq::socket_type::dealer, info.broadcast);
        socks[s_control] = make(zmq::socket_type::dealer, info.control);
        socks[s_query] = make(zmq::socket_type::dealer, info.registration, true);
        wake_url = "inproc://zsession-ipp-wake-" + sess.id();
        socks[s_wake] = zmq::socket_t(ctx, zmq::socket_type::pair);
        socks[s_wake].bind(wake_url);
        wake_tx = zmq::socket_t(ctx, zmq::socket_type::pair);
        wake_tx.connect(wake_url);
        query_engines();
        warm_up_iopub();
    }

    /// Waits until the iopub subscription is live (a SUB's subscription reaches the hub's
    /// PUB some time after connect: outputs published before that are lost, the "slow
    /// joiner"). Sends kernel_info_request to an engine until an iopub message answering it
    /// arrives, within client_options::iopub_warmup. No engines: nothing to wait for (by
    /// the time one registers the subscription is long live).
    void warm_up_iopub() {
        std::string uuid;
        {
            std::lock_guard lock(eng_mu);
            if (engines.empty() || opts.iopub_warmup.count() <= 0) return;
            uuid = engines.begin()->second.uuid;
        }
        const auto deadline = clock::now() + opts.iopub_warmup;
        std::array<zmq::pollitem_t, 2> items{
            zmq::pollitem_t{socks[s_iopub].handle(), 0, ZMQ_POLLIN, 0},
            zmq::pollitem_t{socks[s_mux].handle(), 0, ZMQ_POLLIN, 0}};
        std::vector<std::string> sent;
        while (clock::now() < deadline) {
            auto m = sess.make_message("kernel_info_request");
            m.identities = {buffer::copy_of(bytes_view(uuid))};
            sent.push_back(m.header.msg_id);
            sess.send(socks[s_mux], m);
            const auto attempt_end =
                std::min(deadline, clock::now() + std::chrono::milliseconds(250));
            while (clock::now() < attempt_end) {
                zmq::poll(items.data(), items.size(), std::chrono::milliseconds(25));
                if (items[1].revents & ZMQ_POLLIN) {
                    (void)sess.try_recv(socks[s_mux], zmq::recv_flags::dontwait);  // the reply
                }
                if (!(items[0].revents & ZMQ_POLLIN)) continue;
                auto r = sess.try_recv(socks[s_iopub], zmq::recv_flags::dontwait);
                if (r.msg && std::find(sent.begin(), sent.end(), r.msg->parent_header.msg_id) !=
                                 sent.end()) {
                    return;  // live; replies still in flight are dropped by the I/O thread
                }
            }
        }
    }

    /// With CurveZMQ: a monitor of the query socket's completed handshakes, so that a
    /// refusal can say whether the server key or the HMAC key was wrong. Empty otherwise.
    /// Set before `query` connects, so no handshake is missed.
    zmq::socket_t watch_handshakes(zmq::socket_t& query) {
        if (!curve) return {};
        const std::string url = "inproc://zsession-ipp-monitor-" + sess.id();
        if (zmq_socket_monitor(query.handle(), url.c_str(), ZMQ_EVENT_HANDSHAKE_SUCCEEDED) != 0) {
            return {};
        }
        zmq::socket_t mon(ctx, zmq::socket_type::pair);
        mon.connect(url);
        return mon;
    }

    /// connection_request on the query socket, before the I/O thread starts.
    void query_engines() {
        zmq::socket_t mon = std::move(query_monitor);
        bool handshake = false;
        struct stop_monitor {
            zmq::socket_t& query;
            ~stop_monitor() { zmq_socket_monitor(query.handle(), nullptr, 0); }
        } stop{socks[s_query]};
        sess.send(socks[s_query], sess.make_message("connection_request"));
        std::array<zmq::pollitem_t, 2> items{
            zmq::pollitem_t{socks[s_query].handle(), 0, ZMQ_POLLIN, 0},
            zmq::pollitem_t{mon.handle(), 0, ZMQ_POLLIN, 0}};
        const auto deadline = clock::now() + opts.connect_timeout;
        while (clock::now() < deadline) {
            auto left =
                std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now());
            const std::size_t n = mon ? 2 : 1;
            if (zmq::poll(items.data(), n, std::max(left, std::chrono::milliseconds(1))) == 0) {
                continue;
            }
            if (mon && (items[1].revents & ZMQ_POLLIN)) {
                zmq::message_t event;
                while (mon.recv(event, zmq::recv_flags::dontwait)) handshake = true;
            }
            if (!(items[0].revents & ZMQ_POLLIN)) continue;
            auto r = sess.try_recv(socks[s_query], zmq::recv_flags::dontwait);
            if (!r.msg || r.msg->header.msg_type != "connection_reply") continue;
            auto content = map_of(r.msg->content_as<msgpack::object>());
            auto it = content.find("engines");
            std::lock_guard lock(eng_mu);
            if (it != content.end()) {
                for (const auto& [id, uuid] : map_of(it->second)) {
                    if (uuid.type != msgpack::type::STR) continue;
                    int n = std::stoi(id);
                    engines[n] = engine_info{n, uuid.as<std::string>()};
                }
            }
            return;
        }
        throw timeout_error("the hub at " + info.url(info.registration) +
                            " did not answer connection_request within " +
                            std::to_string(opts.connect_timeout.count()) + " ms (" +
                            refusal_reason(handshake) + ")");
    }

    std::string refusal_reason(bool handshake) const {
        if (!curve) return "wrong key, or no controller";
        if (handshake) return "the CurveZMQ handshake completed: wrong HMAC key";
        return "no CurveZMQ handshake completed: wrong curve_serverkey, or no controller";
    }

    // -- submission (any thread) -----------------------------------------------------------

    std::shared_ptr<detail::request_state> new_state(const std::string& msg_id, completion how) {
        auto st = std::make_shared<detail::request_state>();
        st->msg_id = msg_id;
        st->res.msg_id = msg_id;
        st->how = how;
        st->keys.push_back(msg_id);
        return st;
    }

    /// Encodes `m` here and queues it with the states its replies complete.
    void enqueue(int sock, const message& m,
                 std::vector<std::shared_ptr<detail::request_state>> states) {
        frames f = sess.encode(m);
        std::lock_guard lock(q_mu);
        if (stopping) throw usage_error("client is closed");
        queue.push_back(outgoing{sock, std::move(f), std::move(states)});
        wake_tx.send(zmq::const_buffer("", 0), zmq::send_flags::dontwait);
    }

    engine_info require_engine(int id) const {
        std::lock_guard lock(eng_mu);
        auto it = engines.find(id);
        if (it == engines.end()) throw usage_error("no engine with id " + std::to_string(id));
        return it->second;
    }

    int engine_id_of(const std::string& uuid) const {
        std::lock_guard lock(eng_mu);
        for (const auto& [id, e] : engines) {
            if (e.uuid == uuid) return id;
        }
        return -1;
    }

    // -- the I/O thread ----------------------------------------------------------------------

    void run() {
        std::array<zmq::pollitem_t, s_count> items{};
        for (int i = 0; i < s_count; ++i) items[i] = {socks[i].handle(), 0, ZMQ_POLLIN, 0};
        while (!stopping) {
            zmq::poll(items.data(), items.size(), next_timeout());
            // Replies first, then iopub, then notifications: a reply already in flight when
            // its engine is unregistered still completes its request.
            for (int i = 0; i < s_count; ++i) {
                if (items[i].revents & ZMQ_POLLIN) drain(i);
            }
            expire_grace();
        }
        fail_all("ClientClosed", "the client was closed before the reply arrived");
    }

    std::chrono::milliseconds next_timeout() const {
        auto t = std::chrono::milliseconds(100);
        const auto now = clock::now();
        for (const auto& [key, st] : pending) {
            if (!st->replied) continue;
            auto left =
                std::chrono::duration_cast<std::chrono::milliseconds>(st->grace_deadline - now);
            t = std::min(t, std::max(left, std::chrono::milliseconds(0)));
        }
        return t;
    }

    void drain(int i) {
        if (i == s_wake) {
            zmq::message_t ignored;
            while (socks[s_wake].recv(ignored, zmq::recv_flags::dontwait)) {
            }
            flush_queue();
            return;
        }
        for (int n = 0; n < 64; ++n) {  // bounded, so one busy socket cannot starve others
            auto r = sess.try_recv(socks[i], zmq::recv_flags::dontwait);
            if (r.would_block()) return;
            if (!r.msg) continue;  // a bad message was consumed and dropped
            try {
                if (i == s_iopub) {
                    on_iopub(*r.msg);
                } else if (i == s_notif) {
                    on_notification(*r.msg);
                } else {
                    on_reply(*r.msg);  // shell and control replies, hub query replies
                }
            } catch (const std::exception&) {
                // A signed message of an unexpected shape (a value out of range, ...): dropped
                // like a bad one; the I/O thread must outlive any peer's mistake.
            }
        }
    }

    void flush_queue() {
        std::deque<outgoing> batch;
        {
            std::lock_guard lock(q_mu);
            batch.swap(queue);
        }
        for (auto& o : batch) {
            for (const auto& st : o.states) {
                for (const auto& k : st->keys) pending[k] = st;
            }
            auto& sock = socks[o.sock];
            for (std::size_t j = 0; j < o.f.size(); ++j) {
                sock.send(o.f[j],
                          j + 1 < o.f.size() ? zmq::send_flags::sndmore : zmq::send_flags::none);
            }
        }
    }

    void forget(const std::shared_ptr<detail::request_state>& st) {
        for (const auto& k : st->keys) {
            auto it = pending.find(k);
            if (it != pending.end() && it->second == st) pending.erase(it);
        }
    }

    void finish(const std::shared_ptr<detail::request_state>& st, bool outputs_complete) {
        forget(st);
        st->complete(outputs_complete);
    }

    std::shared_ptr<detail::request_state> find(const std::string& key) {
        auto it = pending.find(key);
        return it == pending.end() ? nullptr : it->second;
    }

    void on_reply(message& m) {
        auto md = map_of(m.metadata_as<msgpack::object>());
        std::string key = m.parent_header.msg_id;
        auto coalescing = md.find("is_coalescing");
        if (coalescing != md.end() && coalescing->second.type == msgpack::type::BOOLEAN &&
            coalescing->second.via.boolean) {
            key = str_of(md, "original_msg_id");
        }
        auto st = find(key);
        if (!st || st->replied) return;
        auto content = map_of(m.content_as<msgpack::object>());
        result& r = st->res;
        r.msg_type = m.header.msg_type;
        r.engine_uuid = str_of(md, "engine");
        if (r.engine_uuid.empty() && !m.identities.empty()) {
            r.engine_uuid = std::string(m.identities.front().as_string_view());
        }
        r.engine_id = engine_id_of(r.engine_uuid);
        r.status = str_of(content, "status");
        r.ename = str_of(content, "ename");
        r.evalue = str_of(content, "evalue");
        if (auto tb = content.find("traceback");
            tb != content.end() && tb->second.type == msgpack::type::ARRAY) {
            for (const auto& line : tb->second.via.array) {
                if (line.type == msgpack::type::STR) r.traceback.push_back(line.as<std::string>());
            }
        }
        if (auto ec = content.find("execution_count");
            ec != content.end() && (ec->second.type == msgpack::type::POSITIVE_INTEGER)) {
            r.execution_count = ec->second.as<int>();
        }
        r.content_json = to_json(m.content_as<msgpack::object>());
        r.metadata_json = to_json(m.metadata_as<msgpack::object>());
        r.buffers = std::move(m.buffers);
        st->replied = true;
        if (st->idle_seen >= st->idle_needed) {
            finish(st, true);
        } else {
            st->grace_deadline = clock::now() + opts.output_grace;
        }
    }

    void on_iopub(message& m) {
        auto st = find(m.parent_header.msg_id);
        if (!st) return;
        auto content = map_of(m.content_as<msgpack::object>());
        const auto& type = m.header.msg_type;
        if (type == "status") {
            if (str_of(content, "execution_state") == "idle" &&
                ++st->idle_seen >= st->idle_needed && st->replied) {
                finish(st, true);
            }
            return;
        }
        if (type == "comm_close" && st->how == completion::comm_reply) {
            // ipykernel closes a comm it could not open (no such target registered).
            fill_error(st->res, "CommClosed",
                       "the engine closed the comm: is the target registered "
                       "(array_client::install)?");
            st->res.engine_uuid = st->target_uuid;
            st->res.engine_id = engine_id_of(st->target_uuid);
            finish(st, false);
            return;
        }
        if (type != "stream" && type != "execute_result" && type != "display_data" &&
            type != "error" && type != "comm_msg") {
            return;
        }
        output o;
        o.msg_type = type;
        o.engine_uuid = str_of(map_of(m.metadata_as<msgpack::object>()), "engine");
        o.content_json = to_json(m.content_as<msgpack::object>());
        o.buffers = std::move(m.buffers);
        if (type == "stream") {
            o.name = str_of(content, "name");
            o.text = str_of(content, "text");
        } else if (type == "error") {
            o.text = str_of(content, "ename") + ": " + str_of(content, "evalue");
        } else if (auto d = content.find("data"); d != content.end()) {
            o.text = str_of(map_of(d->second), "text/plain");
        }
        if (type == "comm_msg" && st->how == completion::comm_reply) {
            complete_comm(st, content, std::move(o));
            return;
        }
        st->res.outputs.push_back(std::move(o));
    }

    /// A comm reply: data.status/ename/evalue become the result's, its buffers the result's.
    void complete_comm(const std::shared_ptr<detail::request_state>& st, const object_map& content,
                       output o) {
        result& r = st->res;
        auto d = content.find("data");
        auto data = d == content.end() ? object_map{} : map_of(d->second);
        r.msg_type = "comm_msg";
        r.engine_uuid = o.engine_uuid.empty() ? st->target_uuid : o.engine_uuid;
        r.engine_id = engine_id_of(r.engine_uuid);
        r.status = str_of(data, "status");
        r.ename = str_of(data, "ename");
        r.evalue = str_of(data, "evalue");
        r.content_json = d == content.end() ? "{}" : to_json(d->second);
        r.buffers = o.buffers;
        r.outputs.push_back(std::move(o));
        finish(st, true);
    }

    void on_notification(message& m) {
        auto content = map_of(m.content_as<msgpack::object>());
        engine_event ev{engine_event::kind::hub_shutdown, {}};
        const auto& type = m.header.msg_type;
        if (type == "registration_notification" || type == "unregistration_notification") {
            auto id = content.find("id");
            if (id == content.end() || id->second.type != msgpack::type::POSITIVE_INTEGER) return;
            ev.engine = engine_info{id->second.as<int>(), str_of(content, "uuid")};
            ev.what =
                type[0] == 'r' ? engine_event::kind::registered : engine_event::kind::unregistered;
        } else if (type != "shutdown_notification") {
            return;
        }
        std::function<void(const engine_event&)> cb;
        {
            std::lock_guard lock(eng_mu);
            if (ev.what == engine_event::kind::registered) {
                engines[ev.engine.id] = ev.engine;
            } else if (ev.what == engine_event::kind::unregistered) {
                engines.erase(ev.engine.id);
            }
            cb = callback;
        }
        eng_cv.notify_all();
        // The callback first: whoever waits on a failed request then sees the event too.
        if (cb) {
            try {
                cb(ev);
            } catch (...) {
                // The callback's contract is not to throw; the I/O thread survives it anyway.
            }
        }
        if (ev.what == engine_event::kind::unregistered) fail_engine(ev.engine);
    }

    /// Requests sent to an engine that left can no longer be answered: fail them now (the
    /// task scheduler answers or retries its own).
    void fail_engine(const engine_info& e) {
        std::vector<std::shared_ptr<detail::request_state>> dead;
        for (const auto& [key, st] : pending) {
            const auto& co = st->coalesced_uuids;
            const bool sent_there =
                st->target_uuid == e.uuid || std::find(co.begin(), co.end(), e.uuid) != co.end();
            if (sent_there && !st->replied) dead.push_back(st);
        }
        for (const auto& st : dead) {
            if (st->done) continue;
            fill_error(st->res, "EngineError",
                       "engine " + std::to_string(e.id) + " (" + e.uuid +
                           ") unregistered while running request " + st->msg_id);
            st->res.engine_uuid = e.uuid;
            st->res.engine_id = e.id;
            finish(st, false);
        }
    }

    void expire_grace() {
        const auto now = clock::now();
        std::vector<std::shared_ptr<detail::request_state>> late;
        for (const auto& [key, st] : pending) {
            if (st->replied && now >= st->grace_deadline) late.push_back(st);
        }
        for (const auto& st : late) {
            if (!st->done) finish(st, false);
        }
    }

    void fail_all(const std::string& ename, const std::string& evalue) {
        std::vector<std::shared_ptr<detail::request_state>> all;
        for (const auto& [key, st] : pending) all.push_back(st);
        {
            std::lock_guard lock(q_mu);
            for (auto& o : queue) all.insert(all.end(), o.states.begin(), o.states.end());
            queue.clear();
        }
        for (const auto& st : all) {
            if (st->done) continue;
            if (!st->replied) fill_error(st->res, ename, evalue);
            finish(st, false);
        }
    }
};

// -- the public surface ---------------------------------------------------------------------

client::client(client_connection_info info, client_options options)
    : impl_(std::make_unique<impl>(std::move(info), std::move(options))) {
    impl_->connect();
    impl_->thread = std::thread([this] { impl_->run(); });
}

client::~client() {
    {
        std::lock_guard lock(impl_->q_mu);
        impl_->stopping = true;
        impl_->wake_tx.send(zmq::const_buffer("", 0), zmq::send_flags::dontwait);
    }
    if (impl_->thread.joinable()) impl_->thread.join();
}

const client_connection_info& client::connection() const noexcept {
    return impl_->info;
}
const zsession::session& client::session() const noexcept {
    return impl_->sess;
}

std::vector<engine_info> client::engines() const {
    std::lock_guard lock(impl_->eng_mu);
    std::vector<engine_info> out;
    for (const auto& [id, e] : impl_->engines) out.push_back(e);
    return out;
}

std::optional<engine_info> client::engine(int id) const {
    std::lock_guard lock(impl_->eng_mu);
    auto it = impl_->engines.find(id);
    if (it == impl_->engines.end()) return std::nullopt;
    return it->second;
}

bool client::wait_for_engines(std::size_t n, std::chrono::milliseconds timeout) const {
    std::unique_lock lock(impl_->eng_mu);
    return impl_->eng_cv.wait_for(lock, timeout, [&] { return impl_->engines.size() >= n; });
}

void client::on_engine_event(std::function<void(const engine_event&)> callback) {
    std::lock_guard lock(impl_->eng_mu);
    impl_->callback = std::move(callback);
}

namespace {
message execute_message(const zsession::session& s, const std::string& code, bool silent) {
    auto m = s.make_message("execute_request");
    m.set_content(execute_content{.code = code, .silent = silent});
    return m;
}
}  // namespace

future client::execute(int engine_id, const std::string& code, bool silent) {
    return send(channel::mux, engine_id, execute_message(impl_->sess, code, silent));
}

std::vector<future> client::execute(const std::vector<int>& engine_ids, const std::string& code,
                                    bool silent) {
    std::vector<int> ids = engine_ids;
    if (ids.empty()) {
        for (const auto& e : engines()) ids.push_back(e.id);
    }
    std::vector<future> out;
    for (int id : ids) out.push_back(execute(id, code, silent));
    return out;
}

future client::execute_balanced(const std::string& code, const task_options& options) {
    auto m = execute_message(impl_->sess, code, false);
    task_metadata md{.after = options.after,
                     .follow = options.follow,
                     .timeout = options.timeout,
                     .retries = options.retries};
    for (int id : options.targets) md.targets.push_back(impl_->require_engine(id).uuid);
    m.set_metadata(md);
    return send(channel::task, -1, std::move(m));
}

std::vector<future> client::broadcast(const std::string& code, const std::vector<int>& engine_ids,
                                      bool coalescing) {
    std::vector<engine_info> targets;
    if (engine_ids.empty()) {
        targets = engines();
    } else {
        for (int id : engine_ids) targets.push_back(impl_->require_engine(id));
    }
    if (targets.empty()) throw usage_error("broadcast to no engines");
    auto m = execute_message(impl_->sess, code, false);
    broadcast_metadata md{.is_coalescing = coalescing};
    for (const auto& e : targets) md.targets.emplace_back(e.uuid, e.id);
    m.set_metadata(md);
    const std::string id = m.header.msg_id;
    std::vector<future> out;
    if (coalescing) {
        // One state under the original id (the coalesced reply) and under each engine's
        // suffixed id (its iopub outputs); complete when every engine went idle.
        auto st = impl_->new_state(id, completion::reply);
        st->idle_needed = static_cast<int>(targets.size());
        for (const auto& e : targets) {
            st->keys.push_back(id + "_" + e.uuid);
            st->coalesced_uuids.push_back(e.uuid);
        }
        out.emplace_back(st);
        impl_->enqueue(s_bcast, m, {std::move(st)});
        return out;
    }
    // Not coalescing: one state per engine, each under its suffixed id.
    std::vector<std::shared_ptr<detail::request_state>> states;
    for (const auto& e : targets) {
        auto st = impl_->new_state(id + "_" + e.uuid, completion::reply);
        st->target_uuid = e.uuid;
        states.push_back(st);
        out.emplace_back(st);
    }
    impl_->enqueue(s_bcast, m, std::move(states));
    return out;
}

future client::abort(int engine_id, const std::vector<std::string>& msg_ids) {
    auto m = impl_->sess.make_message("abort_request");
    m.set_content(abort_content{msg_ids});
    return send(channel::control, engine_id, std::move(m));
}

future client::shutdown(int engine_id) {
    auto m = impl_->sess.make_message("shutdown_request");
    m.set_content(shutdown_content{});
    return send(channel::control, engine_id, std::move(m));
}

future client::send(channel ch, int engine_id, message&& m, completion c) {
    auto st = impl_->new_state(m.header.msg_id, c);
    int sock = ch == channel::query ? s_query : s_task;
    if (ch != channel::task && ch != channel::query) {
        auto e = impl_->require_engine(engine_id);
        m.identities = {buffer::copy_of(bytes_view(e.uuid))};
        st->target_uuid = e.uuid;
        sock = ch == channel::mux ? s_mux : s_control;
    }
    // Control replies come without iopub outputs worth waiting for (a shut-down engine
    // never goes idle); comm replies complete on the comm_msg itself.
    // The hub publishes nothing on iopub for its queries.
    if (ch == channel::control || ch == channel::query || c == completion::comm_reply) {
        st->idle_needed = 0;
    }
    future f(st);
    impl_->enqueue(sock, m, {std::move(st)});
    return f;
}

}  // namespace zsession::ipp
