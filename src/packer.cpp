#include "packer.hpp"

#include <array>
#include <chrono>
#include <cstdio>
#include <ctime>

#include "json_packer.hpp"
#include "msgpack_reader.hpp"

namespace zsession::detail {

namespace {

struct string_writer {
    std::string& out;
    void write(const char* p, std::size_t n) { out.append(p, n); }
};

}  // namespace

namespace {

template <class H>  // header or const header
auto fields_of(H& h) {
    using field = std::conditional_t<std::is_const_v<H>, const std::string, std::string>;
    return std::array<std::pair<std::string_view, field*>, 6>{{
        {"msg_id", &h.msg_id},
        {"msg_type", &h.msg_type},
        {"username", &h.username},
        {"session", &h.session},
        {"date", &h.date},
        {"version", &h.version},
    }};
}

}  // namespace

std::array<std::pair<std::string_view, const std::string*>, 6> header_fields(const header& h) {
    return fields_of(h);
}
std::array<std::pair<std::string_view, std::string*>, 6> header_fields(header& h) {
    return fields_of(h);
}

void pack_header(packer_kind kind, const header& h, std::string& out) {
    if (kind == packer_kind::json) return json_pack_header(h, out);
    string_writer w{out};
    msgpack::packer<string_writer> pk(w);
    if (h.empty()) {
        pk.pack_map(0);
        return;
    }
    pk.pack_map(6);
    for (const auto& [k, v] : header_fields(h)) {
        pk.pack_str(static_cast<std::uint32_t>(k.size()));
        pk.pack_str_body(k.data(), static_cast<std::uint32_t>(k.size()));
        pk.pack_str(static_cast<std::uint32_t>(v->size()));
        pk.pack_str_body(v->data(), static_cast<std::uint32_t>(v->size()));
    }
}

namespace {

/// Writes `o` in msgpack's smallest form, as msgpack::pack(o) does, without the generic
/// visitor (which keeps a heap-allocated stack per call).
void write_object(msgpack::packer<string_writer>& pk, const msgpack::object& o, std::size_t depth) {
    namespace type = msgpack::type;
    switch (o.type) {
        case type::NIL:
            pk.pack_nil();
            return;
        case type::BOOLEAN:
            o.via.boolean ? pk.pack_true() : pk.pack_false();
            return;
        case type::POSITIVE_INTEGER:
            pk.pack_uint64(o.via.u64);
            return;
        case type::NEGATIVE_INTEGER:
            pk.pack_int64(o.via.i64);
            return;
        case type::FLOAT32:
            pk.pack_float(static_cast<float>(o.via.f64));
            return;
        case type::FLOAT64:
            pk.pack_double(o.via.f64);
            return;
        case type::STR:
            pk.pack_str(o.via.str.size);
            pk.pack_str_body(o.via.str.ptr, o.via.str.size);
            return;
        case type::BIN:
            pk.pack_bin(o.via.bin.size);
            pk.pack_bin_body(o.via.bin.ptr, o.via.bin.size);
            return;
        case type::EXT:
            pk.pack_ext(o.via.ext.size, o.via.ext.type());
            pk.pack_ext_body(o.via.ext.data(), o.via.ext.size);
            return;
        default:
            break;
    }
    if (depth >= max_pack_depth) throw usage_error("content nests deeper than 1024 levels");
    if (o.type == type::ARRAY) {
        pk.pack_array(o.via.array.size);
        for (const auto& item : std::span(o.via.array.ptr, o.via.array.size)) {
            write_object(pk, item, depth + 1);
        }
    } else if (o.type == type::MAP) {
        pk.pack_map(o.via.map.size);
        for (const auto& kv : std::span(o.via.map.ptr, o.via.map.size)) {
            write_object(pk, kv.key, depth + 1);
            write_object(pk, kv.val, depth + 1);
        }
    } else {
        throw usage_error("cannot pack a msgpack object of type " + std::to_string(o.type));
    }
}

}  // namespace

void pack_map(packer_kind kind, const msgpack::object& obj, std::string& out, const char* what) {
    if (kind == packer_kind::json) return json_pack_map(obj, out, what);
    string_writer w{out};
    msgpack::packer<string_writer> pk(w);
    if (obj.type == msgpack::type::NIL) {
        pk.pack_map(0);
    } else if (obj.type == msgpack::type::MAP) {
        write_object(pk, obj, 0);
    } else {
        throw usage_error(std::string(what) + " must be a map");
    }
}

msgpack::object unpack_map(packer_kind kind, bytes_view bytes, msgpack::zone& zone,
                           const limits& lim, const char* what) {
    if (kind == packer_kind::json) return json_unpack_map(bytes, zone, lim, what);
    msgpack::object obj;
    try {
        obj = read_msgpack(bytes, zone, lim.max_nesting, lim.max_map_elements);
    } catch (const limit_error& e) {
        throw limit_error(std::string(what) + ": " + e.what());
    } catch (const decode_error& e) {
        throw decode_error(std::string(what) + ": " + e.what());
    }
    if (obj.type != msgpack::type::MAP) throw decode_error(std::string(what) + " is not a map");
    return obj;
}

std::string timestamp_to_iso(const msgpack::object& o, const std::string& where) {
    // The three layouts of the timestamp extension (msgpack spec), all big-endian.
    const auto* p = reinterpret_cast<const unsigned char*>(o.via.ext.data());
    auto be = [p](std::size_t at, std::size_t n) {
        std::uint64_t v = 0;
        for (std::size_t i = 0; i < n; ++i) v = (v << 8) | p[at + i];
        return v;
    };
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
    std::time_t t = static_cast<std::time_t>(secs);
    std::tm tm{};
    if (!gmtime_r(&t, &tm)) throw decode_error(where + ".date is out of range");
    char text[64];
    std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%06uZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, nanos / 1000);
    return text;
}

namespace {

void read_header_field(const msgpack::object& v, std::string_view name, std::string& field,
                       bool strict, const char* what) {
    if (v.type == msgpack::type::STR) {
        field.assign(v.via.str.ptr, v.via.str.size);
    } else if (name == "date" && v.type == msgpack::type::EXT) {
        field = timestamp_to_iso(v, what);
    } else if (strict || v.type != msgpack::type::NIL) {
        throw decode_error(std::string(what) + "." + std::string(name) + " is not a string");
    }
}

}  // namespace

header header_from_object(const msgpack::object& map, bool strict, const char* what) {
    if (map.type != msgpack::type::MAP) throw decode_error(std::string(what) + " is not a map");
    header h;
    const auto fields = header_fields(h);
    unsigned seen = 0;  // one bit per field
    // One pass over the map; keys that are not header fields are ignored.
    for (const auto& kv : std::span(map.via.map.ptr, map.via.map.size)) {
        if (kv.key.type != msgpack::type::STR) continue;
        const std::string_view key(kv.key.via.str.ptr, kv.key.via.str.size);
        for (unsigned i = 0; i < fields.size(); ++i) {
            if (fields[i].first != key) continue;
            if (seen & (1u << i)) {
                throw decode_error(std::string(what) + " has '" + std::string(key) + "' twice");
            }
            seen |= 1u << i;
            read_header_field(kv.val, fields[i].first, *fields[i].second, strict, what);
        }
    }
    for (unsigned i = 0; strict && i < fields.size(); ++i) {
        if (!(seen & (1u << i))) {
            throw decode_error(std::string(what) + " lacks '" + std::string(fields[i].first) + "'");
        }
    }
    return h;
}

}  // namespace zsession::detail
