// The C++ side of tests/numpy_interop/interop_test.py:
//   numpy_interop_helper ENDPOINT KEY
// Connects a PAIR socket, sends the reference arrays as placeholders, then receives the
// arrays numpy wrote as placeholders, compares them with the same references, and replies
// {"ok": bool, "failures": [...]}. Exit status 0 when everything matched.
#include <algorithm>
#include <complex>
#include <cstdio>
#include <map>
#include <numeric>

#include "zsession/zsession.hpp"

using namespace zsession;

namespace {

template <class T>
ndarray ramp(std::vector<std::size_t> shape, T start = 0) {
    std::vector<T> v(element_count(shape));
    std::iota(v.begin(), v.end(), start);
    return ndarray::from<T>(v, std::move(shape));
}

/// The reference arrays; interop_test.py builds the same ones with numpy.
std::map<std::string, ndarray> references() {
    std::map<std::string, ndarray> r;
    r["f8_c"] = ramp<double>({3, 4});
    // numpy.arange(6).reshape(2, 3) in Fortran order: memory 0, 3, 1, 4, 2, 5.
    r["i4_f"] = ndarray::from<std::int32_t>(std::vector<std::int32_t>{0, 3, 1, 4, 2, 5}, {2, 3},
                                            array_order::fortran);
    r["u1"] = ramp<std::uint8_t>({256});
    const bool flags[] = {true, false, true, true};
    r["b1"] = ndarray::from<bool>(flags);
    r["c16"] =
        ndarray::from<std::complex<double>>(std::vector<std::complex<double>>{{1, 2}, {3, -4}});
    r["f4_3d"] = ramp<float>({2, 3, 4});
    r["i2"] = ramp<std::int16_t>({7}, -3);
    r["i8_empty"] = ramp<std::int64_t>({0, 3});
    ndarray sparse(dtype_of<double>(), {100'000});
    sparse.values<double>()[777] = 7.0;
    r["f8_lz4"] = sparse;
    return r;
}

struct reply_content {
    bool ok = false;
    std::vector<std::string> failures;
    MSGPACK_DEFINE_MAP(ok, failures)
};

message arrays_message(const session& s) {
    message m = s.make_message("cpp_arrays");
    offload_options packed = s.options().offload;
    packed.compression.policy = compression_policy::always;
    std::map<std::string, placeholder> arrays;
    for (auto& [name, a] : references()) {
        arrays[name] =
            name == "f8_lz4" ? offload(m, a, *s.options().handlers, packed) : offload(s, m, a);
    }
    arrays["vector_u2"] = offload(s, m, std::vector<std::uint16_t>{1, 2, 65535});
    arrays["text"] = offload(s, m, std::string("h\xc3\xa9llo \xe2\x9c\x93"));
    arrays["raw"] = offload(s, m, buffer::take(std::string("\x00\x01\x02", 3)));
    m.set_content(std::map<std::string, std::map<std::string, placeholder>>{{"arrays", arrays}});
    return m;
}

/// "" when `got` is `want` (dtype, shape, order, bytes), else what differs.
std::string compare(const ndarray_view& got, const ndarray& want) {
    if (got.type() != want.type()) return "dtype " + got.type().str();
    if (got.shape() != want.shape()) return "shape";
    if (got.ndim() > 1 && got.order() != want.order()) return "order";
    if (!(got.bytes().view() == bytes_view(want.data(), want.nbytes()))) return "bytes";
    return "";
}

/// Checks every array numpy sent, including a big-endian one (read as bytes, swapped).
std::vector<std::string> check_numpy_arrays(const session& s, const message& m) {
    std::vector<std::string> failures;
    resolver res(s, m);
    const msgpack::object* arrays = find_key(m.content(), "arrays");
    for (auto& [name, want] : references()) {
        const msgpack::object* ph = arrays ? find_key(*arrays, name) : nullptr;
        if (!ph) {
            failures.push_back(name + ": missing");
            continue;
        }
        const std::string diff = compare(res.resolve<ndarray_view>(*ph), want);
        if (!diff.empty()) failures.push_back(name + ": " + diff);
    }
    const ndarray_view be = res.resolve<ndarray_view>(*find_key(*arrays, "f8_big_endian"));
    std::vector<unsigned char> swapped(be.bytes().size());
    for (std::size_t i = 0; i < swapped.size(); ++i) {
        swapped[i] = static_cast<unsigned char>(be.bytes().data()[(i / 8) * 8 + 7 - i % 8]);
    }
    const ndarray native = ramp<double>({5});
    if (be.type().str() != ">f8" || be.holds<double>() ||
        std::memcmp(swapped.data(), native.data(), native.nbytes()) != 0) {
        failures.push_back("f8_big_endian");
    }
    return failures;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: %s ENDPOINT KEY\n", argv[0]);
        return 2;
    }
    zmq::context_t ctx;
    zmq::socket_t sock(ctx, zmq::socket_type::pair);
    sock.set(zmq::sockopt::linger, 1000);
    sock.set(zmq::sockopt::rcvtimeo, 30'000);
    sock.connect(argv[1]);
    session_options o;
    o.key = argv[2];
    const session s(o);
    s.send(sock, arrays_message(s));
    auto got = s.recv(sock);
    if (!got) {
        std::fprintf(stderr, "helper: no message from Python\n");
        return 1;
    }
    reply_content reply;
    try {
        reply.failures = check_numpy_arrays(s, *got);
    } catch (const error& e) {
        reply.failures.push_back(std::string("error: ") + e.what());
    }
    reply.ok = reply.failures.empty();
    message r = s.make_reply(*got, "cpp_check_reply");
    r.set_content(reply);
    s.send(sock, r);
    for (const auto& f : reply.failures) std::fprintf(stderr, "helper: %s\n", f.c_str());
    return reply.ok ? 0 : 1;
}
