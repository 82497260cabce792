// The JSON packer: wire form, round trips through the session codec, and the defined
// behaviour for values JSON cannot hold and for hostile frames.
#include <doctest/doctest.h>

#include <openssl/evp.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <regex>

#include "support.hpp"

using namespace zsession;

namespace {

session_options json_options(std::string key = "json-key") {
    session_options o;
    o.key = std::move(key);
    o.packer = packer_kind::json;
    o.username = "tester";
    return o;
}

/// A correctly signed message whose four map frames are given verbatim, so decoding gets
/// past the signature to the parser.
frames signed_maps(const session& s, std::array<std::string, 4> maps) {
    frames f;
    f.push_back(test::frame("<IDS|MSG>"));
    std::array<bytes_view, 4> parts;
    for (std::size_t i = 0; i < 4; ++i) parts[i] = bytes_view(maps[i]);
    f.push_back(test::frame(s.sign(parts)));
    for (const auto& m : maps) f.push_back(test::frame(m));
    return f;
}

std::string json_header(const session& s) {
    const header h = s.make_header("probe");
    return R"({"msg_id":")" + h.msg_id + R"(","msg_type":"probe","username":"u","session":")" +
           h.session + R"(","date":")" + h.date + R"(","version":"5.3"})";
}

/// Decodes a message whose content frame is `content` (JSON text), everything else valid.
message decode_content(const session& s, const std::string& content) {
    return s.decode(signed_maps(s, {json_header(s), "{}", "{}", content}));
}

/// The content frame that encoding `content` produces.
std::string encoded_content(const msgpack::object& content) {
    session s(json_options());
    message m = s.make_message("probe");
    // No deep copy: msgpack-c's copy passes a null bin pointer to memcpy (UB), and the point
    // is to encode exactly this object, which the caller keeps alive.
    m.set_content(content, std::shared_ptr<const void>{});
    frames f = s.encode(m);
    return test::str(f[5]);
}

msgpack::object map_of(msgpack::zone& z, std::string key, const msgpack::object& value) {
    auto* kv = static_cast<msgpack::object_kv*>(z.allocate_align(sizeof(msgpack::object_kv)));
    kv->key = msgpack::object(key, z);
    kv->val = value;
    msgpack::object o;
    o.type = msgpack::type::MAP;
    o.via.map = {1, kv};
    return o;
}

std::string str_of(const msgpack::object& o) {
    REQUIRE(o.type == msgpack::type::STR);
    return std::string(o.via.str.ptr, o.via.str.size);
}

}  // namespace

TEST_CASE("the header is a JSON object with Jupyter's ISO 8601 date") {
    session s(json_options());
    message m = s.make_message("kernel_info_request");
    frames f = s.encode(m);
    const std::string h = test::str(f[2]);
    CHECK(h.front() == '{');
    CHECK(h.find(R"("msg_type":"kernel_info_request")") != std::string::npos);
    const std::regex date(R"re("date":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")re");
    CHECK(std::regex_search(h, date));
    CHECK(test::str(f[3]) == "{}");  // no parent
    CHECK(test::str(f[4]) == "{}");  // nil metadata
    CHECK(test::str(f[5]) == "{}");  // nil content
}

TEST_CASE("a JSON message survives the round trip with buffers") {
    session s(json_options());
    message m = s.make_message("execute_request");
    m.parent_header = s.make_header("parent");
    m.set_metadata(std::map<std::string, int>{{"priority", 3}});
    std::map<std::string, std::vector<double>> content{{"values", {1.5, -2.0, 1e300}}};
    m.set_content(content);
    m.buffers.push_back(buffer::take(std::vector<double>(10000, 2.5)));
    m.buffers.push_back(buffer::take(std::string("small")));
    message r = s.decode(s.encode(m));
    CHECK(r.header == m.header);
    CHECK(r.parent_header == m.parent_header);
    CHECK(r.metadata_as<std::map<std::string, int>>().at("priority") == 3);
    CHECK(r.content_as<decltype(content)>() == content);
    REQUIRE(r.buffers.size() == 2);
    CHECK(r.buffers[0].view() == m.buffers[0].view());
    CHECK(r.buffers[1].as_string_view() == "small");
}

