// bench/large_bench.cpp - one-way streams of large messages (32 MiB-1 GiB) over ipc and tcp:
// the raw single-frame zero-copy cppzmq baseline next to the designs that could receive
// faster (docs/PERFORMANCE.md, "Large messages").
//
// Each measurement runs in a fresh child process (this executable re-run with --child), so
// designs that change process-wide allocator state (mallopt, GLIBC_TUNABLES) are measured
// under the same conditions as the others. The parent runs every design once per repeat, in
// a rotating order, and reports the median of the repeats and its ratio to the raw baseline's
// median of the same run. The child also reports the minor page faults per message.
//
// Designs (the sender always sends zero-copy from one payload it keeps, pinned per message):
//   raw            one frame; the receiver takes libzmq's frame (malloc'd by libzmq: a fresh
//                  mmap for >= 32 MiB, glibc's largest dynamic mmap threshold)
//   raw_thp        raw with GLIBC_TUNABLES=glibc.malloc.hugetlb=1 (malloc madvises THP)
//   raw_malloc     raw with mallopt(M_MMAP_MAX=0, M_ARENA_MAX=1, M_TRIM_THRESHOLD=max): large
//                  blocks come from the brk heap and are reused instead of mmap'd
//   chunk_views    split into frames of --chunk bytes, kept as frames (not contiguous: the
//                  best any splitting design can do)
//   chunk_fresh    split, copied into a fresh contiguous destination per message
//   chunk_fresh_thp  the same, destination mmap'd with MADV_HUGEPAGE
//   chunk_late_thp split, received whole, then copied into a fresh MADV_HUGEPAGE destination
//                  (what a decoder reassembling after the whole message arrived does)
//   chunk_pool     split, copied into a destination reused across messages (a pool, or a
//                  caller-supplied destination)
//   session        zsession::session send/recv of a message with the buffer (library default)
//   session_malloc session after zsession::tune_malloc_for_large_messages() (the same mallopt
//                  settings as raw_malloc, through the library)
//
//   large_bench [--json] [--quick] [--transports ipc,tcp] [--max-bytes N] [--repeats N]
//               [--designs a,b,...] [--chunk N] [--budget BYTES] [--sizes a,b,...]
// --json lines: bench "large", transport, mode (the design), impl (raw/design/session),
// packer, bytes, chunk_bytes, msgs_per_s, gb_per_s (medians), baseline_ratio (to raw),
// faults_per_msg (median), repeats, messages (measured per run).
#include <spawn.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <malloc.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common.hpp"

extern char** environ;

namespace {

using clock_type = std::chrono::steady_clock;

struct config {
    bool json = false, quick = false;
    std::vector<std::string> transports = {"ipc", "tcp"};
    std::vector<std::string> designs = {
        "raw",         "raw_thp",         "raw_malloc",     "chunk_views",
        "chunk_fresh", "chunk_fresh_thp", "chunk_late_thp", "chunk_pool",
        "session",     "session_malloc"};
    std::size_t min_bytes = std::size_t{32} << 20;
    std::size_t max_bytes = std::size_t{1} << 30;
    std::size_t chunk = std::size_t{1} << 20;
    std::size_t budget = std::size_t{2} << 30;  ///< bytes streamed per measurement
    unsigned repeats = 3;
    std::vector<std::size_t> sizes;  ///< --sizes: explicit list instead of the doubling sweep
};

std::vector<std::string> split_list(const std::string& s) {
    std::vector<std::string> out;
    std::stringstream in(s);
    for (std::string item; std::getline(in, item, ',');) out.push_back(item);
    return out;
}

long minflt() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return u.ru_minflt;
}

void release_pin(void*, void* hint) noexcept {
    delete static_cast<std::shared_ptr<const void>*>(hint);
}

