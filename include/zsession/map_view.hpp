// zsession/map_view.hpp - a read-only view of a msgpack map with string keys, for content
// and metadata read without a struct: typed get<T>("key") that names the key in its error.
#pragma once

#ifndef MSGPACK_NO_BOOST
#define MSGPACK_NO_BOOST
#endif
#include <msgpack.hpp>

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <typeinfo>

#include "zsession/error.hpp"
#include "zsession/shape_error.hpp"

namespace zsession {

/// Looks up `key` in a map object; nullptr when `map` is not a map or lacks the key.
const msgpack::object* find_key(const msgpack::object& map, std::string_view key) noexcept;

/// Views one map object (not a copy): valid as long as the object's storage (for a
/// message's content, the message). Lookups are linear, as maps are small. A nil object
/// views as the empty map. Trivially copyable; thread safety as for const objects.
class map_view {
  public:
    /// The empty map.
    map_view() noexcept = default;
    /// Views `map`; `what` names it in errors and must outlive the view (a literal such as
    /// "content").
    /// Throws decode_error when `map` is neither a map nor nil.
    explicit map_view(const msgpack::object& map, std::string_view what = "map");

    std::size_t size() const noexcept { return items_.size(); }
    bool empty() const noexcept { return items_.empty(); }
    /// Key-value pairs in wire order (keys may be any msgpack type).
    auto begin() const noexcept { return items_.begin(); }
    auto end() const noexcept { return items_.end(); }

    /// The value at string key `key`, or nullptr when there is none.
    const msgpack::object* find(std::string_view key) const noexcept;
    bool contains(std::string_view key) const noexcept { return find(key) != nullptr; }
    /// The value at `key`. Throws decode_error "<what> has no key '<key>'".
    const msgpack::object& at(std::string_view key) const;
    /// The value at `key` converted to T (any type with a msgpack adaptor). Throws
    /// decode_error naming the key and the expected type when the key is missing or its
    /// value does not convert to T (for a MSGPACK_DEFINE_MAP struct, naming the field:
    /// "content['req'].silent: expected bool, got str").
    template <class T>
    T get(std::string_view key) const {
        return convert<T>(at(key), key);
    }
    /// Same, but `fallback` when the key is missing (a present value of the wrong type
    /// still throws decode_error).
    template <class T>
    T get_or(std::string_view key, T fallback) const {
        const msgpack::object* v = find(key);
        return v ? convert<T>(*v, key) : std::move(fallback);
    }
    /// A nested map. Throws decode_error when the key is missing or not a map.
    map_view map(std::string_view key) const;

  private:
    template <class T>
    T convert(const msgpack::object& v, std::string_view key) const {
        try {
            return v.as<T>();
        } catch (const msgpack::type_error&) {
            if constexpr (detail::field_map_struct<T>) {  // name the struct's field
                std::string field =
                    detail::shape_error<T>(v, std::string(what_) + "['" + std::string(key) + "']");
                if (!field.empty()) throw decode_error(std::move(field));
            }
            throw_wrong_type(key, expected_name<T>());
        }
    }
    template <class T>
    static const char* expected_name() noexcept {
        if constexpr (std::is_same_v<T, bool>) {
            return "bool";
        } else if constexpr (std::is_integral_v<T>) {
            return std::is_signed_v<T> ? "integer" : "non-negative integer";
        } else if constexpr (std::is_floating_point_v<T>) {
            return "number";
        } else if constexpr (std::is_convertible_v<T, std::string_view>) {
            return "string";
        } else {
            return typeid(T).name();
        }
    }
    [[noreturn]] void throw_wrong_type(std::string_view key, const char* expected) const;

    std::span<const msgpack::object_kv> items_;
    std::string_view what_ = "map";
};

}  // namespace zsession
