// zstd and blosc (byte shuffle + zstd) beside lz4: round trips, bounded and typed failures
// on corrupt input, the link-aware policy, and placeholders carrying the codec.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <numeric>
#include <random>

#include "support.hpp"

using namespace zsession;

namespace {

// Smooth doubles: incompressible as bytes for lz4, very compressible after a byte shuffle.
std::vector<double> smooth(std::size_t n) {
    std::vector<double> v(n);
    for (std::size_t i = 0; i < n; ++i) v[i] = 1000.0 + static_cast<double>(i) * 0.25;
    return v;
}

std::vector<char> noise(std::size_t n) {
    std::mt19937_64 rng(42);
    std::vector<char> v(n);
    for (auto& c : v) c = static_cast<char>(rng());
    return v;
}

constexpr std::size_t no_limit = std::size_t{4} << 30;

}  // namespace

TEST_CASE("wire names of the new codecs") {
    for (compression c :
         {compression::none, compression::lz4, compression::zstd, compression::blosc}) {
        CHECK(compression_from_string(to_string(c)) == c);
    }
    CHECK(to_string(compression::zstd) == "zstd");
    CHECK(to_string(compression::blosc) == "blosc");
    CHECK_THROWS_AS(compression_from_string("gzip"), compression_error);
}

TEST_CASE("every codec round-trips, empty buffers included") {
    const auto v = smooth(100'000);
    const bytes_view in(v.data(), v.size() * sizeof(double));
    for (compression c : {compression::lz4, compression::zstd, compression::blosc}) {
        CAPTURE(to_string(c));
        const buffer packed = compress(c, in, 8);
        CHECK(decompress(c, packed, in.size(), no_limit).view() == in);
        const buffer empty = compress(c, bytes_view(), 8);
        CHECK(decompress(c, empty, 0, no_limit).size() == 0);
    }
}

TEST_CASE("the byte shuffle is what makes smooth doubles compress") {
    const auto v = smooth(100'000);
    const bytes_view in(v.data(), v.size() * sizeof(double));
    const std::size_t lz4 = lz4_compress(in).size();
    const std::size_t zstd = zstd_compress(in).size();
    const std::size_t shuffled = blosc_compress(in, 8).size();
    const std::size_t unshuffled = blosc_compress(in, 1).size();
    MESSAGE("800 kB smooth <f8: lz4 ", lz4, ", zstd ", zstd, ", blosc/8 ", shuffled, ", blosc/1 ",
            unshuffled);
    CHECK(shuffled * 4 < zstd);
    CHECK(shuffled < unshuffled);
}

TEST_CASE("corrupt or lying input is a typed error, checked before allocating") {
    const auto v = smooth(10'000);
    const bytes_view in(v.data(), v.size() * sizeof(double));
    for (compression c : {compression::zstd, compression::blosc}) {
        CAPTURE(to_string(c));
        const buffer good = compress(c, in, 8);
        // Declared size above the limit: limit_error.
        CHECK_THROWS_AS(decompress(c, good, in.size(), in.size() - 1), limit_error);
        // Declared size other than the stored one.
        CHECK_THROWS_AS(decompress(c, good, in.size() + 1, no_limit), compression_error);
        CHECK_THROWS_AS(decompress(c, good, in.size() - 8, no_limit), compression_error);
        // Truncated, trailing bytes, flipped bytes, garbage, empty.
        CHECK_THROWS_AS(decompress(c, good.slice(0, good.size() - 1), in.size(), no_limit),
                        compression_error);
        std::string longer(good.as_string_view());
        longer += "xx";
        CHECK_THROWS_AS(decompress(c, buffer::take(std::move(longer)), in.size(), no_limit),
                        compression_error);
        for (std::size_t at : {std::size_t{4}, std::size_t{20}, good.size() / 2}) {
            std::string bad(good.as_string_view());
            bad[at] = static_cast<char>(bad[at] ^ 0x5a);
            try {
                const buffer out = decompress(c, buffer::take(std::move(bad)), in.size(), no_limit);
                // A flip inside literal data can decode to other bytes of the right size
                // (zstd checks no checksum by default); never to a different size.
                CHECK(out.size() == in.size());
            } catch (const compression_error&) {
            }
        }
        const auto junk = noise(1000);
        CHECK_THROWS_AS(
            decompress(c, buffer::copy_of(bytes_view(junk.data(), junk.size())), 5000, no_limit),
            compression_error);
        CHECK_THROWS_AS(decompress(c, buffer(), 10, no_limit), compression_error);
    }
}

TEST_CASE("an impossible expansion is refused before allocating") {
    // A zstd frame of zeros: tiny, and declaring its true size is fine...
    std::vector<char> zeros(std::size_t{64} << 20);
    const buffer z = zstd_compress(bytes_view(zeros.data(), zeros.size()), 1);
    CHECK(decompress(compression::zstd, z, zeros.size(), no_limit).size() == zeros.size());
    for (std::size_t es : {std::size_t{1}, std::size_t{8}}) {
        const buffer b = blosc_compress(bytes_view(zeros.data(), zeros.size()), es);
        CHECK(decompress(compression::blosc, b, zeros.size(), no_limit).size() == zeros.size());
    }
    // ...but a 16-byte input can never declare 1 GiB.
    std::string fake(16, '\0');
    CHECK_THROWS_AS(zstd_decompress(bytes_view(fake), std::size_t{1} << 30, no_limit),
                    compression_error);
    CHECK_THROWS_AS(blosc_decompress(bytes_view(fake), std::size_t{1} << 30, no_limit),
                    compression_error);
}

TEST_CASE("policies: always, automatic and link_aware with each codec") {
    const auto v = smooth(200'000);
    const buffer in = buffer::copy_of(bytes_view(v.data(), v.size() * sizeof(double)));
    const auto junk = noise(1'600'000);
    const buffer rnd = buffer::copy_of(bytes_view(junk.data(), junk.size()));
    compression_options o;
    o.codec = compression::blosc;

    o.policy = compression_policy::off;
    CHECK(compress_buffer(in, o, 8).codec == compression::none);
    o.policy = compression_policy::always;
    CHECK(compress_buffer(rnd, o, 8).codec == compression::blosc);
    o.policy = compression_policy::automatic;
    CHECK(compress_buffer(in, o, 8).codec == compression::blosc);
    CHECK(compress_buffer(rnd, o, 8).codec == compression::none);

    o.policy = compression_policy::link_aware;
    o.link_bandwidth = 0;  // unknown link: never
    CHECK(compress_buffer(in, o, 8).codec == compression::none);
    o.link_bandwidth = std::numeric_limits<double>::infinity();  // loopback: never
    CHECK(compress_buffer(in, o, 8).codec == compression::none);
    o.link_bandwidth = 1e12;  // 1 TB/s: compressing can never beat it
    CHECK(compress_buffer(in, o, 8).codec == compression::none);
    o.link_bandwidth = 10e6;  // 10 MB/s: shuffle + zstd pays on smooth doubles...
    const compressed_buffer c = compress_buffer(in, o, 8);
    CHECK(c.codec == compression::blosc);
    CHECK(c.bytes.size() < in.size() / 4);
    CHECK(compress_buffer(rnd, o, 8).codec == compression::none);  // ...never on noise
    o.min_size = in.size() + 1;
    CHECK(compress_buffer(in, o, 8).codec == compression::none);

    // automatic follows the time rule once a bandwidth is configured.
    o = compression_options{};
    o.codec = compression::blosc;
    o.policy = compression_policy::automatic;
    o.link_bandwidth = std::numeric_limits<double>::infinity();
    CHECK(compress_buffer(in, o, 8).codec == compression::none);
    o.link_bandwidth = 1e12;
    CHECK(compress_buffer(in, o, 8).codec == compression::none);
    o.link_bandwidth = 10e6;
    CHECK(compress_buffer(in, o, 8).codec == compression::blosc);
}

TEST_CASE("loopback endpoints have infinite bandwidth") {
    const double inf = std::numeric_limits<double>::infinity();
    CHECK(link_bandwidth_for("inproc://x", 5) == inf);
    CHECK(link_bandwidth_for("ipc:///tmp/x", 5) == inf);
    CHECK(link_bandwidth_for("tcp://127.0.0.1:5555", 5) == inf);
    CHECK(link_bandwidth_for("tcp://localhost:5555", 5) == inf);
    CHECK(link_bandwidth_for("tcp://[::1]:5555", 5) == inf);
    CHECK(link_bandwidth_for("tcp://10.0.0.2:5555", 5) == 5);
}

TEST_CASE("offloaded arrays carry the codec in the placeholder, shuffled by their dtype") {
    const registry reg = registry::builtins();
    for (compression codec : {compression::zstd, compression::blosc}) {
        CAPTURE(to_string(codec));
        offload_options o;
        o.compression.policy = compression_policy::always;
        o.compression.codec = codec;
        const session s{session_options{}};
        message m = s.make_message("x");
        const placeholder p = offload(m, smooth(50'000), reg, o);
        CHECK(p.compression == std::vector<compression>{codec});
        CHECK(p.sizes == std::vector<std::uint64_t>{400'000});
        if (codec == compression::blosc) {
            // The chunk header's typesize byte (offset 3) is the dtype's itemsize.
            CHECK(static_cast<int>(m.buffers[0].data()[3]) == 8);
        }
        message got = s.decode(s.encode(std::move(m)));
        resolver r(got, reg);
        CHECK(r.resolve<std::vector<double>>(p) == smooth(50'000));
    }
}

TEST_CASE("a placeholder lying about a zstd/blosc buffer is rejected by the resolver") {
    const registry reg = registry::builtins();
    for (compression codec : {compression::zstd, compression::blosc}) {
        offload_options o;
        o.compression.policy = compression_policy::always;
        o.compression.codec = codec;
        message m;
        placeholder p = offload(m, smooth(1000), reg, o);
        p.sizes[0] += 8;
        resolver r(m, reg);
        CHECK_THROWS_AS(r.resolve<std::vector<double>>(p), compression_error);
        limits small;
        small.max_decompressed_bytes = 100;
        placeholder q = offload(m, smooth(1000), reg, o);
        resolver r2(m, reg, small);
        CHECK_THROWS_AS(r2.resolve<std::vector<double>>(q), limit_error);
    }
}

TEST_CASE("random corruption of zstd and blosc buffers never crashes and never lies") {
    const auto v = smooth(4096);
    const bytes_view in(v.data(), v.size() * sizeof(double));
    std::mt19937_64 rng(7);
    for (compression c : {compression::zstd, compression::blosc}) {
        CAPTURE(to_string(c));
        const std::string good(compress(c, in, 8).as_string_view());
        for (int round = 0; round < 3000; ++round) {
            std::string bad = good;
            const int flips = 1 + static_cast<int>(rng() % 4);
            for (int k = 0; k < flips; ++k) bad[rng() % bad.size()] = static_cast<char>(rng());
            if (rng() % 8 == 0) bad.resize(rng() % bad.size());
            const std::size_t declared = rng() % 4 == 0 ? rng() % (2 * in.size()) : in.size();
            try {
                const buffer out = decompress(c, buffer::take(std::move(bad)), declared, no_limit);
                REQUIRE(out.size() == declared);
            } catch (const compression_error&) {
            }
        }
    }
}
