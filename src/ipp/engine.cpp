#include "zsession/ipp/engine.hpp"

#include <array>
#include <atomic>
#include <cstdarg>
#include <cstdio>
#include <ctime>
#include <map>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>

#include <unistd.h>
#include <zmq.hpp>

#include "engine_messages.hpp"
#include "zsession/session.hpp"

namespace zsession::ipp {

namespace {

using steady = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr auto poll_period = 100ms;  // how often loops look at their stop flags

long long now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(steady::now().time_since_epoch())
        .count();
}

using object_map = std::map<std::string, msgpack::object>;

/// The map in `o`, or an empty one when `o` is not a map of string keys.
object_map as_map(const msgpack::object& o) {
    if (o.type != msgpack::type::MAP) return {};
    try {
        return o.as<object_map>();
    } catch (const msgpack::type_error&) {
        return {};
    }
}

template <class T>
std::optional<T> get(const object_map& m, const char* key) {
    const auto it = m.find(key);
    if (it == m.end()) return std::nullopt;
    try {
        return it->second.as<T>();
    } catch (const msgpack::type_error&) {
        return std::nullopt;
    }
}

/// Receives one heartbeat and echoes it, unless it has more than 16 frames or a frame over
/// 4 KiB (a real ping is one frame holding a float's text): such a message is drained and
/// dropped. Returns false on would-block.
bool echo_heartbeat(zmq::socket_t& in, zmq::socket_t& out) {
    std::vector<zmq::message_t> parts;
    zmq::message_t part;
    if (!in.recv(part, zmq::recv_flags::dontwait)) return false;
    bool more = part.more();
    bool sane = part.size() <= 4096;
    parts.push_back(std::move(part));
    while (more) {  // drain the whole message
        zmq::message_t next;
        if (!in.recv(next, zmq::recv_flags::none)) break;
        more = next.more();
        sane = sane && next.size() <= 4096 && parts.size() < 16;
        if (sane) parts.push_back(std::move(next));
    }
    if (!sane) return true;
    for (std::size_t i = 0; i < parts.size(); ++i) {
        out.send(parts[i],
                 (i + 1 < parts.size() ? zmq::send_flags::sndmore : zmq::send_flags::none) |
                     zmq::send_flags::dontwait);
    }
    return true;
}

}  // namespace

struct engine::impl final : detail::comm_channel {
    impl(engine_options o, std::unique_ptr<interpreter> i)
        : opt(std::move(o)), interp(std::move(i)) {
        if (!interp) throw std::invalid_argument("engine needs an interpreter");
        info = interp->info();
        if (opt.connection.broadcast.empty()) {
            throw std::invalid_argument("engine connection has no broadcast port");
        }
        if (opt.connection.curve_serverkey) {
            std::array<char, 41> pub{}, sec{};
            if (zmq_curve_keypair(pub.data(), sec.data()) != 0) {
                throw std::runtime_error(
                    "the controller uses CurveZMQ but this libzmq cannot make a keypair: " +
                    std::string(zmq_strerror(zmq_errno())));
            }
            curve_public.assign(pub.data(), 40);
            curve_secret.assign(sec.data(), 40);
        }
    }

    // -- configuration and state shared by the threads ---------------------------------------
    engine_options opt;
    std::unique_ptr<interpreter> interp;
    language_info info;       // read once: kernel_info is served by shell and control
    std::mutex interp_mutex;  // execute (shell) vs clear (control)
    std::map<std::string, comm_target, std::less<>> targets;
    std::string curve_public, curve_secret;
    zmq::context_t ctx;
    std::atomic<bool> stop_requested{false};
    std::atomic<int> engine_id{-1};
    mutable std::mutex uuid_mutex;
    std::string uuid_;

    // -- one registration ("round") ------------------------------------------------------------
    std::unique_ptr<session> s;  // session id = this round's uuid; set before threads start
    std::string uuid;            // copy readable without the mutex by the round's threads
    int id = -1;
    std::atomic<bool> round_stop{false};
    std::atomic<bool> shutdown_requested{false};
    std::atomic<long long> last_ping_ms{0};
    std::mutex iopub_mutex;
    std::optional<zmq::socket_t> iopub;
    std::mutex aborted_mutex;
    std::set<std::string, std::less<>> aborted;
    std::atomic<bool> abort_queued{false};
    // shell thread only:
    int execution_count = 0;
    struct open_comm {
        std::unique_ptr<comm> c;
        std::unique_ptr<comm_handler> h;
    };
    std::map<std::string, open_comm, std::less<>> comms;
    const message* current_request = nullptr;
    // handle(): iopub messages are appended here instead of sent (under iopub_mutex).
    std::vector<frames>* iopub_captured = nullptr;

