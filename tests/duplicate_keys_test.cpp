// The duplicate-key rule (docs/PROTOCOL.md): a received map repeating a key is a
// decode_error in both packers, in content maps and placeholders alike. The inputs are
// tests/vectors/duplicate_keys.txt, which tests/duplicate_keys_test.py feeds to the Python
// reader (python/zsession_placeholders.py) with the same expectations.
#include <doctest/doctest.h>

#include <fstream>
#include <sstream>

#include "support.hpp"

using namespace zsession;

namespace {

struct vector_line {
    std::string packer, expect, bytes, text;
};

std::vector<vector_line> read_vectors() {
    std::ifstream in(ZSESSION_SOURCE_DIR "/tests/vectors/duplicate_keys.txt");
    std::vector<vector_line> out;
    for (std::string line; std::getline(in, line);) {
        if (line.empty() || line[0] == '#') continue;
        std::istringstream fields(line);
        vector_line v;
        std::string hex;
        fields >> v.packer >> v.expect >> hex;
        for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
            v.bytes.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
        }
        v.text = line;
        out.push_back(std::move(v));
    }
    return out;
}

/// "ok" when the frame decodes and every placeholder resolves, "duplicate" on decode_error.
std::string read_like_a_peer(const vector_line& v) {
    session_options o;
    o.packer = v.packer == "json" ? packer_kind::json : packer_kind::msgpack;
    o.replay_history = 0;
    session s(o);
    message probe = s.make_message("probe");
    probe.buffers.push_back(buffer::take(std::string("abc")));
    frames f = s.encode(probe);
    f[5] = test::frame(v.bytes);
    try {
        const message m = s.decode(std::move(f));
        resolver r(s, m);
        const auto content = m.content_as<msgpack::object>();
        for (const msgpack::object* p : find_placeholders(content)) {
            r.resolve_any(placeholder::from_object(*p));
        }
        return "ok";
    } catch (const decode_error&) {
        return "duplicate";
    }
}

}  // namespace

TEST_CASE("both packers refuse a repeated key in content maps and placeholders") {
    const auto vectors = read_vectors();
    REQUIRE(vectors.size() >= 10);
    for (const auto& v : vectors) {
        CAPTURE(v.text);
        CHECK(read_like_a_peer(v) == v.expect);
    }
}

TEST_CASE("a placeholder object built locally with a repeated key is refused") {
    msgpack::zone z;
    placeholder p;
    p.handler = "bytes";
    p.count = 1;
    p.sizes = {3};
    p.compression = {compression::none};
    msgpack::object o = p.to_object(z);
    REQUIRE(o.via.map.size == 7);
    o.via.map.ptr[6].key = o.via.map.ptr[1].key;  // "compression" -> a second "handler"
    CHECK_THROWS_AS(placeholder::from_object(o), decode_error);
}

TEST_CASE("maps with many keys: a repeat among hundreds is found, distinct keys pass") {
    for (const auto kind : {packer_kind::json, packer_kind::msgpack}) {
        session_options o;
        o.packer = kind;
        session s(o);
        std::map<std::string, int> many;
        for (int i = 0; i < 500; ++i) many["k" + std::to_string(i)] = i;
        message m = s.make_message("probe");
        m.set_content(many);
        frames good = s.encode(m);
        std::string content = test::str(good[5]);
        CHECK(s.decode(test::clone(good)).content_as<std::map<std::string, int>>().size() == 500);
        // rename key k499 to k0 (same length in both packers' encodings: "k0" vs "k499" are
        // not, so rename k1 -> k2 instead, both two characters)
        const auto at = content.find(kind == packer_kind::json ? "\"k1\"" : "\xa2k1");
        REQUIRE(at != std::string::npos);
        content[at + (kind == packer_kind::json ? 2 : 2)] = '2';
        good[5] = test::frame(content);
        CHECK_THROWS_AS(s.decode(std::move(good)), decode_error);
    }
}
