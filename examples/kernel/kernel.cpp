// examples/kernel/kernel.cpp - zcalc, a Jupyter kernel for the calc language, built on zsession.
//
//   zcalc-kernel CONNECTION_FILE
//
// Binds the five sockets a Jupyter connection file names, signs with its key and scheme, and
// serves kernel_info, execute, is_complete, complete, inspect, history, comm_info, interrupt
// and shutdown, with busy/idle status on iopub. One thread polls control (first) and shell;
// a second echoes heartbeats. A bad message on any socket (malformed, wrongly signed, too
// large) is logged on stderr and dropped; a signed request whose content has the wrong types,
// or a shell request sent on control, gets an error reply (status "error", as ipykernel
// answers); a comm_open gets a comm_close (no comm targets). The kernel keeps serving and
// never aborts on input, and what it keeps (history) is bounded.
#include <atomic>
#include <csignal>
#include <cstdio>
#include <deque>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <thread>

#include <fnmatch.h>

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "calc.hpp"
#include "replies.hpp"
#include "zsession/zsession.hpp"

namespace {

using namespace zsession;

constexpr std::string_view kernel_version = "1.0.0";

template <class... Args>
void log(const char* fmt, Args... args) {
    std::fprintf(stderr, "[zcalc] ");
    std::fprintf(stderr, fmt, args...);
    std::fputc('\n', stderr);
}

/// What a Jupyter connection file says.
struct connection_info {
    std::string transport = "tcp", ip = "127.0.0.1", key, signature_scheme = "hmac-sha256";
    int shell_port = 0, control_port = 0, stdin_port = 0, iopub_port = 0, hb_port = 0;
    /// Optional CurveZMQ (docs/CURVEZMQ.md; not a standard Jupyter field): the kernel's secret
    /// key makes every socket a CURVE server; curve_client_keys, when present, is the
    /// allow-list of client public keys (otherwise any client knowing the kernel's public key
    /// may connect, as in ipyparallel).
    std::string curve_secretkey;
    std::optional<std::vector<std::string>> curve_client_keys;

