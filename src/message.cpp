#include "zsession/message.hpp"

namespace zsession {

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
