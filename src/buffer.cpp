#include "zsession/buffer.hpp"

#include <stdexcept>

#include <zmq.hpp>

#include "zsession/copy_policy.hpp"

namespace zsession {

buffer buffer::take(std::string&& s) {
    auto owner = std::make_shared<std::string>(std::move(s));
    bytes_view bytes{owner->data(), owner->size()};
    return buffer(bytes, std::move(owner));
}

buffer buffer::take(zmq::message_t&& frame) {
    // Move to the heap first: a small frame keeps its bytes inside the zmq_msg_t itself,
    // so the view must be taken from the frame at its final address.
    auto owner = std::make_shared<zmq::message_t>(std::move(frame));
    bytes_view bytes{owner->data(), owner->size()};
    return buffer(bytes, std::move(owner));
}

buffer buffer::copy_of(bytes_view bytes) {
    const auto* p = reinterpret_cast<const char*>(bytes.data());
    return take(std::string(p, p + bytes.size()));
}

buffer buffer::slice(std::size_t offset, std::size_t count) const {
    if (offset > size() || count > size() - offset) {
        throw std::out_of_range("zsession::buffer::slice outside the buffer");
    }
    return buffer(bytes_view{data() + offset, count}, keepalive_);
}

namespace {

// libzmq's free callback: runs once libzmq is done with a zero-copy frame's bytes.
void release_keepalive(void* /*data*/, void* hint) noexcept {
    delete static_cast<std::shared_ptr<const void>*>(hint);
}

}  // namespace

zmq::message_t make_frame(const buffer& b, send_mode mode) {
    if (b.empty()) return zmq::message_t();
    if (mode == send_mode::copy || !b.keepalive()) return zmq::message_t(b.data(), b.size());
    auto hint = std::make_unique<std::shared_ptr<const void>>(b.keepalive());
    // libzmq takes a non-const pointer but never writes through a message's data.
    zmq::message_t frame(const_cast<std::byte*>(b.data()), b.size(), &release_keepalive,
                         hint.get());
    hint.release();  // owned by the frame from here on
    return frame;
}

}  // namespace zsession
