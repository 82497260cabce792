// zsession/shape_error.hpp - which field of a MSGPACK_DEFINE_MAP struct a received map
// fails to convert to, for errors that name it ("content.silent: expected bool, got str")
// instead of msgpack-c's bare std::bad_cast. Used by message::content_as and map_view::get.
#pragma once

#ifndef MSGPACK_NO_BOOST
#define MSGPACK_NO_BOOST
#endif
#include <msgpack.hpp>

#include <exception>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>

namespace zsession {

const msgpack::object* find_key(const msgpack::object& map, std::string_view key) noexcept;

namespace detail {

/// A struct whose msgpack adaptor comes from MSGPACK_DEFINE_MAP (or anything else with a
/// const msgpack_object member writing a map of field name to value) and a default value.
template <class T>
concept field_map_struct = std::is_default_constructible_v<T> &&
    requires(const T& t, msgpack::object* o, msgpack::zone& z) {
    t.msgpack_object(o, z);
};

/// Sets `out` to "<path>: expected <kind>, got <kind>" for `got` against `expected` (the
/// field's default value, which tells its kind), descending into nested maps to the first
/// key whose kind does not fit (path.key.key...), or to "<path>: <kind> of the wrong shape"
/// when the kinds fit. Kinds: null, bool, int, float, str, bin, array, map, ext. (An out
/// parameter: a std::string return would tag the exported symbol [abi:cxx11].)
void shape_mismatch(std::string& out, std::string_view path, const msgpack::object& expected,
                    const msgpack::object& got);

/// For a field_map_struct T that `o` failed to convert to: the first field (in declaration
/// order) whose value alone fails, described by shape_mismatch as "<path>.<field>: ...";
/// "<path>: expected map, got <kind>" when `o` is not a map; "<path>: a key is not a
/// string" for a map with a non-string key. Empty when T is not a field_map_struct, or
/// when every field converts on its own (the failure is elsewhere).
template <class T>
std::string shape_error(const msgpack::object& o, std::string_view path) {
    if constexpr (field_map_struct<T>) {
        msgpack::zone z;
        msgpack::object defaults;
        const T scratch{};
        scratch.msgpack_object(&defaults, z);
        if (defaults.type != msgpack::type::MAP) return {};
        std::string out;
        if (o.type != msgpack::type::MAP) {
            shape_mismatch(out, path, defaults, o);
            return out;
        }
        for (const auto& kv : std::span(o.via.map.ptr, o.via.map.size)) {
            if (kv.key.type != msgpack::type::STR) {
                return std::string(path) + ": a key is not a string";
            }
        }
        for (const auto& field : std::span(defaults.via.map.ptr, defaults.via.map.size)) {
            const std::string_view name(field.key.via.str.ptr, field.key.via.str.size);
            const msgpack::object* value = find_key(o, name);
            if (!value) continue;
            msgpack::object_kv one{field.key, *value};
            msgpack::object single;
            single.type = msgpack::type::MAP;
            single.via.map.ptr = &one;
            single.via.map.size = 1;
            try {
                T probe{};
                single.convert(probe);
            } catch (const std::exception&) {
                shape_mismatch(out, std::string(path) + "." + std::string(name), field.val, *value);
                return out;
            }
        }
    }
    return {};
}

}  // namespace detail
}  // namespace zsession