    /// Where a request's replies go: the channel's socket (run()) or a list (handle()).
    struct reply_to {
        zmq::socket_t* sock = nullptr;
        std::vector<frames>* captured = nullptr;
    };

    void send_reply(reply_to& to, const message& r) {
        if (to.sock) {
            s->send(*to.sock, r);
        } else {
            to.captured->push_back(s->encode(r));
        }
    }

    void log(const char* fmt, ...) const __attribute__((format(printf, 2, 3))) {
        if (!opt.verbose) return;
        char text[1024];
        va_list ap;
        va_start(ap, fmt);
        std::vsnprintf(text, sizeof text, fmt, ap);
        va_end(ap);
        std::fprintf(stderr, "[ipengine %d] %s\n", engine_id.load(), text);
    }

    /// Linger, limits and CurveZMQ client keys on a socket that connects to the controller.
    void prepare(zmq::socket_t& sock, bool with_identity) {
        sock.set(zmq::sockopt::linger, 1000);
        apply_limits(sock, opt.limits);
        if (with_identity) sock.set(zmq::sockopt::routing_id, uuid);
        if (opt.connection.curve_serverkey) {
            sock.set(zmq::sockopt::curve_serverkey, *opt.connection.curve_serverkey);
            sock.set(zmq::sockopt::curve_publickey, curve_public);
            sock.set(zmq::sockopt::curve_secretkey, curve_secret);
        }
    }

    std::string topic(std::string_view kind) const {
        return "engine." + std::to_string(id) + "." + std::string(kind);
    }

    // -- iopub ---------------------------------------------------------------------------------

    message make_message(std::string_view msg_type) override {
        message m = s->make_message(msg_type);
        if (current_request) m.parent_header = current_request->header;
        m.set_metadata(detail::engine_metadata{uuid});
        return m;
    }

    void publish(message&& m, std::string_view topic_frame) override {
        m.identities.clear();
        m.identities.push_back(buffer::take(std::string(topic_frame)));
        std::lock_guard lock(iopub_mutex);
        if (iopub_captured) {
            iopub_captured->push_back(s->encode(m));
        } else {
            s->send(*iopub, m);
        }
    }

    template <class T>
    void publish(std::string_view type, const T& content, const message& parent,
                 std::string_view kind = {}) {
        message m = s->make_message(type);
        m.parent_header = parent.header;
        m.set_metadata(detail::engine_metadata{uuid});
        m.set_content(content);
        publish(std::move(m), topic(kind.empty() ? type : kind));
    }

    /// busy on construction, idle on destruction, parent = the request.
    struct status_guard {
        impl& e;
        const message& req;
        status_guard(impl& engine, const message& request) : e(engine), req(request) {
            e.publish("status", detail::status_content{"busy"}, req);
        }
        ~status_guard() {
            try {
                e.publish("status", detail::status_content{"idle"}, req);
            } catch (...) {
                // Socket failure while stopping: nothing left to tell.
            }
        }
    };

    // -- replies -------------------------------------------------------------------------------

    template <class T>
    void reply(reply_to& to, const message& req, std::string_view type, const T& content) {
        message r = s->make_reply(req, type);
        r.set_metadata(detail::engine_metadata{uuid});
        r.set_content(content);
        send_reply(to, r);
    }

    /// Metadata of an execute/apply reply, the broadcast fields copied from the request.
    detail::reply_metadata reply_md(const message& req, const std::string& started,
                                    const std::string& status, const char* method) const {
        const object_map in = as_map(req.metadata_as<msgpack::object>());
        detail::reply_metadata md;
        md.started = started;
        md.engine = uuid;
        md.status = status;
        md.is_broadcast = get<bool>(in, "is_broadcast").value_or(false);
        md.is_coalescing = get<bool>(in, "is_coalescing").value_or(false);
        md.original_msg_id = get<std::string>(in, "original_msg_id").value_or("");
        if (status == "error") md.engine_info = detail::engine_info{uuid, id, method};
        return md;
    }

