// Regression tests for issue 10's findings (docs/SECURITY.md): JSON numbers that RapidJSON's
// full-precision strtod decoded to garbage, and memory amplification from small inputs
// (lz4 expansion, U+FFFD growth of invalid UTF-8). The JSON-number differential test against
// Python is tests/interop/json_numbers_test.py; duplicate keys: duplicate_keys_test.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "support.hpp"

using namespace zsession;

namespace {

session json_session() {
    session_options o;
    o.packer = packer_kind::json;
    o.replay_history = 0;
    return session(o);
}

/// Decodes a message (unsigned, JSON packer) whose content frame is `content`.
message decode_content(const session& s, std::string_view content) {
    frames f = s.encode(s.make_message("probe"));
    f[5] = test::frame(content);
    return s.decode(std::move(f));
}

msgpack::object value_of(const message& m) {
    return m.content_as<std::map<std::string, msgpack::object>>().at("v");
}

double double_of(const session& s, const std::string& number) {
    const message m = decode_content(s, "{\"v\":" + number + "}");
    const msgpack::object v = value_of(m);
    REQUIRE(v.type == msgpack::type::FLOAT64);
    return v.via.f64;
}

}  // namespace

TEST_CASE("numbers RapidJSON's full-precision strtod got wrong decode as Python's json does") {
    const session s = json_session();
    const std::string zeros = "0." + std::string(23, '0');
    for (const std::string& t :
         {zeros, zeros + "e-300", zeros + "e300", "0." + std::string(400, '0')}) {
        CAPTURE(t);
        const double d = double_of(s, t);
        CHECK(d == 0.0);
        CHECK_FALSE(std::signbit(d));
        const double neg = double_of(s, "-" + t);
        CHECK(neg == 0.0);
        CHECK(std::signbit(neg));
    }
    CHECK(double_of(s, "0.1") == 0.1);
    CHECK(double_of(s, "2.2250738585072011e-308") == 2.2250738585072009e-308);
    CHECK(double_of(s, "4.9e-324") == std::numeric_limits<double>::denorm_min());
    CHECK(double_of(s, "2e-324") == 0.0);  // rounds to zero, as Python's float() does
    CHECK(double_of(s, "-1e-400") == 0.0);
    CHECK(std::isinf(double_of(s, "1.7976931348623159e308")));
    CHECK(double_of(s, "9007199254740993.0") == 9007199254740992.0);  // ties to even
    CHECK(std::isnan(double_of(s, "NaN")));
    CHECK(double_of(s, "-Infinity") == -std::numeric_limits<double>::infinity());
}

TEST_CASE("integers: 64-bit ones exactly, wider ones and Python-refused literals refused") {
    const session s = json_session();
    CHECK(value_of(decode_content(s, R"({"v":18446744073709551615})")).via.u64 == UINT64_MAX);
    CHECK(value_of(decode_content(s, R"({"v":-9223372036854775808})")).via.i64 == INT64_MIN);
    const msgpack::object minus_zero = value_of(decode_content(s, R"({"v":-0})"));
    CHECK(minus_zero.type == msgpack::type::POSITIVE_INTEGER);
    CHECK(minus_zero.via.u64 == 0);
    for (const char* bad : {"18446744073709551616", "-9223372036854775809",
                            "100000000000000000000000000000", "Inf", "-Inf", "-NaN"}) {
        CAPTURE(bad);
        CHECK_THROWS_AS(decode_content(s, std::string("{\"v\":") + bad + "}"), decode_error);
    }
}

TEST_CASE(
    "an lz4 block may not declare more than the ratio allows, nor the message more "
    "than its budget") {
    const registry reg = registry::builtins();
    offload_options packed;
    packed.compression.policy = compression_policy::always;
    message m;
    // 16 MiB of zeros compress to ~64 KiB: 255-fold, a valid block.
    const placeholder zeros =
        offload(m, buffer::take(std::string(std::size_t{16} << 20, '\0')), reg, packed);
    REQUIRE(m.buffers[0].size() < (std::size_t{1} << 17));
    {
        resolver r(m, reg);  // default ratio 64: 64 x 64 KiB + 1 MiB < 16 MiB
        CHECK_THROWS_AS(r.resolve<buffer>(zeros), limit_error);
    }
    limits roomy;
    roomy.max_decompression_ratio = 255;
    {
        resolver r(m, reg, roomy);
        CHECK(r.resolve<buffer>(zeros).size() == (std::size_t{16} << 20));
    }
    // A small buffer passes whatever its ratio (1 MiB of slack).
    message small;
    const placeholder z1 =
        offload(small, buffer::take(std::string(std::size_t{1} << 20, 'z')), reg, packed);
    const placeholder z2 =
        offload(small, buffer::take(std::string(std::size_t{1} << 20, 'y')), reg, packed);
    {
        resolver r(small, reg);
        CHECK(r.resolve<buffer>(z1).size() == (std::size_t{1} << 20));
    }
    // The per-message budget counts every placeholder one resolver resolves.
    limits tight;
    tight.max_decompressed_per_message = (std::size_t{3} << 19);  // 1.5 MiB
    resolver r(small, reg, tight);
    CHECK(r.resolve<buffer>(z1).size() == (std::size_t{1} << 20));
    CHECK_THROWS_AS(r.resolve<buffer>(z2), limit_error);
}

TEST_CASE("invalid UTF-8 in JSON strings may at most double the frame once replaced") {
    const session s = json_session();
    // Every byte invalid: replacing triples the string, more than the frame's size of growth.
    const std::string all_bad = "{\"v\":\"" + std::string(std::size_t{1} << 20, '\xff') + "\"}";
    CHECK_THROWS_AS(decode_content(s, all_bad), limit_error);
    // One invalid byte in three: growth 2/3 of the string, accepted and replaced.
    std::string mixed;
    for (int i = 0; i < 1000; ++i) mixed += "ab\xff";
    const message m = decode_content(s, "{\"v\":\"" + mixed + "\"}");
    const auto v = m.content_as<std::map<std::string, std::string>>().at("v");
    CHECK(v.size() == 5000);
    CHECK(v.substr(0, 5) == "ab\xEF\xBF\xBD");
    // Keys count too.
    const std::string bad_keys = "{\"" + std::string(300, '\x80') + "\":1}";
    CHECK_THROWS_AS(decode_content(s, bad_keys), limit_error);
}
