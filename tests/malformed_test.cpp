// Hostile input over real sockets: each bad message gives its typed error, consumes the whole
// message, and the next good message arrives.
#include <doctest/doctest.h>

#include <functional>

#include "support.hpp"

using namespace zsession;

namespace {

session_options strict_options() {
    session_options o;
    o.key = "malformed-key";
    o.limits.max_identities = 4;
    o.limits.max_buffers = 8;
    o.limits.max_map_bytes = 4096;
    o.limits.max_content_bytes = 65536;
    o.limits.max_buffer_bytes = 1 << 20;
    o.limits.max_message_bytes = 3 << 20;
    o.limits.max_nesting = 16;
    o.limits.max_map_elements = 1000;
    return o;
}

std::string packed(const std::function<void(msgpack::packer<msgpack::sbuffer>&)>& write) {
    msgpack::sbuffer b;
    msgpack::packer<msgpack::sbuffer> pk(b);
    write(pk);
    return std::string(b.data(), b.size());
}

std::string header_map(const session& s, std::initializer_list<std::string> skip = {}) {
    zsession::header h = s.make_header("bad");
    const std::vector<std::pair<std::string, std::string>> all = {
        {"msg_id", h.msg_id},   {"msg_type", h.msg_type}, {"username", h.username},
        {"session", h.session}, {"date", h.date},         {"version", h.version}};
    std::vector<std::pair<std::string, std::string>> kept;
    for (const auto& kv : all) {
        if (std::find(skip.begin(), skip.end(), kv.first) == skip.end()) kept.push_back(kv);
    }
    return packed([&](auto& pk) {
        pk.pack_map(static_cast<std::uint32_t>(kept.size()));
        for (const auto& [k, v] : kept) pk.pack(k), pk.pack(v);
    });
}

/// A correctly signed message over arbitrary map bytes: decode must get past the signature.
frames signed_raw(const session& s, std::array<std::string, 4> maps,
                  std::vector<std::string> buffers = {}, std::vector<std::string> ids = {}) {
    frames f;
    for (const auto& id : ids) f.push_back(test::frame(id));
    f.push_back(test::frame("<IDS|MSG>"));
    std::array<bytes_view, 4> parts;
    for (std::size_t i = 0; i < 4; ++i) parts[i] = bytes_view(maps[i]);
    f.push_back(test::frame(s.sign(parts)));
    for (const auto& m : maps) f.push_back(test::frame(m));
    for (const auto& b : buffers) f.push_back(test::frame(b));
    return f;
}

struct bad_case {
    const char* name;
    errc expected;
    std::function<frames(const session&)> make;
};

std::string nested(int depth) {
    return packed([&](auto& pk) {
        pk.pack_map(1);
        pk.pack(std::string("k"));
        for (int i = 0; i < depth; ++i) pk.pack_array(1);
        pk.pack(1);
    });
}

const std::string empty_map = "\x80";

std::vector<bad_case> bad_cases() {
    return {
        {"no delimiter", errc::protocol,
         [](const session&) {
             frames f;
             f.push_back(test::frame("just"));
             f.push_back(test::frame("noise"));
             return f;
         }},
        {"only the delimiter", errc::protocol,
         [](const session&) {
             frames f;
             f.push_back(test::frame("<IDS|MSG>"));
             return f;
         }},
        {"four frames after the delimiter", errc::protocol,
         [](const session& s) {
             frames f = s.encode(s.make_message("t"));
             f.pop_back();
             return f;
         }},
        {"signature of the wrong length", errc::signature,
         [](const session& s) {
             frames f = s.encode(s.make_message("t"));
             f[1] = test::frame("abc123");
             return f;
         }},
        {"wrong signature", errc::signature,
         [](const session& s) {
             frames f = s.encode(s.make_message("t"));
             f[1] = test::frame(std::string(64, 'a'));
             return f;
         }},
        {"empty signature", errc::signature,
         [](const session& s) {
             frames f = s.encode(s.make_message("t"));
             f[1] = zmq::message_t();
             return f;
         }},
        {"truncated msgpack header", errc::decode,
         [](const session& s) {
             std::string h = header_map(s);
             h.resize(h.size() / 2);
             return signed_raw(s, {h, empty_map, empty_map, empty_map});
         }},
        {"invalid msgpack byte 0xc1", errc::decode,
         [](const session& s) {
             return signed_raw(s, {header_map(s), "\xc1", empty_map, empty_map});
         }},
        {"header that is not a map", errc::decode,
         [](const session& s) {
             return signed_raw(
                 s, {packed([](auto& pk) { pk.pack_array(0); }), empty_map, empty_map, empty_map});
         }},
        {"header without msg_id", errc::decode,
         [](const session& s) {
             return signed_raw(s, {header_map(s, {"msg_id"}), empty_map, empty_map, empty_map});
         }},
        {"header without version", errc::decode,
         [](const session& s) {
             return signed_raw(s, {header_map(s, {"version"}), empty_map, empty_map, empty_map});
         }},
        {"header with msg_id twice (parsers could disagree on it)", errc::decode,
         [](const session& s) {
             std::string h = header_map(s);
             h[0] = static_cast<char>(0x87);  // fixmap of 7: one more pair follows
             h += packed(
                 [](auto& pk) { pk.pack(std::string("msg_id")), pk.pack(std::string("x")); });
             return signed_raw(s, {h, empty_map, empty_map, empty_map});
         }},
        {"msg_type that is a number", errc::decode,
         [](const session& s) {
             std::string h = packed([](auto& pk) {
                 pk.pack_map(6);
                 for (const char* k : {"msg_id", "username", "session", "date", "version"}) {
                     pk.pack(std::string(k)), pk.pack(std::string("x"));
                 }
                 pk.pack(std::string("msg_type")), pk.pack(42);
             });
             return signed_raw(s, {h, empty_map, empty_map, empty_map});
         }},
        {"trailing bytes after the content map", errc::decode,
         [](const session& s) {
             return signed_raw(s, {header_map(s), empty_map, empty_map, empty_map + "\x01"});
         }},
        {"metadata that is a string", errc::decode,
         [](const session& s) {
             return signed_raw(s,
                               {header_map(s), empty_map,
                                packed([](auto& pk) { pk.pack(std::string("meta")); }), empty_map});
         }},
        {"parent_header with a non-string field", errc::decode,
         [](const session& s) {
             std::string p = packed([](auto& pk) {
                 pk.pack_map(1);
                 pk.pack(std::string("msg_id")), pk.pack_array(0);
             });
             return signed_raw(s, {header_map(s), p, empty_map, empty_map});
         }},
        {"map declaring 4 billion entries in 5 bytes", errc::decode,
         [](const session& s) {
             return signed_raw(
                 s, {header_map(s), empty_map, empty_map, std::string("\xdf\xff\xff\xff\xff", 5)});
         }},
        {"content with more values than max_map_elements", errc::limit,
         [](const session& s) {
             const std::string zeros = packed([](auto& pk) {
                 pk.pack_map(1);
                 pk.pack(std::string("k"));
                 pk.pack(std::vector<int>(2000, 0));
             });
             return signed_raw(s, {header_map(s), empty_map, empty_map, zeros});
         }},
        {"content nested deeper than max_nesting", errc::limit,
         [](const session& s) {
             return signed_raw(s, {header_map(s), empty_map, empty_map, nested(40)});
         }},
        {"header frame over max_map_bytes", errc::limit,
         [](const session& s) {
             return signed_raw(s, {header_map(s), std::string(5000, '\x80'), empty_map, empty_map});
         }},
        {"content frame over max_content_bytes", errc::limit,
         [](const session& s) {
             return signed_raw(s,
                               {header_map(s), empty_map, empty_map, std::string(70000, '\x80')});
         }},
        {"buffer over max_buffer_bytes", errc::limit,
         [](const session& s) {
             return signed_raw(s, {header_map(s), empty_map, empty_map, empty_map},
                               {std::string((1 << 20) + 1, 'b')});
         }},
        {"more buffers than max_buffers", errc::limit,
         [](const session& s) {
             return signed_raw(s, {header_map(s), empty_map, empty_map, empty_map},
                               std::vector<std::string>(9, "b"));
         }},
        {"a huge frame count (10000 frames)", errc::limit,
         [](const session& s) {
             return signed_raw(s, {header_map(s), empty_map, empty_map, empty_map},
                               std::vector<std::string>(10000, "b"));
         }},
        {"message bytes over max_message_bytes", errc::limit,
         [](const session& s) {
             return signed_raw(s, {header_map(s), empty_map, empty_map, empty_map},
                               std::vector<std::string>(4, std::string(1 << 20, 'b')));
         }},
        {"more identities than max_identities", errc::limit,
         [](const session& s) {
             return signed_raw(s, {header_map(s), empty_map, empty_map, empty_map}, {},
                               std::vector<std::string>(6, "id"));
         }},
        {"a replayed message", errc::replay,
         [](const session& s) {
             frames f = s.encode(s.make_message("t"));
             frames copy = test::clone(f);
             (void)s.decode(std::move(copy));  // seen once already
             return f;
         }},
    };
}

}  // namespace

