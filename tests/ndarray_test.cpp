// Arrays: numpy dtype strings, the owning and view forms, alignment, and the "ndarray"
// handler over real sockets (received arrays are views of the frames).
#include <doctest/doctest.h>

#include <algorithm>
#include <complex>
#include <cstdlib>
#include <numeric>

#include "support.hpp"

using namespace zsession;

TEST_CASE("dtype strings are numpy's dtype.str") {
    CHECK(dtype_of<double>().str() == "<f8");
    CHECK(dtype_of<float>().str() == "<f4");
    CHECK(dtype_of<std::int32_t>().str() == "<i4");
    CHECK(dtype_of<std::uint16_t>().str() == "<u2");
    CHECK(dtype_of<std::uint8_t>().str() == "|u1");
    CHECK(dtype_of<std::int8_t>().str() == "|i1");
    CHECK(dtype_of<bool>().str() == "|b1");
    CHECK(dtype_of<std::complex<double>>().str() == "<c16");
    CHECK(dtype_of<std::complex<float>>().str() == "<c8");
    CHECK(dtype_of<long long>() == dtype_of<std::int64_t>());
    for (const char* s : {"<f8", ">f8", "<i2", ">u4", "|u1", "|i1", "|b1", "<c16", "<c8", "<f2",
                          "<f16", "<c32", "<u8"}) {
        CAPTURE(s);
        CHECK(dtype::parse(s).str() == s);
    }
    CHECK(dtype::parse("<u1").str() == "|u1");
    CHECK(dtype::parse(">f8").byte_order == std::endian::big);
    CHECK(dtype::parse("<f8").alignment() == 8);
    CHECK(dtype::parse("<c16").alignment() == 8);
}

TEST_CASE("invalid dtype strings are decode errors") {
    for (const char* s : {"", "f8", "<f", "<f3", "|f8", "=f8", "<b2", "<i16", "<c4", "<U8", "<O8",
                          "<f8x", "<f-8", "<V16", "<i04"}) {
        CAPTURE(s);
        CHECK_THROWS_AS(dtype::parse(s), decode_error);
    }
}

TEST_CASE("owning array: from, values, and a view that keeps the storage alive") {
    std::vector<int> src(12);
    std::iota(src.begin(), src.end(), 0);
    ndarray_view v;
    {
        ndarray a = ndarray::from<int>(src, {3, 4});
        CHECK(a.shape() == std::vector<std::size_t>{3, 4});
        CHECK(a.nbytes() == 48);
        a.values<int>()[5] = 500;
        CHECK_THROWS_AS(a.values<float>(), usage_error);
        v = a.view();
        CHECK(v.data() == a.data());
    }
    CHECK(v.values<int>()[5] == 500);
    CHECK(v.values<int>()[11] == 11);
    CHECK_THROWS_AS(ndarray::from<int>(src, {5, 5}), usage_error);
}

TEST_CASE("a new array is zero-filled even where the allocator returns used memory") {
    for (int round = 0; round < 3; ++round) {
        {
            ndarray dirty = ndarray::from<std::int64_t>(std::vector<std::int64_t>(4096, -1));
            CHECK(dirty.values<std::int64_t>()[4095] == -1);
        }  // freed: the next allocation of this size is likely the same memory
        ndarray fresh(dtype_of<std::int64_t>(), {4096});
        const auto v = fresh.values<std::int64_t>();
        CHECK(std::all_of(v.begin(), v.end(), [](std::int64_t x) { return x == 0; }));
        const ndarray copied = fresh.view().copy();
        CHECK(copied.view().bytes().view() == fresh.view().bytes().view());
    }
}

TEST_CASE("ndarray::uninitialized: the layout of a zero-filled array, without the fill") {
    ndarray a = ndarray::uninitialized<float>({3, 4}, array_order::fortran);
    CHECK(a.type() == dtype_of<float>());
    CHECK(a.shape() == std::vector<std::size_t>{3, 4});
    CHECK(a.order() == array_order::fortran);
    CHECK(a.nbytes() == 48);
    CHECK(a.data() != nullptr);
    CHECK(a.view().is_aligned());
    std::iota(a.values<float>().begin(), a.values<float>().end(), 0.0f);
    const ndarray_view v = a.view();
    CHECK(v.values<float>()[11] == 11.0f);
    CHECK(ndarray::uninitialized(dtype_of<double>(), {0}).nbytes() == 0);
    CHECK_THROWS_AS(ndarray::uninitialized<double>({std::size_t{1} << 62, 8}), usage_error);
    // Not zero-filled: over memory the allocator hands back used, some byte stays dirty
    // (glibc reuses the freed chunk; ASan fills new memory with 0xbe). The zero-filled
    // constructor over the same memory reads all zeros (the test above).
    // meson runs tests with a random MALLOC_PERTURB_; at 255 glibc fills every allocation
    // with 255 ^ 0xff = 0, so a zero array is all this check could see (1 run in 255).
    const char* perturb = std::getenv("MALLOC_PERTURB_");
    if (perturb != nullptr && std::string_view(perturb) == "255") return;
    bool dirty_seen = false;
    for (int round = 0; round < 3 && !dirty_seen; ++round) {
        { ndarray dirty = ndarray::from<std::int64_t>(std::vector<std::int64_t>(4096, -1)); }
        ndarray fresh = ndarray::uninitialized<std::int64_t>({4096});
        const auto v = fresh.values<std::int64_t>();
        dirty_seen = std::any_of(v.begin(), v.end(), [](std::int64_t x) { return x != 0; });
    }
    CHECK(dirty_seen);
}