    std::string endpoint(int port) const {
        if (transport == "ipc") return "ipc://" + ip + "-" + std::to_string(port);
        return transport + "://" + ip + ":" + std::to_string(port);
    }
};

/// Reads a connection file. Throws std::runtime_error naming what is wrong with it.
connection_info read_connection_file(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw std::runtime_error("cannot open connection file " + path);
    const std::string text{std::istreambuf_iterator<char>(in), {}};
    rapidjson::Document d;
    d.Parse(text.data(), text.size());
    if (d.HasParseError() || !d.IsObject()) {
        throw std::runtime_error("connection file is not a JSON object: " +
                                 std::string(rapidjson::GetParseError_En(d.GetParseError())));
    }
    connection_info c;
    auto str = [&](const char* name, std::string& field) {
        if (d.HasMember(name) && d[name].IsString()) field = d[name].GetString();
    };
    auto port = [&](const char* name, int& field) {
        if (!d.HasMember(name) || !d[name].IsInt()) {
            throw std::runtime_error(std::string("connection file lacks integer ") + name);
        }
        field = d[name].GetInt();
    };
    str("transport", c.transport);
    str("ip", c.ip);
    str("key", c.key);
    str("signature_scheme", c.signature_scheme);
    port("shell_port", c.shell_port);
    port("control_port", c.control_port);
    port("stdin_port", c.stdin_port);
    port("iopub_port", c.iopub_port);
    port("hb_port", c.hb_port);
    str("curve_secretkey", c.curve_secretkey);
    if (!c.curve_secretkey.empty() && !is_curve_key(c.curve_secretkey)) {
        throw std::runtime_error("connection file's curve_secretkey is not a Z85 key");
    }
    if (d.HasMember("curve_client_keys")) {
        const auto& keys = d["curve_client_keys"];
        if (!keys.IsArray()) throw std::runtime_error("curve_client_keys is not an array");
        c.curve_client_keys.emplace();
        for (const auto& k : keys.GetArray()) {
            if (!k.IsString() || !is_curve_key(k.GetString())) {
                throw std::runtime_error("curve_client_keys holds something not a Z85 key");
            }
            c.curve_client_keys->push_back(k.GetString());
        }
    }
    return c;
}

/// Limits for a calculator's messages: far below the library's cluster-sized defaults, so a
/// hostile peer cannot make the kernel hold much. ZMQ_MAXMSGSIZE follows from them.
limits kernel_limits() {
    limits l;
    l.max_buffers = 16;
    l.max_content_bytes = std::size_t{16} << 20;
    l.max_buffer_bytes = std::size_t{16} << 20;
    l.max_message_bytes = std::size_t{64} << 20;
    return l;
}

/// Echoes heartbeat pings until `stop` is set. Owns its socket (sockets are not thread-safe).
/// Pings are a few bytes: a peer that sends a frame over heartbeat_max_frame_bytes (1 KiB) is
/// disconnected by libzmq before the frame is allocated.
void heartbeat(zmq::context_t& ctx, std::string endpoint, std::string curve_secretkey,
               const std::atomic<bool>& stop) {
    zmq::socket_t hb(ctx, zmq::socket_type::rep);
    hb.set(zmq::sockopt::linger, 0);
    apply_limits(hb, socket_role::heartbeat);
    if (!curve_secretkey.empty()) {
        configure_curve_server(hb, {curve_public_key(curve_secretkey), curve_secretkey});
    }
    hb.bind(endpoint);
    while (!stop) {
        zmq::pollitem_t item{hb.handle(), 0, ZMQ_POLLIN, 0};
        if (zmq::poll(&item, 1, std::chrono::milliseconds(100)) == 0) continue;
        zmq::message_t ping;
        std::vector<zmq::message_t> parts;
        do {
            if (!hb.recv(ping, zmq::recv_flags::none)) break;
            parts.push_back(std::move(ping));
        } while (parts.back().more());
        (void)zmq::send_multipart(hb, parts);
    }
}

/// One history entry: the execution count it ran as, its input, its text/plain result.
struct history_entry {
    int line;
    std::string input;
    std::optional<std::string> output;

    std::size_t bytes() const { return input.size() + (output ? output->size() : 0); }
};

/// The input history, bounded so that no client can make the kernel hold much: at most
/// max_entries entries and max_bytes bytes of input and output together (the oldest entries
/// go first), and an input or output longer than max_entry_bytes is kept truncated.
/// ipykernel keeps its history in SQLite on disk; a calculator needs far less.
class history_log {
  public:
    static constexpr std::size_t max_entries = 1000;
    static constexpr std::size_t max_bytes = std::size_t{1} << 20;
    static constexpr std::size_t max_entry_bytes = std::size_t{16} << 10;

    void add(int line, const std::string& input, const std::optional<std::string>& output) {
        history_entry e{line, truncated(input), std::nullopt};
        if (output) e.output = truncated(*output);
        bytes_ += e.bytes();
        entries_.push_back(std::move(e));
        while (entries_.size() > max_entries || bytes_ > max_bytes) {
            bytes_ -= entries_.front().bytes();
            entries_.pop_front();
        }
    }
    const std::deque<history_entry>& entries() const noexcept { return entries_; }
    std::size_t bytes() const noexcept { return bytes_; }

  private:
    /// `text` cut to at most max_entry_bytes at a UTF-8 character boundary, with a marker.
    static std::string truncated(const std::string& text) {
        if (text.size() <= max_entry_bytes) return text;
        std::size_t cut = max_entry_bytes - 64;
        while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
        return text.substr(0, cut) + "\n[... " + std::to_string(text.size() - cut) +
               " more bytes not kept in history]";
    }

