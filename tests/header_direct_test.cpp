// The direct header read (packer::try_read_header, issue 13) against the general path it
// short-cuts (unpack_map, then read_header), on thousands of generated and mutated header
// frames, both packers: the same header on success, the same exception (type and text) on
// failure. And codec::decode against the general path over whole messages, where the order
// in which the four frames are checked decides which error a bad message raises. Seeded.
#include <doctest/doctest.h>

#include <array>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "../src/packer.hpp"
#include "../src/packer_common.hpp"
#include "support.hpp"
#include "zsession/codec.hpp"

using namespace zsession;

namespace {

constexpr std::array<const char*, 6> field_names = {"msg_id",  "msg_type", "username",
                                                    "session", "date",     "version"};

/// What a read gave: the header, or the exception's kind and text.
struct outcome {
    enum kind_t { ok, decode, limit, other } kind = ok;
    std::string what;
    header h;
    header parent;  // codec cases only
};

template <class F>
outcome run(F&& f) {
    outcome o;
    try {
        f(o);
    } catch (const limit_error& e) {
        o.kind = outcome::limit;
        o.what = e.what();
    } catch (const decode_error& e) {
        o.kind = outcome::decode;
        o.what = e.what();
    } catch (const std::exception& e) {
        o.kind = outcome::other;
        o.what = e.what();
    }
    return o;
}

void check_same(const outcome& a, const outcome& b) {
    REQUIRE(a.kind == b.kind);
    CHECK(a.what == b.what);
    if (a.kind == outcome::ok) {
        CHECK(a.h == b.h);
        CHECK(a.parent == b.parent);
    }
}

std::string hex(const std::string& s) {
    static const char* digits = "0123456789abcdef";
    std::string out;
    for (unsigned char c : s) out += {digits[c >> 4], digits[c & 15]};
    return out;
}

// ---------------------------------------------------------------------------------------
// Generators. Each writes one value or map in the packer's bytes; `r` draws the shape.

using rng = std::mt19937_64;

std::size_t pick(rng& r, std::size_t n) {
    return std::uniform_int_distribution<std::size_t>(0, n - 1)(r);
}
bool chance(rng& r, unsigned percent) {
    return pick(r, 100) < percent;
}

/// Text for a header value: usually short ASCII, sometimes empty, long, or with bytes a
/// JSON string must escape or that are not ASCII (valid and invalid UTF-8).
std::string text(rng& r) {
    static const std::vector<std::string> pieces = {
        "a",    "id-1",         "2026-01-01T00:00:00.000000Z",
        "5.3",  "\"",           "\\",
        "\n",   "\x01",         "\x7f",
        "é",    "\xe2\x82\xac", "\xff",
        "\xc3", "\xed\xa0\x80", "0123456789012345678901234567890123456789012345678901234567"};
    std::string s;
    const std::size_t n = chance(r, 10) ? 0 : 1 + pick(r, chance(r, 10) ? 40 : 4);
    for (std::size_t i = 0; i < n; ++i) {
        s += chance(r, 95) ? pieces[pick(r, 4)] : pieces[pick(r, pieces.size())];
    }
    return s;
}

std::string key_text(rng& r) {
    if (chance(r, 80)) return field_names[pick(r, 6)];
    static const std::vector<std::string> others = {"x", "msg", "msg_idx", "", "Date", "é"};
    return others[pick(r, others.size())];
}

// msgpack ----------------------------------------------------------------------------------

void mp_len(std::string& out, unsigned fix_base, unsigned fix_max, unsigned wide_base,
            std::size_t n, unsigned min_width) {
    // fix form when it fits and no wider width is asked for; else 1, 2 or 4 length bytes
    if (min_width == 0 && n <= fix_max) {
        out += static_cast<char>(fix_base | n);
        return;
    }
    unsigned w = min_width == 0 ? 1 : min_width;
    while ((w < 4) && (n >> (8 * w)) != 0) w *= 2;
    const unsigned code = w == 1 ? 0 : w == 2 ? 1 : 2;
    out += static_cast<char>(wide_base + code);
    for (unsigned i = w; i-- > 0;) out += static_cast<char>((n >> (8 * i)) & 0xff);
}

void mp_str(std::string& out, const std::string& s, rng& r) {
    const unsigned width = chance(r, 85) ? 0 : std::array<unsigned, 3>{1, 2, 4}[pick(r, 3)];
    mp_len(out, 0xa0, 31, 0xd9, s.size(), width);
    out += s;
}

void mp_timestamp(std::string& out, rng& r) {
    const std::uint64_t secs = chance(r, 90) ? 1700000000 + pick(r, 1000000) : r();
    const std::uint32_t nanos = chance(r, 90) ? static_cast<std::uint32_t>(pick(r, 1000000000))
                                              : static_cast<std::uint32_t>(r());
    const auto be = [&](std::uint64_t v, unsigned n) {
        for (unsigned i = n; i-- > 0;) out += static_cast<char>((v >> (8 * i)) & 0xff);
    };
    const char type = chance(r, 90) ? '\xff' : static_cast<char>(pick(r, 3));
    switch (pick(r, 5)) {
        case 0:  // fixext 4
            out += '\xd6';
            out += type;
            be(secs & 0xffffffff, 4);
            break;
        case 1:  // fixext 8
            out += '\xd7';
            out += type;
            be((std::uint64_t{nanos} << 34) | (secs & 0x3ffffffffull), 8);
            break;
        case 2:  // ext 8, 12 bytes
            out += "\xc7\x0c";
            out += type;
            be(nanos, 4);
            be(secs, 8);
            break;
        case 3:  // ext 16 of 4 bytes
            out += std::string("\xc8\x00\x04", 3);
            out += type;
            be(secs & 0xffffffff, 4);
            break;
        default:  // a size no timestamp has
            out += '\xd5';
            out += type;
            be(secs, 2);
            break;
    }
}

void mp_value(std::string& out, rng& r, int depth, bool header_like);

void mp_map(std::string& out, rng& r, int depth, bool header_like) {
    const std::size_t n = header_like ? (chance(r, 70) ? 6 : pick(r, 9)) : pick(r, 4);
    const unsigned width = chance(r, 90) ? 0 : std::array<unsigned, 2>{2, 4}[pick(r, 2)];
    if (width == 0) {
        out += static_cast<char>(0x80 | (n & 0x0f));
        if (n > 15) return;
    } else {
        mp_len(out, 0x80, 15, 0xde - 1, n, width);  // map16 0xde, map32 0xdf
    }
    std::vector<std::string> order(field_names.begin(), field_names.end());
    if (chance(r, 30)) std::shuffle(order.begin(), order.end(), r);
    for (std::size_t i = 0; i < n; ++i) {
        // keys: header fields in order, others, repeats, non-string keys
        if (header_like && i < 6 && chance(r, 93)) {
            mp_str(out, order[i], r);
        } else if (chance(r, 75)) {
            mp_str(out, key_text(r), r);
        } else {
            mp_value(out, r, depth + 1, false);
        }
        if (header_like && chance(r, 93)) {
            if (chance(r, 5)) {
                mp_timestamp(out, r);
            } else {
                mp_str(out, text(r), r);
            }
        } else {
            mp_value(out, r, depth + 1, false);
        }
    }
}

void mp_value(std::string& out, rng& r, int depth, bool header_like) {
    if (header_like) return mp_map(out, r, depth, true);
    switch (pick(r, depth > 3 ? 9 : 12)) {
        case 0:
            out += '\xc0';
            return;
        case 1:
            out += chance(r, 50) ? '\xc2' : '\xc3';
            return;
        case 2:
            out += static_cast<char>(pick(r, 128));
            return;
        case 3:
            out += std::string("\xcd\x01\x00", 3);
            return;
        case 4:
            out += std::string("\xc4\x02zz", 4);  // bin 8
            return;
        case 5:
            mp_timestamp(out, r);
            return;
        case 6:
        case 7:
        case 8:
            mp_str(out, chance(r, 50) ? text(r) : key_text(r), r);
            return;
        case 9: {  // nested arrays, sometimes deeper than max_nesting
            const std::size_t d = chance(r, 20) ? 60 + pick(r, 10) : 1 + pick(r, 3);
            out += std::string(d, '\x91');
            out += '\xc0';
            return;
        }
        case 10: {
            const std::size_t n = pick(r, 3);
            out += static_cast<char>(0x90 | n);
            for (std::size_t i = 0; i < n; ++i) mp_value(out, r, depth + 1, false);
            return;
        }
        default:
            return mp_map(out, r, depth, false);
    }
}

// JSON -------------------------------------------------------------------------------------

std::string json_ws(rng& r) {
    if (chance(r, 70)) return "";
    static const std::vector<std::string> ws = {" ", "\n", "\t", "\r", "  ", "\f", "\v"};
    return ws[pick(r, chance(r, 95) ? 5 : ws.size())];
}

/// `s` as a JSON string: usually escaped as a writer would, sometimes raw (control
/// characters, lone quotes), with \u escapes (surrogates, paired or not).
std::string json_string(const std::string& s, rng& r) {
    std::string out = "\"";
    const bool raw = chance(r, 5);
    for (unsigned char c : s) {
        if (!raw && (c == '"' || c == '\\')) {
            out += '\\';
            out += static_cast<char>(c);
        } else if (!raw && c < 0x20) {
            out += c == '\n' ? "\\n" : "\\u0001";
        } else if (c == '_' && chance(r, 2)) {
            out += "\\u005f";  // a header key spelled with an escape
        } else {
            out += static_cast<char>(c);
        }
    }
    if (chance(r, 2)) {
        static const std::vector<std::string> esc = {
            "\\ud83d\\ude00", "\\ud800", "\\udc00", "\\u00e9", "\\/", "\\x", "\\u12"};
        out += esc[pick(r, esc.size())];
    }
    return out + "\"";
}

void js_value(std::string& out, rng& r, int depth, bool header_like);

void js_map(std::string& out, rng& r, int depth, bool header_like) {
    const std::size_t n = header_like ? (chance(r, 70) ? 6 : pick(r, 9)) : pick(r, 4);
    std::vector<std::string> order(field_names.begin(), field_names.end());
    if (chance(r, 30)) std::shuffle(order.begin(), order.end(), r);
    out += '{';
    out += json_ws(r);
    for (std::size_t i = 0; i < n; ++i) {
        if (i > 0) {  // one draw per statement: the same bytes whatever the compiler
            out += json_ws(r);
            out += ',';
            out += json_ws(r);
        }
        const std::string key = header_like && i < 6 && chance(r, 93) ? order[i] : key_text(r);
        out += json_string(key, r);
        out += json_ws(r);
        out += ':';
        out += json_ws(r);
        if (header_like && chance(r, 93)) {
            out += json_string(text(r), r);
        } else {
            js_value(out, r, depth + 1, false);
        }
    }
    out += json_ws(r);
    out += '}';
}

void js_value(std::string& out, rng& r, int depth, bool header_like) {
    if (header_like) return js_map(out, r, depth, true);
    static const std::vector<std::string> scalars = {
        "null", "true",  "false", "0",   "-1",
        "1.5",  "1e400", "NaN",   "nul", "123456789012345678901234"};
    switch (pick(r, depth > 3 ? 3 : 6)) {
        case 0:
            out += scalars[pick(r, scalars.size())];
            return;
        case 1:
        case 2:
            out += json_string(chance(r, 50) ? text(r) : key_text(r), r);
            return;
        case 3: {
            const std::size_t d = chance(r, 20) ? 60 + pick(r, 10) : 1 + pick(r, 3);
            out += std::string(d, '[') + "null" + std::string(d, ']');
            return;
        }
        case 4: {
            const std::size_t n = pick(r, 3);
            out += '[';
            for (std::size_t i = 0; i < n; ++i) {
                if (i > 0) out += ',';
                js_value(out, r, depth + 1, false);
            }
            out += ']';
            return;
        }
        default:
            return js_map(out, r, depth, false);
    }
}

// ------------------------------------------------------------------------------------------

/// A header frame: generated, then (sometimes) mutated.
std::string header_frame(packer_kind kind, rng& r) {
    std::string out;
    if (kind == packer_kind::json) {
        out += json_ws(r);
        js_value(out, r, 0, chance(r, 95));
        out += json_ws(r);
    } else {
        mp_value(out, r, 0, chance(r, 95));
    }
    if (chance(r, 65) || out.empty()) return out;
    // One draw per statement: the same bytes whatever the compiler's evaluation order.
    const std::size_t at = pick(r, out.size());
    switch (pick(r, 6)) {
        case 0:  // truncated
            out.resize(at);
            break;
        case 1: {  // a byte flipped
            const unsigned bit = static_cast<unsigned>(pick(r, 8));
            out[at] = static_cast<char>(out[at] ^ (1u << bit));
            break;
        }
        case 2:  // a byte replaced
            out[at] = static_cast<char>(pick(r, 256));
            break;
        case 3:  // a byte inserted
            out.insert(at, 1, static_cast<char>(pick(r, 256)));
            break;
        case 4:  // trailing bytes
            out += chance(r, 50) ? ' ' : static_cast<char>(pick(r, 256));
            break;
        default:  // a huge declared length or count, or a stray quote
            if (kind == packer_kind::json) {
                out.insert(at, "\"");
            } else if (chance(r, 50)) {
                out.insert(at, std::string("\xdb\xff\xff\xff\xff", 5));
            } else {
                out.insert(at, std::string("\xdf\x7f\xff\xff\xff", 5));
            }
            break;
    }
    return out;
}

limits draw_limits(rng& r) {
    limits lim;
    if (chance(r, 15)) lim.max_nesting = pick(r, 3);
    if (chance(r, 15)) {
        lim.max_map_elements =
            std::array<std::size_t, 9>{0, 1, 2, 5, 11, 12, 13, 14, 100}[pick(r, 9)];
    }
    return lim;
}

outcome general_read(const detail::packer& pk, bytes_view b, bool strict, const limits& lim,
                     const char* what) {
    return run([&](outcome& o) {
        msgpack::zone zone;
        detail::read_header(pk.unpack_map(b, zone, lim, what), strict, what, o.h);
    });
}

}  // namespace

