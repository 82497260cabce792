#include "msgpack_packer.hpp"

#include <cstdint>
#include <cstring>
#include <span>

#include "msgpack_reader.hpp"
#include "packer_common.hpp"
#include "small_copy.hpp"
#include "string_out.hpp"
#include "text_util.hpp"

namespace zsession::detail {

namespace {

struct string_writer {
    std::string& out;
    void write(const char* p, std::size_t n) { out.append(p, n); }
};

/// Writes `tag` then the low `bytes` bytes of `v`, big-endian, at p; returns the end.
char* put_be(char* p, unsigned char tag, std::uint64_t v, int bytes) noexcept {
    *p++ = static_cast<char>(tag);
    for (int shift = 8 * (bytes - 1); shift >= 0; shift -= 8) *p++ = static_cast<char>(v >> shift);
    return p;
}

/// msgpack-c's pack_uint64: the smallest form of `v` (room for 9 bytes at p).
char* put_uint(char* p, std::uint64_t v) noexcept {
    if (v < 128) {
        *p = static_cast<char>(v);
        return p + 1;
    }
    if (v < 256) return put_be(p, 0xcc, v, 1);
    if (v < 65536) return put_be(p, 0xcd, v, 2);
    if (v < (std::uint64_t{1} << 32)) return put_be(p, 0xce, v, 4);
    return put_be(p, 0xcf, v, 8);
}

/// msgpack-c's pack_int64: the smallest form of `v` (room for 9 bytes at p).
char* put_int(char* p, std::int64_t v) noexcept {
    if (v >= -32) return v < 128 ? (*p = static_cast<char>(v), p + 1) : put_uint(p, v);
    const auto u = static_cast<std::uint64_t>(v);
    if (v >= -128) return put_be(p, 0xd0, u, 1);
    if (v >= -32768) return put_be(p, 0xd1, u, 2);
    if (v >= -(std::int64_t{1} << 31)) return put_be(p, 0xd2, u, 4);
    return put_be(p, 0xd3, u, 8);
}

/// A container's header (msgpack-c's pack_array / pack_map): fix form below 16 entries.
char* put_container(char* p, bool map, std::uint32_t n) noexcept {
    if (n < 16) {
        *p = static_cast<char>((map ? 0x80 : 0x90) | n);
        return p + 1;
    }
    if (n < 65536) return put_be(p, map ? 0xde : 0xdc, n, 2);
    return put_be(p, map ? 0xdf : 0xdd, n, 4);
}

/// Writes the types write_object does not write itself (floats, bin, ext) through msgpack-c.
[[gnu::noinline]] void write_other(string_out& w, const msgpack::object& o) {
    namespace type = msgpack::type;
    string_writer sw{w.appendable()};
    msgpack::packer<string_writer> pk(sw);
    switch (o.type) {
        case type::FLOAT32:
            pk.pack_float(static_cast<float>(o.via.f64));
            break;
        case type::FLOAT64:
            pk.pack_double(o.via.f64);
            break;
        case type::BIN:
            pk.pack_bin(o.via.bin.size);
            pk.pack_bin_body(o.via.bin.ptr, o.via.bin.size);
            break;
        case type::EXT:
            pk.pack_ext(o.via.ext.size, o.via.ext.type());
            pk.pack_ext_body(o.via.ext.data(), o.via.ext.size);
            break;
        default:
            w.resume();
            throw usage_error("cannot pack a msgpack object of type " + std::to_string(o.type));
    }
    w.resume();
}

/// Writes the header of a msgpack str of `n` bytes (n < 2^32) at `p`, in the smallest form
/// (as msgpack::packer::pack_str); returns the end.
char* write_str_header(char* p, std::size_t n) noexcept {
    if (n < 32) {
        *p++ = static_cast<char>(0xa0 | n);
    } else if (n < 256) {
        *p++ = static_cast<char>(0xd9);
        *p++ = static_cast<char>(n);
    } else if (n < 65536) {
        *p++ = static_cast<char>(0xda);
        *p++ = static_cast<char>(n >> 8);
        *p++ = static_cast<char>(n);
    } else {
        *p++ = static_cast<char>(0xdb);
        for (int shift = 24; shift >= 0; shift -= 8) *p++ = static_cast<char>(n >> shift);
    }
    return p;
}

/// Writes `o` in msgpack's smallest form, the bytes msgpack::pack(o) writes, straight into
/// the output (msgpack-c's packer appends each token to the string, a call and a memcpy
/// each, and its generic visitor keeps a heap-allocated stack per call).
void write_object(string_out& w, const msgpack::object& o, std::size_t depth) {
    namespace type = msgpack::type;
    switch (o.type) {
        case type::NIL:
        case type::BOOLEAN: {
            char* p = w.room(1);
            *p = static_cast<char>(o.type == type::NIL ? 0xc0 : o.via.boolean ? 0xc3 : 0xc2);
            return w.done(p + 1);
        }
        case type::POSITIVE_INTEGER:
            return w.done(put_uint(w.room(9), o.via.u64));
        case type::NEGATIVE_INTEGER:
            return w.done(put_int(w.room(9), o.via.i64));
        case type::STR: {
            const std::size_t n = o.via.str.size;
            char* p = write_str_header(w.room(5 + n), n);
            copy_bytes(p, o.via.str.ptr, n);
            return w.done(p + n);
        }
        case type::ARRAY:
        case type::MAP:
            break;
        default:
            return write_other(w, o);
    }
    if (depth >= max_pack_depth) throw usage_error("content nests deeper than 1024 levels");
    if (o.type == type::ARRAY) {
        w.done(put_container(w.room(5), false, o.via.array.size));
        for (const auto& item : std::span(o.via.array.ptr, o.via.array.size)) {
            write_object(w, item, depth + 1);
        }
    } else {
        w.done(put_container(w.room(5), true, o.via.map.size));
        for (const auto& kv : std::span(o.via.map.ptr, o.via.map.size)) {
            write_object(w, kv.key, depth + 1);
            write_object(w, kv.val, depth + 1);
        }
    }
}

}  // namespace

// The same bytes as msgpack::packer would write (a fixmap of six str pairs), written in
// one pass into room made once: this runs twice per message.
void msgpack_pack_header(const header& h, std::string& out) {
    if (h.empty()) {
        out.push_back(static_cast<char>(0x80));  // {}
        return;
    }
    const auto fields = header_fields(h);
    std::size_t room = 1;
    for (const auto& [k, v] : fields) room += 1 + k.size() + 5 + v->size();
    const std::size_t start = out.size();
    out.resize(start + room);
    char* const begin = out.data() + start;
    char* p = begin;
    *p++ = static_cast<char>(0x80 | fields.size());
    for (const auto& [k, v] : fields) {
        p = write_str_header(p, k.size());  // field names are under 32 bytes: fixstr
        copy_bytes(p, k.data(), k.size());
        p += k.size();
        p = write_str_header(p, static_cast<std::uint32_t>(v->size()));
        copy_bytes(p, v->data(), v->size());
        p += v->size();
    }
    out.resize(start + static_cast<std::size_t>(p - begin));
}

void msgpack_pack_map(const msgpack::object& obj, std::string& out, const char* what) {
    if (obj.type == msgpack::type::NIL) {
        out.push_back(static_cast<char>(0x80));  // {}
    } else if (obj.type == msgpack::type::MAP) {
        string_out w(out);
        write_object(w, obj, 0);
    } else {
        throw usage_error(std::string(what) + " must be a map");
    }
}

msgpack::object msgpack_unpack_map(bytes_view bytes, msgpack::zone& zone, const limits& lim,
                                   const char* what) {
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

namespace {

/// A cursor for msgpack_try_read_header: each read returns false, consuming nothing, where
/// the bytes do not hold what it reads (or end).
struct header_cursor {
    const unsigned char* p;
    const unsigned char* const end;

    std::size_t left() const noexcept { return static_cast<std::size_t>(end - p); }
    /// A str of any width.
    bool str(std::string_view& s) noexcept {
        if (p == end) return false;
        const unsigned b = *p;
        std::size_t at = 1, n;
        if (b >= 0xa0 && b <= 0xbf) {
            n = b & 0x1f;
        } else if (b >= 0xd9 && b <= 0xdb) {
            at += std::size_t{1} << (b - 0xd9);
            if (left() < at) return false;
            n = static_cast<std::size_t>(read_be(p + 1, at - 1));
        } else {
            return false;
        }
        if (left() - at < n) return false;
        s = {reinterpret_cast<const char*>(p + at), n};
        p += at + n;
        return true;
    }
    /// An extension of any width, as msgpack_reader gives it (ptr at its type byte).
    bool ext(msgpack::object& o) noexcept {
        if (p == end) return false;
        const unsigned b = *p;
        std::size_t at = 1, n;
        if (b >= 0xd4 && b <= 0xd8) {
            n = std::size_t{1} << (b - 0xd4);
        } else if (b >= 0xc7 && b <= 0xc9) {
            at += std::size_t{1} << (b - 0xc7);
            if (left() < at) return false;
            n = static_cast<std::size_t>(read_be(p + 1, at - 1));
        } else {
            return false;
        }
        if (left() - at < n + 1) return false;
        o.type = msgpack::type::EXT;
        o.via.ext.size = static_cast<std::uint32_t>(n);
        o.via.ext.ptr = reinterpret_cast<const char*>(p + at);
        p += at + n + 1;
        return true;
    }
};

}  // namespace

bool msgpack_try_read_header(bytes_view bytes, bool strict, const limits& lim, header& out) {
    header_cursor c{reinterpret_cast<const unsigned char*>(bytes.data()),
                    reinterpret_cast<const unsigned char*>(bytes.data()) + bytes.size()};
    // A fixmap (a header has at most six entries), within the limits read_msgpack checks.
    if (c.p == c.end || (*c.p & 0xf0) != 0x80) return false;
    const std::size_t n = *c.p++ & 0x0f;
    if (lim.max_nesting == 0 || 2 * n > lim.max_map_elements) return false;
    header_filler fill(out);
    for (std::size_t i = 0; i < n; ++i) {
        std::string_view key, value;
        if (!c.str(key)) return false;
        inline_string* const field = fill.field(key);
        if (field == nullptr) return false;
        if (c.str(value)) {
            field->assign(value);
        } else if (!strict && c.p != c.end && *c.p == 0xc0) {
            ++c.p;
            field->clear();
        } else if (msgpack::object ext; field == &out.date && c.ext(ext)) {
            try {
                *field = timestamp_to_iso(ext, "header");
            } catch (const decode_error&) {
                return false;
            }
        } else {
            return false;
        }
    }
    return c.p == c.end && fill.finish(strict);
}

}  // namespace zsession::detail