    std::deque<history_entry> entries_;
    std::size_t bytes_ = 0;
};

/// The kernel's shell, control, stdin and iopub sockets and its interpreter state.
/// Ownership: owns its sockets; borrows `s`, which must outlive it.
/// Thread safety: the constructor and serve() run on one thread, which alone uses the sockets.
/// Throws (constructor) zmq::error_t when an endpoint cannot be bound.
class kernel {
  public:
    kernel(zmq::context_t& ctx, const connection_info& c, session& s)
        : s_(s),
          shell_(ctx, zmq::socket_type::router),
          control_(ctx, zmq::socket_type::router),
          stdin_(ctx, zmq::socket_type::router),
          iopub_(ctx, zmq::socket_type::pub) {
        for (zmq::socket_t* sock : {&shell_, &control_, &stdin_}) {
            sock->set(zmq::sockopt::linger, 1000);
            apply_limits(*sock, s.options().limits);
        }
        // Only subscriptions arrive on iopub: a few bytes each.
        iopub_.set(zmq::sockopt::linger, 1000);
        apply_limits(iopub_, socket_role::publisher);
        if (!c.curve_secretkey.empty()) {
            const curve_keypair keys{curve_public_key(c.curve_secretkey), c.curve_secretkey};
            for (zmq::socket_t* sock : {&shell_, &control_, &stdin_, &iopub_}) {
                configure_curve_server(*sock, keys);
            }
        }
        shell_.bind(c.endpoint(c.shell_port));
        control_.bind(c.endpoint(c.control_port));
        stdin_.bind(c.endpoint(c.stdin_port));
        iopub_.bind(c.endpoint(c.iopub_port));
    }

    /// Serves until a shutdown_request. Returns normally; throws only zmq::error_t for a
    /// socket failure (not for anything a peer sends).
    void serve() {
        publish_status("starting", nullptr);
        while (running_) {
            std::array<zmq::pollitem_t, 3> items{{{control_.handle(), 0, ZMQ_POLLIN, 0},
                                                  {shell_.handle(), 0, ZMQ_POLLIN, 0},
                                                  {stdin_.handle(), 0, ZMQ_POLLIN, 0}}};
            zmq::poll(items.data(), items.size(), std::chrono::milliseconds(-1));
            if (items[0].revents & ZMQ_POLLIN) handle_one(control_, "control");
            if (running_ && (items[1].revents & ZMQ_POLLIN)) handle_one(shell_, "shell");
            if (items[2].revents & ZMQ_POLLIN) drain_stdin();
        }
    }

  private:
    using handler = void (kernel::*)(zmq::socket_t&, const message&);

    void handle_one(zmq::socket_t& sock, const char* channel) {
        recv_result r = s_.try_recv(sock, zmq::recv_flags::dontwait);
        if (r.would_block()) return;
        if (!r) {
            log("dropped a bad message on %s: %s: %s", channel, to_string(r.code),
                r.error_message.c_str());
            return;
        }
        const message& request = *r.msg;
        static const std::map<std::string, handler, std::less<>> handlers = {
            {"kernel_info_request", &kernel::kernel_info},
            {"execute_request", &kernel::execute},
            {"is_complete_request", &kernel::is_complete},
            {"complete_request", &kernel::complete},
            {"inspect_request", &kernel::inspect},
            {"history_request", &kernel::history},
            {"comm_info_request", &kernel::comm_info},
            {"interrupt_request", &kernel::interrupt},
            {"shutdown_request", &kernel::shutdown},
        };
        const std::string_view type = request.header.msg_type;  // no copy
        const auto h = handlers.find(type);
        if (h == handlers.end()) {
            if (type == "comm_open") {
                publish_status("busy", &request);
                refuse_comm(request, channel);
                publish_status("idle", &request);
                return;
            }
            // Not a request (no _reply exists for it) or one this kernel does not know:
            // ipykernel logs and ignores these too.
            log("ignored %s on %s", request.header.msg_type.c_str(), channel);
            return;
        }
        publish_status("busy", &request);
        if (&sock == &control_ && !served_on_control(type)) {
            // Control bypasses the shell queue; running code from it would let a client jump
            // the queue. The same request on shell is served.
            log("refused %s on control", request.header.msg_type.c_str());
            reply_error(sock, request, "WrongChannel",
                        std::string(type) + " is served on the shell channel, not on control");
        } else {
            try {
                (this->*(h->second))(sock, request);
            } catch (const zmq::error_t&) {
                throw;
            } catch (const std::exception& e) {
                // Content of the wrong types (decode_error from content_as): answered, so the
                // client does not wait forever, and nothing of it was executed.
                log("bad %s on %s: %s", request.header.msg_type.c_str(), channel, e.what());
                reply_error(sock, request, "InvalidRequest", e.what());
            }
        }
        publish_status("idle", &request);
    }