TEST_CASE("scalars keep their msgpack types through JSON") {
    session s(json_options());
    const std::string text = R"({"u":18446744073709551615,"i":-9223372036854775808,"f":0.1,)"
                             R"("t":true,"n":null,"s":"\u00e9\u0000x","a":[],"o":{}})";
    message r = decode_content(s, text);
    const auto& c = r.content();
    CHECK(find_key(c, "u")->type == msgpack::type::POSITIVE_INTEGER);
    CHECK(find_key(c, "u")->via.u64 == std::numeric_limits<std::uint64_t>::max());
    CHECK(find_key(c, "i")->type == msgpack::type::NEGATIVE_INTEGER);
    CHECK(find_key(c, "i")->via.i64 == std::numeric_limits<std::int64_t>::min());
    CHECK(find_key(c, "f")->type == msgpack::type::FLOAT64);
    CHECK(find_key(c, "f")->via.f64 == 0.1);
    CHECK(find_key(c, "t")->via.boolean);
    CHECK(find_key(c, "n")->type == msgpack::type::NIL);
    CHECK(str_of(*find_key(c, "s")) == std::string("\xC3\xA9\0x", 4));
    CHECK(find_key(c, "a")->type == msgpack::type::ARRAY);
    CHECK(find_key(c, "o")->type == msgpack::type::MAP);
    // And back: the same text, except that non-ASCII is written as UTF-8, not escaped
    // (Python's ensure_ascii=False); reals are written shortest round-trip.
    std::string want = text;
    want.replace(want.find("\\u00e9"), 6, "\xC3\xA9");
    CHECK(encoded_content(r.content()) == want);
}

TEST_CASE("binary data is written as standard base64") {
    msgpack::zone z;
    const std::vector<char> bin{'\0', '\xff', 'a', 'b'};
    msgpack::object b;
    b.type = msgpack::type::BIN;
    b.via.bin = {4, bin.data()};
    CHECK(encoded_content(map_of(z, "b", b)) == R"({"b":"AP9hYg=="})");
    b.via.bin = {0, nullptr};
    CHECK(encoded_content(map_of(z, "b", b)) == R"({"b":""})");
}

TEST_CASE("base64 of a binary larger than one encoding chunk (3 MiB) is seamless") {
    msgpack::zone z;
    std::vector<char> bin((std::size_t{7} << 20) + 1);
    for (std::size_t i = 0; i < bin.size(); ++i) bin[i] = static_cast<char>(i * 131 % 251);
    msgpack::object b;
    b.type = msgpack::type::BIN;
    b.via.bin = {static_cast<std::uint32_t>(bin.size()), bin.data()};
    std::string whole(4 * ((bin.size() + 2) / 3) + 1, '\0');  // one call, as reference
    const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(whole.data()),
                                  reinterpret_cast<const unsigned char*>(bin.data()),
                                  static_cast<int>(bin.size()));
    whole.resize(static_cast<std::size_t>(n));
    CHECK(encoded_content(map_of(z, "b", b)) == "{\"b\":\"" + whole + "\"}");
}

TEST_CASE("content nested deeper than 1024 levels is refused on encode by both packers") {
    for (const packer_kind packer : {packer_kind::json, packer_kind::msgpack}) {
        session_options o = json_options();
        o.packer = packer;
        session s(o);
        message m = s.make_message("x");
        msgpack::object deep;  // [[[...1...]]], 2000 levels, under one key
        deep = msgpack::object(1);
        for (int i = 0; i < 2000; ++i) {
            auto* item = static_cast<msgpack::object*>(m.zone().allocate_align(sizeof deep));
            *item = deep;
            deep.type = msgpack::type::ARRAY;
            deep.via.array = {1, item};
        }
        m.set_content(map_of(m.zone(), "a", deep));
        CHECK_THROWS_AS(s.encode(m), usage_error);
    }
}

