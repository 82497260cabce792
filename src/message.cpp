#include "zsession/message.hpp"

#include <utility>

namespace zsession {

message::message(message&& other) noexcept
    : identities(std::move(other.identities)),
      header(std::move(other.header)),
      parent_header(std::move(other.parent_header)),
      metadata(std::exchange(other.metadata, msgpack::object())),
      content(std::exchange(other.content, msgpack::object())),
      buffers(std::move(other.buffers)),
      storage_(std::move(other.storage_)),
      zone_(std::exchange(other.zone_, nullptr)) {}

message& message::operator=(message&& other) noexcept {
    if (this != &other) {
        identities = std::move(other.identities);
        header = std::move(other.header);
        parent_header = std::move(other.parent_header);
        metadata = std::exchange(other.metadata, msgpack::object());
        content = std::exchange(other.content, msgpack::object());
        buffers = std::move(other.buffers);
        storage_ = std::move(other.storage_);
        zone_ = std::exchange(other.zone_, nullptr);
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

const msgpack::object* find_key(const msgpack::object& map, std::string_view key) noexcept {
    if (map.type != msgpack::type::MAP) return nullptr;
    for (const auto& kv : std::span(map.via.map.ptr, map.via.map.size)) {
        if (kv.key.type == msgpack::type::STR &&
            std::string_view(kv.key.via.str.ptr, kv.key.via.str.size) == key) {
            return &kv.val;
        }
    }
    return nullptr;
}

}  // namespace zsession