    template <class T>
    void task_reply(reply_to& to, const message& req, std::string_view type, const T& content,
                    const detail::reply_metadata& md) {
        message r = s->make_reply(req, type);
        r.set_metadata(md);
        r.set_content(content);
        send_reply(to, r);
    }

    bool take_aborted(const std::string& msg_id) {
        std::lock_guard lock(aborted_mutex);
        return aborted.erase(msg_id) > 0;
    }

    void reply_aborted(reply_to& to, const message& req) {
        const std::string_view type = req.header.msg_type;  // no copy
        const std::string reply_type = std::string(type.substr(0, type.rfind('_'))) + "_reply";
        log("aborted %s %s", req.header.msg_type.c_str(), req.header.msg_id.c_str());
        status_guard g(*this, req);
        task_reply(to, req, reply_type, std::map<std::string, std::string>{{"status", "aborted"}},
                   reply_md(req, utc_now_iso8601(), "aborted", "abort"));
    }

    // -- shell ---------------------------------------------------------------------------------

    /// Streams, displays and clears are published even for a silent execute, as ipykernel
    /// does (ipyparallel's view.execute is silent by default and users read ar.stdout).
    struct sink final : output_sink {
        impl& e;
        const message& req;
        sink(impl& engine, const message& request) : e(engine), req(request) {}
        void stream(std::string_view name, std::string_view text) override {
            e.publish("stream", detail::stream{std::string(name), std::string(text)}, req);
        }
        void display(const mime_bundle& data) override {
            e.publish("display_data", detail::display_data{data, {}}, req);
        }
        void clear_output(bool wait) override {
            e.publish("clear_output", detail::clear_output{wait}, req);
        }
    };

    void execute(reply_to& to, const message& req) {
        const std::string started = utc_now_iso8601();
        const auto c = req.content_as<detail::execute_request>();
        status_guard g(*this, req);
        const int count = c.silent ? execution_count : ++execution_count;
        if (!c.silent) publish("execute_input", detail::execute_input{c.code, count}, req);
        sink out(*this, req);
        execute_outcome r;
        try {
            std::lock_guard lock(interp_mutex);
            r = interp->execute(c.code, c.silent ? 0 : count, out);
        } catch (const std::exception& ex) {
            r = execute_outcome{false, std::nullopt, "CppException", ex.what(), {}};
            r.traceback = {"CppException: " + std::string(ex.what())};
        }
        if (r.ok) {
            if (r.value && !c.silent) {
                publish("execute_result", detail::execute_result{count, *r.value, {}}, req);
            }
            detail::execute_ok ok;
            ok.execution_count = count;
            task_reply(to, req, "execute_reply", ok, reply_md(req, started, "ok", "execute"));
            return;
        }
        const detail::error_content err{
            "error", r.ename, r.evalue, r.traceback, {uuid, id, "execute"}, count};
        publish("error", err, req);
        task_reply(to, req, "execute_reply", err, reply_md(req, started, "error", "execute"));
    }

    void apply(reply_to& to, const message& req) {
        const std::string started = utc_now_iso8601();
        status_guard g(*this, req);
        const language_info& li = info;
        const detail::error_content err{
            "error",
            "NotImplementedError",
            "apply_request (apply, map, push, pull, scatter, gather) sends pickled Python "
            "functions and objects; this is a C++ engine (" +
                li.implementation + ", language " + li.name +
                ") that has no Python. It accepts execute_request (code in " + li.name +
                ": view.execute(code)) and Jupyter comms with raw buffers" + comm_targets_text() +
                ".",
            {},
            {uuid, id, "apply"},
            0};
        task_reply(to, req, "apply_reply", err, reply_md(req, started, "error", "apply"));
    }

    std::string comm_targets_text() const {
        if (targets.empty()) return "";
        std::string t = " (targets:";
        for (const auto& [name, _] : targets) t += " " + name;
        return t + ")";
    }

    detail::kernel_info_content kernel_info() const {
        const language_info& li = info;
        detail::kernel_info_content k;
        k.protocol_version = std::string(protocol_version);
        k.implementation = li.implementation;
        k.implementation_version = li.implementation_version;
        k.language_info = {li.name, li.version, li.mimetype, li.file_extension};
        k.banner = li.banner;
        return k;
    }

