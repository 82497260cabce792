#include "zsession/shape_error.hpp"

namespace zsession::detail {

namespace {

const char* kind(const msgpack::object& o) noexcept {
    switch (o.type) {
        case msgpack::type::NIL:
            return "null";
        case msgpack::type::BOOLEAN:
            return "bool";
        case msgpack::type::POSITIVE_INTEGER:
        case msgpack::type::NEGATIVE_INTEGER:
            return "int";
        case msgpack::type::FLOAT32:
        case msgpack::type::FLOAT64:
            return "float";
        case msgpack::type::STR:
            return "str";
        case msgpack::type::BIN:
            return "bin";
        case msgpack::type::ARRAY:
            return "array";
        case msgpack::type::MAP:
            return "map";
        case msgpack::type::EXT:
            return "ext";
    }
    return "?";
}

/// Whether a value of got's kind can convert where `expected` (a default value) stands, as
/// far as kinds tell: msgpack-c reads an int as a float and a str as bytes or vice versa; a
/// null default (an optional) says nothing.
bool kind_fits(const msgpack::object& expected, const msgpack::object& got) noexcept {
    const std::string_view e = kind(expected), g = kind(got);
    if (e == g || e == "null") return true;
    if (e == "float" && g == "int") return true;
    return (e == "str" || e == "bin") && (g == "str" || g == "bin");
}

}  // namespace

namespace {

/// shape_mismatch; false when the kinds fit all the way down (the text then says "of the
/// wrong shape").
bool pinpoint(std::string& out, std::string_view path, const msgpack::object& expected,
              const msgpack::object& got) {
    if (!kind_fits(expected, got)) {
        out = std::string(path) + ": expected " + kind(expected) + ", got " + kind(got);
        return true;
    }
    // Both maps: the expected map is a nested struct's defaults; find the key that misfits.
    if (expected.type == msgpack::type::MAP && got.type == msgpack::type::MAP) {
        for (const auto& kv : std::span(expected.via.map.ptr, expected.via.map.size)) {
            if (kv.key.type != msgpack::type::STR) continue;
            const std::string_view name(kv.key.via.str.ptr, kv.key.via.str.size);
            const msgpack::object* value = find_key(got, name);
            if (value &&
                pinpoint(out, std::string(path) + "." + std::string(name), kv.val, *value)) {
                return true;
            }
        }
    }
    out = std::string(path) + ": " + kind(got) + " of the wrong shape";
    return false;
}

}  // namespace

void shape_mismatch(std::string& out, std::string_view path, const msgpack::object& expected,
                    const msgpack::object& got) {
    pinpoint(out, path, expected, got);
}

}  // namespace zsession::detail
