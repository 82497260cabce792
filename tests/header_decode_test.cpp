// Decoding headers: the six fields in any order (the reader expects wire order first),
// unknown keys, repeats, missing parent fields, values longer than inline_string holds
// inline; make_reply(message&&). Both packers.
#include <doctest/doctest.h>

#include <array>
#include <string>
#include <utility>
#include <vector>

#include "support.hpp"

using namespace zsession;

namespace {

using field_list = std::vector<std::pair<std::string, std::string>>;

session make_session(packer_kind packer) {
    session_options o;
    o.key = "header-decode-key";
    o.packer = packer;
    return session(o);
}

/// A header map with `fields` in the given order, in the packer's encoding (plain ASCII
/// values only: the JSON form is written without escaping).
std::string header_bytes(packer_kind packer, const field_list& fields) {
    if (packer == packer_kind::json) {
        std::string out = "{";
        for (const auto& [k, v] : fields) {
            if (out.size() > 1) out += ',';
            out += '"' + k + "\":\"" + v + '"';
        }
        return out + "}";
    }
    msgpack::sbuffer b;
    msgpack::packer<msgpack::sbuffer> pk(b);
    pk.pack_map(static_cast<std::uint32_t>(fields.size()));
    for (const auto& [k, v] : fields) pk.pack(k), pk.pack(v);
    return std::string(b.data(), b.size());
}

/// Correctly signed frames with the given header and parent maps and empty metadata/content.
frames signed_frames(const session& s, packer_kind packer, const std::string& header_map,
                     const std::string& parent_map) {
    const std::string empty = packer == packer_kind::json ? "{}" : "\x80";
    const std::array<std::string, 4> maps = {header_map, parent_map, empty, empty};
    std::array<bytes_view, 4> parts;
    for (std::size_t i = 0; i < 4; ++i) parts[i] = bytes_view(maps[i]);
    frames f;
    f.push_back(test::frame("<IDS|MSG>"));
    f.push_back(test::frame(s.sign(parts)));
    for (const auto& m : maps) f.push_back(test::frame(m));
    return f;
}

const field_list in_order = {{"msg_id", "id-1"},
                             {"msg_type", "t"},
                             {"username", "u"},
                             {"session", "s-1"},
                             {"date", "2026-01-01T00:00:00.000000Z"},
                             {"version", "5.3"}};

header expected_header() {
    header h;
    h.msg_id = "id-1";
    h.msg_type = "t";
    h.username = "u";
    h.session = "s-1";
    h.date = "2026-01-01T00:00:00.000000Z";
    h.version = "5.3";
    return h;
}

}  // namespace

TEST_CASE("a header's fields decode in any order, with unknown keys between them") {
    for (packer_kind packer : {packer_kind::msgpack, packer_kind::json}) {
        CAPTURE(static_cast<int>(packer));
        const session s = make_session(packer);
        std::vector<field_list> orders = {in_order};
        field_list reversed(in_order.rbegin(), in_order.rend());
        orders.push_back(reversed);
        field_list mixed = {
            in_order[4], {"x-extra", "1"}, in_order[1], in_order[0], {"subshell_id", "none"},
            in_order[5], in_order[3],      in_order[2]};
        orders.push_back(mixed);
        for (const auto& order : orders) {
            const message m = s.decode(
                signed_frames(s, packer, header_bytes(packer, order), header_bytes(packer, order)));
            CHECK(m.header == expected_header());
            CHECK(m.parent_header == expected_header());
        }
    }
}

TEST_CASE("a repeated header field is refused wherever it repeats") {
    for (packer_kind packer : {packer_kind::msgpack, packer_kind::json}) {
        CAPTURE(static_cast<int>(packer));
        const session s = make_session(packer);
        for (std::size_t at = 0; at < in_order.size(); ++at) {
            CAPTURE(at);
            field_list twice = in_order;
            twice.insert(twice.begin() + static_cast<std::ptrdiff_t>(at),
                         in_order[(at + 3) % in_order.size()]);
            // The JSON reader refuses any repeated key itself; msgpack's header reader does.
            CHECK_THROWS_AS((void)s.decode(signed_frames(s, packer, header_bytes(packer, twice),
                                                         header_bytes(packer, {}))),
                            decode_error);
            CHECK_THROWS_AS((void)s.decode(signed_frames(s, packer, header_bytes(packer, in_order),
                                                         header_bytes(packer, twice))),
                            decode_error);
        }
        field_list missing(in_order.begin() + 1, in_order.end());
        CHECK_THROWS_WITH_AS((void)s.decode(signed_frames(s, packer, header_bytes(packer, missing),
                                                          header_bytes(packer, {}))),
                             "header lacks 'msg_id'", decode_error);
    }
}

TEST_CASE("a parent header may lack fields: they decode empty") {
    for (packer_kind packer : {packer_kind::msgpack, packer_kind::json}) {
        const session s = make_session(packer);
        const field_list partial = {{"session", "s-9"}, {"msg_id", "p-9"}};
        const message m = s.decode(signed_frames(s, packer, header_bytes(packer, in_order),
                                                 header_bytes(packer, partial)));
        CHECK(m.parent_header.msg_id == "p-9");
        CHECK(m.parent_header.session == "s-9");
        CHECK(m.parent_header.msg_type.empty());
        CHECK(m.parent_header.date.empty());
        CHECK(m.parent_header.version.empty());
    }
}

TEST_CASE("header values longer than the inline capacity round-trip whole") {
    for (packer_kind packer : {packer_kind::msgpack, packer_kind::json}) {
        CAPTURE(static_cast<int>(packer));
        const session s = make_session(packer);
        message m = s.make_message(std::string(3000, 'T'));
        m.header.username = std::string(inline_string::inline_capacity + 1, 'u');
        m.header.msg_id = "jupyter-style_" + std::string(50, '7') + "_12345";
        m.parent_header = m.header;
        m.parent_header.session = std::string(200, 's');
        const message r = s.decode(s.encode(m));
        CHECK(r.header == m.header);
        CHECK(r.parent_header == m.parent_header);
        CHECK(r.header.msg_type.size() == 3000);
        CHECK(r.header.username.size() == inline_string::inline_capacity + 1);
    }
}

TEST_CASE("make_reply(message&&) moves the request's header and identities into the reply") {
    const session s = make_session(packer_kind::msgpack);
    message req = s.make_message("kernel_info_request");
    req.identities.push_back(buffer::copy_of(std::string_view("client-7")));
    frames f = s.encode(req);
    message got = s.decode(std::move(f));
    const header request_header = got.header;
    message rep = s.make_reply(std::move(got), "kernel_info_reply");
    CHECK(rep.parent_header == request_header);
    CHECK(rep.parent_header == req.header);
    REQUIRE(rep.identities.size() == 1);
    CHECK(rep.identities[0].as_string_view() == "client-7");
    CHECK(rep.header.msg_type == "kernel_info_reply");
    CHECK(rep.header.msg_id != req.header.msg_id);
    CHECK(got.header.empty());  // NOLINT: moved from, as documented
    CHECK(got.identities.empty());
    const message back = s.decode(s.encode(rep));
    CHECK(back.parent_header.msg_id == req.header.msg_id);
    CHECK(back.identities[0].as_string_view() == "client-7");
}
