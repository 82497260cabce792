#include "zsession/copy_policy.hpp"

#include <memory>

#include <zmq.hpp>

namespace zsession {

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
