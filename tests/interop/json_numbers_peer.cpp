// The C++ side of the JSON-number differential test (json_numbers_test.py drives it).
//
// Reads one JSON number text per line on stdin, decodes the content frame {"v": <text>}
// through session::decode with the JSON packer, and writes one line per input:
//   uint <decimal> | int <decimal> | double <16 hex digits of the IEEE bits> <re-encoded>
//   | error <errc name> <message>
// "<re-encoded>" is the JSON text zsession writes for the decoded value (content frame of
// an encoded message), so the test also checks that the writer round-trips through Python.
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>

#include "support.hpp"

using namespace zsession;

namespace {

struct holder {
    msgpack::object v;
    MSGPACK_DEFINE_MAP(v)
};

std::string reencode(const session& s, double d) {
    message m = s.make_message("probe");
    m.set_content(std::map<std::string, double>{{"v", d}});
    const frames f = s.encode(m);
    return test::str(f[5]);
}

std::string decode_line(const session& s, const frames& base, const std::string& text) {
    frames f = test::clone(base);
    f[5] = test::frame("{\"v\":" + text + "}");
    try {
        const message m = s.decode(std::move(f));
        const auto c = m.content_as<std::map<std::string, msgpack::object>>();
        const msgpack::object& v = c.at("v");
        switch (v.type) {
            case msgpack::type::POSITIVE_INTEGER:
                return "uint " + std::to_string(v.via.u64);
            case msgpack::type::NEGATIVE_INTEGER:
                return "int " + std::to_string(v.via.i64);
            case msgpack::type::FLOAT64: {
                std::uint64_t bits = 0;
                std::memcpy(&bits, &v.via.f64, sizeof bits);
                char hex[17];
                std::snprintf(hex, sizeof hex, "%016" PRIx64, bits);
                return std::string("double ") + hex + " " + reencode(s, v.via.f64);
            }
            default:
                return "error other unexpected msgpack type " + std::to_string(v.type);
        }
    } catch (const error& e) {
        std::string what = e.what();
        for (char& ch : what) {
            if (ch == '\n') ch = ' ';
        }
        return std::string("error ") + to_string(e.code()) + " " + what;
    }
}

}  // namespace

int main() {
    session_options o;
    o.packer = packer_kind::json;
    o.replay_history = 0;
    const session s(o);
    const frames base = s.encode(s.make_message("probe"));
    std::ios::sync_with_stdio(false);
    std::string line;
    while (std::getline(std::cin, line)) std::cout << decode_line(s, base, line) << '\n';
    return 0;
}
