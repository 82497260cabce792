#include "zsession/buffer.hpp"

#include <bit>

#include "zsession/error.hpp"

#include <zmq.hpp>

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
        throw usage_error("zsession::buffer::slice outside the buffer");
    }
    return buffer(bytes_view{data() + offset, count}, keepalive_);
}

buffer buffer::aligned(std::size_t alignment) const {
    if (!std::has_single_bit(alignment) || alignment > alignof(std::max_align_t)) {
        throw usage_error("buffer::aligned: alignment " + std::to_string(alignment) +
                          " is not a power of two <= alignof(std::max_align_t)");
    }
    if (is_aligned(alignment)) return *this;
    // new std::byte[] is aligned to __STDCPP_DEFAULT_NEW_ALIGNMENT__ >= alignof(max_align_t).
    static_assert(__STDCPP_DEFAULT_NEW_ALIGNMENT__ >= alignof(std::max_align_t));
    std::shared_ptr<std::byte[]> owner(new std::byte[size()]);
    std::memcpy(owner.get(), data(), size());
    const bytes_view bytes{owner.get(), size()};
    return buffer(bytes, std::shared_ptr<const void>(std::move(owner)));
}

}  // namespace zsession