TEST_CASE("non-finite reals are written as jupyter_client's json_clean writes them") {
    msgpack::zone z;
    CHECK(encoded_content(map_of(z, "x", msgpack::object(std::nan("")))) == R"({"x":"nan"})");
    const double inf = std::numeric_limits<double>::infinity();
    CHECK(encoded_content(map_of(z, "x", msgpack::object(inf))) == R"({"x":"inf"})");
    CHECK(encoded_content(map_of(z, "x", msgpack::object(-inf))) == R"({"x":"-inf"})");
    CHECK(encoded_content(map_of(z, "x", msgpack::object(1.0))) == R"({"x":1.0})");
}

TEST_CASE("NaN and Infinity literals, as Python's json writes by default, are read") {
    session s(json_options());
    message r = decode_content(s, R"({"a":NaN,"b":-Infinity})");
    CHECK(std::isnan(find_key(r.content(), "a")->via.f64));
    CHECK(find_key(r.content(), "b")->via.f64 == -std::numeric_limits<double>::infinity());
}

TEST_CASE("a msgpack timestamp is written as an ISO 8601 string; other extensions refuse") {
    msgpack::zone z;
    const char ts[] = {0, 0, 0, 0};  // 1970-01-01T00:00:00 (timestamp 32)
    msgpack::object e;
    e.type = msgpack::type::EXT;
    std::vector<char> data{-1};
    data.insert(data.end(), ts, ts + 4);
    e.via.ext = {4, data.data()};
    CHECK(encoded_content(map_of(z, "d", e)) == R"({"d":"1970-01-01T00:00:00.000000Z"})");
    data[0] = 5;
    CHECK_THROWS_AS(encoded_content(map_of(z, "d", e)), usage_error);
}

TEST_CASE("map keys: integers, bools and nil become their JSON text, containers refuse") {
    msgpack::zone z;
    auto with_key = [&](const msgpack::object& key) {
        msgpack::object o = map_of(z, "k", msgpack::object(1));
        o.via.map.ptr->key = key;
        return o;
    };
    CHECK(encoded_content(with_key(msgpack::object(7))) == R"({"7":1})");
    CHECK(encoded_content(with_key(msgpack::object(-7))) == R"({"-7":1})");
    CHECK(encoded_content(with_key(msgpack::object(true))) == R"({"true":1})");
    CHECK(encoded_content(with_key(msgpack::object())) == R"({"null":1})");
    const msgpack::object arr(std::vector<int>{1}, z);
    CHECK_THROWS_AS(encoded_content(with_key(arr)), usage_error);
}

TEST_CASE("invalid UTF-8 becomes U+FFFD as Python's decode('utf8', 'replace') does") {
    // Expected values are Python's own output for the same bytes.
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"a\xff"
         "b",
         "a\xEF\xBF\xBD"
         "b"},
        {"\xe2\x82", "\xEF\xBF\xBD"},
        {"\xed\xa0\x80", "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"},
        {"\xc0\xaf", "\xEF\xBF\xBD\xEF\xBF\xBD"},
        {"\xf4\x90\x80\x80", std::string(4, 'R')},
        {"\xe2\x82\xac", "\xe2\x82\xac"},
    };
    for (auto [in, want] : cases) {
        if (want == "RRRR") {
            want.clear();
            for (int i = 0; i < 4; ++i) want += "\xEF\xBF\xBD";
        }
        CAPTURE(in);
        // Encoding a msgpack string with those bytes.
        msgpack::zone z;
        CHECK(encoded_content(map_of(z, "s", msgpack::object(in, z))) ==
              "{\"s\":\"" + want + "\"}");
        // Decoding a JSON frame with those raw bytes inside a string.
        session s(json_options());
        message r = decode_content(s, "{\"s\":\"" + in + "\"}");
        CHECK(str_of(*find_key(r.content(), "s")) == want);
    }
}