TEST_CASE("a view must match its buffer's size") {
    const buffer b = buffer::take(std::vector<double>(6));
    CHECK_NOTHROW(ndarray_view(dtype_of<double>(), {2, 3}, b));
    CHECK_THROWS_AS(ndarray_view(dtype_of<double>(), {2, 4}, b), usage_error);
    CHECK_THROWS_AS(ndarray_view(dtype_of<float>(), {2, 3}, b), usage_error);
}

TEST_CASE("a misaligned view says so, refuses a typed span, and copies to aligned") {
    std::vector<char> raw(8 * 4 + 1);
    const double vals[4] = {1.5, -2.0, 3.25, 4.0};
    std::memcpy(raw.data() + 1, vals, sizeof vals);
    const buffer whole = buffer::take(std::move(raw));
    const ndarray_view v(dtype_of<double>(), {4}, whole.slice(1, 32));
    CHECK_FALSE(v.is_aligned());
    CHECK_THROWS_AS(v.values<double>(), usage_error);
    const ndarray a = v.copy();
    CHECK(a.view().is_aligned());
    CHECK(a.values<double>()[2] == 3.25);
    double x = 0;  // bytes() is always readable with memcpy
    std::memcpy(&x, v.bytes().data() + 8, sizeof x);
    CHECK(x == -2.0);
    // 1-byte elements are aligned anywhere.
    CHECK(ndarray_view(dtype_of<std::uint8_t>(), {3}, whole.slice(1, 3)).is_aligned());
}

TEST_CASE("a non-native byte order is readable as bytes but not as a native span") {
    const buffer b = buffer::take(std::vector<char>(16));
    const ndarray_view v(dtype::parse(">f8"), {2}, b);
    CHECK_FALSE(v.holds<double>());
    CHECK_THROWS_AS(v.values<double>(), usage_error);
    CHECK(v.type().str() == ">f8");
}

namespace {

template <class T>
std::vector<T> ramp(std::size_t n) {
    std::vector<T> v(n);
    for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<T>(i % 100);
    return v;
}

}  // namespace