    /// kernel_info_reply; with opt.direct_endpoint set, also "zsession": {version, direct,
    /// curve_serverkey}.
    void send_kernel_info(reply_to& to, const message& req) {
        const auto k = kernel_info();
        if (opt.direct_endpoint.empty()) {
            reply(to, req, "kernel_info_reply", k);
            return;
        }
        detail::kernel_info_direct_content d;
        d.protocol_version = k.protocol_version;
        d.implementation = k.implementation;
        d.implementation_version = k.implementation_version;
        d.language_info = k.language_info;
        d.banner = k.banner;
        d.zsession.direct = opt.direct_endpoint;
        d.zsession.curve_serverkey = opt.direct_curve_serverkey;
        reply(to, req, "kernel_info_reply", d);
    }

    // The request's cursor, clamped to the code; the end of the code when absent or negative.
    static std::size_t cursor_of(const detail::code_request& c) {
        return c.cursor_pos && *c.cursor_pos >= 0
                   ? std::min<std::size_t>(static_cast<std::size_t>(*c.cursor_pos), c.code.size())
                   : c.code.size();
    }

    void complete(reply_to& to, const message& req) {
        const auto c = req.content_as<detail::code_request>();
        status_guard g(*this, req);
        const std::size_t cursor = cursor_of(c);
        detail::complete_content out;
        out.cursor_start = out.cursor_end = static_cast<std::int64_t>(cursor);
        std::lock_guard lock(interp_mutex);
        if (auto r = interp->complete(c.code, cursor)) {
            out.matches = std::move(r->matches);
            out.cursor_start = static_cast<std::int64_t>(r->cursor_start);
            out.cursor_end = static_cast<std::int64_t>(r->cursor_end);
        }
        reply(to, req, "complete_reply", out);
    }

    void inspect(reply_to& to, const message& req) {
        const auto c = req.content_as<detail::code_request>();
        status_guard g(*this, req);
        const std::size_t cursor = cursor_of(c);
        detail::inspect_content out;
        std::lock_guard lock(interp_mutex);
        if (auto r = interp->inspect(c.code, cursor)) {
            out.found = true;
            out.data = std::move(*r);
        }
        reply(to, req, "inspect_reply", out);
    }

    void is_complete(reply_to& to, const message& req) {
        const auto c = req.content_as<detail::code_request>();
        status_guard g(*this, req);
        std::lock_guard lock(interp_mutex);
        reply(to, req, "is_complete_reply",
              detail::is_complete_content{interp->is_complete(c.code), ""});
    }

    // -- comms (shell thread) ------------------------------------------------------------------

    void comm_close_to_client(const message& req, const std::string& comm_id) {
        message m = s->make_message("comm_close");
        m.parent_header = req.header;
        m.set_metadata(detail::engine_metadata{uuid});
        m.set_content(detail::comm_close_content{comm_id, {}});
        publish(std::move(m), "comm-" + comm_id);
    }

    void on_comm(const message& req) {
        const object_map content = as_map(req.content_as<msgpack::object>());
        const std::string comm_id = get<std::string>(content, "comm_id").value_or("");
        if (comm_id.empty()) {
            log("dropped %s without comm_id", req.header.msg_type.c_str());
            return;
        }
        static const msgpack::object nil;
        const auto d = content.find("data");
        const comm_message m{comm_id, d == content.end() ? nil : d->second, req.buffers, req};
        status_guard g(*this, req);
        current_request = &req;
        struct reset {
            const message*& p;
            ~reset() { p = nullptr; }
        } reset_current{current_request};
        const std::string_view type = req.header.msg_type;  // no copy
        try {
            if (type == "comm_open") {
                open_comm_(req, comm_id, get<std::string>(content, "target_name").value_or(""), m);
            } else if (type == "comm_msg") {
                const auto it = comms.find(comm_id);
                if (it == comms.end()) {
                    log("comm_msg for unknown comm %s", comm_id.c_str());
                    return;
                }
                it->second.h->on_msg(*it->second.c, m);
            } else {
                const auto it = comms.find(comm_id);
                if (it == comms.end()) return;
                open_comm oc = std::move(it->second);
                comms.erase(it);
                oc.h->on_close(*oc.c, m);
            }
        } catch (const zmq::error_t&) {
            throw;
        } catch (const std::exception& ex) {
            log("comm %s: %s failed: %s", comm_id.c_str(), req.header.msg_type.c_str(), ex.what());
            publish("error",
                    detail::error_content{"error",
                                          "CommError",
                                          ex.what(),
                                          {"CommError: " + std::string(ex.what())},
                                          {uuid, id, std::string(type)},
                                          0},
                    req);
        }
    }