TEST_CASE("frames that are not one JSON object are decode errors") {
    session s(json_options());
    const std::vector<std::string> bad_frames = {
        "",
        "{",
        "{\"a\":}",
        "[1,2]",
        "\"text\"",
        "{} {}",
        "{}x",
        "{'a':1}",
        std::string("{\"a\":\"\0\"}", 9),  // raw NUL inside a string
        "\x81\xa1"
        "a\x01",              // msgpack, not JSON
        R"({"a":"\ud800"})",  // an escaped lone surrogate
    };
    for (const auto& bad : bad_frames) {
        CAPTURE(bad);
        CHECK_THROWS_AS(decode_content(s, bad), decode_error);
    }
    CHECK_NOTHROW(decode_content(s, " {} \n"));
    // A header that is not an object, or lacks a field.
    CHECK_THROWS_AS(s.decode(signed_maps(s, {"[]", "{}", "{}", "{}"})), decode_error);
    CHECK_THROWS_AS(s.decode(signed_maps(s, {R"({"msg_id":"x"})", "{}", "{}", "{}"})),
                    decode_error);
}

TEST_CASE("nesting is bounded by limits.max_nesting") {
    session_options o = json_options();
    o.limits.max_nesting = 8;
    session s(o);
    auto nested = [](std::size_t depth) {  // `depth` containers: an object, then arrays
        return "{\"a\":" + std::string(depth - 1, '[') + std::string(depth - 1, ']') + "}";
    };
    CHECK_NOTHROW(decode_content(s, nested(8)));
    CHECK_THROWS_AS(decode_content(s, nested(9)), limit_error);
    // Far deeper than any stack: still a limit_error, no recursion.
    CHECK_THROWS_AS(decode_content(s, "{\"a\":" + std::string(1 << 20, '[')), limit_error);
}

TEST_CASE("values per map are bounded by limits.max_map_elements") {
    session_options o = json_options();
    o.limits.max_map_elements = 100;
    session s(o);
    auto zeros = [](int n) {  // {"a":[0,0,...]}: 1 map + 1 key + 1 array + n values
        std::string list;
        for (int i = 0; i < n; ++i) list += i ? ",0" : "0";
        return "{\"a\":[" + list + "]}";
    };
    CHECK_NOTHROW(decode_content(s, zeros(97)));
    CHECK_THROWS_AS(decode_content(s, zeros(98)), limit_error);
}

TEST_CASE("nothing may follow the JSON value, not even after a NUL byte") {
    session s(json_options());
    CHECK_NOTHROW(decode_content(s, "{\"a\":1} \n\t"));
    CHECK_THROWS_AS(decode_content(s, std::string("{}\0 junk ][", 11)), decode_error);
    CHECK_THROWS_AS(decode_content(s, "{} {}"), decode_error);
}

TEST_CASE("packers do not mix, and JSON messages are signed like any other") {
    session json(json_options()), packed([] {
        session_options o = json_options();
        o.packer = packer_kind::msgpack;
        return o;
    }());
    CHECK_THROWS_AS(json.decode(packed.encode(packed.make_message("x"))), decode_error);
    CHECK_THROWS_AS(packed.decode(json.encode(json.make_message("x"))), decode_error);
    session other(json_options("another-key"));
    CHECK_THROWS_AS(other.decode(json.encode(json.make_message("x"))), signature_error);
    frames f = json.encode(json.make_message("x"));
    f[5] = test::frame("{\"x\":1}");
    CHECK_THROWS_AS(json.decode(std::move(f)), signature_error);
}

TEST_CASE("content that is not a map is refused when encoding, with the JSON packer too") {
    session s(json_options());
    message m = s.make_message("x");
    m.set_content(std::vector<int>{1, 2});
    CHECK_THROWS_AS(s.encode(m), usage_error);
}

