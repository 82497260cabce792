#include "packer_common.hpp"

#include <cstdint>
#include <span>
#include <type_traits>

#include "text_util.hpp"

namespace zsession::detail {

namespace {

template <class H>  // header or const header
auto fields_of(H& h) {
    using field = std::conditional_t<std::is_const_v<H>, const inline_string, inline_string>;
    // The names come from header_field_names, so the readers' and writers' order is one.
    const auto& n = header_field_names;
    return std::array<std::pair<std::string_view, field*>, 6>{{
        {n[0], &h.msg_id},
        {n[1], &h.msg_type},
        {n[2], &h.username},
        {n[3], &h.session},
        {n[4], &h.date},
        {n[5], &h.version},
    }};
}

}  // namespace

std::array<std::pair<std::string_view, const inline_string*>, 6> header_fields(const header& h) {
    return fields_of(h);
}
std::array<std::pair<std::string_view, inline_string*>, 6> header_fields(header& h) {
    return fields_of(h);
}

std::string timestamp_to_iso(const msgpack::object& o, const std::string& where) {
    // The three layouts of the timestamp extension (msgpack spec), all big-endian.
    const auto* p = reinterpret_cast<const unsigned char*>(o.via.ext.data());
    auto be = [p](std::size_t at, std::size_t n) { return read_be(p + at, n); };
    if (o.via.ext.type() != -1)
        throw decode_error(where + ".date is an extension, not a timestamp");
    std::int64_t secs = 0;
    std::uint32_t nanos = 0;
    switch (o.via.ext.size) {
        case 4:
            secs = static_cast<std::int64_t>(be(0, 4));
            break;
        case 8: {
            const std::uint64_t v = be(0, 8);
            nanos = static_cast<std::uint32_t>(v >> 34);
            secs = static_cast<std::int64_t>(v & 0x3FFFFFFFFull);
            break;
        }
        case 12:
            nanos = static_cast<std::uint32_t>(be(0, 4));
            secs = static_cast<std::int64_t>(be(4, 8));
            break;
        default:
            throw decode_error(where + ".date is a timestamp of invalid size");
    }
    if (nanos >= 1'000'000'000u) throw decode_error(where + ".date has invalid nanoseconds");
    // ISO 8601's four-digit years: 0001-01-01 to 9999-12-31.
    if (secs < -62'135'596'800 || secs > 253'402'300'799) {
        throw decode_error(where + ".date is outside the years 1 to 9999");
    }
    std::string text(iso8601_size, '\0');
    if (!write_iso8601_seconds(secs, text.data()))
        throw decode_error(where + ".date is out of range");
    write_iso8601_fraction(nanos / 1000, text.data() + iso8601_seconds_size);
    return text;
}

namespace {

void read_header_field(const msgpack::object& v, std::string_view name, inline_string& field,
                       bool strict, const char* what) {
    if (v.type == msgpack::type::STR) {
        field.assign(v.via.str.ptr, v.via.str.size);
    } else if (name == "date" && v.type == msgpack::type::EXT) {
        field = timestamp_to_iso(v, what);
    } else if (strict || v.type != msgpack::type::NIL) {
        throw decode_error(std::string(what) + "." + std::string(name) + " is not a string");
    } else {
        field.clear();
    }
}

}  // namespace

void read_header(const msgpack::object& map, bool strict, const char* what, header& out) {
    if (map.type != msgpack::type::MAP) throw decode_error(std::string(what) + " is not a map");
    header_filler fill(out);
    // One pass over the map; keys that are not header fields are ignored.
    for (const auto& kv : std::span(map.via.map.ptr, map.via.map.size)) {
        if (kv.key.type != msgpack::type::STR) continue;
        const std::string_view key(kv.key.via.str.ptr, kv.key.via.str.size);
        bool repeated = false;
        inline_string* const field = fill.field(key, &repeated);
        if (repeated) {
            throw decode_error(std::string(what) + " has '" + std::string(key) + "' twice");
        }
        if (field != nullptr) read_header_field(kv.val, key, *field, strict, what);
    }
    if (!fill.finish(strict)) {
        throw decode_error(std::string(what) + " lacks '" + std::string(fill.missing()) + "'");
    }
}

}  // namespace zsession::detail
