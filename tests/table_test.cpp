// The "table" handler: round trips (empty, one row, a million rows, every column kind,
// validity bitmaps, misaligned frames), zero-copy on both sides, and each hostile header or
// buffer rejected with its typed error.
#include "zsession/table.hpp"

#include <doctest/doctest.h>

#include <cstring>
#include <numeric>

#include "support.hpp"

using namespace zsession;

namespace {

const registry& reg() {
    static const registry r = registry::builtins();
    return r;
}

table sample_table() {
    table t(4);
    t.add(table_column::from_vector<double>("x", {0.5, 1.5, 2.5, 3.5}));
    t.add(table_column::from_vector<std::int32_t>("n", {1, -2, 3, -4})
              .with_validity(table_column::bitmap_from({true, false, true, true})));
    t.add(table_column::from_vector<bool>("flag", {true, false, false, true}));
    t.add(table_column::from_times("when", {0, 1'000'000'000, -5, 7}, "ns"));
    t.add(table_column::from_times("took", {1, 2, 3, 4}, "s", true));
    const std::vector<std::string> names = {"a", "", "h\xc3\xa9llo", "\xe2\x9c\x93"};
    t.add(table_column::from_strings("name", names)
              .with_validity(table_column::bitmap_from({true, true, false, true})));
    return t;
}

// Offloads `t`, encodes and decodes the message (frames at libzmq's addresses), resolves.
table round_trip(table t, const offload_options& o = {}) {
    session_options so;
    so.key = "k";
    const session s(so);
    message m = s.make_message("t");
    m.set_content(std::map<std::string, placeholder>{{"t", offload(m, std::move(t), reg(), o)}});
    const message got = s.decode(s.encode(std::move(m)));
    resolver r(got, reg());
    return r.resolve<table>(got.content_as<std::map<std::string, placeholder>>().at("t"));
}

// A message holding one hand-made table placeholder over `bufs`.
message hostile(const table_header& h, std::vector<buffer> bufs) {
    message m;
    placeholder p = detail::append_buffers(m, "table", std::move(bufs), {});
    p.header = msgpack::object(h, *p.zone);
    m.set_content(std::map<std::string, placeholder>{{"t", p}});
    return m;
}

table resolve_hostile(const table_header& h, std::vector<buffer> bufs) {
    const message m = hostile(h, std::move(bufs));
    resolver r(m, reg());
    return r.resolve<table>(m.content_as<std::map<std::string, placeholder>>().at("t"));
}

template <class T>
buffer bytes_of(std::vector<T> v) {
    return buffer::take(std::move(v));
}

}  // namespace

TEST_CASE("column types parse and print as on the wire") {
    for (const char* s : {"<f8", "|b1", "<i4", ">u2", "<c16", "<M8[ns]", ">m8[s]", "<M8[D]", "utf8",
                          "large_utf8"}) {
        CHECK(column_type::parse(s).str() == s);
    }
    for (const char* s :
         {"<M8", "<M8[10s]", "<M8[xs]", "|M8[ns]", "<U8", "<O", "utf16", "", "<m4[s]"}) {
        CAPTURE(s);
        CHECK_THROWS_AS(column_type::parse(s), decode_error);
    }
}

TEST_CASE("a table of every column kind round-trips through a signed message") {
    const table t = round_trip(sample_table());
    REQUIRE(t.rows() == 4);
    REQUIRE(t.columns().size() == 6);
    CHECK(t.column("x").type.str() == "<f8");
    std::vector<double> x(4);
    std::memcpy(x.data(), t.column("x").values.data(), 32);
    CHECK(x == std::vector<double>{0.5, 1.5, 2.5, 3.5});
    CHECK(t.column("n").is_valid(0));
    CHECK_FALSE(t.column("n").is_valid(1));
    CHECK_FALSE(t.column("x").validity.has_value());
    CHECK(t.column("when").type.str() == "<M8[ns]");
    CHECK(t.column("took").type.str() == "<m8[s]");
    CHECK(t.column("name").string_at(2) == "h\xc3\xa9llo");
    CHECK(t.column("name").string_at(1).empty());
    CHECK_FALSE(t.column("name").is_valid(2));
    CHECK(t.column("name").type.str() == "utf8");
    CHECK(t.column("flag").array().type().str() == "|b1");
}

TEST_CASE("received columns are views of the received frames") {
    session_options so;
    const session s(so);
    message m = s.make_message("t");
    m.set_content(std::map<std::string, placeholder>{{"t", offload(m, sample_table(), reg())}});
    const message got = s.decode(s.encode(std::move(m)));
    resolver r(got, reg());
    const table t = r.resolve<table>(got.content_as<std::map<std::string, placeholder>>().at("t"));
    CHECK(t.column("x").values.data() == got.buffers[0].data());
    CHECK(t.column("n").values.data() == got.buffers[1].data());
    CHECK(t.column("n").validity->data() == got.buffers[2].data());
    const auto& name = t.column("name");
    CHECK(name.data.data() == got.buffers[got.buffers.size() - 2].data());
}

TEST_CASE("offloading a table sends its columns' own bytes (zero-copy)") {
    std::vector<double> v(1000, 1.0);
    const double* p = v.data();
    table t(1000);
    t.add(table_column::from_vector("x", std::move(v)));
    message m;
    (void)offload(m, std::move(t), reg());
    REQUIRE(m.buffers.size() == 1);
    CHECK(reinterpret_cast<const double*>(m.buffers[0].data()) == p);
}

TEST_CASE("edges: no columns, zero rows, one row, a million rows, misaligned frames") {
    CHECK(round_trip(table(0)).columns().empty());
    CHECK(round_trip(table(7)).rows() == 7);
    table empty(0);
    empty.add(table_column::from_vector<double>("x", {}));
    empty.add(table_column::from_strings("s", std::vector<std::string>{}));
    const table e = round_trip(std::move(empty));
    CHECK(e.column("s").rows() == 0);
    table one(1);
    one.add(table_column::from_strings("s", std::vector<std::string>{"only"}));
    CHECK(round_trip(std::move(one)).column("s").string_at(0) == "only");

    std::vector<std::int64_t> big(1'000'000);
    std::iota(big.begin(), big.end(), 0);
    std::vector<std::string> strs(1'000'000);
    for (std::size_t i = 0; i < strs.size(); ++i) strs[i] = std::to_string(i);
    table t(1'000'000);
    t.add(table_column::from_vector("i", std::move(big)));
    t.add(table_column::from_strings("s", strs));
    const table r = round_trip(std::move(t));
    CHECK(r.column("s").string_at(999'999) == "999999");
    std::int64_t last = 0;
    std::memcpy(&last, r.column("i").values.data() + 8 * 999'999, 8);
    CHECK(last == 999'999);

    // Offsets at an odd address: decoding and string_at read them with memcpy.
    std::string raw(1 + 3 * 4, '\0');
    const std::int32_t offs[3] = {0, 2, 3};
    std::memcpy(raw.data() + 1, offs, sizeof offs);
    const buffer whole = buffer::take(std::move(raw));
    const table m = resolve_hostile({2, {{"s", "utf8", false}}},
                                    {whole.slice(1, 12), buffer::take(std::string("abc"))});
    CHECK(m.column("s").string_at(0) == "ab");
    CHECK(m.column("s").string_at(1) == "c");
}

TEST_CASE("compressed tables round-trip with every codec") {
    for (compression c : {compression::lz4, compression::zstd, compression::blosc}) {
        CAPTURE(to_string(c));
        offload_options o;
        o.compression.policy = compression_policy::always;
        o.compression.codec = c;
        table t(50'000);
        t.add(table_column::from_vector("x", std::vector<double>(50'000, 2.0)));
        const table r = round_trip(std::move(t), o);
        double v = 0;
        std::memcpy(&v, r.column("x").values.data() + 8 * 49'999, 8);
        CHECK(v == 2.0);
    }
}

TEST_CASE("building a bad table is a usage_error") {
    table t(3);
    CHECK_THROWS_AS(t.add(table_column::from_vector<double>("x", {1, 2})), usage_error);
    t.add(table_column::from_vector<double>("x", {1, 2, 3}));
    CHECK_THROWS_AS(t.add(table_column::from_vector<double>("x", {1, 2, 3})), usage_error);
    CHECK_THROWS_AS(t.add(table_column::from_vector<double>("y", {1, 2, 3})
                              .with_validity(bytes_of(std::vector<std::uint8_t>{}))),
                    usage_error);
    CHECK_THROWS_AS(table_column::from_times("t", {1}, "minutes"), usage_error);
    CHECK_THROWS_AS(table_column::from_utf8("s", bytes_of(std::vector<std::int32_t>{0, 5}),
                                            buffer::take(std::string("ab"))),
                    usage_error);
    CHECK_THROWS_AS(t.column("nope"), usage_error);
}

TEST_CASE("hostile tables: each lie is a decode_error") {
    const auto s = [](std::string v) { return buffer::take(std::move(v)); };
    const auto i32 = [](std::vector<std::int32_t> v) { return bytes_of(std::move(v)); };
    using H = table_header;
    // Offsets past the data, decreasing, not starting at 0, last short of the data.
    CHECK_THROWS_AS(resolve_hostile(H{2, {{"s", "utf8", false}}}, {i32({0, 1, 9}), s("abc")}),
                    decode_error);
    CHECK_THROWS_AS(resolve_hostile(H{2, {{"s", "utf8", false}}}, {i32({0, 2, 1}), s("abc")}),
                    decode_error);
    CHECK_THROWS_AS(resolve_hostile(H{2, {{"s", "utf8", false}}}, {i32({1, 2, 3}), s("abc")}),
                    decode_error);
    CHECK_THROWS_AS(resolve_hostile(H{2, {{"s", "utf8", false}}}, {i32({0, 1, 2}), s("abc")}),
                    decode_error);
    CHECK_THROWS_AS(resolve_hostile(H{2, {{"s", "utf8", false}}}, {i32({0, -1, 3}), s("abc")}),
                    decode_error);
    // Offsets count not rows + 1.
    CHECK_THROWS_AS(resolve_hostile(H{3, {{"s", "utf8", false}}}, {i32({0, 1, 3}), s("abc")}),
                    decode_error);
    // Invalid UTF-8, and an offset that splits a character.
    CHECK_THROWS_AS(resolve_hostile(H{1, {{"s", "utf8", false}}}, {i32({0, 2}), s("\xc3\x28")}),
                    decode_error);
    CHECK_THROWS_AS(resolve_hostile(H{2, {{"s", "utf8", false}}}, {i32({0, 1, 2}), s("\xc3\xa9")}),
                    decode_error);
    // Validity bitmap too short, and too long.
    CHECK_THROWS_AS(resolve_hostile(H{9, {{"x", "|u1", true}}},
                                    {s(std::string(9, 'a')), s(std::string(1, '\xff'))}),
                    decode_error);
    CHECK_THROWS_AS(resolve_hostile(H{8, {{"x", "|u1", true}}},
                                    {s(std::string(8, 'a')), s(std::string(2, '\xff'))}),
                    decode_error);
    // Values of the wrong size; a row count whose bytes overflow; unknown dtypes.
    CHECK_THROWS_AS(resolve_hostile(H{3, {{"x", "<f8", false}}}, {s(std::string(16, 'a'))}),
                    decode_error);
    CHECK_THROWS_AS(
        resolve_hostile(H{std::uint64_t{1} << 62, {{"x", "<f8", false}}}, {s(std::string(8, 'a'))}),
        decode_error);
    CHECK_THROWS_AS(resolve_hostile(H{~std::uint64_t{0}, {{"s", "large_utf8", false}}},
                                    {s(std::string(16, '\0')), s("")}),
                    decode_error);
    CHECK_THROWS_AS(resolve_hostile(H{1, {{"x", "<U8", false}}}, {s(std::string(8, 'a'))}),
                    decode_error);
    CHECK_THROWS_AS(resolve_hostile(H{1, {{"x", "<M8[parsec]", false}}}, {s(std::string(8, 'a'))}),
                    decode_error);
    // |b1 holding 2; two columns of one name; buffers left over; buffers missing.
    CHECK_THROWS_AS(resolve_hostile(H{1, {{"b", "|b1", false}}}, {s("\x02")}), decode_error);
    CHECK_THROWS_AS(
        resolve_hostile(H{1, {{"a", "|u1", false}, {"a", "|u1", false}}}, {s("x"), s("y")}),
        decode_error);
    CHECK_THROWS_AS(resolve_hostile(H{1, {{"a", "|u1", false}}}, {s("x"), s("y")}), decode_error);
    CHECK_THROWS_AS(resolve_hostile(H{1, {{"a", "|u1", true}}}, {s("x")}), decode_error);
    CHECK_THROWS_AS(resolve_hostile(H{1, {{"s", "utf8", false}}}, {i32({0, 1})}), decode_error);
}

TEST_CASE("a header of the wrong shape is a decode_error") {
    message m;
    placeholder p = detail::append_buffers(m, "table", {buffer::take(std::string("x"))}, {});
    p.header = msgpack::object(std::map<std::string, std::string>{{"rows", "one"}}, *p.zone);
    resolver r(m, reg());
    CHECK_THROWS_AS(r.resolve<table>(p), decode_error);
}

TEST_CASE("UTF-8 validation follows the standard") {
    CHECK(detail::valid_utf8(""));
    CHECK(detail::valid_utf8("plain ascii text, longer than eight bytes"));
    CHECK(detail::valid_utf8("\xf0\x9f\x98\x80 \xe2\x9c\x93 \xc3\xa9"));
    CHECK_FALSE(detail::valid_utf8("\xc0\xaf"));          // overlong
    CHECK_FALSE(detail::valid_utf8("\xed\xa0\x80"));      // surrogate
    CHECK_FALSE(detail::valid_utf8("\xf4\x90\x80\x80"));  // above U+10FFFF
    CHECK_FALSE(detail::valid_utf8("abc\xe2\x9c"));       // truncated
    CHECK_FALSE(detail::valid_utf8("\xff"));
}

TEST_CASE("non-native byte order is kept, not swapped (as ndarray does)") {
    std::string be(16, '\0');
    be[7] = 1;   // big-endian 1
    be[15] = 2;  // big-endian 2
    const table t = resolve_hostile({2, {{"x", ">i8", false}, {"t", ">M8[s]", false}}},
                                    {buffer::take(std::string(be)), buffer::take(std::string(be))});
    CHECK(t.column("x").type.str() == ">i8");
    CHECK(t.column("t").type.str() == ">M8[s]");
    CHECK_FALSE(t.column("x").array().holds<std::int64_t>());
    CHECK(t.column("x").array().bytes().view() == bytes_view(be));
}
