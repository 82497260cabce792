// The C++ side of the jupyter_client interop test (tests/interop/interop_test.py drives it).
//
//   interop_peer ENDPOINT KEY PACKER      PACKER is "json" or "msgpack"
//
// Connects a PAIR socket to ENDPOINT (bound by Python), then plays this script:
//   -> hello
//   <- request from Python: checks header, parent, content and buffers; echoes it back
//   <- wrong key, tampered content, replayed request: reports each error's code
//   -> a message of its own (header, parent, metadata, content, buffers)
//   -> the same signed with a wrong key, then tampered, then replayed verbatim
// Exits 0 when every check held, 1 (with a line on stderr) otherwise.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <map>

#include "support.hpp"

using namespace zsession;

namespace {

/// The content the peer sends, and the part of Python's request content it checks (keys
/// missing from a received map keep their defaults; extra keys are ignored).
struct probe {
    std::string text;
    std::int64_t number = 0;
    double real = 0;
    bool flag = false;
    std::vector<std::string> words;
    double not_finite = std::numeric_limits<double>::quiet_NaN();
    MSGPACK_DEFINE_MAP(text, number, real, flag, words, not_finite)
};

[[noreturn]] void fail(const std::string& why) {
    std::fprintf(stderr, "interop_peer: %s\n", why.c_str());
    std::exit(1);
}

void expect(bool ok, const std::string& what) {
    if (!ok) fail("check failed: " + what);
}

/// The bytes both sides use for the large buffer (sent zero-copy).
std::string pattern(std::size_t n) {
    std::string s(n, '\0');
    for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>(i % 251);
    return s;
}

void check_request(const message& m) {
    expect(m.header.msg_type == "interop_request", "header.msg_type");
    expect(m.header.username == "python", "header.username");
    expect(m.header.version == "5.3", "header.version");
    expect(m.header.date.size() >= 20 && m.header.date[10] == 'T', "header.date is ISO 8601");
    expect(m.parent_header.msg_type == "python_parent", "parent_header.msg_type");
    expect(m.parent_header.session == m.header.session, "parent_header.session");
    const probe p = m.content_as<probe>();
    expect(p.text == "h\xC3\xA9llo \xE2\x98\x83 \xF0\x9F\x98\x80", "content.text");
    expect(p.number == -42 && p.real == 0.25 && p.flag, "content scalars");
    expect(p.words == std::vector<std::string>{"a", "b"}, "content.words");
    const auto* origin = find_key(m.metadata(), "origin");
    expect(origin && origin->type == msgpack::type::STR, "metadata.origin");
    expect(m.buffers.size() == 2, "two buffers");
    expect(m.buffers[0].as_string_view() == "small-buffer", "buffer 0");
    expect(m.buffers[1].as_string_view() == pattern(100'000), "buffer 1");
}

/// Reports the outcome of receiving one bad message from Python.
void report_bad(const session& s, zmq::socket_t& sock, const std::string& case_name) {
    recv_result r = s.try_recv(sock);
    message m = s.make_message("interop_report");
    m.set_content(std::map<std::string, std::string>{{"case", case_name},
                                                     {"error", r ? "none" : to_string(r.code)}});
    s.send(sock, m);
}

message own_message(const session& s, const message& request) {
    message m = s.make_message("interop_from_cpp");
    m.parent_header = request.header;
    m.set_metadata(std::map<std::string, std::string>{{"origin", "c++"}});
    probe c;
    c.text = "C++ says h\xC3\xA9llo \xE2\x98\x83";
    c.number = -7;
    c.real = 1.5;
    c.words = {"x", "y"};
    m.set_content(c);
    m.buffers.push_back(buffer::take(std::string("tiny")));
    m.buffers.push_back(buffer::take(pattern(200'000)));
    return m;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 4) fail("usage: interop_peer ENDPOINT KEY json|msgpack");
    session_options o;
    o.key = argv[2];
    o.username = "cpp";
    o.packer = std::string(argv[3]) == "json" ? packer_kind::json : packer_kind::msgpack;
    session s(o);
    session_options wrong_options = o;
    wrong_options.key = "not-the-key";
    session wrong(wrong_options);

    zmq::context_t ctx;
    zmq::socket_t sock(ctx, zmq::socket_type::pair);
    sock.set(zmq::sockopt::linger, 2000);
    sock.set(zmq::sockopt::rcvtimeo, 20000);
    sock.connect(argv[1]);
    try {
        s.send(sock, s.make_message("hello"));

        // Python -> C++.
        auto request = s.recv(sock);
        if (!request) fail("no request from Python (timeout)");
        check_request(*request);
        message echo = s.make_reply(*request, "interop_echo");
        echo.set_metadata(request->metadata());
        echo.set_content(request->content());
        echo.buffers = request->buffers;
        s.send(sock, echo);
        for (const char* c : {"wrong_key", "tampered", "replayed"}) report_bad(s, sock, c);

        // C++ -> Python.
        const message mine = own_message(s, *request);
        frames first = s.encode(mine);
        frames replay = test::clone(first);
        test::send_raw(sock, std::move(first));
        wrong.send(sock, own_message(wrong, *request));
        frames tampered = s.encode(own_message(s, *request));
        message other = s.make_message("x");
        other.set_content(std::map<std::string, int>{{"tampered", 1}});
        frames other_frames = s.encode(other);
        tampered[5] = std::move(other_frames[5]);  // content of another, validly packed message
        test::send_raw(sock, std::move(tampered));
        test::send_raw(sock, std::move(replay));

        auto done = s.recv(sock);
        if (!done || done->header.msg_type != "done") fail("no 'done' from Python");
    } catch (const std::exception& e) {
        fail(std::string("unexpected exception: ") + e.what());
    }
    return 0;
}