TEST_CASE("each malformed message gives its typed error, then the next good message arrives") {
    const auto cases = bad_cases();
    CHECK(cases.size() >= 15);
    for (const auto& transport : test::transports) {
        zmq::context_t ctx;
        test::socket_pair p(ctx, transport);
        session s(strict_options());
        for (const auto& c : cases) {
            CAPTURE(transport);
            CAPTURE(c.name);
            test::send_raw(p.a, c.make(s));
            message good = s.make_message("good");
            s.send(p.a, good);

            recv_result bad = s.try_recv(p.b);
            CHECK(to_string(bad.code) == std::string(to_string(c.expected)));
            CHECK_FALSE(bad.msg.has_value());
            CHECK_FALSE(bad.error_message.empty());

            std::optional<message> next = s.recv(p.b);
            REQUIRE(next.has_value());
            CHECK(next->header.msg_id == good.header.msg_id);
        }
    }
}

TEST_CASE("recv throws the error's own type, and the socket keeps working") {
    zmq::context_t ctx;
    test::socket_pair p(ctx, "inproc");
    session s(strict_options());
    session other(session_options{.key = "other"});
    test::send_raw(p.a, other.encode(other.make_message("t")));
    CHECK_THROWS_AS(s.recv(p.b), signature_error);
    frames f;
    f.push_back(test::frame("<IDS|MSG>"));
    test::send_raw(p.a, std::move(f));
    CHECK_THROWS_AS(s.recv(p.b), protocol_error);
    test::send_raw(p.a, signed_raw(s, {header_map(s), empty_map, empty_map, "\xc1"}));
    CHECK_THROWS_AS(s.recv(p.b), decode_error);
    s.send(p.a, s.make_message("fine"));
    CHECK(s.recv(p.b)->header.msg_type == "fine");
}

TEST_CASE("every error type derives from zsession::error and carries its code") {
    CHECK_THROWS_AS(throw replay_error("r"), signature_error);
    CHECK_THROWS_AS(throw unknown_handler_error("u"), decode_error);
    try {
        throw limit_error("x");
    } catch (const error& e) {
        CHECK(e.code() == errc::limit);
    }
}
