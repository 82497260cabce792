// bench/packer_bench.cpp - what the JSON packer costs against the msgpack one, per small message.
//
//   packer_bench [--smoke]
//
// For each packer: a typical small Jupyter message (an execute_request: header, parent header,
// empty metadata, ~150 bytes of content), encoded and decoded through a signed session: the
// whole codec path, no socket. An unsigned session (empty key) isolates the packer's cost;
// a signed one adds HMAC-SHA256, as a real kernel pays. Prints one CSV line per (packer,
// signed): nanoseconds per encode, per decode (frame copies subtracted), and the bytes of the
// four packed maps.
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>

#include "zsession/zsession.hpp"

namespace {

using namespace zsession;
using clock_type = std::chrono::steady_clock;

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
    double encode_ns, decode_ns;
    std::size_t map_bytes;
};

figures measure(packer_kind kind, bool sign, int iterations) {
    session_options o;
    o.packer = kind;
    o.key = sign ? "a-32-byte-key-for-hmac-sha256!!!" : "";
    o.replay_history = 0;  // decode the same frames again and again
    session s(o);
    message m = s.make_message("execute_request");
    m.parent_header = s.make_header("kernel_info_request");
    m.set_content(execute_request{});
    frames f;
    s.encode_into(m, f);
    std::size_t map_bytes = 0;
    for (std::size_t i = 2; i < 6; ++i) map_bytes += f[i].size();

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
    auto ns = [&](auto d) {
        return std::chrono::duration<double, std::nano>(d).count() / iterations;
    };
    return {ns(t1 - t0), ns((t2 - t1) - (t3 - t2)), map_bytes};
}

}  // namespace

int main(int argc, char** argv) {
    const bool smoke = argc > 1 && std::strcmp(argv[1], "--smoke") == 0;
    const int iterations = smoke ? 200 : 200'000;
    std::printf("packer,signed,encode_ns,decode_ns,map_bytes\n");
    for (const bool sign : {false, true}) {
        for (const auto kind : {packer_kind::msgpack, packer_kind::json}) {
            measure(kind, sign, iterations / 10);  // warm up
            const figures f = measure(kind, sign, iterations);
            std::printf("%s,%s,%.0f,%.0f,%zu\n", kind == packer_kind::json ? "json" : "msgpack",
                        sign ? "yes" : "no", f.encode_ns, f.decode_ns, f.map_bytes);
        }
    }
    return 0;
}
