#include "unique_keys.hpp"

#include <algorithm>
#include <cstring>
#include <span>
#include <string_view>
#include <vector>

namespace zsession::detail {

namespace {

/// a == b, with the common case (two strings) compared directly rather than through
/// msgpack-c's generic operator== (a visitor over both objects).
bool same_key(const msgpack::object& a, const msgpack::object& b) {
    if (a.type == msgpack::type::STR && b.type == msgpack::type::STR) {
        return a.via.str.size == b.via.str.size &&
               std::memcmp(a.via.str.ptr, b.via.str.ptr, a.via.str.size) == 0;
    }
    return a == b;
}

bool pairwise_duplicate(std::span<const msgpack::object_kv> kvs) {
    for (std::size_t i = 0; i < kvs.size(); ++i) {
        for (std::size_t j = i + 1; j < kvs.size(); ++j) {
            if (same_key(kvs[i].key, kvs[j].key)) return true;
        }
    }
    return false;
}

}  // namespace

bool has_duplicate_key(const msgpack::object_map& map) {
    const std::span<const msgpack::object_kv> kvs(map.ptr, map.size);
    if (kvs.size() <= 16) return pairwise_duplicate(kvs);
    std::vector<std::string_view> strings;
    std::vector<msgpack::object_kv> others;  // non-string keys: rare, compared pairwise
    strings.reserve(kvs.size());
    for (const auto& kv : kvs) {
        if (kv.key.type == msgpack::type::STR) {
            strings.emplace_back(kv.key.via.str.ptr, kv.key.via.str.size);
        } else {
            others.push_back(kv);
        }
    }
    std::sort(strings.begin(), strings.end());
    if (std::adjacent_find(strings.begin(), strings.end()) != strings.end()) return true;
    return pairwise_duplicate(others);
}

}  // namespace zsession::detail
