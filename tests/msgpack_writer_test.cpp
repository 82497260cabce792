// The msgpack map writer (msgpack_pack_map) against msgpack-c's packer: the same bytes for
// every type and at every size edge of msgpack's formats, appended after existing bytes.
#include <doctest/doctest.h>

#include <cstdint>
#include <limits>
#include <random>
#include <string>

#include "../src/msgpack_packer.hpp"
#include "zsession/error.hpp"

namespace {

using packer = msgpack::packer<msgpack::sbuffer>;

const std::int64_t int_edges[] = {0,
                                  1,
                                  31,
                                  32,
                                  127,
                                  128,
                                  255,
                                  256,
                                  65535,
                                  65536,
                                  (std::int64_t{1} << 32) - 1,
                                  std::int64_t{1} << 32,
                                  std::numeric_limits<std::int64_t>::max(),
                                  -1,
                                  -32,
                                  -33,
                                  -128,
                                  -129,
                                  -32768,
                                  -32769,
                                  -(std::int64_t{1} << 31),
                                  -(std::int64_t{1} << 31) - 1,
                                  std::numeric_limits<std::int64_t>::min()};
const std::size_t size_edges[] = {0, 1, 15, 16, 31, 32, 255, 256, 65535, 65536};

void random_value(packer& pk, std::mt19937& rng, int depth) {
    static const std::string text(70000, 'x');
    switch (rng() % (depth > 3 ? 9 : 11)) {
        case 0:
            pk.pack_nil();
            break;
        case 1:
            rng() % 2 ? pk.pack_true() : pk.pack_false();
            break;
        case 2:
            pk.pack_int64(int_edges[rng() % std::size(int_edges)]);
            break;
        case 3:
            pk.pack_uint64(std::numeric_limits<std::uint64_t>::max() - rng() % 3);
            break;
        case 4:
            pk.pack_double(static_cast<double>(rng()) / 7.0);
            break;
        case 5:
            pk.pack_float(static_cast<float>(rng() % 1000) / 8.0f);
            break;
        case 6:
        case 7: {
            const std::size_t n =
                rng() % 4 == 0 ? size_edges[rng() % std::size(size_edges)] : rng() % 60;
            pk.pack_str(static_cast<std::uint32_t>(n));
            pk.pack_str_body(text.data(), static_cast<std::uint32_t>(n));
            break;
        }
        case 8: {
            const std::uint32_t n = rng() % 300;
            if (rng() % 2) {
                pk.pack_bin(n);
                pk.pack_bin_body(text.data(), n);
            } else {
                pk.pack_ext(n, static_cast<std::int8_t>(rng() % 100));
                pk.pack_ext_body(text.data(), n);
            }
            break;
        }
        case 9: {
            const std::uint32_t n = rng() % 8 == 0 ? 16 : rng() % 17;
            pk.pack_array(n);
            for (std::uint32_t i = 0; i < n; ++i) random_value(pk, rng, depth + 1);
            break;
        }
        default: {
            const std::uint32_t n = rng() % 8 == 0 ? 16 : rng() % 17;
            pk.pack_map(n);
            for (std::uint32_t i = 0; i < n; ++i) {
                random_value(pk, rng, depth + 1);
                random_value(pk, rng, depth + 1);
            }
        }
    }
}

/// msgpack_pack_map(obj) appended to a prefix, against msgpack-c's pack of obj.
void check_same(const msgpack::object& obj) {
    msgpack::sbuffer expected;
    msgpack::pack(expected, obj);
    std::string out = "prefix";
    zsession::detail::msgpack_pack_map(obj, out, "content");
    REQUIRE(out.size() == 6 + expected.size());
    CHECK(out.compare(0, 6, "prefix") == 0);
    CHECK(out.compare(6, std::string::npos, expected.data(), expected.size()) == 0);
}

}  // namespace

TEST_CASE("random maps: the bytes msgpack-c writes") {
    std::mt19937 rng(11);
    for (int i = 0; i < 3000; ++i) {
        msgpack::sbuffer doc;
        packer pk(doc);
        const std::uint32_t n = rng() % 10;
        pk.pack_map(n);
        for (std::uint32_t k = 0; k < n; ++k) {
            random_value(pk, rng, 1);
            random_value(pk, rng, 1);
        }
        const msgpack::object_handle h = msgpack::unpack(doc.data(), doc.size());
        check_same(h.get());
    }
}

TEST_CASE("every integer, string, array and map size edge") {
    msgpack::zone zone;
    for (const std::int64_t v : int_edges) {
        CAPTURE(v);
        std::map<std::string, std::int64_t> m{{"v", v}};
        check_same(msgpack::object(m, zone));
    }
    const std::string text(70000, 'y');
    for (const std::size_t n : size_edges) {
        CAPTURE(n);
        std::map<std::string, std::string> s{{text.substr(0, n), text.substr(0, n)}};
        check_same(msgpack::object(s, zone));
        std::map<std::string, std::vector<int>> a{{"a", std::vector<int>(n, 7)}};
        check_same(msgpack::object(a, zone));
        std::map<int, int> m;
        for (std::size_t i = 0; i < n; ++i) m[static_cast<int>(i)] = -static_cast<int>(i);
        check_same(msgpack::object(m, zone));
    }
}

TEST_CASE("nil is {}; anything else that is not a map is refused") {
    std::string out;
    zsession::detail::msgpack_pack_map(msgpack::object(), out, "content");
    CHECK(out == "\x80");
    msgpack::zone zone;
    CHECK_THROWS_AS(zsession::detail::msgpack_pack_map(msgpack::object(3, zone), out, "content"),
                    zsession::usage_error);
}
