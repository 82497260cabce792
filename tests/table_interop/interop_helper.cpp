// The C++ side of tests/table_interop/interop_test.py:
//   table_interop_helper ENDPOINT KEY
// Sends a table of every column kind and a tensor; receives the DataFrame and the DLPack
// tensor pandas/numpy sent, checks them against the values interop_test.py built, and replies
// {"ok": bool, "failures": [...]}. Exit status 0 when everything matched.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>

#include "zsession/dlpack.hpp"
#include "zsession/table.hpp"
#include "zsession/zsession.hpp"

using namespace zsession;

namespace {

struct reply_content {
    bool ok = false;
    std::vector<std::string> failures;
    MSGPACK_DEFINE_MAP(ok, failures)
};

/// The table interop_test.py's cpp_reference() builds with pandas.
table cpp_table() {
    table t(5);
    t.add(table_column::from_vector<double>("x", {0.5, 1.5, 2.5, 3.5, 4.5}));
    t.add(table_column::from_vector<std::int64_t>("n", {10, 0, 30, 40, 50})
              .with_validity(table_column::bitmap_from({true, false, true, true, true})));
    t.add(table_column::from_vector<bool>("flag", {true, false, true, false, true}));
    t.add(table_column::from_times(
        "when", {0, 1'000'000'000, 86'400'000'000'000, -1'000'000'000, 1'700'000'000'000'000'000},
        "ns"));
    const std::vector<std::string> names = {"alpha", "", "h\xc3\xa9llo", "-", "\xe2\x9c\x93"};
    t.add(table_column::from_strings("name", names)
              .with_validity(table_column::bitmap_from({true, true, true, false, true})));
    return t;
}

template <class T>
T at(const table_column& c, std::size_t i) {
    T v;
    std::memcpy(&v, c.values.data() + i * sizeof(T), sizeof(T));
    return v;
}

void expect(std::vector<std::string>& f, bool ok, const std::string& what) {
    if (!ok) f.push_back(what);
}

/// Checks what pandas sent (python_reference() in interop_test.py).
std::vector<std::string> check_python(const session& s, const message& m) {
    std::vector<std::string> f;
    resolver res(s, m);
    const auto c = m.content_as<std::map<std::string, placeholder>>();
    const table t = res.resolve<table>(c.at("df"));
    expect(f, t.rows() == 1000, "rows");
    const auto& a = t.column("a");
    expect(f, a.type.str() == "<f8" && at<double>(a, 999) == 999 * 0.25, "a");
    const auto& b = t.column("b");
    expect(f, b.type.str() == "<i8" && b.validity && !b.is_valid(3) && b.is_valid(4), "b validity");
    expect(f, at<std::int64_t>(b, 4) == -4, "b values");
    const auto& s_col = t.column("s");
    expect(f, s_col.type.is_string() && !s_col.is_valid(2), "s validity");
    expect(f, s_col.string_at(1) == "\xc3\xa9t\xc3\xa9" && s_col.string_at(999) == "row 999", "s");
    const auto& when = t.column("t");
    expect(f, when.type.str() == "<M8[ns]" && at<std::int64_t>(when, 1) == 1'000'000'000, "t");
    const auto& ok = t.column("ok");
    expect(f,
           ok.type.str() == "|b1" && at<std::uint8_t>(ok, 1) == 1 && at<std::uint8_t>(ok, 0) == 0,
           "ok");
    const dlpack_tensor tensor = res.resolve<dlpack_tensor>(c.at("tensor"));
    const ndarray_view v = tensor.view();
    expect(f, v.shape() == std::vector<std::size_t>{3, 4} && v.type().str() == "<f8",
           "tensor shape");
    // A small frame may arrive misaligned inside libzmq's batch: resolved views are then one
    // aligned copy of it (issue 9); otherwise the tensor is the frame itself.
    const bytes_view frame = m.buffers.back();
    const bool frame_aligned = reinterpret_cast<std::uintptr_t>(frame.data()) % 8 == 0;
    expect(f,
           frame_aligned ? tensor.dl().data == frame.data()
                         : std::memcmp(tensor.dl().data, frame.data(), frame.size()) == 0,
           "tensor is the frame, or an aligned copy of a misaligned one");
    double last = 0;
    std::memcpy(&last, v.data() + 11 * 8, 8);
    expect(f, last == 11.0, "tensor values");
    return f;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: %s ENDPOINT KEY\n", argv[0]);
        return 2;
    }
    zmq::context_t ctx;
    zmq::socket_t sock(ctx, zmq::socket_type::pair);
    sock.set(zmq::sockopt::linger, 1000);
    sock.set(zmq::sockopt::rcvtimeo, 30'000);
    sock.connect(argv[1]);
    session_options o;
    o.key = argv[2];
    const session s(o);
    message m = s.make_message("cpp_table");
    const ndarray tensor = ndarray::from<float>(std::vector<float>{0, 1, 2, 3, 4, 5}, {2, 3});
    m.set_content(std::map<std::string, placeholder>{
        {"df", offload(s, m, cpp_table())},
        {"tensor", offload(s, m, dlpack_tensor::from_view(tensor.view()))}});
    s.send(sock, m);
    auto got = s.recv(sock);
    if (!got) {
        std::fprintf(stderr, "helper: no message from Python\n");
        return 1;
    }
    reply_content reply;
    try {
        reply.failures = check_python(s, *got);
    } catch (const error& e) {
        reply.failures.push_back(std::string("error: ") + e.what());
    }
    reply.ok = reply.failures.empty();
    message r = s.make_reply(*got, "cpp_check_reply");
    r.set_content(reply);
    s.send(sock, r);
    for (const auto& f : reply.failures) std::fprintf(stderr, "helper: %s\n", f.c_str());
    return reply.ok ? 0 : 1;
}