// The reader and writer are zsession's own (issue 13): the escapes, both ways, and the
// frames cut anywhere inside a string.
TEST_CASE("escapes: every escape is read, control characters are written as RapidJSON did") {
    session s(json_options());
    message r = decode_content(
        s, R"({"a":"\"\\\/\b\f\n\r\t","b":"\u0041\u00e9\u20ac\ud83d\ude00","c":"\u0000x"})");
    CHECK(str_of(*find_key(r.content(), "a")) == "\"\\/\b\f\n\r\t");
    CHECK(str_of(*find_key(r.content(), "b")) == "A\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
    CHECK(str_of(*find_key(r.content(), "c")) == std::string("\0x", 2));
    // A lone low surrogate decodes to its 3-byte form, which U+FFFD replacement turns into
    // three U+FFFD (what RapidJSON 1.1 + the replacement did before).
    message low = decode_content(s, R"({"a":"x\udc00y"})");
    CHECK(str_of(*find_key(low.content(), "a")) == "x\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBDy");

    msgpack::zone z;
    std::string all;  // every ASCII byte, and one escape-free run longer than 8 bytes
    for (int c = 0; c < 0x80; ++c) all += static_cast<char>(c);
    all += "plain ascii text";
    const std::string written = encoded_content(map_of(z, "k", msgpack::object(all, z)));
    CHECK(written.rfind(R"({"k":"\u0000\u0001\u0002\u0003\u0004\u0005)", 0) == 0);
    CHECK(written.find(R"(\b\t\n\u000B\f\r\u000E)") != std::string::npos);
    CHECK(written.find(R"( !\"#$%&'()*+,-./0123456789)") != std::string::npos);
    CHECK(written.find(R"([\\]^_`abc)") != std::string::npos);
    CHECK(written.find("|}~\x7fplain ascii text\"}") != std::string::npos);
    message back = decode_content(s, written);
    CHECK(str_of(*find_key(back.content(), "k")) == all);
}

TEST_CASE("strings cut short, bad escapes and bad surrogates are decode errors") {
    session s(json_options());
    for (const std::string bad : {R"({"a":"abc)",
                                  R"({"a":"abc\)",
                                  R"({"a":"\)",
                                  R"({"a":"\u12)",
                                  R"({"a":"\u12g4"})",
                                  R"({"a":"\x41"})",
                                  R"({"a":"\ud800\u0041"})",
                                  R"({"a":"\ud800x"})",
                                  R"({"a":"\udbff\udbff"})",
                                  "{\"a\":\"tab\there\"}",
                                  "{\"a\":\"\\\x01\"}",
                                  R"({"a":tru})",
                                  R"({"a":nul})",
                                  R"({"a":-})",
                                  R"({"a":1.})",
                                  R"({"a":.5})",
                                  R"({"a":01})",
                                  R"({"a":-NaN})",
                                  R"({"a":Inf})",
                                  R"({"a":1,})",
                                  R"({"a" 1})",
                                  R"({"a":[1,]})",
                                  R"({,})",
                                  R"({1:2})",
                                  "{\"a\":\"\xff\"",
                                  "\xef\xbb\xbf{}"}) {
        CAPTURE(bad);
        CHECK_THROWS_AS(decode_content(s, bad), decode_error);
    }
}

TEST_CASE("exponents beyond double's range read as Python's json.loads reads them") {
    session s(json_options());
    message r = decode_content(s, R"({"a":1e400,"b":-1e309,"c":0e400,"d":1e-400,"e":-0})");
    const double inf = std::numeric_limits<double>::infinity();
    CHECK(find_key(r.content(), "a")->via.f64 == inf);
    CHECK(find_key(r.content(), "b")->via.f64 == -inf);
    CHECK(find_key(r.content(), "c")->via.f64 == 0.0);
    CHECK(find_key(r.content(), "d")->via.f64 == 0.0);
    CHECK(find_key(r.content(), "e")->type == msgpack::type::POSITIVE_INTEGER);
}
