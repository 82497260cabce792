// Soak: many messages with buffers through a signed session pair, the process's RSS sampled.
//
//   soak [--messages N=1000000] [--transport tcp|ipc|inproc] [--buffer-bytes B=20000]
//        [--samples S=20] [--no-flat-check]
//
// A sender thread sends N messages, each with a small struct content and three values
// offloaded as placeholders: a copied 256-byte buffer, a B-byte buffer sent zero-copy (a
// fresh one per message, so libzmq's free callback runs on its I/O thread), and every 8th
// message an lz4-compressed array. The receiver (main thread) decodes, verifies, resolves
// every placeholder and checks the values. RSS (/proc/self/statm) is printed S times as
// "sample <messages> <rss KiB>". Flat: the largest sample of the last quarter is at most 5 %
// (and at least 4 MiB of slack) above the largest of the first quarter; otherwise exit 1.
// Run under an ASan build, LeakSanitizer reports anything still allocated at exit.
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

#include "support.hpp"

using namespace zsession;

namespace {

struct soak_content {
    std::uint64_t seq = 0;
    std::string note;
    placeholder small;
    placeholder large;
    inline_or_offloaded<std::vector<double>> series;
    MSGPACK_DEFINE_MAP(seq, note, small, large, series)
};

struct config {
    std::uint64_t messages = 1'000'000;
    std::string transport = "tcp";
    std::size_t buffer_bytes = 20'000;
    std::size_t samples = 20;
    bool flat_check = true;
};

std::size_t rss_kib() {
    std::ifstream statm("/proc/self/statm");
    std::size_t pages = 0, resident = 0;
    statm >> pages >> resident;
    return resident * static_cast<std::size_t>(::sysconf(_SC_PAGESIZE)) / 1024;
}

config parse(int argc, char** argv) {
    config c;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto next = [&] {
            if (i + 1 >= argc) throw usage_error(a + " needs a value");
            return std::string(argv[++i]);
        };
        if (a == "--messages")
            c.messages = std::stoull(next());
        else if (a == "--transport")
            c.transport = next();
        else if (a == "--buffer-bytes")
            c.buffer_bytes = std::stoull(next());
        else if (a == "--samples")
            c.samples = std::stoull(next());
        else if (a == "--no-flat-check")
            c.flat_check = false;
        else
            throw usage_error("unknown argument " + a);
    }
    return c;
}

void send_all(const session& s, zmq::socket_t& sock, const config& c) {
    const registry& reg = *s.options().handlers;
    offload_options packed;
    packed.compression.policy = compression_policy::always;
    packed.inline_threshold = 0;
    for (std::uint64_t i = 0; i < c.messages; ++i) {
        message m = s.make_message("soak");
        std::string large(c.buffer_bytes, static_cast<char>(i));
        std::memcpy(large.data(), &i, std::min(sizeof i, large.size()));
        std::vector<double> series(i % 8 == 0 ? 4096 : 4, static_cast<double>(i));
        soak_content content{
            i, "message " + std::to_string(i), offload(m, buffer::take(std::string(256, 's')), reg),
            offload(m, buffer::take(std::move(large)), reg),
            inline_or_offloaded<std::vector<double>>::make(
                m, std::move(series), reg, i % 8 == 0 ? packed : offload_options{})};
        m.set_content(content);
        s.send(sock, m);
    }
}

bool check(const session& s, const message& m, std::uint64_t expected, std::size_t bytes) {
    const auto c = m.content_as<soak_content>();
    resolver r(s, m);
    const buffer large = r.resolve<buffer>(c.large);
    std::uint64_t seq = 0;
    std::memcpy(&seq, large.data(), std::min(sizeof seq, large.size()));
    const std::vector<double> series = r.get(c.series);
    return c.seq == expected && r.resolve<buffer>(c.small).size() == 256 && large.size() == bytes &&
           (bytes < sizeof seq || seq == expected) &&
           series.size() == (expected % 8 == 0 ? 4096u : 4u) &&
           series.back() == static_cast<double>(expected) && r.claimed() == m.buffers.size();
}

}  // namespace

int main(int argc, char** argv) try {
    const config c = parse(argc, argv);
    zmq::context_t ctx;
    // High-water marks of 100 messages each way: the messages in flight (queued by libzmq
    // between the threads) are then a few MiB, so RSS measures the session layer and not
    // how far the sender happened to run ahead.
    zmq::socket_t a(ctx, zmq::socket_type::pair), b(ctx, zmq::socket_type::pair);
    for (zmq::socket_t* sock : {&a, &b}) {
        sock->set(zmq::sockopt::linger, 0);
        sock->set(zmq::sockopt::sndhwm, 100);
        sock->set(zmq::sockopt::rcvhwm, 100);
    }
    const std::string tag = std::to_string(::getpid());
    a.bind(c.transport == "tcp"   ? "tcp://127.0.0.1:*"
           : c.transport == "ipc" ? "ipc:///tmp/zsession-soak-" + tag
                                  : "inproc://zsession-soak");
    b.connect(a.get(zmq::sockopt::last_endpoint));
    struct {
        zmq::socket_t &a, &b;
    } pair{a, b};
    const session_options o{.key = "soak-key"};
    const session sender(o), receiver(o);
    std::thread t([&] { send_all(sender, pair.a, c); });
    const std::uint64_t every =
        std::max<std::uint64_t>(c.messages / std::max<std::size_t>(c.samples, 1), 1);
    std::vector<std::size_t> samples;
    const auto start = std::chrono::steady_clock::now();
    std::uint64_t bad = 0;
    for (std::uint64_t i = 0; i < c.messages; ++i) {
        const std::optional<message> m = receiver.recv(pair.b);
        if (!m || !check(receiver, *m, i, c.buffer_bytes)) ++bad;
        if ((i + 1) % every == 0) {
            samples.push_back(rss_kib());
            std::printf("sample %llu %zu\n", static_cast<unsigned long long>(i + 1),
                        samples.back());
            std::fflush(stdout);
        }
    }
    t.join();
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("messages %llu bad %llu seconds %.1f rate %.0f/s transport %s buffer %zu\n",
                static_cast<unsigned long long>(c.messages), static_cast<unsigned long long>(bad),
                seconds, static_cast<double>(c.messages) / seconds, c.transport.c_str(),
                c.buffer_bytes);
    if (bad) return 1;
    if (samples.size() >= 4) {
        const std::size_t q = samples.size() / 4;
        const std::size_t first = *std::max_element(samples.begin(), samples.begin() + q);
        const std::size_t last = *std::max_element(samples.end() - q, samples.end());
        const bool flat = last <= std::max(first + first / 20, first + 4096);
        std::printf("rss first-quarter max %zu KiB, last-quarter max %zu KiB: %s\n", first, last,
                    flat ? "flat" : "GROWING");
        if (c.flat_check && !flat) return 1;
    }
    return 0;
} catch (const std::exception& e) {
    std::fprintf(stderr, "soak: %s\n", e.what());
    return 2;
}