TEST_CASE("every built-in round-trips over real sockets") {
    for (const auto& transport : test::transports) {
        CAPTURE(transport);
        zmq::context_t ctx;
        test::socket_pair sp(ctx, transport);
        session s(session_options{.key = "k"});
        message m = s.make_message("arrays");
        std::map<std::string, placeholder> c;
        c["bytes"] = offload(s, m, buffer::take(std::string(70'000, 'b')));
        c["str"] = offload(s, m, std::string("héllo"));
        c["f8"] = offload(s, m, ndarray::from<double>(ramp<double>(12), {3, 4}));
        c["i4F"] = offload(
            s, m, ndarray::from<std::int32_t>(ramp<std::int32_t>(6), {2, 3}, array_order::fortran));
        c["c16"] = offload(s, m,
                           ndarray::from<std::complex<double>>(
                               std::vector<std::complex<double>>{{1, 2}, {3, -4}}));
        c["b1"] = offload(s, m, std::vector<bool>{true, false, true});
        c["u1"] = offload(s, m, ramp<std::uint8_t>(300));
        c["i2"] = offload(s, m, ramp<std::int16_t>(5));
        c["u8"] = offload(s, m, ramp<std::uint64_t>(5));
        c["f4"] = offload(s, m, ramp<float>(1000));
        c["char"] = offload(s, m, std::vector<char>{'a', 'b'});
        c["empty"] = offload(s, m, std::vector<double>{});
        c["scalar"] = offload(s, m, ndarray(dtype_of<double>(), {}));
        m.set_content(c);
        s.send(sp.a, m);
        auto r = s.recv(sp.b);
        REQUIRE(r);
        resolver res(s, *r);
        const auto at = [&](const char* k) { return *find_key(r->content(), k); };
        CHECK(res.resolve<buffer>(at("bytes")).as_string_view() == std::string(70'000, 'b'));
        CHECK(res.resolve<std::string>(at("str")) == "héllo");
        const auto f8 = res.resolve<ndarray_view>(at("f8"));
        CHECK(f8.shape() == std::vector<std::size_t>{3, 4});
        CHECK(f8.copy().values<double>()[11] == 11.0);
        const auto i4 = res.resolve<ndarray>(at("i4F"));
        CHECK(i4.order() == array_order::fortran);
        CHECK(i4.values<std::int32_t>()[5] == 5);
        CHECK(res.resolve<ndarray>(at("c16")).values<std::complex<double>>()[1] ==
              std::complex<double>(3, -4));
        CHECK(res.resolve<std::vector<bool>>(at("b1")) == std::vector<bool>{true, false, true});
        CHECK(res.resolve<std::vector<std::uint8_t>>(at("u1")) == ramp<std::uint8_t>(300));
        CHECK(res.resolve<std::vector<std::int16_t>>(at("i2")) == ramp<std::int16_t>(5));
        CHECK(res.resolve<std::vector<std::uint64_t>>(at("u8")) == ramp<std::uint64_t>(5));
        CHECK(res.resolve<std::vector<float>>(at("f4")) == ramp<float>(1000));
        CHECK(res.resolve<std::vector<char>>(at("char")) == std::vector<char>{'a', 'b'});
        CHECK(res.resolve<std::vector<double>>(at("empty")).empty());
        const auto scalar = res.resolve<ndarray_view>(at("scalar"));
        CHECK(scalar.ndim() == 0);
        CHECK(scalar.size() == 1);
        CHECK(res.claimed() == r->buffers.size());
    }
}

TEST_CASE("received arrays are views: pointer identity over inproc") {
    zmq::context_t ctx;
    test::socket_pair sp(ctx, "inproc");
    session s(session_options{.key = "k", .copy_threshold = 0});
    message m = s.make_message("t");
    ndarray a = ndarray::from<double>(ramp<double>(100'000), {1000, 100});
    const std::byte* sent = a.data();
    const placeholder ph = offload(s, m, std::move(a));
    std::vector<float> column(5000, 1.5f);
    const float* column_sent = column.data();
    const placeholder ph2 = offload(s, m, std::move(column));  // moved in: no copy either
    s.send(sp.a, m);
    m = message();  // the sender lets go; the frames keep the bytes
    auto r = s.recv(sp.b);
    REQUIRE(r);
    resolver res(s, *r);
    const ndarray_view v = res.resolve<ndarray_view>(ph);
    CHECK(v.data() == sent);
    CHECK(v.data() == r->buffers[0].data());
    CHECK(v.is_aligned());
    CHECK(v.values<double>()[99'999] == 99.0);
    const ndarray_view w = res.resolve<ndarray_view>(ph2);
    CHECK(static_cast<const void*>(w.data()) == column_sent);
    r.reset();  // the view pins the frame on its own
    CHECK(v.values<double>()[12'345] == 45.0);
}

TEST_CASE("a vector cannot be resolved from an array of another dtype or shape") {
    session s(session_options{});
    message m = s.make_message("t");
    const placeholder f = offload(s, m, std::vector<float>{1, 2});
    const placeholder two_d = offload(s, m, ndarray::from<double>(ramp<double>(4), {2, 2}));
    message r = s.decode(s.encode(m));
    resolver res(s, r);
    CHECK_THROWS_AS(res.resolve<std::vector<double>>(f), decode_error);
    CHECK_THROWS_AS(res.resolve<std::vector<double>>(two_d), decode_error);
}

TEST_CASE("default-constructed arrays are empty, and offload and round-trip as such") {
    session s(session_options{});
    message m = s.make_message("t");
    const placeholder a = offload(s, m, ndarray());
    const placeholder v = offload(s, m, ndarray_view());
    CHECK(ndarray().size() == 0);
    CHECK(ndarray().values<std::uint8_t>().empty());
    message r = s.decode(s.encode(m));
    resolver res(s, r);
    CHECK(res.resolve<ndarray_view>(a).size() == 0);
    CHECK(res.resolve<ndarray_view>(v).shape() == std::vector<std::size_t>{0});
}

TEST_CASE("a received |b1 array with a byte other than 0 or 1 is a decode_error") {
    session s(session_options{});
    message m = s.make_message("t");
    const placeholder p = offload(s, m, std::vector<bool>{true, false, true});
    const placeholder q = offload(s, m, std::vector<bool>{true, false, true});
    frames f = s.encode(m);
    static_cast<unsigned char*>(f.back().data())[1] = 2;  // q's middle element
    message r = s.decode(std::move(f));
    resolver res(s, r);
    CHECK(res.resolve<std::vector<bool>>(p) == std::vector<bool>{true, false, true});
    CHECK_THROWS_AS(res.resolve<ndarray_view>(q), decode_error);
}

TEST_CASE("a locally built array whose size overflows is a usage_error, not a decode_error") {
    const std::vector<std::size_t> huge{std::size_t{1} << 40, std::size_t{1} << 40};
    CHECK_THROWS_AS(ndarray(dtype::parse("<f8"), huge), usage_error);
    CHECK_THROWS_AS(ndarray(dtype::parse("<f8"), {std::size_t{1} << 62}), usage_error);
    CHECK_THROWS_AS(ndarray_view(dtype::parse("<f8"), huge, buffer()), usage_error);
}

TEST_CASE("dtype names itself like the other wire names: to_string and dtype_from_string") {
    CHECK(to_string(dtype_from_string("<f8")) == "<f8");
    CHECK(dtype_from_string("|u1") == dtype::parse("|u1"));
}
