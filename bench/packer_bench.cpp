// bench/packer_bench.cpp - what the JSON packer costs against the msgpack one, and against a
// xeus-like JSON serializer, per small message, side by side in one process.
//
//   packer_bench [--smoke|--quick] [--json] [--repeats N] [--iterations N] [--cpu N]
//                [--cpu-time] [--help]
//
// For each packer: a typical small Jupyter message (an execute_request: header, parent header,
// empty metadata, ~150 bytes of content), encoded and decoded through a session: the whole
// codec path, no socket. An unsigned session (empty key) isolates the packer's cost; a signed
// one adds HMAC-SHA256, as a real kernel pays.
//
// "xeus_like" is what xeus 2.4 (xeus-zmq's xzmq_serializer) does for the same four maps:
// nlohmann::json::dump of each of header, parent_header, metadata, content into a std::string,
// HMAC-SHA256 (OpenSSL's HMAC_CTX, keyed per message as xauthentication does) over the four,
// hex; decode: the same HMAC recomputed and compared, then nlohmann::json::parse of each of
// the four frames. Its frames hold the same JSON text zsession writes. It does not copy into
// zmq messages, and builds no message object: what it measures is a lower bound of xeus's
// cost.
//
// Each repetition measures every row once, interleaved; a row's figure is the median over
// the repetitions. Output: one CSV line per row (nanoseconds per encode, per decode with
// frame copies subtracted, their sum, and the bytes of the four maps), then the ratios of
// the signed rows; with --json, one JSON object per row and one for the ratios instead, each
// carrying "packer": "msgpack" or "json".
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <sched.h>
#include <time.h>

#define OPENSSL_SUPPRESS_DEPRECATED  // HMAC_CTX: what xeus 2.4's xauthentication uses
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <nlohmann/json.hpp>

#include "zsession/zsession.hpp"

namespace {

using namespace zsession;

/// The bench's clock: steady_clock (wall time, the default) or, with --cpu-time, this
/// thread's CPU time (CLOCK_THREAD_CPUTIME_ID), which a loaded machine disturbs far less.
struct clock_type {
    using duration = std::chrono::nanoseconds;
    using time_point = std::chrono::time_point<clock_type, duration>;
    static inline bool cpu_time = false;
    static time_point now() noexcept {
        if (!cpu_time) {
            return time_point(std::chrono::duration_cast<duration>(
                std::chrono::steady_clock::now().time_since_epoch()));
        }
        timespec ts{};
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
        return time_point(duration(std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec));
    }
};

constexpr std::string_view key = "a-32-byte-key-for-hmac-sha256!!!";

struct execute_request {
    std::string code = "x = 1 + 2\nprint(x)";
    bool silent = false;
    bool store_history = true;
    std::map<std::string, std::string> user_expressions;
    bool allow_stdin = true;
    bool stop_on_error = true;
    MSGPACK_DEFINE_MAP(code, silent, store_history, user_expressions, allow_stdin, stop_on_error)
};

struct figures {
    double encode_ns = 0, decode_ns = 0;
    std::size_t map_bytes = 0;
};

double ns_per(clock_type::duration d, int iterations) {
    return std::chrono::duration<double, std::nano>(d).count() / iterations;
}

message bench_message(const session& s) {
    message m = s.make_message("execute_request");
    m.parent_header = s.make_header("kernel_info_request");
    m.set_content(execute_request{});
    return m;
}

session_options bench_options(packer_kind kind, bool sign) {
    session_options o;
    o.packer = kind;
    o.key = sign ? std::string(key) : "";
    o.replay_history = 0;  // decode the same frames again and again
    return o;
}

figures measure(packer_kind kind, bool sign, int iterations) {
    session s(bench_options(kind, sign));
    const message m = bench_message(s);
    frames f;
    s.encode_into(m, f);
    figures out;
    for (std::size_t i = 2; i < 6; ++i) out.map_bytes += f[i].size();

    std::size_t sink = 0;
    auto t0 = clock_type::now();
    for (int i = 0; i < iterations; ++i) {
        f.clear();
        s.encode_into(m, f);
        sink += f[5].size();
    }
    auto t1 = clock_type::now();
    for (int i = 0; i < iterations; ++i) {
        frames in;
        for (const auto& frame : f) in.emplace_back(frame.data(), frame.size());
        sink += s.decode(std::move(in)).header.msg_id.size();
    }
    auto t2 = clock_type::now();
    // The decode loop also copies the frames; measure that copy alone and subtract it.
    for (int i = 0; i < iterations; ++i) {
        frames in;
        for (const auto& frame : f) in.emplace_back(frame.data(), frame.size());
        sink += in.size();
    }
    auto t3 = clock_type::now();
    if (sink == 1) std::puts("");
    out.encode_ns = ns_per(t1 - t0, iterations);
    out.decode_ns = ns_per((t2 - t1) - (t3 - t2), iterations);
    return out;
}

/// xeus 2.4's signing: HMAC_CTX keyed per call, updated with the four maps, hex digest.
class xeus_like_auth {
  public:
    xeus_like_auth() : ctx_(HMAC_CTX_new()), md_(EVP_sha256()) {}
    ~xeus_like_auth() { HMAC_CTX_free(ctx_); }
    xeus_like_auth(const xeus_like_auth&) = delete;
    xeus_like_auth& operator=(const xeus_like_auth&) = delete;