TEST_CASE("the direct header read gives what the general path gives, for any bytes") {
    for (packer_kind kind : {packer_kind::msgpack, packer_kind::json}) {
        CAPTURE(static_cast<int>(kind));
        const detail::packer& pk = detail::packer_for(kind);
        rng r(kind == packer_kind::json ? 1313 : 1212);
        std::size_t direct = 0, accepted = 0, refused[2] = {0, 0};
        constexpr std::size_t cases = 40000;
        for (std::size_t i = 0; i < cases; ++i) {
            const std::string bytes = header_frame(kind, r);
            const limits lim = draw_limits(r);
            const bool strict = chance(r, 50);
            const char* what = strict ? "header" : "parent_header";
            CAPTURE(hex(bytes));
            CAPTURE(strict);
            CAPTURE(lim.max_nesting);
            CAPTURE(lim.max_map_elements);
            const outcome want = general_read(pk, bytes_view(bytes), strict, lim, what);
            header fast;
            if (pk.try_read_header(bytes_view(bytes), strict, lim, fast)) {
                ++direct;
                REQUIRE(want.kind == outcome::ok);
                CHECK(fast == want.h);
            }
            const outcome got = run([&](outcome& o) {
                detail::read_header_frame(pk, bytes_view(bytes), strict, lim, what, o.h);
            });
            check_same(got, want);
            if (want.kind == outcome::ok) ++accepted;
            if (want.kind == outcome::decode) ++refused[0];
            if (want.kind == outcome::limit) ++refused[1];
        }
        MESSAGE("direct ", direct, ", accepted ", accepted, ", decode_error ", refused[0],
                ", limit_error ", refused[1], " of ", cases);
        // The generator reaches every outcome, and the direct read takes most valid headers.
        CHECK(direct > cases / 10);
        CHECK(accepted > direct);
        CHECK(refused[0] > cases / 10);
        CHECK(refused[1] > cases / 100);
    }
}

