// What the dedicated handlers buy over the generic path, across sizes: float64 arrays, tables
// and DLPack tensors, each sent once (offloaded, zero-copy) and once as the values a user
// would otherwise put inline in the content (msgpack or JSON), plus each codec on
// compressible and incompressible arrays. One message = encode + send over tcp (127.0.0.1)
// + receive + decode + resolve to a usable value.
//
//   types_bench [--quick] [--max-bytes N] [--msgpack-max-bytes N] [--json-max-bytes N]
//     default sizes 1 KiB ... 256 MiB (x4 steps; --max-bytes 1073741824 for 1 GiB), the
//     msgpack path up to 256 MiB, the JSON path up to 16 MiB; --quick: 1 KiB and 64 KiB only
//     (the bench-smoke test).
// Output: one JSON object per line on stdout:
//   {"bench":"types","kind":"array|table|tensor","path":"handler|msgpack|json",
//    "codec":"none|lz4|zstd|blosc","data":"noise|smooth","bytes":N,"wire_bytes":W,
//    "seconds":median,"gb_per_s":bytes/seconds/1e9,"runs":n}
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "zsession/dlpack.hpp"
#include "zsession/table.hpp"
#include "zsession/zsession.hpp"

using namespace zsession;

namespace {

using clock_type = std::chrono::steady_clock;

struct options {
    bool quick = false;
    std::size_t max_bytes = std::size_t{256} << 20;
    std::size_t json_max_bytes = std::size_t{16} << 20;
    std::size_t msgpack_max_bytes = std::size_t{256} << 20;
};

std::vector<double> doubles(std::size_t n, bool smooth) {
    std::vector<double> v(n);
    std::uint64_t x = 88172645463325252ull;
    for (std::size_t i = 0; i < n; ++i) {
        if (smooth) {
            v[i] = 1000.0 + static_cast<double>(i) * 0.25;
        } else {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            v[i] = static_cast<double>(x >> 11) * 0x1.0p-53;
        }
    }
    return v;
}

/// A table of `bytes` in total: float64, int64 and a short-string column (~8 B per string).
struct table_data {
    std::vector<double> x;
    std::vector<std::int64_t> i;
    std::vector<std::string> s;
    MSGPACK_DEFINE_MAP(x, i, s)
};

table_data make_table_data(std::size_t bytes) {
    const std::size_t rows = std::max<std::size_t>(bytes / (8 + 8 + 4 + 8), 1);
    table_data d{doubles(rows, false), std::vector<std::int64_t>(rows),
                 std::vector<std::string>(rows)};
    for (std::size_t r = 0; r < rows; ++r) {
        d.i[r] = static_cast<std::int64_t>(r);
        d.s[r] = "s" + std::to_string(r % 10'000'000);
        d.s[r].resize(8, '_');
    }
    return d;
}

table to_table(const table_data& d) {
    table t(d.x.size());
    t.add(table_column::from_vector("x", d.x));
    t.add(table_column::from_vector("i", d.i));
    t.add(table_column::from_strings("s", d.s));
    return t;
}

/// Runs `once` (which returns the bytes it put on the wire) until 0.3 s or 200 runs have
/// passed (at least 3, or 1 above 256 MiB), and returns the median seconds.
double measure(const std::function<std::size_t()>& once, std::size_t bytes, std::size_t& wire,
               int& runs) {
    std::vector<double> t;
    const auto start = clock_type::now();
    const int min_runs = bytes > (std::size_t{256} << 20) ? 1 : 3;
    while (t.size() < 200) {
        const auto t0 = clock_type::now();
        wire = once();
        t.push_back(std::chrono::duration<double>(clock_type::now() - t0).count());
        if (static_cast<int>(t.size()) >= min_runs &&
            std::chrono::duration<double>(clock_type::now() - start).count() > 0.3) {
            break;
        }
    }
    runs = static_cast<int>(t.size());
    std::nth_element(t.begin(), t.begin() + t.size() / 2, t.end());
    return t[t.size() / 2];
}

struct link {
    zmq::context_t ctx;
    zmq::socket_t a{ctx, zmq::socket_type::pair}, b{ctx, zmq::socket_type::pair};
    link() {
        a.set(zmq::sockopt::linger, 0);
        b.set(zmq::sockopt::linger, 0);
        a.bind("tcp://127.0.0.1:*");
        b.connect(a.get(zmq::sockopt::last_endpoint));
    }
};

std::size_t wire_size(const message& m) {
    std::size_t n = 0;
    for (const auto& b : m.buffers) n += b.size();
    return n;
}

struct content {
    placeholder v;
    MSGPACK_DEFINE_MAP(v)
};

template <class Inline>
struct inline_content {
    Inline v;
    MSGPACK_DEFINE_MAP(v)
};

void emit(const char* kind, const char* path, const char* codec, const char* data,
          std::size_t bytes, std::size_t wire, double seconds, int runs) {
    std::printf(
        "{\"bench\":\"types\",\"kind\":\"%s\",\"path\":\"%s\",\"codec\":\"%s\",\"data\":\"%s\","
        "\"bytes\":%zu,\"wire_bytes\":%zu,\"seconds\":%.9g,\"gb_per_s\":%.6g,\"runs\":%d}\n",
        kind, path, codec, data, bytes, wire, seconds, static_cast<double>(bytes) / seconds / 1e9,
        runs);
    std::fflush(stdout);
}

/// The dedicated path: offload (zero-copy, or compressed by `c`), send, receive, resolve.
template <class T, class Check>
std::size_t handler_once(link& l, const session& s, const registry& reg, T value,
                         const offload_options& o, Check check) {
    message m = s.make_message("v");
    m.set_content(content{offload(m, std::move(value), reg, o)});
    std::size_t wire = wire_size(m);
    s.send(l.a, std::move(m));
    const auto got = s.recv(l.b);
    resolver r(*got, reg);
    check(r.resolve<T>(got->content_as<content>().v));
    return wire;
}

/// The generic path: the same values inline in the content.
template <class Inline, class Check>
std::size_t inline_once(link& l, const session& s, const Inline& v, Check check) {
    message m = s.make_message("v");
    m.set_content(inline_content<Inline>{v});
    s.send(l.a, std::move(m));
    const auto got = s.recv(l.b);
    const auto c = got->template content_as<inline_content<Inline>>();
    check(c.v);
    return 0;
}

std::vector<std::size_t> sizes(const options& o) {
    std::vector<std::size_t> out;
    if (o.quick) return {1024, 64 * 1024};
    for (std::size_t b = 1024; b <= o.max_bytes; b *= 4) out.push_back(b);
    return out;
}

void run(const options& o) {
    link l;
    session_options so;
    so.key = "types-bench-key";
    so.replay_history = 0;
    // The generic path puts every value in the content: lift the limits meant for maps.
    so.limits.max_content_bytes = std::size_t{8} << 30;
    so.limits.max_map_elements = std::size_t{1} << 40;
    const session s(so);
    so.packer = packer_kind::json;
    const session js(so);
    const registry reg = registry::builtins();
    offload_options raw;
    raw.inline_threshold = 0;
    for (std::size_t bytes : sizes(o)) {
        const std::size_t n = bytes / 8;
        std::size_t wire = 0;
        int runs = 0;
        double t = 0;
        for (const bool smooth : {false, true}) {
            const char* data = smooth ? "smooth" : "noise";
            const ndarray a = ndarray::from<double>(doubles(n, smooth));
            for (compression c :
                 {compression::none, compression::lz4, compression::zstd, compression::blosc}) {
                offload_options oc = raw;
                oc.compression.policy =
                    c == compression::none ? compression_policy::off : compression_policy::always;
                oc.compression.codec = c;
                t = measure(
                    [&] {
                        return handler_once(l, s, reg, a.view(), oc,
                                            [&](const ndarray_view& v) { (void)v.data(); });
                    },
                    bytes, wire, runs);
                emit("array", "handler", std::string(to_string(c)).c_str(), data, bytes, wire, t,
                     runs);
            }
            if (smooth) continue;
            const std::vector<double> v = doubles(n, false);
            if (bytes <= o.msgpack_max_bytes) {
                t = measure([&] { return inline_once(l, s, v, [](const std::vector<double>&) {}); },
                            bytes, wire, runs);
                emit("array", "msgpack", "none", data, bytes, 0, t, runs);
            }
            if (bytes <= o.json_max_bytes) {
                t = measure(
                    [&] { return inline_once(l, js, v, [](const std::vector<double>&) {}); }, bytes,
                    wire, runs);
                emit("array", "json", "none", data, bytes, 0, t, runs);
            }
            // Tensors: a DLPack tensor over the same bytes, out and back.
            t = measure(
                [&] {
                    return handler_once(l, s, reg, dlpack_tensor::from_view(a.view()), raw,
                                        [](const dlpack_tensor& x) { (void)x.dl().data; });
                },
                bytes, wire, runs);
            emit("tensor", "handler", "none", data, bytes, wire, t, runs);
        }
        const table_data d = make_table_data(bytes);
        const table tab = to_table(d);
        t = measure(
            [&] {
                return handler_once(l, s, reg, tab, raw, [](const table& x) { (void)x.rows(); });
            },
            bytes, wire, runs);
        emit("table", "handler", "none", "noise", bytes, wire, t, runs);
        t = measure(
            [&] {
                return handler_once(l, s, reg, to_table(d), raw,
                                    [](const table& x) { (void)x.rows(); });
            },
            bytes, wire, runs);
        emit("table", "handler_build", "none", "noise", bytes, wire, t, runs);
        if (bytes <= o.msgpack_max_bytes) {
            t = measure([&] { return inline_once(l, s, d, [](const table_data&) {}); }, bytes, wire,
                        runs);
            emit("table", "msgpack", "none", "noise", bytes, 0, t, runs);
        }
        if (bytes <= o.json_max_bytes) {
            t = measure([&] { return inline_once(l, js, d, [](const table_data&) {}); }, bytes,
                        wire, runs);
            emit("table", "json", "none", "noise", bytes, 0, t, runs);
        }
        std::fprintf(stderr, "types_bench: %zu bytes done\n", bytes);
    }
}

}  // namespace

int main(int argc, char** argv) {
    options o;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--quick") {
            o.quick = true;
        } else if (a == "--max-bytes" && i + 1 < argc) {
            o.max_bytes = std::stoull(argv[++i]);
        } else if (a == "--msgpack-max-bytes" && i + 1 < argc) {
            o.msgpack_max_bytes = std::stoull(argv[++i]);
        } else if (a == "--json-max-bytes" && i + 1 < argc) {
            o.json_max_bytes = std::stoull(argv[++i]);
        } else {
            std::fprintf(stderr,
                         "usage: %s [--quick] [--max-bytes N] [--msgpack-max-bytes N] "
                         "[--json-max-bytes N]\n",
                         argv[0]);
            return 2;
        }
    }
    try {
        run(o);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "types_bench: %s\n", e.what());
        return 1;
    }
    return 0;
}
