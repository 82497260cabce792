#include "common.hpp"

#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <sstream>
#include <system_error>

#include <nlohmann/json.hpp>
#include <zmq_addon.hpp>

namespace bench {

namespace {

[[noreturn]] void usage(const char* prog, std::string_view extra, int status) {
    std::fprintf(stderr,
                 "usage: %s [--json] [--quick] [--pin|--no-pin] [--cpu N]\n"
                 "          [--transports inproc,ipc,tcp] [--max-bytes N] [--repeats N]\n"
                 "          [--packer msgpack|json]\n%.*s",
                 prog, static_cast<int>(extra.size()), extra.data());
    std::exit(status);
}

std::vector<std::string> split(const std::string& list) {
    std::vector<std::string> out;
    std::stringstream in(list);
    for (std::string item; std::getline(in, item, ',');) {
        if (item != "inproc" && item != "ipc" && item != "tcp") {
            throw zsession::usage_error("unknown transport " + item);
        }
        out.push_back(item);
    }
    return out;
}

}  // namespace

options parse_options(int argc, char** argv, std::string_view usage_extra, bool pin_default) {
    options o;
    o.pin = pin_default;
    for (int i = 1; i < argc; ++i) {
        const std::string_view a = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) usage(argv[0], usage_extra, 2);
            return argv[++i];
        };
        if (a == "--json")
            o.json = true;
        else if (a == "--quick")
            o.quick = true;
        else if (a == "--pin")
            o.pin = true;
        else if (a == "--no-pin")
            o.pin = false;
        else if (a == "--cpu")
            o.cpu = std::stoi(value());
        else if (a == "--transports")
            o.transports = split(value());
        else if (a == "--max-bytes")
            o.max_bytes = std::stoull(value());
        else if (a == "--repeats")
            o.repeats = static_cast<unsigned>(std::stoul(value()));
        else if (a == "--packer") {
            const std::string p = value();
            if (p == "msgpack")
                o.packer = zsession::packer_kind::msgpack;
            else if (p == "json")
                o.packer = zsession::packer_kind::json;
            else
                usage(argv[0], usage_extra, 2);
        } else if (a == "--help" || a == "-h")
            usage(argv[0], usage_extra, 0);
        else
            usage(argv[0], usage_extra, 2);
    }
    return o;
}

options start(int argc, char** argv, bool pin_default, std::string_view usage_extra) {
    options o = parse_options(argc, argv, usage_extra, pin_default);
    if (o.pin) pin_process(o.cpu);
    return o;
}

record rate_record(std::string bench, std::string transport, std::string mode, std::string impl,
                   std::size_t bytes, double msgs_per_s) {
    record r{std::move(bench), std::move(transport), std::move(mode), std::move(impl)};
    r.bytes = bytes;
    r.msgs_per_s = msgs_per_s;
    r.gb_per_s = msgs_per_s * static_cast<double>(bytes) / 1e9;
    return r;
}

void pin_process(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (const int rc = pthread_setaffinity_np(pthread_self(), sizeof set, &set); rc != 0) {
        throw std::system_error(rc, std::generic_category(), "pthread_setaffinity_np");
    }
}

percentiles summarize(std::vector<double>& samples) {
    if (samples.empty()) return {};
    auto rank = [&](double q) {
        const auto k = static_cast<std::size_t>(std::ceil(q * samples.size())) - 1;
        const auto at =
            samples.begin() + static_cast<std::ptrdiff_t>(std::min(k, samples.size() - 1));
        std::nth_element(samples.begin(), at, samples.end());
        return *at;
    };
    return {rank(0.5), rank(0.99)};
}

void emit(const options& o, const record& r) {
    if (o.json) {
        auto opt = [](const std::optional<double>& v) {
            return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
        };
        nlohmann::ordered_json j;
        j["bench"] = r.bench;
        j["transport"] = r.transport;
        j["mode"] = r.mode;
        j["impl"] = r.impl;
        j["bytes"] = r.bytes;
        j["msgs_per_s"] = opt(r.msgs_per_s);
        j["gb_per_s"] = opt(r.gb_per_s);
        j["median_us"] = opt(r.median_us);
        j["p99_us"] = opt(r.p99_us);
        j["baseline_ratio"] = opt(r.baseline_ratio);
        j["messages"] = r.messages;
        j["pinned"] = o.pin;
        j["packer"] = packer_name(o.packer);
        if (r.allocs_per_msg) j["allocs_per_msg"] = *r.allocs_per_msg;
        std::cout << j.dump() << '\n' << std::flush;
        return;
    }
    char line[256];
    auto num = [](const std::optional<double>& v) { return v ? *v : std::nan(""); };
    std::snprintf(line, sizeof line,
                  "%-10s %-6s %-10s %-8s %9s  %12.0f msg/s %8.3f GB/s  med %8.2f us  "
                  "p99 %8.2f us  x%.3f",
                  r.bench.c_str(), r.transport.c_str(), r.mode.c_str(), r.impl.c_str(),
                  human_bytes(r.bytes).c_str(), num(r.msgs_per_s), num(r.gb_per_s),
                  num(r.median_us), num(r.p99_us), num(r.baseline_ratio));
    std::cout << line << "  " << packer_name(o.packer);
    if (r.allocs_per_msg) std::cout << "  allocs " << *r.allocs_per_msg;
    std::cout << '\n' << std::flush;
}

