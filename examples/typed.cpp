// typed: a struct is the content; its large fields travel as buffers and come back as views.
#include <cstdio>

#include "zsession/zsession.hpp"

struct frame_result {
    std::string camera;
    zsession::placeholder image;                                   // always offloaded
    zsession::inline_or_offloaded<std::vector<double>> histogram;  // inline while small
    MSGPACK_DEFINE_MAP(camera, image, histogram)
};

int main() {
    zmq::context_t ctx;
    zmq::socket_t tx(ctx, zmq::socket_type::pair), rx(ctx, zmq::socket_type::pair);
    rx.bind("inproc://typed");
    tx.connect("inproc://typed");
    zsession::session s({.key = "k"});  // built-in handlers: bytes, str, vectors, ndarray

    std::vector<std::uint16_t> pixels(480 * 640, 7);
    zsession::message m = s.make_message("frame_result");
    frame_result out{
        "cam-3",
        zsession::offload(s, m, zsession::ndarray::from<std::uint16_t>(pixels, {480, 640})),
        zsession::inline_or_offloaded<std::vector<double>>::make(s, m, std::vector(16, 0.5))};
    // {"camera": ..., "image": {"__placeholder__": 1, ...}, "histogram": [...]}
    m.set_content(out);
    s.send(tx, m);

    std::optional<zsession::message> got = s.recv(rx);
    const frame_result in = got->content_as<frame_result>();
    zsession::resolver res(s, *got);  // validates indices, sizes, claims, handler names
    const zsession::ndarray_view image = res.resolve<zsession::ndarray_view>(in.image);
    const std::vector<double> histogram = res.get(in.histogram);
    std::printf(
        "%s: %s array %zux%zu, pixel %u, a view of the sent bytes: %s; histogram %s (%zu)\n",
        in.camera.c_str(), image.type().str().c_str(), image.shape()[0], image.shape()[1],
        static_cast<unsigned>(image.values<std::uint16_t>()[12345]),
        image.data() == m.buffers[0].data() ? "yes" : "no",
        in.histogram.is_inline() ? "inline" : "offloaded", histogram.size());
    return image.data() == m.buffers[0].data() ? 0 : 1;
}