/// A zero-copy frame over [p, p+n) that pins `owner` until libzmq is done with it.
zmq::message_t pinned_frame(const std::shared_ptr<const void>& owner, const std::byte* p,
                            std::size_t n) {
    auto pin = std::make_unique<std::shared_ptr<const void>>(owner);
    zmq::message_t f(const_cast<std::byte*>(p), n, &release_pin, pin.get());
    (void)pin.release();
    return f;
}

/// Fresh destination with MADV_HUGEPAGE, unmapped by its deleter.
struct mmap_block {
    void* p = nullptr;
    std::size_t n = 0;
    explicit mmap_block(std::size_t bytes) : n(bytes) {
        p = mmap(nullptr, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) throw std::bad_alloc();
        madvise(p, n, MADV_HUGEPAGE);
    }
    ~mmap_block() { munmap(p, n); }
    std::byte* data() { return static_cast<std::byte*>(p); }
};

/// The child: one measurement of `design`, printed as "gb_per_s faults_per_message".
int run_child(const std::string& design, const std::string& transport, std::size_t bytes,
              std::size_t chunk, std::uint64_t messages) {
    if (design == "raw_malloc" || design == "session_malloc") {
        // Refused under sanitizers (their allocator ignores mallopt): measured untuned.
        if (!zsession::tune_malloc_for_large_messages()) std::fputs("mallopt refused\n", stderr);
    }
    // The payload the sender keeps and sends zero-copy (pages touched once).
    auto payload = std::make_shared<std::vector<std::byte>>(bytes);
    for (std::size_t i = 0; i < bytes; i += 4096) (*payload)[i] = std::byte(i >> 12);
    const std::shared_ptr<const void> owner = payload;
    const std::byte* data = payload->data();

    zmq::context_t ctx;
    zsession::detail::loopback_pair pair(ctx, transport, 2);
    const bool chunked = design.rfind("chunk", 0) == 0;
    const bool use_session = design == "session" || design == "session_malloc";
    const zsession::session s = bench::make_session(zsession::default_copy_threshold);

    std::vector<std::byte> pool;  // chunk_pool's reused destination
    if (design == "chunk_pool") {
        pool.resize(bytes);
        std::memset(pool.data(), 0, bytes);
    }
    auto send_one = [&](zmq::socket_ref sock) {
        if (use_session) {
            zsession::message m = s.make_message("data");
            m.buffers.push_back(zsession::buffer({data, bytes}, owner));
            s.send(sock, m);
            return;
        }
        if (!chunked) {
            zmq::message_t f = pinned_frame(owner, data, bytes);
            sock.send(f, zmq::send_flags::none);
            return;
        }
        for (std::size_t at = 0; at < bytes; at += chunk) {
            const std::size_t n = std::min(chunk, bytes - at);
            zmq::message_t f = pinned_frame(owner, data + at, n);
            sock.send(f, at + n < bytes ? zmq::send_flags::sndmore : zmq::send_flags::none);
        }
    };
    auto send_end = [&](zmq::socket_ref sock) {
        if (use_session) {
            s.send(sock, s.make_message("end"));
        } else {
            bench::raw_send_end(sock);
        }
    };
    std::vector<zmq::message_t> parts;
    auto recv_one = [&](zmq::socket_ref sock) {
        if (use_session) {
            std::optional<zsession::message> m = s.recv(sock);
            return !m->buffers.empty();
        }
        zmq::message_t f;
        (void)sock.recv(f, zmq::recv_flags::none);
        if (f.size() == 3 && !f.more()) return false;  // the terminator
        if (!chunked) return true;                     // raw*: dropped as received
        std::unique_ptr<mmap_block> fresh_thp;
        std::unique_ptr<std::byte[]> fresh;
        std::byte* dst = nullptr;
        if (design == "chunk_fresh") {
            fresh.reset(new std::byte[bytes]);
            dst = fresh.get();
        } else if (design == "chunk_fresh_thp") {
            fresh_thp = std::make_unique<mmap_block>(bytes);
            dst = fresh_thp->data();
        } else if (design == "chunk_pool") {
            dst = pool.data();
        }
        const bool late = design == "chunk_late_thp";
        std::size_t at = 0;
        parts.clear();
        for (;;) {
            if (dst) std::memcpy(dst + at, f.data(), f.size());
            at += f.size();
            const bool more = f.more();
            if (design == "chunk_views" || late) parts.push_back(std::move(f));
            if (!more) break;
            f = zmq::message_t();
            (void)sock.recv(f, zmq::recv_flags::none);
        }
        if (at != bytes) throw std::runtime_error("short message");
        if (late) {  // reassembled after the whole message arrived, as a decoder would
            mmap_block whole(bytes);
            std::size_t pos = 0;
            for (const auto& part : parts) {
                std::memcpy(whole.data() + pos, part.data(), part.size());
                pos += part.size();
            }
        }
        parts.clear();
        return true;
    };
    // Warm-up: connection, allocator, pool.
    zsession::detail::measure_stream(pair, std::chrono::nanoseconds(0), 2, 2, send_one, send_end,
                                     recv_one);
    const long f0 = minflt();
    const auto r = zsession::detail::measure_stream(pair, std::chrono::hours(1), messages, messages,
                                                    send_one, send_end, recv_one);
    const long f1 = minflt();
    std::printf("%.6f %.1f\n", r.msgs_per_s() * double(bytes) / 1e9,
                double(f1 - f0) / double(messages));
    return 0;
}