    void open_comm_(const message& req, const std::string& comm_id, const std::string& target,
                    const comm_message& m) {
        const auto t = targets.find(target);
        if (t == targets.end() || comms.count(comm_id) != 0) {
            log("comm_open to %s target '%s': refused", comm_id.c_str(), target.c_str());
            comm_close_to_client(req, comm_id);
            return;
        }
        auto c = std::make_unique<comm>(comm_id, target, *this);
        std::unique_ptr<comm_handler> h = t->second(*c, m);
        if (!h) {
            comm_close_to_client(req, comm_id);
            return;
        }
        comms.emplace(comm_id, open_comm{std::move(c), std::move(h)});
    }

    void comm_info(reply_to& to, const message& req) {
        status_guard g(*this, req);
        detail::comm_info_content out;
        for (const auto& [cid, oc] : comms) out.comms[cid] = {oc.c->target_name()};
        reply(to, req, "comm_info_reply", out);
    }

    void handle_shell(zmq::socket_t& sock) {
        recv_result r = s->try_recv(sock, zmq::recv_flags::dontwait);
        if (r.would_block()) return;
        if (!r) {
            log("dropped a bad message on shell: %s: %s", to_string(r.code),
                r.error_message.c_str());
            return;
        }
        reply_to to{&sock};
        dispatch_shell(to, *r.msg);
    }

    /// Serves one verified shell message. Every request it knows gets one reply: an
    /// "InvalidRequest" error when its content has the wrong shape.
    void dispatch_shell(reply_to& to, const message& req) {
        const std::string_view type = req.header.msg_type;  // no copy
        if (take_aborted(req.header.msg_id)) {
            reply_aborted(to, req);
            return;
        }
        try {
            if (type == "execute_request") {
                execute(to, req);
            } else if (type == "apply_request") {
                apply(to, req);
            } else if (type == "kernel_info_request") {
                status_guard g(*this, req);
                send_kernel_info(to, req);
            } else if (type == "comm_open" || type == "comm_msg" || type == "comm_close") {
                on_comm(req);
            } else if (type == "complete_request") {
                complete(to, req);
            } else if (type == "inspect_request") {
                inspect(to, req);
            } else if (type == "is_complete_request") {
                is_complete(to, req);
            } else if (type == "comm_info_request") {
                comm_info(to, req);
            } else if (served_on_control(type)) {
                log("refused %s on shell", req.header.msg_type.c_str());
                reply_error(to, req, "WrongChannel",
                            std::string(type) + " is served on the control channel, not on shell");
            } else {
                log("ignored %s on shell", req.header.msg_type.c_str());
            }
        } catch (const zmq::error_t&) {
            throw;
        } catch (const std::exception& ex) {
            // A request whose content has the wrong shape (decode_error from content_as):
            // answered, so the client does not wait forever; nothing of it was executed.
            log("bad %s on shell: %s", req.header.msg_type.c_str(), ex.what());
            if (type.ends_with("_request")) reply_error(to, req, "InvalidRequest", ex.what());
        }
    }

    /// Replies `<type>_reply` to `req` with status "error", between busy and idle. An
    /// execute/apply reply carries the scheduler's metadata (status "error"), as run() sends;
    /// is_complete_reply, whose status is never "error", says "unknown".
    void reply_error(reply_to& to, const message& req, const std::string& ename,
                     const std::string& evalue) {
        const std::string_view type = req.header.msg_type;  // no copy
        const std::string reply_type = std::string(type.substr(0, type.rfind('_'))) + "_reply";
        status_guard g(*this, req);
        if (reply_type == "is_complete_reply") {
            reply(to, req, reply_type, detail::is_complete_content{"unknown", ""});
            return;
        }
        const std::string method = reply_type.substr(0, reply_type.rfind('_'));
        const detail::error_content err{
            "error", ename, evalue, {ename + ": " + evalue}, {uuid, id, method}, execution_count};
        if (reply_type == "execute_reply" || reply_type == "apply_reply") {
            task_reply(to, req, reply_type, err,
                       reply_md(req, utc_now_iso8601(), "error", method.c_str()));
        } else {
            reply(to, req, reply_type, err);
        }
    }

    /// abort_request without ids: answer everything queued on shell now as aborted.
    void abort_queue(zmq::socket_t& sock) {
        reply_to to{&sock};
        for (;;) {
            recv_result r = s->try_recv(sock, zmq::recv_flags::dontwait);
            if (r.would_block()) return;
            if (r) reply_aborted(to, *r.msg);
        }
    }

