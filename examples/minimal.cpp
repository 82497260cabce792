// minimal: one signed message with a zero-copy buffer, sent and received over tcp loopback.
//   minimal [N]   N float64 values (default 1 << 20: 8 MiB); exits 1 when one arrives wrong.
#include <algorithm>
#include <cstdio>
#include <map>
#include <string>

#include "zsession/zsession.hpp"

struct request {
    std::string op;
    int repeat = 1;
    MSGPACK_DEFINE_MAP(op, repeat)
};

int main(int argc, char** argv) {
    const std::size_t n = argc > 1 ? std::stoul(argv[1]) : std::size_t{1} << 20;
    zmq::context_t ctx;
    zmq::socket_t server(ctx, zmq::socket_type::router), client(ctx, zmq::socket_type::dealer);
    server.bind("tcp://127.0.0.1:*");
    client.connect(server.get(zmq::sockopt::last_endpoint));

    zsession::session s({.key = "shared-secret"});  // HMAC-SHA256, msgpack, default limits

    zsession::message m = s.make_message("apply_request");
    m.set_content(request{"sum", 3});
    m.buffers.push_back(zsession::buffer::take(std::vector<double>(n, 0.5)));  // 8 MiB by default
    s.send(client, m);  // the 8 MiB go to libzmq zero-copy; the vector lives until it is done

    std::optional<zsession::message> got = s.recv(server);  // verified before it is parsed
    auto req = got->content_as<request>();
    zsession::buffer frame = got->buffers[0].aligned_for<double>();  // the frame, or 1 aligned copy
    std::span<const double> values = frame.values<double>();  // checked: aligned, whole doubles
    std::printf("%s from %s: op=%s repeat=%d, %zu bytes, first value %.1f\n",
                got->header.msg_type.c_str(), got->header.username.c_str(), req.op.c_str(),
                req.repeat, values.size_bytes(), values[0]);
    if (values.size() != n ||
        std::any_of(values.begin(), values.end(), [](double v) { return v != 0.5; })) {
        return 1;  // every value arrives as sent
    }

    zsession::message reply = s.make_reply(*got, "apply_reply");  // routed back to the client
    reply.set_content(std::map<std::string, double>{{"sum", 3 * 0.5 * double(n)}});
    s.send(server, reply);
    auto back = s.recv(client);
    std::printf("%s in reply to %s: sum=%.0f\n", back->header.msg_type.c_str(),
                back->parent_header.msg_type.c_str(),
                back->content_as<std::map<std::string, double>>().at("sum"));
}
