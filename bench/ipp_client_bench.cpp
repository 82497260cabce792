// ipp_client_bench: array round trips (send an array, receive it back) to an ipyparallel
// engine through the controller (the comm) and over the direct path, in the same run, with
// the raw cppzmq floor moving the same bytes.
//
//   cluster.py --engines 1 [--cxx-engine zcalc-ipengine] -- ipp_client_bench [--quick]
//       [--min-bytes N] [--max-bytes N] [--json] [--no-malloc-tuning]
//
// Paths, per size (1 KiB .. 256 MiB by default; --min-bytes/--max-bytes restrict it, e.g.
// both 67108864 for 64 MiB alone):
//   controller   comm_msg through ipcontroller's mux and iopub to the Python engine (helper)
//   direct-py    array_request on the Python engine's direct endpoint (helper thread)
//   direct-cpp   array_request on a direct_server in this process (what a C++ engine embeds),
//                over tcp://127.0.0.1
//   direct-engine  array_request on a C++ engine's direct endpoint (zcalc-ipengine, another
//                process), when the cluster has one (found by its kernel_info "zsession")
//   raw          cppzmq DEALER -> ROUTER echo of one frame of the same bytes over tcp (floor)
// Under cluster.py --curve the direct paths speak CurveZMQ (encrypted); raw stays plain.
// Unless --no-malloc-tuning, this process first calls tune_malloc_for_large_messages() (as
// zcalc-ipengine does): large received frames then reuse heap blocks instead of a fresh mmap
// each, for every path measured here alike (include/zsession/large_messages.hpp).
// Each line: median round trip, GB/s counting both directions (2 x bytes / time), and the
// ratio to the controller path and to raw.
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <numeric>
#include <string>
#include <thread>
#include <vector>

#include <zmq.hpp>

#include "zsession/ipp/client.hpp"
#include "zsession/ipp/client_arrays.hpp"
#include "zsession/large_messages.hpp"

using namespace zsession;
using namespace zsession::ipp;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

namespace {

struct options {
    bool quick = false, json = false, malloc_tuning = true;
    std::size_t min_bytes = 1024, max_bytes = std::size_t{256} << 20;
    std::string profile;
};

options parse(int argc, char** argv) {
    options o;
    if (const char* p = std::getenv("ZSESSION_IPP_PROFILE")) o.profile = p;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--quick")
            o.quick = true;
        else if (a == "--json")
            o.json = true;
        else if (a == "--max-bytes" && i + 1 < argc)
            o.max_bytes = std::stoull(argv[++i]);
        else if (a == "--min-bytes" && i + 1 < argc)
            o.min_bytes = std::stoull(argv[++i]);
        else if (a == "--no-malloc-tuning")
            o.malloc_tuning = false;
        else if (a == "--profile" && i + 1 < argc)
            o.profile = argv[++i];
        else {
            std::cerr << "usage: ipp_client_bench [--quick] [--json] [--min-bytes N] "
                         "[--max-bytes N] [--no-malloc-tuning] [--profile DIR]\n";
            std::exit(2);
        }
    }
    if (o.quick) o.max_bytes = std::min<std::size_t>(o.max_bytes, 1 << 20);
    if (o.profile.empty()) {
        std::cerr << "ipp_client_bench: no cluster (run under tests/ipp_client/cluster.py)\n";
        std::exit(2);
    }
    return o;
}

/// Repetitions per size: enough for a median, bounded in bytes moved.
int repeats_for(std::size_t bytes, bool quick) {
    if (quick) return 3;
    if (bytes >= (std::size_t{64} << 20)) return 3;
    if (bytes >= (std::size_t{4} << 20)) return 7;
    return 21;
}

double median_ms(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

template <class F>
double time_median(int repeats, F&& once) {
    once();  // warm-up (connections, first-touch of pages)
    std::vector<double> samples;
    for (int i = 0; i < repeats; ++i) {
        const auto t0 = clock_type::now();
        once();
        samples.push_back(
            std::chrono::duration<double, std::milli>(clock_type::now() - t0).count());
    }
    return median_ms(std::move(samples));
}

/// The raw floor: a ROUTER thread that sends every message back as it came.
class raw_echo {
  public:
    explicit raw_echo(zmq::context_t& ctx) : router_(ctx, zmq::socket_type::router) {
        router_.set(zmq::sockopt::linger, 0);
        router_.bind("tcp://127.0.0.1:*");
        endpoint_ = router_.get(zmq::sockopt::last_endpoint);
        thread_ = std::thread([this] { run(); });
    }
    ~raw_echo() {
        stop_ = true;
        thread_.join();
    }
    const std::string& endpoint() const { return endpoint_; }

  private:
    void run() {
        zmq::pollitem_t item{router_.handle(), 0, ZMQ_POLLIN, 0};
        while (!stop_) {
            if (zmq::poll(&item, 1, 100ms) == 0) continue;
            std::vector<zmq::message_t> parts;
            for (;;) {
                zmq::message_t m;
                (void)router_.recv(m);
                const bool more = m.more();
                parts.push_back(std::move(m));
                if (!more) break;
            }
            for (std::size_t i = 0; i < parts.size(); ++i) {
                router_.send(parts[i], i + 1 < parts.size() ? zmq::send_flags::sndmore
                                                            : zmq::send_flags::none);
            }
        }
    }
    zmq::socket_t router_;
    std::string endpoint_;
    std::atomic<bool> stop_{false};
    std::thread thread_;
};

void emit(const options& o, const std::string& path, std::size_t bytes, double ms,
          double controller_ms, double raw_ms) {
    const double gbps = 2.0 * static_cast<double>(bytes) / (ms * 1e-3) / 1e9;
    if (o.json) {
        std::cout << "{\"bench\":\"ipp_client\",\"path\":\"" << path << "\",\"bytes\":" << bytes
                  << ",\"median_ms\":" << ms << ",\"gb_per_s\":" << gbps
                  << ",\"speedup_vs_controller\":" << controller_ms / ms
                  << ",\"ratio_to_raw\":" << raw_ms / ms << "}" << std::endl;
    } else {
        std::printf("%-13s %11zu B  %10.3f ms  %7.3f GB/s  x%-7.2f vs controller  %.2f of raw\n",
                    path.c_str(), bytes, ms, gbps, controller_ms / ms, raw_ms / ms);
        std::fflush(stdout);
    }
}

}  // namespace

