// demo: a controller distributes array tasks to engines over tcp loopback with zsession.
//
// It shows, with real figures: engines registering, small signed control messages (round
// trip), float64 arrays from 8 KiB to 128 MiB carried as placeholders in typed task structs,
// sent zero-copy, resolved by the engine into a view of its received frame and echoed back
// from that frame without a copy, a forged message rejected while traffic continues, and an
// engine that dies holding a task whose task is re-sent to a live engine.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <numeric>
#include <string_view>
#include <thread>

#include "zsession/zsession.hpp"

namespace {

using clock_type = std::chrono::steady_clock;
using namespace zsession;

const std::string key = "demo-secret-key-0123456789";

struct task {
    int id = 0;
    std::string op;    // "sum" (reply: the sum) or "echo" (reply: the sum and the array back)
    placeholder data;  // a <f8 ndarray, offloaded into the message's buffers
    MSGPACK_DEFINE_MAP(id, op, data)
};

struct result {
    int id = 0;
    double sum = 0;
    std::string engine;
    std::optional<placeholder> data;  // the echoed array
    MSGPACK_DEFINE_MAP(id, sum, engine, data)
};

/// A task message: `values` travels zero-copy (or copied below the threshold) as a buffer
/// that the placeholder in the content names. The message shares the array's pin.
message make_task(const session& s, int id, const std::string& op, const buffer& values) {
    message m = s.make_message("apply_request");
    const ndarray_view array(dtype_of<double>(), {values.size() / sizeof(double)}, values);
    m.set_content(task{id, op, offload(s, m, array)});
    return m;
}

double micros(clock_type::duration d) {
    return std::chrono::duration<double, std::micro>(d).count();
}

// An engine: registers, then serves tasks until told to stop, or "dies" (returns without
// replying) on the task numbered `die_on`.
void serve(zmq::context_t& ctx, const std::string& endpoint, const std::string& name, int die_on) {
    session s(session_options{.key = key, .username = name});
    zmq::socket_t sock(ctx, zmq::socket_type::dealer);
    sock.set(zmq::sockopt::linger, 0);
    sock.set(zmq::sockopt::routing_id, name);
    sock.connect(endpoint);
    s.send(sock, s.make_message("registration_request"));
    for (;;) {
        auto in = s.try_recv(sock);
        if (!in) {
            std::printf("  [%s] dropped a bad message: %s\n", name.c_str(),
                        in.error_message.c_str());
            continue;
        }
        message& m = *in.msg;
        if (m.header.msg_type == "shutdown_request") return;
        if (m.header.msg_type == "status_request") {
            s.send(sock, s.make_reply(m, "status_reply"));
            continue;
        }
        const auto t = m.content_as<task>();
        if (t.id == die_on) return;  // dies holding the task
        // A view into the received frame (aligned by design: a small frame libzmq left
        // misaligned was copied once by the resolver).
        const ndarray_view array = resolver(s, m).resolve<ndarray_view>(t.data);
        const auto values = array.values<double>();
        message reply = s.make_reply(m, "apply_reply");
        result r{t.id, std::accumulate(values.begin(), values.end(), 0.0), name, std::nullopt};
        // Echo: offload the received view itself; it pins the frame, so nothing is copied.
        if (t.op == "echo") r.data = offload(s, reply, array);
        reply.set_content(r);
        s.send(sock, reply);
    }
}

void run_engine(zmq::context_t& ctx, const std::string& endpoint, const std::string& name,
                int die_on) {
    try {
        serve(ctx, endpoint, name, die_on);
    } catch (const zmq::error_t& e) {
        if (e.num() != ETERM) std::fprintf(stderr, "  [%s] %s\n", name.c_str(), e.what());
    }
}

struct controller {
    zmq::context_t& ctx;
    session s{session_options{.key = key, .username = "controller"}};
    zmq::socket_t sock{ctx, zmq::socket_type::router};
    std::vector<buffer> engines;  // routing identities, in registration order
    int rejected = 0;             // bad messages dropped so far