TEST_CASE("the direct read takes the shapes peers write and nothing else") {
    const limits lim;
    header h;
    const auto& mp = detail::packer_for(packer_kind::msgpack);
    const auto& js = detail::packer_for(packer_kind::json);
    const std::string full_json =
        R"({"msg_id": "a", "msg_type": "b", "username": "c", "session": "d", )"
        R"("date": "2026-01-01T00:00:00.000000Z", "version": "5.3"})";
    CHECK(js.try_read_header(bytes_view(full_json), true, lim, h));
    CHECK(h.msg_type == "b");
    CHECK(h.version == "5.3");
    CHECK(js.try_read_header(bytes_view(std::string(" {} ")), false, lim, h));
    CHECK(h.empty());
    CHECK_FALSE(js.try_read_header(bytes_view(std::string("{}")), true, lim, h));
    CHECK(js.try_read_header(bytes_view(std::string(R"({"msg_id":null})")), false, lim, h));
    CHECK_FALSE(js.try_read_header(bytes_view(std::string(R"({"msg_id":null})")), true, lim, h));
    // A repeat, an unknown key, an escape: the general path decides.
    CHECK_FALSE(js.try_read_header(bytes_view(std::string(R"({"msg_id":"a","msg_id":"a"})")), false,
                                   lim, h));
    CHECK_FALSE(js.try_read_header(bytes_view(std::string(R"({"x":"a"})")), false, lim, h));
    CHECK_FALSE(
        js.try_read_header(bytes_view(std::string(R"({"msg_id":"\u0041"})")), false, lim, h));
    limits shallow;
    shallow.max_nesting = 0;
    CHECK_FALSE(js.try_read_header(bytes_view(std::string("{}")), false, shallow, h));
    CHECK_FALSE(mp.try_read_header(bytes_view(std::string("\x80")), false, shallow, h));

    std::string full_mp = "\x86";
    for (const char* k : field_names) {
        full_mp += static_cast<char>(0xa0 | std::string_view(k).size());
        full_mp += k;
        full_mp += std::string_view(k) == "date" ? std::string("\xd6\xff\x00\x00\x00\x00", 6)
                                                 : std::string("\xa1z");
    }
    CHECK(mp.try_read_header(bytes_view(full_mp), true, lim, h));
    CHECK(h.date == "1970-01-01T00:00:00.000000Z");
    CHECK(h.msg_id == "z");
    CHECK_FALSE(mp.try_read_header(bytes_view(full_mp + '\0'), true, lim, h));
    limits few;
    few.max_map_elements = 11;
    CHECK_FALSE(mp.try_read_header(bytes_view(full_mp), true, few, h));
    few.max_map_elements = 12;
    CHECK(mp.try_read_header(bytes_view(full_mp), true, few, h));
}