int main(int argc, char** argv) {
    const auto o = parse(argc, argv);
    if (o.malloc_tuning && !tune_malloc_for_large_messages()) {
        std::cerr << "ipp_client_bench: mallopt refused\n";
    }
    client c(client_connection_info::from_profile(o.profile, "", 10s));
    if (!c.wait_for_engines(1, 30s)) {
        std::cerr << "ipp_client_bench: no engine\n";
        return 2;
    }
    array_client arrays(c, 0);  // echo() always takes the direct path
    // The Python engine: the first one advertising no direct endpoint; a C++ engine
    // advertises one in kernel_info.
    int engine = -1, cxx_engine = -1;
    for (const auto& e : c.engines()) {
        if (!arrays.discover_direct(e.id, 30s).empty()) {
            if (cxx_engine < 0) cxx_engine = e.id;
        } else if (engine < 0) {
            engine = e.id;
        }
    }
    if (engine < 0) {
        std::cerr << "ipp_client_bench: no Python engine\n";
        return 2;
    }
    arrays.install({engine}, true, 60s);  // direct-py: arrays.echo to it (threshold 0)

    // In a CurveZMQ cluster (cluster.py --curve) every direct path speaks CurveZMQ, as the
    // engines' endpoints do; the raw floor stays plain.
    const bool curve = !c.connection().curve_serverkey.empty();
    auto opts = c.session().options();
    opts.session_id.clear();
    direct_server cpp_server(
        opts, [](const array_request& r) { return array_reply{.status = "ok", .array = r.array}; },
        "tcp://127.0.0.1:*", curve ? std::optional(make_curve_keypair()) : std::nullopt);
    direct_channel cpp_direct(cpp_server.endpoint(), opts, cpp_server.curve_public_key());

    zmq::context_t ctx;
    raw_echo echo(ctx);
    zmq::socket_t dealer(ctx, zmq::socket_type::dealer);
    dealer.set(zmq::sockopt::linger, 0);
    dealer.connect(echo.endpoint());

    const auto timeout = std::chrono::milliseconds(120000);
    for (std::size_t bytes = 1024; bytes <= o.max_bytes; bytes *= (o.quick ? 32 : 4)) {
        if (bytes < o.min_bytes) continue;
        std::vector<std::uint8_t> v(bytes);
        std::iota(v.begin(), v.end(), std::uint8_t{0});
        const auto a = ndarray::from(std::span<const std::uint8_t>(v));
        const int n = repeats_for(bytes, o.quick);
        const array_request req{.op = "echo", .array = a.view()};
        auto check = [&](const array_reply& r) {
            if (!r.ok() || !r.array || r.array->nbytes() != bytes) {
                std::cerr << "ipp_client_bench: bad echo: " << r.ename << " " << r.evalue << "\n";
                std::exit(1);
            }
        };
        const double ctl =
            time_median(n, [&] { check(arrays.request_via_controller(engine, req, timeout)); });
        const double dpy = time_median(n, [&] { check(arrays.echo(engine, a.view(), timeout)); });
        const double dcpp = time_median(n, [&] { check(cpp_direct.request(req, timeout)); });
        const double deng = cxx_engine < 0 ? 0 : time_median(n, [&] {
            check(arrays.echo(cxx_engine, a.view(), timeout));
        });
        const double raw = time_median(n, [&] {
            // Zero-copy with a real keepalive: libzmq drops the pin when it is done.
            auto* pin = new std::shared_ptr<const void>(a.view().bytes().keepalive());
            zmq::message_t out(
                const_cast<std::byte*>(a.data()), bytes,
                [](void*, void* hint) { delete static_cast<std::shared_ptr<const void>*>(hint); },
                pin);
            dealer.send(out, zmq::send_flags::none);
            zmq::message_t back;
            (void)dealer.recv(back);
        });
        emit(o, "controller", bytes, ctl, ctl, raw);
        emit(o, "direct-py", bytes, dpy, ctl, raw);
        emit(o, "direct-cpp", bytes, dcpp, ctl, raw);
        if (cxx_engine >= 0) emit(o, "direct-engine", bytes, deng, ctl, raw);
        emit(o, "raw", bytes, raw, ctl, raw);
    }
    return 0;
}