    void shell_loop() {
        zmq::socket_t sock(ctx, zmq::socket_type::router);
        prepare(sock, true);
        const auto& c = opt.connection;
        sock.connect(c.endpoint(c.mux));
        sock.connect(c.endpoint(c.task));
        sock.connect(c.endpoint(c.broadcast[static_cast<std::size_t>(id) % c.broadcast.size()]));
        while (!round_stop) {
            if (abort_queued.exchange(false)) abort_queue(sock);
            zmq::pollitem_t item{sock.handle(), 0, ZMQ_POLLIN, 0};
            if (zmq::poll(&item, 1, poll_period) > 0) handle_shell(sock);
        }
        comms.clear();
    }

    // -- control -------------------------------------------------------------------------------

    void handle_control(zmq::socket_t& sock) {
        recv_result r = s->try_recv(sock, zmq::recv_flags::dontwait);
        if (r.would_block()) return;
        if (!r) {
            log("dropped a bad message on control: %s: %s", to_string(r.code),
                r.error_message.c_str());
            return;
        }
        reply_to to{&sock};
        dispatch_control(to, *r.msg);
    }

    /// Requests only control serves: refused on shell with a "WrongChannel" error reply.
    static bool served_on_control(std::string_view type) {
        return type == "abort_request" || type == "clear_request" || type == "shutdown_request";
    }

    /// Requests that belong on shell: refused on control (running code from control would
    /// let a client jump the shell queue), with a "WrongChannel" error reply.
    static bool served_on_shell(std::string_view type) {
        return type == "execute_request" || type == "apply_request" || type == "complete_request" ||
               type == "inspect_request" || type == "is_complete_request" ||
               type == "comm_info_request";
    }

    /// Serves one verified control message; every request it knows gets one reply.
    void dispatch_control(reply_to& to, const message& req) {
        const std::string_view type = req.header.msg_type;  // no copy
        try {
            if (type == "abort_request") {
                status_guard g(*this, req);
                abort(req);
                reply(to, req, "abort_reply", detail::status_ok{});
            } else if (type == "clear_request") {
                status_guard g(*this, req);
                {
                    std::lock_guard lock(interp_mutex);
                    interp->clear();
                }
                reply(to, req, "clear_reply", detail::status_ok{});
            } else if (type == "shutdown_request") {
                const object_map content = as_map(req.content_as<msgpack::object>());
                const detail::shutdown_content out{"ok",
                                                   get<bool>(content, "restart").value_or(false)};
                reply(to, req, "shutdown_reply", out);
                // The hub unregisters the engine on this iopub copy.
                publish("shutdown_reply", out, req, "shutdown");
                log("shutdown requested");
                shutdown_requested = true;
            } else if (type == "kernel_info_request") {
                status_guard g(*this, req);
                send_kernel_info(to, req);
            } else if (served_on_shell(type)) {
                log("refused %s on control", req.header.msg_type.c_str());
                reply_error(to, req, "WrongChannel",
                            std::string(type) + " is served on the shell channel, not on control");
            } else {
                log("ignored %s on control", req.header.msg_type.c_str());
            }
        } catch (const zmq::error_t&) {
            throw;
        } catch (const std::exception& ex) {
            log("bad %s on control: %s", req.header.msg_type.c_str(), ex.what());
            if (type.ends_with("_request")) reply_error(to, req, "InvalidRequest", ex.what());
        }
    }