    std::string sign(const std::string& h, const std::string& p, const std::string& m,
                     const std::string& c) {
        HMAC_Init_ex(ctx_, key.data(), static_cast<int>(key.size()), md_, nullptr);
        for (const std::string* part : {&h, &p, &m, &c}) {
            HMAC_Update(ctx_, reinterpret_cast<const unsigned char*>(part->data()), part->size());
        }
        unsigned char digest[EVP_MAX_MD_SIZE];
        unsigned int n = 0;
        HMAC_Final(ctx_, digest, &n);
        static constexpr char hex[] = "0123456789abcdef";
        std::string out(2 * n, '\0');
        for (unsigned int i = 0; i < n; ++i) {
            out[2 * i] = hex[digest[i] >> 4];
            out[2 * i + 1] = hex[digest[i] & 0xF];
        }
        return out;
    }
    bool verify(const std::string& sig, const std::string& h, const std::string& p,
                const std::string& m, const std::string& c) {
        const std::string expected = sign(h, p, m, c);
        return expected.size() == sig.size() &&
               CRYPTO_memcmp(expected.data(), sig.data(), sig.size()) == 0;
    }

  private:
    HMAC_CTX* ctx_;
    const EVP_MD* md_;
};

struct xeus_like_frames {
    std::string signature, header, parent_header, metadata, content;
};

figures measure_xeus_like(int iterations) {
    // The same four maps zsession's JSON packer writes, as nlohmann::json values.
    session s(bench_options(packer_kind::json, true));
    frames f;
    s.encode_into(bench_message(s), f);
    auto json_of = [&](std::size_t i) { return nlohmann::json::parse(f[i].to_string_view()); };
    const nlohmann::json header = json_of(2), parent = json_of(3), metadata = json_of(4),
                         content = json_of(5);
    xeus_like_auth auth;
    xeus_like_frames out;
    figures fig;

    std::size_t sink = 0;
    auto t0 = clock_type::now();
    for (int i = 0; i < iterations; ++i) {
        out.header = header.dump();
        out.parent_header = parent.dump();
        out.metadata = metadata.dump();
        out.content = content.dump();
        out.signature = auth.sign(out.header, out.parent_header, out.metadata, out.content);
        sink += out.signature.size();
    }
    auto t1 = clock_type::now();
    for (int i = 0; i < iterations; ++i) {
        if (!auth.verify(out.signature, out.header, out.parent_header, out.metadata, out.content)) {
            std::fprintf(stderr, "xeus_like: signature mismatch\n");
            std::exit(1);
        }
        const nlohmann::json h = nlohmann::json::parse(out.header);
        const nlohmann::json p = nlohmann::json::parse(out.parent_header);
        const nlohmann::json m = nlohmann::json::parse(out.metadata);
        const nlohmann::json c = nlohmann::json::parse(out.content);
        sink += h.size() + p.size() + m.size() + c.size();
    }
    auto t2 = clock_type::now();
    if (sink == 1) std::puts("");
    fig.encode_ns = ns_per(t1 - t0, iterations);
    fig.decode_ns = ns_per(t2 - t1, iterations);
    fig.map_bytes =
        out.header.size() + out.parent_header.size() + out.metadata.size() + out.content.size();
    return fig;
}

struct row {
    const char* impl;    // "zsession" or "xeus_like"
    const char* packer;  // "msgpack" or "json"
    bool sign;
    std::vector<figures> runs;
    figures run(int iterations) const {
        if (std::strcmp(impl, "xeus_like") == 0) return measure_xeus_like(iterations);
        return measure(std::strcmp(packer, "json") == 0 ? packer_kind::json : packer_kind::msgpack,
                       sign, iterations);
    }
    /// Median over the runs of encode, decode and their sum (each its own median).
    figures median(double& total) const {
        auto med = [&](auto field) {
            std::vector<double> v;
            for (const auto& r : runs) v.push_back(field(r));
            std::sort(v.begin(), v.end());
            return v[v.size() / 2];
        };
        total = med([](const figures& r) { return r.encode_ns + r.decode_ns; });
        return {med([](const figures& r) { return r.encode_ns; }),
                med([](const figures& r) { return r.decode_ns; }), runs.front().map_bytes};
    }
};

void usage(const char* argv0) {
    std::printf(
        "usage: %s [--smoke|--quick] [--json] [--repeats N] [--iterations N] [--cpu N]\n"
        "       [--cpu-time]\n"
        "  Encode + decode of one small execute_request through zsession's msgpack and JSON\n"
        "  packers (unsigned and signed) and a xeus-like nlohmann serializer (signed), one\n"
        "  process, interleaved; medians over --repeats (default 3) runs of --iterations\n"
        "  (default 200000) messages. --cpu N pins the process to CPU N. --smoke/--quick: a\n"
        "  few hundred messages, one repeat. --json: JSON lines instead of CSV.\n"
        "  --cpu-time: time with the thread's CPU clock instead of the wall clock (a loaded\n"
        "  machine preempts the process; its CPU time is what the code costs).\n",
        argv0);
}

}  // namespace

