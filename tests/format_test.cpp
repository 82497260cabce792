// The readable rendering of headers and messages (format.hpp): exact text for a known
// message, truncation, escaping, and buffers summarized without their bytes.
#include "zsession/format.hpp"

#include <doctest/doctest.h>

#include <map>
#include <sstream>
#include <string>
#include <vector>

using namespace zsession;

namespace {

struct request {
    std::string code;
    bool silent = false;
    int count = 0;
    double scale = 0;
    std::vector<int> items;
    MSGPACK_DEFINE_MAP(code, silent, count, scale, items)
};

header known_header() {
    return {"m1", "execute_request", "alice", "s1", "2026-11-22T01:16:00.123456Z", "5.3"};
}

message known_message() {
    message m;
    m.identities.push_back(buffer::copy_of(bytes_view("\x00\x80\x00\x41\xa7", 5)));
    m.identities.push_back(buffer::copy_of(bytes_view("0123456789")));
    m.header = known_header();
    m.parent_header.msg_id = "p0";
    m.parent_header.msg_type = "kernel_info_request";
    m.set_content(request{"print(\"hi\")\n", false, -3, 0.5, {1, 2}});
    m.buffers.push_back(buffer::take(std::vector<double>(1, 1.0)));
    m.buffers.push_back(buffer::take(std::vector<char>(1 << 20)));
    return m;
}

}  // namespace

TEST_CASE("format: a header renders every field, an empty one as {}") {
    CHECK(to_string(known_header()) ==
          R"({msg_id: "m1", msg_type: "execute_request", username: "alice", session: "s1", )"
          R"(date: "2026-11-22T01:16:00.123456Z", version: "5.3"})");
    CHECK(to_string(header{}) == "{}");
    std::ostringstream os;
    os << known_header();
    CHECK(os.str() == to_string(known_header()));
}

TEST_CASE("format: a known message renders exactly, buffers as count and sizes") {
    const message m = known_message();
    const std::string expected =
        R"(message{identities: [00800041a7, 3031323334353637..(10 B)], )"
        R"(header: {msg_id: "m1", msg_type: "execute_request", username: "alice", )"
        R"(session: "s1", date: "2026-11-22T01:16:00.123456Z", version: "5.3"}, )"
        R"(parent: "p0", metadata: {}, )"
        R"(content: {"code": "print(\"hi\")\n", "silent": false, "count": -3, "scale": 0.5, )"
        R"("items": [1, 2]}, buffers: 2 [8 B, 1048576 B]})";
    CHECK(to_string(m) == expected);
    std::ostringstream os;
    os << m;
    CHECK(os.str() == expected);
}

TEST_CASE("format: a request has parent none; empty message") {
    message m;
    CHECK(to_string(m) ==
          "message{identities: [], header: {}, parent: none, metadata: {}, content: {}, "
          "buffers: 0 []}");
}

TEST_CASE("format: content is cut at max_value_chars, with ...") {
    message m;
    m.set_content(std::map<std::string, std::string>{{"text", std::string(1000, 'x')}});
    const std::string full = to_string(m, {.max_value_chars = 0});
    CHECK(full.find(std::string(1000, 'x')) != std::string::npos);
    const std::string cut = to_string(m, {.max_value_chars = 20});
    CHECK(cut.find(R"(content: {"text": "xxxxxxxxxx..., buffers: 0 []})") != std::string::npos);
    CHECK(cut.size() < 150);
}

TEST_CASE("format: bin, ext, nil, bool, float and nested values") {
    msgpack::zone z;
    std::vector<char> bytes(300, 'b');
    std::map<std::string, msgpack::object> v{
        {"a", msgpack::object(std::string(), z)},
        {"b", msgpack::object(msgpack::type::nil_t(), z)},
        {"c", msgpack::object(std::vector<std::vector<int>>{{1}, {}}, z)},
        {"d", msgpack::object(-1.25, z)},
        {"e", msgpack::object(bytes, z)},
    };
    const msgpack::object o(v, z);
    CHECK(to_string(o, 0) ==
          R"({"a": "", "b": null, "c": [[1], []], "d": -1.25, "e": <bin 300 B>})");
    CHECK(to_string(msgpack::object(std::string("\x01"), z), 0) == R"("\u0001")");
}
