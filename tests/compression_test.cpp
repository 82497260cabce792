// lz4 per buffer: the codec, its bounds, and the off / always / automatic policy.
#include <doctest/doctest.h>

#include <random>

#include "support.hpp"

using namespace zsession;

namespace {

std::vector<char> random_bytes(std::size_t n) {
    std::mt19937 rng(42);
    std::vector<char> v(n);
    for (auto& c : v) c = static_cast<char>(rng());
    return v;
}

std::vector<char> repetitive_bytes(std::size_t n) {
    std::vector<char> v(n);
    for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<char>("abcabcabd"[i % 9]);
    return v;
}

bytes_view view(const std::vector<char>& v) {
    return {v.data(), v.size()};
}

compression_options with(compression_policy p) {
    compression_options o;
    o.policy = p;
    return o;
}

}  // namespace

TEST_CASE("lz4 round trip, and the decompressed buffer is aligned") {
    const auto data = repetitive_bytes(100'000);
    const buffer c = lz4_compress(view(data));
    CHECK(c.size() < data.size() / 10);
    const buffer d = lz4_decompress(c, data.size(), data.size());
    CHECK(d.view() == view(data));
    CHECK(reinterpret_cast<std::uintptr_t>(d.data()) % alignof(std::max_align_t) == 0);
}

TEST_CASE("decompression is bounded by the declared size and the limit") {
    const auto data = repetitive_bytes(50'000);
    const buffer c = lz4_compress(view(data));
    CHECK_THROWS_AS(lz4_decompress(c, data.size() - 1, 1 << 20), compression_error);
    CHECK_THROWS_AS(lz4_decompress(c, data.size() + 1, 1 << 20), compression_error);
    CHECK_THROWS_AS(lz4_decompress(c, data.size(), data.size() - 1), limit_error);
    const std::string garbage(64, '\xff');
    CHECK_THROWS_AS(lz4_decompress(std::string_view(garbage), 1000, 1 << 20), compression_error);
    CHECK_THROWS_AS(lz4_decompress(c, std::size_t{1} << 40, SIZE_MAX), compression_error);
}

TEST_CASE("a declared size beyond lz4's 255-fold expansion is refused before allocating") {
    // 2 GB declared for a 1-byte block: refused at once, not after zero-filling 2 GB.
    const std::string one(1, '\0');
    CHECK_THROWS_WITH_AS(lz4_decompress(std::string_view(one), 2'113'929'216, SIZE_MAX),
                         "declared decompressed size is impossible for a 1-byte lz4 block",
                         compression_error);
    // The most compressible input still decompresses: the bound is not too tight.
    const std::string zeros(1 << 20, '\0');
    const buffer c = lz4_compress(bytes_view(zeros));
    CHECK(c.size() * 255 + 16 >= zeros.size());
    CHECK(lz4_decompress(c, zeros.size(), SIZE_MAX).view() == bytes_view(zeros));
}

TEST_CASE("wire names of the compressions") {
    CHECK(to_string(compression::none) == "none");
    CHECK(to_string(compression::lz4) == "lz4");
    CHECK(compression_from_string("lz4") == compression::lz4);
    CHECK_THROWS_AS(compression_from_string("gzip"), compression_error);
}

TEST_CASE("policy off never compresses; always compresses even when it does not pay") {
    const auto noise = random_bytes(20'000);
    CHECK_FALSE(maybe_compress(view(noise), with(compression_policy::off)));
    auto c = maybe_compress(view(noise), with(compression_policy::always));
    REQUIRE(c);
    CHECK(c->size() >= noise.size());
}

TEST_CASE("automatic keeps the compressed form only where it pays") {
    const auto o = with(compression_policy::automatic);
    CHECK_FALSE(maybe_compress(view(random_bytes(200'000)), o));             // sample does not pay
    CHECK_FALSE(maybe_compress(view(repetitive_bytes(o.min_size - 1)), o));  // too small
    auto c = maybe_compress(view(repetitive_bytes(200'000)), o);
    REQUIRE(c);
    CHECK(c->size() < 20'000);
    CHECK(maybe_compress(view(repetitive_bytes(30'000)), o));  // sample is the whole buffer
}

TEST_CASE("an offloaded compressible array travels compressed and comes back whole") {
    session_options so;
    so.key = "k";
    so.offload.compression.policy = compression_policy::automatic;
    session s(so);
    message m = s.make_message("t");
    std::vector<double> zeros(100'000, 0.0);
    zeros[777] = 7.0;
    const placeholder ph = offload(s, m, zeros);
    REQUIRE(ph.compression.size() == 1);
    CHECK(ph.compression[0] == compression::lz4);
    CHECK(ph.sizes[0] == 800'000);
    CHECK(m.buffers[0].size() < 10'000);
    m.set_content(std::map<std::string, placeholder>{{"a", ph}});
    message r = s.decode(s.encode(m));
    resolver res(s, r);
    const auto view = res.resolve<ndarray_view>(*find_key(r.content(), "a"));
    CHECK(view.is_aligned());
    CHECK(view.values<double>()[777] == 7.0);
    CHECK(std::vector<double>(view.values<double>().begin(), view.values<double>().end()) == zeros);
}

TEST_CASE("a compressed buffer whose declared size is over the limit is a limit_error") {
    session_options so;
    so.offload.compression.policy = compression_policy::always;
    so.limits.max_decompressed_bytes = 1000;
    session s(so);
    message m = s.make_message("t");
    const placeholder ph = offload(s, m, std::string(5000, 'x'));
    message r = s.decode(s.encode(m));
    resolver res(s, r);
    CHECK_THROWS_AS(res.resolve<std::string>(ph), limit_error);
}
