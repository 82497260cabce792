// consumer: what a program outside the zsession tree does with the installed library, built
// by the CMake and meson consumer tests (tests/packaging/). Returns 0 and prints "consumer ok"
// only when every check passed.
//
// Checks across the shared library's boundary: the version macros against the runtime
// version; a signed round trip with a typed content and a placeholder resolved back (the
// templates in the headers call into the library's exported zsession::detail functions);
// and a typed exception thrown inside the library caught by its type here (type info
// exported).
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "zsession/zsession.hpp"

namespace {

struct job {
    std::string name;
    zsession::placeholder values;
    MSGPACK_DEFINE_MAP(name, values)
};

int failures = 0;

void check(bool ok, const char* what) {
    if (!ok) {
        std::fprintf(stderr, "FAILED: %s\n", what);
        ++failures;
    }
}

void check_version() {
    const std::string expected = std::to_string(ZSESSION_VERSION_MAJOR) + "." +
                                 std::to_string(ZSESSION_VERSION_MINOR) + "." +
                                 std::to_string(ZSESSION_VERSION_PATCH);
    check(expected == ZSESSION_VERSION, "ZSESSION_VERSION matches the MAJOR/MINOR/PATCH macros");
    check(zsession::version() == ZSESSION_VERSION, "zsession::version() == ZSESSION_VERSION");
}

void check_round_trip(zmq::context_t& ctx) {
    zmq::socket_t rx(ctx, zmq::socket_type::pair), tx(ctx, zmq::socket_type::pair);
    rx.bind("inproc://consumer");
    tx.connect("inproc://consumer");
    const zsession::session s({.key = "consumer-key"});

    zsession::message m = s.make_message("job");
    const std::vector<double> values(1000, 0.25);
    m.set_content(job{"sum", zsession::offload(s, m, values)});
    s.send(tx, m);

    std::optional<zsession::message> got = s.recv(rx);
    check(got.has_value(), "recv");
    if (!got) return;
    const job in = got->content_as<job>();
    zsession::resolver res(s, *got);
    check(in.name == "sum", "content survives the round trip");
    check(res.resolve<std::vector<double>>(in.values) == values, "placeholder resolves");
    check(got->header.msg_type == "job", "header survives the round trip");
}

void check_exception_type(zmq::context_t& ctx) {
    zmq::socket_t rx(ctx, zmq::socket_type::pair), tx(ctx, zmq::socket_type::pair);
    rx.bind("inproc://consumer-forged");
    tx.connect("inproc://consumer-forged");
    const zsession::session sender({.key = "one key"});
    const zsession::session receiver({.key = "another key"});
    sender.send(tx, sender.make_message("forged"));
    bool caught = false;
    try {
        (void)receiver.recv(rx);
    } catch (const zsession::signature_error& e) {
        caught = e.code() == zsession::errc::signature;
    }
    check(caught, "signature_error thrown in the library is caught by its type here");
}

}  // namespace

int main() {
    check_version();
    zmq::context_t ctx;
    check_round_trip(ctx);
    check_exception_type(ctx);
    if (failures != 0) return 1;
    std::printf("consumer ok: zsession %s\n", std::string(zsession::version()).c_str());
    return 0;
}