namespace {

/// Frames of an unsigned message with the given maps.
frames message_frames(const std::array<std::string, 4>& maps) {
    frames f;
    f.push_back(test::frame("<IDS|MSG>"));
    f.push_back(test::frame(""));
    for (const auto& m : maps) f.push_back(test::frame(m));
    return f;
}

/// What codec::parse did before the direct read: the four maps parsed in order, then the
/// two headers read.
outcome general_decode(const detail::packer& pk, const std::array<std::string, 4>& maps,
                       const limits& lim) {
    return run([&](outcome& o) {
        msgpack::zone zone;
        static constexpr const char* names[] = {"header", "parent_header", "metadata", "content"};
        std::array<msgpack::object, 4> objs;
        for (std::size_t i = 0; i < 4; ++i) {
            objs[i] = pk.unpack_map(bytes_view(maps[i]), zone, lim, names[i]);
        }
        detail::read_header(objs[0], true, "header", o.h);
        detail::read_header(objs[1], false, "parent_header", o.parent);
    });
}

}  // namespace

TEST_CASE("codec::decode raises what the general path raises, frame order included") {
    for (packer_kind kind : {packer_kind::msgpack, packer_kind::json}) {
        CAPTURE(static_cast<int>(kind));
        const detail::packer& pk = detail::packer_for(kind);
        rng r(kind == packer_kind::json ? 77 : 78);
        std::size_t ok = 0, limit = 0;
        constexpr std::size_t cases = 6000;
        for (std::size_t i = 0; i < cases; ++i) {
            session_options o;
            o.packer = kind;
            o.limits = draw_limits(r);
            const codec c(o);
            // Each frame often drawn until it reads well (the header strictly), so that every
            // frame in turn gets to decide the outcome.
            std::array<std::string, 4> maps;
            for (std::size_t f = 0; f < 4; ++f) {
                const bool strict = f == 0;
                const bool want_good = chance(r, 75);
                for (int tries = 0; tries < 40; ++tries) {
                    maps[f] = header_frame(kind, r);
                    if (!want_good) break;
                    if (general_read(pk, bytes_view(maps[f]), strict, o.limits, "m").kind ==
                        outcome::ok) {
                        break;
                    }
                }
            }
            CAPTURE(hex(maps[0]));
            CAPTURE(hex(maps[1]));
            CAPTURE(hex(maps[2]));
            CAPTURE(hex(maps[3]));
            const outcome want = general_decode(pk, maps, o.limits);
            const outcome got = run([&](outcome& out) {
                const message m = c.decode(message_frames(maps));
                out.h = m.header;
                out.parent = m.parent_header;
            });
            check_same(got, want);
            ok += want.kind == outcome::ok;
            limit += want.kind == outcome::limit;
        }
        MESSAGE("decoded ", ok, ", limit_error ", limit, " of ", cases);
        CHECK(ok > cases / 50);
        CHECK(limit > cases / 100);
    }
}

TEST_CASE("a header missing a field and a content too deep: limit_error, as before") {
    for (packer_kind kind : {packer_kind::msgpack, packer_kind::json}) {
        session_options o;
        o.packer = kind;
        o.limits.max_nesting = 4;
        const codec c(o);
        const bool js = kind == packer_kind::json;
        const std::string no_id = js ? R"({"msg_type":"t"})" : std::string("\x81\xa8msg_type\xa1t");
        const std::string empty = js ? "{}" : "\x80";
        const std::string deep = js ? R"({"a":[[[[[1]]]]]})"
                                    : std::string(
                                          "\x81\xa1"
                                          "a\x91\x91\x91\x91\x91\x01");
        CHECK_THROWS_AS(static_cast<void>(c.decode(message_frames({no_id, empty, empty, deep}))),
                        limit_error);
        CHECK_THROWS_AS(static_cast<void>(c.decode(message_frames({no_id, empty, empty, empty}))),
                        decode_error);
    }
}
