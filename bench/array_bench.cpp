// Encode and decode of one large float64 array through placeholders, next to a plain memcpy
// of the same bytes (the floor), and the byte cost of a container of small items.
//   array_bench [--quick] [N]     (default N = 10000: a 10000 x 10000 <f8 array, 800 MB;
//                                  --quick: N = 500, 2 MB, for the bench-smoke test)
// Times are the best of 3 runs, in milliseconds.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <numeric>
#include <string>

#include "../tests/list_structs.hpp"
#include "zsession/zsession.hpp"

using namespace zsession;

namespace {

using clock_type = std::chrono::steady_clock;

/// Keeps the compiler from eliding writes to *p (GCC/Clang).
void escape(const void* p) {
    asm volatile("" : : "g"(p) : "memory");
}

double ms_since(clock_type::time_point t0) {
    return std::chrono::duration<double, std::milli>(clock_type::now() - t0).count();
}

/// Best wall time of 3 calls of f (only the part f times itself, returned in ms).
double best_of_3(const std::function<double()>& f) {
    double best = 1e300;
    for (int i = 0; i < 3; ++i) best = std::min(best, f());
    return best;
}

double timed(const std::function<void()>& f) {
    return best_of_3([&] {
        const auto t0 = clock_type::now();
        f();
        return ms_since(t0);
    });
}

/// Incompressible doubles (xorshift), so lz4's automatic policy has to decide "no".
ndarray noise_array(std::size_t n) {
    ndarray a(dtype_of<double>(), {n, n});
    std::uint64_t x = 88172645463325252ull;
    for (double& v : a.values<double>()) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        v = static_cast<double>(x >> 11) * 0x1.0p-53;
    }
    return a;
}

struct array_content {
    placeholder data;
    MSGPACK_DEFINE_MAP(data)
};

void bench_memcpy(const ndarray& a) {
    const std::size_t bytes = a.nbytes();
    std::unique_ptr<std::byte[]> dst(new std::byte[bytes]);
    std::memset(dst.get(), 1, bytes);  // fault the pages in once
    std::printf("memcpy, warm destination                 %10.3f ms\n", timed([&] {
                    std::memcpy(dst.get(), a.data(), bytes);
                    escape(dst.get());
                }));
    std::printf("memcpy, fresh destination                %10.3f ms\n", timed([&] {
                    std::unique_ptr<std::byte[]> fresh(new std::byte[bytes]);
                    std::memcpy(fresh.get(), a.data(), bytes);
                    escape(fresh.get());
                }));
}

session bench_session(compression_policy policy) {
    session_options o;
    o.key = "bench-key";
    o.replay_history = 0;  // the same frames are decoded several times
    o.offload.compression.policy = policy;
    return session(o);
}

message array_message(const session& s, const ndarray& a) {
    message m = s.make_message("array");
    m.set_content(array_content{offload(s, m, a)});
    return m;
}

/// Decodes a shared copy of `f` (zmq_msg_copy: no byte is copied) and resolves the view.
ndarray_view decode_view(const session& s, const frames& f, double& ms) {
    frames in;
    for (const auto& fr : f) in.emplace_back().copy(const_cast<zmq::message_t&>(fr));
    const auto t0 = clock_type::now();
    message r = s.decode(std::move(in));
    ndarray_view v = resolver(s, r).resolve<ndarray_view>(*find_key(r.content(), "data"));
    ms = ms_since(t0);
    return v;
}

void bench_codec(const ndarray& a, compression_policy policy, const char* tag) {
    const session s = bench_session(policy);
    frames f;
    std::printf("encode (offload + frames), lz4 %-4s     %10.3f ms\n", tag,
                timed([&] { f = s.encode(array_message(s, a)); }));
    ndarray_view v;
    std::printf("decode (verify + unpack + view), lz4 %-4s %9.3f ms\n", tag, best_of_3([&] {
                    double ms = 0;
                    v = decode_view(s, f, ms);
                    return ms;
                }));
    std::printf("  view: %s, same address as the sent array %d, aligned %d\n",
                v.type().str().c_str(), v.data() == a.data(), v.is_aligned());
    std::printf("decode + copy to an owning array         %10.3f ms\n", best_of_3([&] {
                    double ms = 0;
                    const auto t0 = clock_type::now();
                    const ndarray copy = decode_view(s, f, ms).copy();
                    return ms_since(t0);
                }));
}

