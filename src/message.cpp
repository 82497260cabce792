#include "zsession/message.hpp"

#include <utility>

namespace zsession {

message::message(message&& other) noexcept
    : identities(std::move(other.identities)),
      header(std::move(other.header)),
      parent_header(std::move(other.parent_header)),
      buffers(std::move(other.buffers)),
      metadata_(std::exchange(other.metadata_, msgpack::object())),
      content_(std::exchange(other.content_, msgpack::object())),
      storage_(std::move(other.storage_)),
      zone_(std::exchange(other.zone_, nullptr)),
      metadata_owner_(std::move(other.metadata_owner_)),
      content_owner_(std::move(other.content_owner_)) {}

message& message::operator=(message&& other) noexcept {
    if (this != &other) {
        identities = std::move(other.identities);
        header = std::move(other.header);
        parent_header = std::move(other.parent_header);
        buffers = std::move(other.buffers);
        metadata_ = std::exchange(other.metadata_, msgpack::object());
        content_ = std::exchange(other.content_, msgpack::object());
        storage_ = std::move(other.storage_);
        zone_ = std::exchange(other.zone_, nullptr);
        metadata_owner_ = std::move(other.metadata_owner_);
        content_owner_ = std::move(other.content_owner_);
    }
    return *this;
}

msgpack::zone& message::zone() {
    if (!zone_) {
        auto z = std::make_shared<msgpack::zone>(1024);
        zone_ = z.get();
        storage_ = std::move(z);
    }
    return *zone_;
}

}  // namespace zsession