    explicit controller(zmq::context_t& c) : ctx(c) {
        sock.set(zmq::sockopt::linger, 0);
        sock.bind("tcp://127.0.0.1:*");
    }
    std::string endpoint() { return sock.get(zmq::sockopt::last_endpoint); }

    const buffer& engine_named(std::string_view name) const {
        for (const auto& e : engines) {
            if (e.as_string_view() == name) return e;
        }
        throw std::runtime_error("no engine named " + std::string(name));
    }
    message send_to(const buffer& engine, message m) {
        m.identities = {engine};
        s.send(sock, m);
        return m;
    }
    // Next good message, or nothing within `timeout`; bad messages are reported and dropped
    // (and end the wait when `stop_on_rejection`).
    std::optional<message> next(std::chrono::milliseconds timeout, bool stop_on_rejection = false) {
        zmq::pollitem_t item{sock.handle(), 0, ZMQ_POLLIN, 0};
        const auto deadline = clock_type::now() + timeout;
        while (clock_type::now() < deadline) {
            const auto left =
                std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock_type::now());
            if (zmq::poll(&item, 1, left) == 0) break;
            auto r = s.try_recv(sock, zmq::recv_flags::dontwait);
            if (r) return std::move(r.msg);
            if (!r.would_block()) {
                ++rejected;
                std::printf("  controller rejected a message (%s): %s\n", to_string(r.code),
                            r.error_message.c_str());
                if (stop_on_rejection) break;
            }
        }
        return std::nullopt;
    }
};

void register_engines(controller& c, int count) {
    while (static_cast<int>(c.engines.size()) < count) {
        auto m = c.next(std::chrono::seconds(5));
        if (!m) throw std::runtime_error("engines did not register");
        c.engines.push_back(m->identities.at(0));
        std::printf("  engine '%s' registered (session %.8s...)\n",
                    std::string(m->identities[0].as_string_view()).c_str(),
                    m->header.session.c_str());
    }
}

void control_round_trips(controller& c) {
    constexpr int rounds = 2000;
    std::vector<double> us;
    for (int i = 0; i < rounds; ++i) {
        const auto t0 = clock_type::now();
        c.send_to(c.engines[0], c.s.make_message("status_request"));
        auto reply = c.next(std::chrono::seconds(5));
        us.push_back(micros(clock_type::now() - t0));
        if (!reply || reply->header.msg_type != "status_reply") throw std::runtime_error("lost");
    }
    std::sort(us.begin(), us.end());
    std::printf(
        "  %d signed status_request/status_reply round trips: median %.1f us, p99 %.1f us\n",
        rounds, us[rounds / 2], us[rounds * 99 / 100]);
}

void array_tasks(controller& c) {
    std::printf("  %12s %6s %12s %12s %10s\n", "array bytes", "tasks", "round trip", "GB/s both",
                "send mode");
    int id = 0;
    for (std::size_t bytes : {std::size_t{8} << 10, std::size_t{1} << 20, std::size_t{16} << 20,
                              std::size_t{128} << 20}) {
        const int tasks = bytes >= (std::size_t{16} << 20) ? 4 : 20;
        std::vector<double> data(bytes / sizeof(double));
        std::iota(data.begin(), data.end(), 0.0);
        const double expected = std::accumulate(data.begin(), data.end(), 0.0);
        const buffer array = buffer::take(std::move(data));
        const auto t0 = clock_type::now();
        for (int i = 0; i < tasks; ++i) {
            c.send_to(c.engines[static_cast<std::size_t>(i) % c.engines.size()],
                      make_task(c.s, ++id, "echo", array));  // shares the pin: no copy
        }
        for (int i = 0; i < tasks; ++i) {
            auto reply = c.next(std::chrono::seconds(30));
            if (!reply) throw std::runtime_error("array task lost");
            const auto r = reply->content_as<result>();
            const auto back = resolver(c.s, *reply).resolve<ndarray_view>(r.data.value());
            if (r.sum != expected || back.bytes().view() != array.view()) {
                throw std::runtime_error("array came back wrong");
            }
        }
        const double secs = std::chrono::duration<double>(clock_type::now() - t0).count();
        std::printf("  %12zu %6d %10.0f us %12.2f %10s\n", bytes, tasks, secs / tasks * 1e6,
                    2.0 * bytes * tasks / secs / 1e9,
                    choose_send_mode(bytes, c.s.options().copy_threshold) == send_mode::copy
                        ? "copy"
                        : "zero-copy");
    }
}