void progress(const options& o, const std::string& line) {
    (o.json ? std::cerr : std::cout) << line << '\n' << std::flush;
}

std::string_view packer_name(zsession::packer_kind packer) {
    return packer == zsession::packer_kind::json ? "json" : "msgpack";
}

zsession::session make_session(std::size_t copy_threshold, zsession::packer_kind packer) {
    zsession::session_options so;
    so.packer = packer;
    so.key = std::string(key);
    so.username = "bench";
    so.copy_threshold = copy_threshold;
    return zsession::session(so);
}

namespace {

struct small_request {
    std::string code = "result = engine.apply(task_id=1234, args=[1, 2, 3])";
    bool silent = false;
    bool store_history = true;
    bool allow_stdin = false;
    std::map<std::string, std::string> user_expressions;
    MSGPACK_DEFINE_MAP(code, silent, store_history, allow_stdin, user_expressions)
};

}  // namespace

const msgpack::object& request_content() {
    static msgpack::zone zone;
    static const msgpack::object content(small_request{}, zone);
    return content;
}

payload::payload(std::size_t bytes) {
    auto v = std::make_shared<std::vector<std::byte>>(bytes);
    for (std::size_t i = 0; i < bytes; i += 4096) (*v)[i] = std::byte(i >> 12);  // touch pages
    bytes_ = {v->data(), v->size()};
    owner_ = std::move(v);
}

raw_message::raw_message(const zsession::session& s, const zsession::message& m) {
    const zsession::frames f = s.encode(m);
    const std::size_t n = f.size() - m.buffers.size();
    for (std::size_t i = 0; i < n; ++i) parts_.emplace_back(f[i].to_string_view());
}

namespace {

void release_pin(void* /*data*/, void* hint) noexcept {
    delete static_cast<std::shared_ptr<const void>*>(hint);
}

}  // namespace

void raw_message::build_into(zsession::frames& out, const zsession::buffer* buf,
                             zsession::send_mode mode) const {
    for (const auto& p : parts_) out.emplace_back(p.data(), p.size());
    if (buf == nullptr) return;
    if (mode == zsession::send_mode::copy) {
        out.emplace_back(buf->data(), buf->size());
        return;
    }
    auto pin = std::make_unique<std::shared_ptr<const void>>(buf->keepalive());
    out.emplace_back(const_cast<std::byte*>(buf->data()), buf->size(), &release_pin, pin.get());
    (void)pin.release();  // owned by the frame now
}

void raw_message::send(zmq::socket_ref sock, const zsession::buffer* buf,
                       zsession::send_mode mode) const {
    thread_local zsession::frames out;
    out.clear();
    build_into(out, buf, mode);
    (void)zmq::send_multipart(sock, out);  // blocking: always sends the whole message
    out.clear();
}

std::size_t raw_recv(zmq::socket_ref sock) {
    std::size_t n = 0;
    zmq::message_t f;
    do {
        (void)sock.recv(f, zmq::recv_flags::none);
        ++n;
    } while (f.more());
    return n;
}

void raw_send_end(zmq::socket_ref sock) {
    zmq::message_t f(std::string_view("end"));
    sock.send(f, zmq::send_flags::none);
}

std::string human_bytes(std::size_t bytes) {
    static constexpr const char* units[] = {"B", "KiB", "MiB", "GiB"};
    double v = static_cast<double>(bytes);
    int u = 0;
    while (v >= 1024 && u < 3) {
        v /= 1024;
        ++u;
    }
    char text[32];
    std::snprintf(text, sizeof text, v == std::floor(v) ? "%.0f %s" : "%.1f %s", v, units[u]);
    return text;
}

}  // namespace bench