struct child_result {
    double gb_per_s = 0, faults = 0;
};

/// Runs one measurement in a child process; throws when the child fails.
child_result spawn_child(const std::string& design, const std::string& transport, std::size_t bytes,
                         const config& c) {
    const std::uint64_t messages = std::max<std::uint64_t>(2, c.budget / bytes);
    std::vector<std::string> args = {"/proc/self/exe",
                                     "--child",
                                     design,
                                     transport,
                                     std::to_string(bytes),
                                     std::to_string(c.chunk),
                                     std::to_string(messages)};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::vector<std::string> env_s;
    for (char** e = environ; *e; ++e) {
        if (std::strncmp(*e, "GLIBC_TUNABLES=", 15) != 0) env_s.emplace_back(*e);
    }
    if (design == "raw_thp") env_s.emplace_back("GLIBC_TUNABLES=glibc.malloc.hugetlb=1");
    std::vector<char*> envp;
    for (auto& e : env_s) envp.push_back(e.data());
    envp.push_back(nullptr);

    int out[2];
    if (pipe(out) != 0) throw std::runtime_error("pipe");
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_addclose(&fa, out[0]);
    pid_t pid = 0;
    const int rc = posix_spawn(&pid, "/proc/self/exe", &fa, nullptr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&fa);
    close(out[1]);
    if (rc != 0) {
        close(out[0]);
        throw std::runtime_error("posix_spawn failed");
    }
    std::string text;
    char buf[256];
    for (ssize_t n; (n = read(out[0], buf, sizeof buf)) > 0;) text.append(buf, std::size_t(n));
    close(out[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    child_result r;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 ||
        std::sscanf(text.c_str(), "%lf %lf", &r.gb_per_s, &r.faults) != 2) {
        throw std::runtime_error("child failed: " + design + " " + transport + " " +
                                 std::to_string(bytes));
    }
    return r;
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    const std::size_t n = v.size();
    return n == 0 ? 0 : (n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2);
}

}  // namespace

