#include "zsession/map_view.hpp"

namespace zsession {

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

map_view::map_view(const msgpack::object& map, std::string_view what) : what_(what) {
    if (map.type == msgpack::type::MAP) {
        items_ = {map.via.map.ptr, map.via.map.size};
    } else if (map.type != msgpack::type::NIL) {
        throw decode_error(std::string(what) + " is not a map");
    }
}

const msgpack::object* map_view::find(std::string_view key) const noexcept {
    for (const auto& kv : items_) {
        if (kv.key.type == msgpack::type::STR &&
            std::string_view(kv.key.via.str.ptr, kv.key.via.str.size) == key) {
            return &kv.val;
        }
    }
    return nullptr;
}

const msgpack::object& map_view::at(std::string_view key) const {
    if (const msgpack::object* v = find(key)) return *v;
    throw decode_error(std::string(what_) + " has no key '" + std::string(key) + "'");
}

map_view map_view::map(std::string_view key) const {
    const msgpack::object& v = at(key);
    if (v.type != msgpack::type::MAP) throw_wrong_type(key, "map");
    return map_view(v, what_);
}

void map_view::throw_wrong_type(std::string_view key, const char* expected) const {
    throw decode_error(std::string(what_) + "['" + std::string(key) + "'] is not a " + expected);
}

}  // namespace zsession