void forged_message(controller& c) {
    zmq::socket_t intruder(c.ctx, zmq::socket_type::dealer);
    intruder.set(zmq::sockopt::linger, 0);
    intruder.connect(c.endpoint());
    session wrong(session_options{.key = "guessed-key"});
    wrong.send(intruder, wrong.make_message("apply_request"));
    const int before = c.rejected;
    if (c.next(std::chrono::seconds(5), true) || c.rejected != before + 1) {
        throw std::runtime_error("the forged message was not rejected");
    }
    c.send_to(c.engines[0], c.s.make_message("status_request"));
    auto m = c.next(std::chrono::seconds(5));
    if (!m || m->header.msg_type != "status_reply") throw std::runtime_error("reply lost");
    std::printf("  the next good message arrived after the forged one\n");
}

void dead_engine(controller& c) {
    // engine-2 dies on task 1000: the controller re-sends it to a live engine.
    const buffer ones = buffer::take(std::vector<double>(1000, 1.0));
    c.send_to(c.engine_named("engine-2"), make_task(c.s, 1000, "sum", ones));
    auto reply = c.next(std::chrono::milliseconds(500));
    if (reply) throw std::runtime_error("the dying engine answered");
    std::printf("  task 1000 on engine-2: no reply within 500 ms, engine-2 presumed dead\n");
    c.send_to(c.engine_named("engine-1"), make_task(c.s, 1000, "sum", ones));
    reply = c.next(std::chrono::seconds(5));
    if (!reply) throw std::runtime_error("task 1000 lost");
    const auto r = reply->content_as<result>();
    std::printf("  task %d re-sent and completed by %s: sum = %.0f\n", r.id, r.engine.c_str(),
                r.sum);
}

}  // namespace

int main(int argc, char** argv) {
    std::setvbuf(stdout, nullptr, _IOLBF, 0);
    // --tune-malloc: large received frames from reused heap memory instead of fresh pages
    // (zsession/large_messages.hpp); must run before the context starts its I/O thread.
    if (argc > 1 && std::string_view(argv[1]) == "--tune-malloc") {
        std::printf("malloc tuned for large messages: %s\n",
                    tune_malloc_for_large_messages() ? "yes" : "refused");
    }
    zmq::context_t ctx;
    std::vector<std::thread> engines;
    int status = 0;
    try {
        controller c(ctx);
        std::printf(
            "zsession demo: controller on %s, HMAC-SHA256 signed, msgpack, "
            "copy_threshold %zu bytes\n",
            c.endpoint().c_str(), c.s.options().copy_threshold);
        std::printf("1. registration\n");
        engines.emplace_back(run_engine, std::ref(ctx), c.endpoint(), "engine-1", -1);
        engines.emplace_back(run_engine, std::ref(ctx), c.endpoint(), "engine-2", 1000);
        register_engines(c, 2);
        std::printf("2. control messages\n");
        control_round_trips(c);
        std::printf(
            "3. array tasks: <f8 ndarray placeholders, resolved and echoed by the engine\n");
        array_tasks(c);
        std::printf("4. a forged message (wrong key)\n");
        forged_message(c);
        std::printf("5. an engine dies holding a task\n");
        dead_engine(c);
        c.send_to(c.engine_named("engine-1"), c.s.make_message("shutdown_request"));
        std::printf("done\n");
    } catch (const std::exception& e) {
        std::fprintf(stderr, "demo failed: %s\n", e.what());
        status = 1;
        ctx.shutdown();  // wakes engines blocked in recv with ETERM
    }
    for (auto& t : engines) t.join();
    return status;
}