    void abort(const message& req) {
        const object_map content = as_map(req.content_as<msgpack::object>());
        std::vector<std::string> ids;
        if (const auto one = get<std::string>(content, "msg_ids")) {
            ids.push_back(*one);
        } else if (auto many = get<std::vector<std::string>>(content, "msg_ids")) {
            ids = std::move(*many);
        }
        if (ids.empty()) {
            abort_queued = true;
            return;
        }
        std::lock_guard lock(aborted_mutex);
        // Bounded: ids never requested stay until the next clear of this set.
        if (aborted.size() + ids.size() > 100'000) aborted.clear();
        aborted.insert(ids.begin(), ids.end());
    }

    void control_loop() {
        zmq::socket_t sock(ctx, zmq::socket_type::router);
        prepare(sock, true);
        sock.connect(opt.connection.endpoint(opt.connection.control));
        while (!round_stop) {
            zmq::pollitem_t item{sock.handle(), 0, ZMQ_POLLIN, 0};
            if (zmq::poll(&item, 1, poll_period) > 0) handle_control(sock);
        }
    }

    // -- heart ---------------------------------------------------------------------------------

    void heart_loop() {
        zmq::socket_t ping(ctx, zmq::socket_type::sub);
        zmq::socket_t pong(ctx, zmq::socket_type::dealer);
        prepare(ping, false);
        // No small ZMQ_MAXMSGSIZE here: libzmq (4.3.4, observed) drops a connection whose
        // peer exceeds it and this connecting SUB then never reconnects, which would stop
        // the heart for good. Oversized pings are dropped by echo_heartbeat instead.
        ping.set(zmq::sockopt::subscribe, "");
        prepare(pong, true);  // the hub maps hearts to engines by this identity
        pong.set(zmq::sockopt::linger, 0);
        ping.connect(opt.connection.endpoint(opt.connection.hb_ping));
        pong.connect(opt.connection.endpoint(opt.connection.hb_pong));
        while (!round_stop) {
            zmq::pollitem_t item{ping.handle(), 0, ZMQ_POLLIN, 0};
            if (zmq::poll(&item, 1, poll_period) == 0) continue;
            while (echo_heartbeat(ping, pong)) last_ping_ms = now_ms();
        }
    }

    // -- registration --------------------------------------------------------------------------

    /// Sends registration_request, waits for the reply. Returns hb_period (ms) and sets id.
    /// Empty when stop() was called or (reregister policy) no reply came in time.
    std::optional<int> register_once(zmq::socket_t& reg) {
        message m = s->make_message("registration_request");
        if (opt.requested_id) {
            m.set_content(detail::registration_request_with_id{uuid, *opt.requested_id});
        } else {
            m.set_content(detail::registration_request{uuid});
        }
        s->send(reg, m);
        const auto deadline = steady::now() + opt.registration_timeout;
        while (!stop_requested && steady::now() < deadline) {
            zmq::pollitem_t item{reg.handle(), 0, ZMQ_POLLIN, 0};
            if (zmq::poll(&item, 1, poll_period) == 0) continue;
            recv_result r = s->try_recv(reg, zmq::recv_flags::dontwait);
            if (!r) {
                if (!r.would_block())
                    log("dropped a bad message on registration: %s", r.error_message.c_str());
                continue;
            }
            if (r.msg->header.msg_type != "registration_reply") continue;
            const object_map c = as_map(r.msg->content_as<msgpack::object>());
            if (get<std::string>(c, "status").value_or("") != "ok") {
                throw std::runtime_error(
                    "registration refused: " + get<std::string>(c, "ename").value_or("?") + ": " +
                    get<std::string>(c, "evalue").value_or(""));
            }
            const auto new_id = get<int>(c, "id");
            if (!new_id || *new_id < 0) throw std::runtime_error("registration_reply lacks id");
            id = *new_id;
            engine_id = id;
            if (opt.requested_id && *opt.requested_id != id) {
                log("did not get the requested id %d", *opt.requested_id);
            }
            return std::max(100, get<int>(c, "hb_period").value_or(3000));
        }
        if (stop_requested || opt.lost_policy == on_controller_lost::reregister) {
            return std::nullopt;
        }
        throw std::runtime_error("no registration_reply from " +
                                 opt.connection.endpoint(opt.connection.registration) + " within " +
                                 std::to_string(opt.registration_timeout.count()) + " ms");
    }

    void new_round() {
        uuid = new_uuid4();
        {
            std::lock_guard lock(uuid_mutex);
            uuid_ = uuid;
        }
        session_options so;
        so.key = opt.connection.key;
        so.signature_scheme = opt.connection.signature_scheme;
        so.username = "zsession-ipengine";
        so.session_id = uuid;
        so.packer = packer_kind::json;
        so.limits = opt.limits;
        so.copy_threshold = opt.copy_threshold;
        s = std::make_unique<session>(so);
        round_stop = false;
        shutdown_requested = false;
        abort_queued = false;
        execution_count = 0;
        std::lock_guard lock(aborted_mutex);
        aborted.clear();
    }

    /// Serves one registration. Returns why it ended.
    std::optional<run_result> serve(zmq::socket_t& reg, int hb_period) {
        iopub.emplace(ctx, zmq::socket_type::pub);
        prepare(*iopub, false);
        iopub->set(zmq::sockopt::sndhwm, 0);  // as ipengine: never drop outputs
        iopub->set(zmq::sockopt::linger, 3000);
        iopub->connect(opt.connection.endpoint(opt.connection.iopub));
        last_ping_ms = now_ms();
        log("registered as engine %d (%s), heartbeat %d ms, pid %ld", id, uuid.c_str(), hb_period,
            static_cast<long>(::getpid()));
        std::thread heart([this] { guarded("heart", [this] { heart_loop(); }); });
        std::thread shell([this] { guarded("shell", [this] { shell_loop(); }); });
        std::thread control([this] { guarded("control", [this] { control_loop(); }); });
        const long long lost_after =
            static_cast<long long>(opt.max_missed_heartbeats) * (hb_period + 500);
        std::optional<run_result> why;
        while (!why) {
            std::this_thread::sleep_for(poll_period);
            if (stop_requested) {
                why = run_result::stopped;
            } else if (shutdown_requested) {
                why = run_result::shutdown;
            } else if (now_ms() - last_ping_ms > lost_after) {
                why = run_result::controller_lost;
            }
        }
        round_stop = true;
        control.join();
        heart.join();
        shell.join();  // waits for a running execute to finish
        if (*why == run_result::stopped) {
            message m = s->make_message("unregistration_request");
            m.set_content(detail::unregistration_request{id});
            s->send(reg, m);
            log("unregistered");
        }
        iopub.reset();
        return why;
    }

    template <class F>
    void guarded(const char* name, F&& f) {
        try {
            f();
        } catch (const std::exception& ex) {
            // A socket failure in one thread ends the round; run() reports it as lost.
            log("%s thread failed: %s", name, ex.what());
            last_ping_ms = 0;
        }
    }

    engine::handled handle(engine::channel ch, frames&& in) {
        if (!s) {
            new_round();
            id = 0;
            engine_id = 0;
        }
        engine::handled out;
        iopub_captured = &out.iopub;
        struct reset {
            std::vector<frames>*& p;
            ~reset() { p = nullptr; }
        } reset_captured{iopub_captured};
        std::optional<message> req;
        try {
            req = s->decode(std::move(in));
        } catch (const error& e) {
            log("dropped a bad message: %s: %s", to_string(e.code()), e.what());
            return out;
        }
        reply_to to{nullptr, &out.replies};
        if (ch == engine::channel::control) {
            dispatch_control(to, *req);
        } else if (abort_queued.exchange(false)) {
            reply_aborted(to, *req);  // run() aborts what is queued on shell at that time
        } else {
            dispatch_shell(to, *req);
        }
        return out;
    }

    run_result run() {
        for (;;) {
            new_round();
            zmq::socket_t reg(ctx, zmq::socket_type::dealer);
            prepare(reg, true);
            reg.connect(opt.connection.endpoint(opt.connection.registration));
            const std::optional<int> hb = register_once(reg);
            if (!hb) {
                if (stop_requested) return run_result::stopped;
                log("no registration reply; retrying");
                continue;
            }
            const run_result why = *serve(reg, *hb);
            if (why != run_result::controller_lost) return why;
            if (opt.lost_policy == on_controller_lost::exit) {
                log("controller lost (no heartbeat for %d periods): exiting",
                    opt.max_missed_heartbeats);
                return why;
            }
            log("controller lost: registering again");
        }
    }
};

engine::engine(engine_options options, std::unique_ptr<interpreter> interp)
    : impl_(std::make_unique<impl>(std::move(options), std::move(interp))) {}

engine::~engine() = default;

void engine::register_comm_target(std::string name, comm_target target) {
    if (!target) throw std::invalid_argument("comm target '" + name + "' is empty");
    if (!impl_->targets.emplace(name, std::move(target)).second) {
        throw std::invalid_argument("comm target '" + name + "' is already registered");
    }
}

run_result engine::run() {
    return impl_->run();
}

void engine::stop() noexcept {
    impl_->stop_requested = true;
}

int engine::id() const noexcept {
    return impl_->engine_id;
}

std::string engine::uuid() const {
    std::lock_guard lock(impl_->uuid_mutex);
    return impl_->uuid_;
}

engine::handled engine::handle(channel ch, frames&& in) {
    return impl_->handle(ch, std::move(in));
}

}  // namespace zsession::ipp