    /// Requests the control channel serves: the ones that must get through while shell is
    /// busy (Jupyter's control channel). Everything else belongs on shell.
    static bool served_on_control(std::string_view type) {
        return type == "kernel_info_request" || type == "shutdown_request" ||
               type == "interrupt_request";
    }

    /// Replies `<type>_reply` to `request` with status "error" (and, for execute_reply, the
    /// current execution count, which is unchanged); is_complete_reply says "unknown".
    void reply_error(zmq::socket_t& sock, const message& request, const std::string& ename,
                     const std::string& evalue) {
        std::string type = request.header.msg_type;
        type.replace(type.size() - std::string_view("request").size(), std::string::npos, "reply");
        std::vector<std::string> traceback{ename + ": " + evalue};
        if (type == "is_complete_reply") {
            // Its status is one of complete/incomplete/invalid/unknown, never "error".
            reply(sock, request, type, replies::is_complete{"unknown", ""});
        } else if (type == "execute_reply") {
            reply(sock, request, type,
                  replies::execute_error{"error", ename, evalue, traceback, execution_count_});
        } else {
            reply(sock, request, type, replies::error_reply{"error", ename, evalue, traceback});
        }
    }

    /// A comm_open for a target: this kernel registers none, so, as ipykernel does for an
    /// unknown target, it closes the comm at once (comm_close on iopub) and the frontend
    /// does not wait on a comm that will never answer.
    void refuse_comm(const message& request, const char* channel) {
        replies::comm_open open;
        try {
            open = request.content_as<replies::comm_open>();
        } catch (const error& e) {
            log("bad comm_open on %s: %s", channel, e.what());
            return;  // no comm_id to close
        }
        log("no comm target '%s': closing comm %s", open.target_name.c_str(), open.comm_id.c_str());
        publish("comm_close", replies::comm_close{open.comm_id, {}}, &request);
    }

    void drain_stdin() {
        // No input_request is ever sent, so anything here is unsolicited: consume, log, drop.
        recv_result r = s_.try_recv(stdin_, zmq::recv_flags::dontwait);
        if (r.code != errc::ok || r.msg) log("dropped an unsolicited message on stdin");
    }

    template <class T>
    void reply(zmq::socket_t& sock, const message& request, std::string_view type,
               const T& content) {
        message m = s_.make_reply(request, type);
        m.set_content(content);
        s_.send(sock, m);
    }

    /// Publishes on iopub with topic "kernel.<session>.<type>", parent = `parent`'s header.
    template <class T>
    void publish(std::string_view type, const T& content, const message* parent) {
        message m = s_.make_message(type);
        if (parent) m.parent_header = parent->header;
        m.identities.push_back(buffer::take("kernel." + s_.id() + "." + std::string(type)));
        m.set_content(content);
        s_.send(iopub_, m);
    }

    void publish_status(const char* state, const message* parent) {
        publish("status", replies::status{state}, parent);
    }