void bench_inproc(const ndarray& a) {
    const session s = bench_session(compression_policy::off);
    zmq::context_t ctx;
    zmq::socket_t tx(ctx, zmq::socket_type::pair), rx(ctx, zmq::socket_type::pair);
    tx.bind("inproc://array-bench");
    rx.connect("inproc://array-bench");
    const void* got = nullptr;
    std::printf(
        "inproc send + recv + view                %10.3f ms\n", timed([&] {
            s.send(tx, array_message(s, a));
            auto r = s.recv(rx);
            got = resolver(s, *r).resolve<ndarray_view>(*find_key(r->content(), "data")).data();
        }));
    std::printf("  received view at the sent address: %d\n", got == a.data());
}

using test::int_list;  // the placeholder tests' structs (tests/list_structs.hpp)
using test::wrapped_list;

void bench_container() {
    const session s = bench_session(compression_policy::off);
    std::vector<std::int64_t> ints(1000);
    std::iota(ints.begin(), ints.end(), 0);
    msgpack::sbuffer bare;
    msgpack::pack(bare, ints);
    message typed = s.make_message("t");
    typed.set_content(wrapped_list{inline_or_offload_each(typed, ints, *s.options().handlers)});
    message plain = s.make_message("t");
    plain.set_content(int_list{ints});
    std::size_t doubly = 0;  // IPython's old path: every item serialized, then the list
    msgpack::sbuffer outer;
    msgpack::packer<msgpack::sbuffer> pk(outer);
    pk.pack_array(1000);
    for (auto i : ints) {
        msgpack::sbuffer one;
        msgpack::pack(one, i);
        pk.pack_bin(static_cast<std::uint32_t>(one.size()));
        pk.pack_bin_body(one.data(), static_cast<std::uint32_t>(one.size()));
    }
    doubly = outer.size();
    std::printf(
        "container, list(range(1000)): plain msgpack %zu B, zsession content frame %zu B "
        "(plain struct %zu B), item-by-item then list %zu B, buffers %zu\n",
        bare.size(), s.encode(typed)[5].size(), s.encode(plain)[5].size(), doubly,
        typed.buffers.size());
}

/// An output array filled by the caller: the zero-filled constructor (two passes over
/// fresh memory) against ndarray::uninitialized (one). Fresh storage each run, as an
/// output array is.
void bench_output_array(std::size_t n) {
    auto fill = [](ndarray& a) {
        double x = 0;
        for (double& v : a.values<double>()) v = x++;
        escape(a.data());
    };
    std::printf("output array, zero-filled + fill         %10.3f ms\n", timed([&] {
                    ndarray a(dtype_of<double>(), {n, n});
                    fill(a);
                }));
    std::printf("output array, uninitialized + fill       %10.3f ms\n", timed([&] {
                    ndarray a = ndarray::uninitialized<double>({n, n});
                    fill(a);
                }));
}

}  // namespace

int main(int argc, char** argv) {
    std::size_t n = 10'000;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        n = arg == "--quick" ? 500 : std::stoul(arg);
    }
    const ndarray a = noise_array(n);
    std::printf("array: %zu x %zu <f8 = %.1f MB\n", n, n, a.nbytes() / 1e6);
    bench_memcpy(a);
    bench_codec(a, compression_policy::off, "off");
    bench_codec(a, compression_policy::automatic, "auto");
    bench_inproc(a);
    bench_container();
    bench_output_array(n);
    return 0;
}