int main(int argc, char** argv) {
    if (argc >= 2 && std::strcmp(argv[1], "--child") == 0) {
        if (argc != 7) return 2;
        return run_child(argv[2], argv[3], std::stoull(argv[4]), std::stoull(argv[5]),
                         std::stoull(argv[6]));
    }
    config c;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) throw std::invalid_argument("missing value after " + a);
            return argv[++i];
        };
        if (a == "--json") {
            c.json = true;
        } else if (a == "--quick") {
            c.quick = true;
        } else if (a == "--transports") {
            c.transports = split_list(value());
        } else if (a == "--designs") {
            c.designs = split_list(value());
        } else if (a == "--max-bytes") {
            c.max_bytes = std::stoull(value());
        } else if (a == "--min-bytes") {
            c.min_bytes = std::stoull(value());
        } else if (a == "--sizes") {
            for (const auto& v : split_list(value())) c.sizes.push_back(std::stoull(v));
        } else if (a == "--chunk") {
            c.chunk = std::stoull(value());
        } else if (a == "--budget") {
            c.budget = std::stoull(value());
        } else if (a == "--repeats") {
            c.repeats = unsigned(std::stoul(value()));
        } else {
            std::fprintf(stderr,
                         "usage: %s [--json] [--quick] [--transports ipc,tcp] [--designs a,b]\n"
                         "          [--min-bytes N] [--max-bytes N] [--chunk N] [--budget N]"
                         " [--repeats N]\n",
                         argv[0]);
            return a == "--help" ? 0 : 2;
        }
    }
    if (c.quick) {  // the smoke run: small sizes, one repeat
        c.min_bytes = std::min(c.min_bytes, std::size_t{4} << 20);
        c.max_bytes = std::min(c.max_bytes, std::size_t{8} << 20);
        c.chunk = std::min(c.chunk, std::size_t{1} << 20);
        c.budget = std::size_t{16} << 20;
        c.repeats = 1;
    }
    bench::options o;
    o.json = c.json;
    for (const auto& t : c.transports) {
        std::vector<std::size_t> sizes = c.sizes;
        if (sizes.empty()) {
            for (std::size_t b = c.min_bytes; b <= c.max_bytes; b *= 2) sizes.push_back(b);
        }
        for (const std::size_t bytes : sizes) {
            std::map<std::string, std::vector<double>> rates, faults;
            for (unsigned r = 0; r < c.repeats; ++r) {
                for (std::size_t i = 0; i < c.designs.size(); ++i) {
                    const std::string& d = c.designs[(i + r) % c.designs.size()];
                    const child_result res = spawn_child(d, t, bytes, c);
                    rates[d].push_back(res.gb_per_s);
                    faults[d].push_back(res.faults);
                }
            }
            const double base = rates.count("raw") ? median(rates["raw"]) : 0;
            for (const auto& d : c.designs) {
                const double gbs = median(rates[d]);
                if (c.json) {
                    nlohmann::ordered_json j;
                    j["bench"] = "large";
                    j["transport"] = t;
                    j["mode"] = d;
                    j["impl"] =
                        d.rfind("session", 0) == 0 ? "session" : (d == "raw" ? "raw" : "design");
                    j["packer"] = "msgpack";
                    j["bytes"] = bytes;
                    j["chunk_bytes"] = d.rfind("chunk", 0) == 0 ? c.chunk : 0;
                    j["msgs_per_s"] = gbs * 1e9 / double(bytes);
                    j["gb_per_s"] = gbs;
                    j["baseline_ratio"] =
                        d != "raw" && base > 0 ? nlohmann::json(gbs / base) : nlohmann::json();
                    j["faults_per_msg"] = median(faults[d]);
                    j["repeats"] = c.repeats;
                    j["messages"] = std::max<std::uint64_t>(2, c.budget / bytes);
                    std::cout << j.dump() << '\n' << std::flush;
                }
                char line[200];
                std::snprintf(line, sizeof line, "  %s %s %s: %.2f GB/s (x%.2f), %.0f faults/msg",
                              t.c_str(), bench::human_bytes(bytes).c_str(), d.c_str(), gbs,
                              base > 0 ? gbs / base : 0.0, median(faults[d]));
                bench::progress(o, line);
            }
        }
    }
    return 0;
}