    void kernel_info(zmq::socket_t& sock, const message& request) {
        replies::kernel_info info;
        info.protocol_version = std::string(protocol_version);
        info.implementation_version = std::string(kernel_version);
        reply(sock, request, "kernel_info_reply", info);
    }

    void execute(zmq::socket_t& sock, const message& request) {
        const auto req = request.content_as<replies::execute_request>();
        if (!req.silent) ++execution_count_;
        const int count = execution_count_;
        if (!req.silent)
            publish("execute_input", replies::execute_input{req.code, count}, &request);
        const calc::result r = interp_.run(req.code);
        if (!req.silent) publish_outputs(r, count, request);
        if (req.store_history && !req.silent) history_.add(count, req.code, r.value);
        if (!r.ok) {
            if (!req.silent) {
                publish("error", replies::error{r.ename, r.evalue, r.traceback}, &request);
            }
            reply(sock, request, "execute_reply",
                  replies::execute_error{"error", r.ename, r.evalue, r.traceback, count});
            return;
        }
        replies::execute_ok ok;
        ok.execution_count = count;
        for (const auto& o : r.outputs) {
            if (o.what == calc::output::kind::page) {
                ok.payload.push_back({"page", {{"text/plain", o.text}}, 0});
            }
        }
        reply(sock, request, "execute_reply", ok);
    }

    void publish_outputs(const calc::result& r, int count, const message& request) {
        using k = calc::output::kind;
        for (const auto& o : r.outputs) {
            switch (o.what) {
                case k::stdout_text:
                    publish("stream", replies::stream{"stdout", o.text}, &request);
                    break;
                case k::stderr_text:
                    publish("stream", replies::stream{"stderr", o.text}, &request);
                    break;
                case k::display:
                    publish(
                        "display_data",
                        replies::display_data{{{"text/plain", o.text}, {"text/html", o.html}}, {}},
                        &request);
                    break;
                case k::clear:
                    publish("clear_output", replies::clear_output{}, &request);
                    break;
                case k::page:
                    break;  // a payload of the execute_reply
            }
        }
        if (r.value) {
            publish("execute_result",
                    replies::execute_result{count, {{"text/plain", *r.value}}, {}}, &request);
        }
    }

    void is_complete(zmq::socket_t& sock, const message& request) {
        const auto req = request.content_as<replies::code_request>();
        static constexpr const char* names[] = {"complete", "incomplete", "invalid"};
        const std::string status = names[static_cast<int>(interp_.is_complete(req.code))];
        reply(sock, request, "is_complete_reply", replies::is_complete{status, ""});
    }

    void complete(zmq::socket_t& sock, const message& request) {
        const auto req = request.content_as<replies::code_request>();
        const std::size_t cursor = replies::byte_offset(req.code, req.cursor_pos);
        const auto [begin, end] = calc::identifier_at(req.code, cursor);
        replies::complete c;
        c.matches = interp_.complete(std::string_view(req.code).substr(begin, cursor - begin));
        c.cursor_start = replies::code_points(std::string_view(req.code).substr(0, begin));
        c.cursor_end = replies::code_points(std::string_view(req.code).substr(0, end));
        reply(sock, request, "complete_reply", c);
    }

    void inspect(zmq::socket_t& sock, const message& request) {
        const auto req = request.content_as<replies::code_request>();
        const auto [begin, end] =
            calc::identifier_at(req.code, replies::byte_offset(req.code, req.cursor_pos));
        const auto doc = interp_.inspect(std::string_view(req.code).substr(begin, end - begin));
        replies::inspect i;
        i.found = doc.has_value();
        if (doc) i.data = {{"text/plain", *doc}};
        reply(sock, request, "inspect_reply", i);
    }

    void history(zmq::socket_t& sock, const message& request);

    void comm_info(zmq::socket_t& sock, const message& request) {
        reply(sock, request, "comm_info_reply", replies::comm_info{});
    }

