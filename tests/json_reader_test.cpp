// The JSON reader's two paths (src/json_packer.cpp): frames under 4 KiB within the element
// limit are read without the per-value limit checks, with a bitmap of their special bytes;
// larger ones with the checks and a 16-byte scan. Both must give the same objects and the
// same errors; strings must end right wherever they sit relative to the frame's end and to
// 16- and 64-byte blocks.
#include <doctest/doctest.h>

#include <random>
#include <string>
#include <vector>

#include "../src/json_packer.hpp"
#include "zsession/error.hpp"

using namespace zsession;

namespace {

/// The outcome of reading `doc`: the object packed as msgpack, or the error's kind.
std::string outcome(const std::string& doc, const limits& lim = {}) {
    msgpack::zone zone;
    try {
        const msgpack::object o = detail::json_unpack_map(
            {reinterpret_cast<const std::byte*>(doc.data()), doc.size()}, zone, lim, "content");
        msgpack::sbuffer sb;
        msgpack::pack(sb, o);
        return "ok:" + std::string(sb.data(), sb.size());
    } catch (const limit_error&) {
        return "limit";
    } catch (const decode_error&) {
        return "decode";
    }
}

/// `doc` followed by spaces up to 5000 bytes: the same document, read by the checked path.
std::string padded(const std::string& doc) {
    return doc + std::string(5000 - doc.size(), ' ');
}

/// A random document of nested maps, arrays, strings (escapes, UTF-8, invalid bytes,
/// controls), numbers and literals; not always valid.
void random_value(std::string& out, std::mt19937& rng, int depth) {
    static const char* const atoms[] = {"true",
                                        "false",
                                        "null",
                                        "0",
                                        "-0",
                                        "12",
                                        "-7",
                                        "123456789012345678",
                                        "18446744073709551615",
                                        "1.5e3",
                                        "-2.25",
                                        "NaN",
                                        "-Infinity",
                                        "1e400"};
    static const char* const pieces[] = {
        "a",       "bc",       "\\n",  "\\\"",     "\\\\", "\\u00e9", "\\ud83d\\ude00",
        "\\udc00", "\xc3\xa9", "\xff", "\xe2\x82", "\x01", "/",       "0123456789abcdef"};
    const unsigned kind = depth > 4 ? rng() % 2 : rng() % 4;
    if (kind == 0) {
        out += atoms[rng() % std::size(atoms)];
    } else if (kind == 1) {
        out += '"';
        for (unsigned n = rng() % 6; n > 0; --n) out += pieces[rng() % std::size(pieces)];
        out += '"';
    } else {
        const bool map = kind == 2;
        out += map ? '{' : '[';
        for (unsigned n = rng() % 5, i = 0; i < n; ++i) {
            if (i != 0) out += rng() % 8 == 0 ? ", " : ",";
            if (map) {
                out += "\"k" + std::to_string(rng() % 6) + "\":";
            }
            random_value(out, rng, depth + 1);
        }
        out += map ? '}' : ']';
    }
}

}  // namespace

TEST_CASE("a string ends right at every distance from the frame's end and block edges") {
    for (std::size_t len = 0; len <= 140; ++len) {
        for (const std::string special : {"", "\\n", "\xc3\xa9", "\\u0041"}) {
            for (std::size_t tail = 0; tail <= 20; tail += 5) {
                std::string text(len, 'x');
                text.insert(len / 2, special);
                const std::string doc = "{\"k\":\"" + text + "\"" + std::string(tail, ' ') + "}";
                std::string want = std::string(len, 'x');
                want.insert(len / 2, special == "\\n"       ? "\n"
                                     : special == "\\u0041" ? "A"
                                                            : special);
                msgpack::zone zone;
                const msgpack::object o = detail::json_unpack_map(
                    {reinterpret_cast<const std::byte*>(doc.data()), doc.size()}, zone, {},
                    "content");
                REQUIRE(o.type == msgpack::type::MAP);
                REQUIRE(o.via.map.size == 1);
                const msgpack::object& v = o.via.map.ptr[0].val;
                REQUIRE(v.type == msgpack::type::STR);
                CHECK(std::string(v.via.str.ptr, v.via.str.size) == want);
                CHECK(outcome(padded(doc)) == outcome(doc));
                // Without its closing quote (and brace), at the frame's very end.
                const std::string cut = "{\"k\":\"" + text;
                CHECK(outcome(cut) == "decode");
                CHECK(outcome(padded(cut)) == "decode");
            }
        }
    }
}

TEST_CASE("frames under 16 bytes") {
    CHECK(outcome("{}") == outcome(padded("{}")));
    CHECK(outcome("{\"a\":\"b\"}") == outcome(padded("{\"a\":\"b\"}")));
    CHECK(outcome("{\"\":\"\"}").rfind("ok:", 0) == 0);
    CHECK(outcome("{\"a\":1}").rfind("ok:", 0) == 0);
    CHECK(outcome("{\"a\":\"\x01\"}") == "decode");
    CHECK(outcome("{\"a\":\"b") == "decode");
    CHECK(outcome("") == "decode");
    CHECK(outcome(" ") == "decode");
}

TEST_CASE("the element limit at the frame's size picks either path, same outcome") {
    const std::string doc = "{\"a\":[1,2,{\"b\":null}],\"c\":\"d\"}";  // 10 elements, 31 bytes
    for (std::size_t max = 0; max <= doc.size() + 1; ++max) {
        limits lim;
        lim.max_map_elements = max;
        const std::string got = outcome(doc, lim);
        CHECK(got == (max >= 10 ? outcome(doc) : std::string("limit")));
        CHECK(outcome(padded(doc), lim) == got);
    }
}

TEST_CASE("random documents: both paths agree") {
    std::mt19937 rng(20261129);
    int valid = 0;
    for (int i = 0; i < 20000; ++i) {
        std::string doc = "{";
        for (unsigned n = rng() % 6, j = 0; j < n; ++j) {
            if (j != 0) doc += ',';
            doc += "\"m" + std::to_string(j) + "\":";
            random_value(doc, rng, 1);
        }
        doc += '}';
        if (i % 3 == 0 && !doc.empty()) {  // a mutation: one byte replaced, or the end cut
            const std::size_t at = rng() % doc.size();
            if (rng() % 2) {
                doc[at] = "{}[]:,\"\\ 0-e\x80"[rng() % 14];
            } else {
                doc.resize(at);
            }
        }
        const std::string got = outcome(doc);
        valid += got.rfind("ok:", 0) == 0;
        REQUIRE_MESSAGE(outcome(padded(doc)) == got, doc);
    }
    CHECK(valid > 5000);  // the generator mostly writes valid documents
}