int main(int argc, char** argv) {
    bool smoke = false, json = false;
    int iterations = 200'000, repeats = 3, cpu = -1;
    for (int i = 1; i < argc; ++i) {
        const std::string_view a = argv[i];
        auto value = [&]() -> int {
            if (i + 1 >= argc) {
                usage(argv[0]);
                std::exit(2);
            }
            return std::atoi(argv[++i]);
        };
        if (a == "--smoke" || a == "--quick") {
            smoke = true;
        } else if (a == "--cpu-time") {
            clock_type::cpu_time = true;
        } else if (a == "--json") {
            json = true;
        } else if (a == "--repeats") {
            repeats = std::max(1, value());
        } else if (a == "--iterations") {
            iterations = std::max(1, value());
        } else if (a == "--cpu") {
            cpu = value();
        } else if (a == "--help" || a == "-h") {
            usage(argv[0]);
            return 0;
        } else {
            usage(argv[0]);
            return 2;
        }
    }
    if (smoke) iterations = 200, repeats = 1;
    if (cpu >= 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(cpu, &set);
        if (sched_setaffinity(0, sizeof set, &set) != 0) std::perror("sched_setaffinity");
    }

    std::vector<row> rows = {
        {"zsession", "msgpack", false, {}}, {"zsession", "json", false, {}},
        {"zsession", "msgpack", true, {}},  {"zsession", "json", true, {}},
        {"xeus_like", "json", true, {}},
    };
    for (auto& r : rows) r.run(std::max(1, iterations / 10));  // warm up
    for (int rep = 0; rep < repeats; ++rep) {
        for (auto& r : rows) r.runs.push_back(r.run(iterations));
    }

    if (!json) std::printf("impl,packer,signed,encode_ns,decode_ns,total_ns,map_bytes\n");
    double totals[5] = {};
    for (std::size_t i = 0; i < rows.size(); ++i) {
        const row& r = rows[i];
        const figures f = r.median(totals[i]);
        if (json) {
            std::printf(
                "{\"bench\":\"packer\",\"impl\":\"%s\",\"packer\":\"%s\",\"signed\":%s,"
                "\"encode_ns\":%.0f,\"decode_ns\":%.0f,\"total_ns\":%.0f,\"map_bytes\":%zu,"
                "\"iterations\":%d,\"repeats\":%d,\"clock\":\"%s\"}\n",
                r.impl, r.packer, r.sign ? "true" : "false", f.encode_ns, f.decode_ns, totals[i],
                f.map_bytes, iterations, repeats, clock_type::cpu_time ? "cpu" : "wall");
        } else {
            std::printf("%s,%s,%s,%.0f,%.0f,%.0f,%zu\n", r.impl, r.packer, r.sign ? "yes" : "no",
                        f.encode_ns, f.decode_ns, totals[i], f.map_bytes);
        }
    }
    // Signed rows: 2 msgpack, 3 JSON, 4 xeus-like.
    const double json_over_msgpack = totals[3] / totals[2];
    const double xeus_over_json = totals[4] / totals[3];
    if (json) {
        std::printf(
            "{\"bench\":\"packer\",\"impl\":\"ratios\",\"packer\":\"json\",\"signed\":true,"
            "\"json_over_msgpack\":%.3f,\"xeus_like_over_json\":%.3f}\n",
            json_over_msgpack, xeus_over_json);
    } else {
        std::printf(
            "# signed encode+decode: zsession json / msgpack = %.2f (target <= 1.3), "
            "xeus_like / zsession json = %.2f (target >= 3)\n",
            json_over_msgpack, xeus_over_json);
    }
    return 0;
}