    void interrupt(zmq::socket_t& sock, const message& request) {
        // Execution is synchronous and short: there is never anything running to interrupt.
        reply(sock, request, "interrupt_reply", replies::status_ok{});
    }

    void shutdown(zmq::socket_t& sock, const message& request) {
        const auto req = request.content_as<replies::shutdown>();
        reply(sock, request, "shutdown_reply", req);
        publish("shutdown_reply", req, &request);
        running_ = false;
    }

    session& s_;
    zmq::socket_t shell_, control_, stdin_, iopub_;
    calc::interpreter interp_;
    int execution_count_ = 0;
    history_log history_;
    bool running_ = true;
};

/// Entries of `all` that a history_request selects, oldest first.
std::vector<const history_entry*> select_history(const std::deque<history_entry>& all,
                                                 const replies::history_request& req) {
    std::vector<const history_entry*> out;
    const std::size_t n = req.n && *req.n >= 0 ? static_cast<std::size_t>(*req.n) : 10;
    if (req.hist_access_type == "range") {
        // One session (1: this process); session <= 0 is relative, meaning this one too.
        if (req.session && *req.session > 1) return out;
        for (const auto& e : all) {
            if ((!req.start || e.line >= *req.start) && (!req.stop || e.line < *req.stop)) {
                out.push_back(&e);
            }
        }
        return out;
    }
    for (const auto& e : all) {
        if (req.hist_access_type == "search" &&
            fnmatch(req.pattern.value_or("*").c_str(), e.input.c_str(), 0) != 0) {
            continue;
        }
        if (req.unique) {
            std::erase_if(out, [&](const history_entry* p) { return p->input == e.input; });
        }
        out.push_back(&e);
    }
    if (out.size() > n) out.erase(out.begin(), out.end() - static_cast<std::ptrdiff_t>(n));
    return out;
}

void kernel::history(zmq::socket_t& sock, const message& request) {
    const auto req = request.content_as<replies::history_request>();
    const auto entries = select_history(history_.entries(), req);
    constexpr int session_number = 1;
    if (req.output) {
        replies::history<replies::history_line_output> h;
        for (const auto* e : entries) {
            h.history.emplace_back(session_number, e->line,
                                   msgpack::type::make_tuple(e->input, e->output));
        }
        reply(sock, request, "history_reply", h);
    } else {
        replies::history<replies::history_line> h;
        for (const auto* e : entries) h.history.push_back({session_number, e->line, e->input});
        reply(sock, request, "history_reply", h);
    }
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s CONNECTION_FILE\n", argv[0]);
        return 2;
    }
    // Interrupts arrive as interrupt_request messages (kernel.json: interrupt_mode "message");
    // a stray SIGINT from a terminal must not kill the kernel.
    std::signal(SIGINT, SIG_IGN);
    try {
        const connection_info conn = read_connection_file(argv[1]);
        session_options o;
        o.key = conn.key;
        o.signature_scheme = conn.signature_scheme;
        o.username = "kernel";
        o.packer = packer_kind::json;
        o.limits = kernel_limits();
        session s(o);

        zmq::context_t ctx;
        std::atomic<bool> stop{false};
        // With an allow-list, only those client keys complete a handshake on any socket.
        std::optional<zap_handler> zap;
        if (conn.curve_client_keys) zap.emplace(ctx, *conn.curve_client_keys);
        std::thread hb(heartbeat, std::ref(ctx), conn.endpoint(conn.hb_port), conn.curve_secretkey,
                       std::cref(stop));
        {
            kernel k(ctx, conn, s);
            log("serving on %s (shell %d)", conn.ip.c_str(), conn.shell_port);
            k.serve();
        }
        stop = true;
        hb.join();
        log("shut down");
        return 0;
    } catch (const std::exception& e) {
        log("fatal: %s", e.what());
        return 1;
    }
}
