#include "msgpack_reader.hpp"

#include <cstdint>
#include <cstring>
#include <string>

#include "text_util.hpp"
#include "unique_keys.hpp"

namespace zsession::detail {

namespace {

namespace type = msgpack::type;

class reader {
  public:
    reader(bytes_view bytes, msgpack::zone& zone, std::size_t max_depth, std::size_t max_elements)
        : p_(reinterpret_cast<const unsigned char*>(bytes.data())),
          end_(p_ + bytes.size()),
          zone_(zone),
          budget_(bytes.size()),
          limit_(max_elements),
          max_depth_(max_depth) {}

    msgpack::object read_document() {
        msgpack::object o;
        read(o, 0);
        if (p_ != end_) throw decode_error("trailing bytes after the msgpack value");
        return o;
    }

  private:
    void need(std::size_t n) const {
        if (static_cast<std::size_t>(end_ - p_) < n) throw decode_error("truncated msgpack");
    }
    std::uint64_t be(std::size_t n) {  // big-endian unsigned of n bytes
        need(n);
        const std::uint64_t v = read_be(p_, n);
        p_ += n;
        return v;
    }
    const char* take(std::size_t n) {
        need(n);
        const char* at = reinterpret_cast<const char*>(p_);
        p_ += n;
        return at;
    }

    void read(msgpack::object& o, std::size_t depth);
    void read_container(msgpack::object& o, bool is_map, std::size_t n, std::size_t depth);
    void read_ext(msgpack::object& o, std::size_t n) {
        need(n + 1);
        o.type = type::EXT;
        o.via.ext.size = static_cast<std::uint32_t>(n);
        o.via.ext.ptr = take(n + 1);  // the type byte, then the payload
    }
    void read_raw(msgpack::object& o, type::object_type t, std::size_t n) {
        o.type = t;
        o.via.str.size = static_cast<std::uint32_t>(n);  // str and bin share the layout
        o.via.str.ptr = take(n);
    }
    void read_signed(msgpack::object& o, std::size_t n) {
        const std::uint64_t raw = be(n);
        const unsigned shift = static_cast<unsigned>(64 - 8 * n);
        const auto v = static_cast<std::int64_t>(raw << shift) >> shift;  // sign-extend
        set_integer(o, v);
    }
    static void set_integer(msgpack::object& o, std::int64_t v) {
        if (v < 0) {
            o.type = type::NEGATIVE_INTEGER;
            o.via.i64 = v;
        } else {
            o.type = type::POSITIVE_INTEGER;
            o.via.u64 = static_cast<std::uint64_t>(v);
        }
    }

    const unsigned char* p_;
    const unsigned char* end_;
    msgpack::zone& zone_;
    std::size_t budget_;  // elements that containers may still declare (bytes left to fill)
    std::size_t limit_;   // elements that limits.max_map_elements still allows
    std::size_t max_depth_;
};

void reader::read_container(msgpack::object& o, bool is_map, std::size_t n, std::size_t depth) {
    if (depth >= max_depth_) throw limit_error("msgpack nests deeper than limits.max_nesting");
    const std::size_t elements = is_map ? 2 * n : n;
    if (elements > budget_) throw decode_error("msgpack declares more elements than it has bytes");
    if (elements > limit_) throw limit_error("msgpack map holds more than limits.max_map_elements");
    budget_ -= elements;
    limit_ -= elements;
    if (is_map) {
        o.type = type::MAP;
        o.via.map.size = static_cast<std::uint32_t>(n);
        o.via.map.ptr = n == 0 ? nullptr
                               : static_cast<msgpack::object_kv*>(zone_.allocate_align(
                                     n * sizeof(msgpack::object_kv), alignof(msgpack::object_kv)));
        for (std::size_t i = 0; i < n; ++i) {
            read(o.via.map.ptr[i].key, depth + 1);
            read(o.via.map.ptr[i].val, depth + 1);
        }
        if (has_duplicate_key(o.via.map)) throw decode_error("msgpack map repeats a key");
    } else {
        o.type = type::ARRAY;
        o.via.array.size = static_cast<std::uint32_t>(n);
        o.via.array.ptr = n == 0 ? nullptr
                                 : static_cast<msgpack::object*>(zone_.allocate_align(
                                       n * sizeof(msgpack::object), alignof(msgpack::object)));
        for (std::size_t i = 0; i < n; ++i) read(o.via.array.ptr[i], depth + 1);
    }
}

void reader::read(msgpack::object& o, std::size_t depth) {
    const unsigned b = static_cast<unsigned>(be(1));
    if (b <= 0x7f) return set_integer(o, b);                            // positive fixint
    if (b >= 0xe0) return set_integer(o, static_cast<std::int8_t>(b));  // negative fixint
    if (b <= 0x8f) return read_container(o, true, b & 0x0f, depth);     // fixmap
    if (b <= 0x9f) return read_container(o, false, b & 0x0f, depth);    // fixarray
    if (b <= 0xbf) return read_raw(o, type::STR, b & 0x1f);             // fixstr
    switch (b) {
        case 0xc0:
            o.type = type::NIL;
            return;
        case 0xc2:
            o.type = type::BOOLEAN;
            o.via.boolean = false;
            return;
        case 0xc3:
            o.type = type::BOOLEAN;
            o.via.boolean = true;
            return;
        case 0xc4:
        case 0xc5:
        case 0xc6:
            return read_raw(o, type::BIN, be(std::size_t{1} << (b - 0xc4)));
        case 0xc7:
        case 0xc8:
        case 0xc9:
            return read_ext(o, be(std::size_t{1} << (b - 0xc7)));
        case 0xca: {
            const auto bits = static_cast<std::uint32_t>(be(4));
            float f;
            std::memcpy(&f, &bits, 4);
            o.type = type::FLOAT32;
            o.via.f64 = f;
            return;
        }
        case 0xcb: {
            const std::uint64_t bits = be(8);
            o.type = type::FLOAT64;
            std::memcpy(&o.via.f64, &bits, 8);
            return;
        }
        case 0xcc:
        case 0xcd:
        case 0xce:
        case 0xcf:
            o.type = type::POSITIVE_INTEGER;
            o.via.u64 = be(std::size_t{1} << (b - 0xcc));
            return;
        case 0xd0:
        case 0xd1:
        case 0xd2:
        case 0xd3:
            return read_signed(o, std::size_t{1} << (b - 0xd0));
        case 0xd4:
        case 0xd5:
        case 0xd6:
        case 0xd7:
        case 0xd8:
            return read_ext(o, std::size_t{1} << (b - 0xd4));  // fixext 1..16
        case 0xd9:
        case 0xda:
        case 0xdb:
            return read_raw(o, type::STR, be(std::size_t{1} << (b - 0xd9)));
        case 0xdc:
        case 0xdd:
            return read_container(o, false, be(std::size_t{2} << (b - 0xdc)), depth);
        case 0xde:
        case 0xdf:
            return read_container(o, true, be(std::size_t{2} << (b - 0xde)), depth);
        default:  // 0xc1: never used
            throw decode_error("invalid msgpack type byte 0xc1");
    }
}

}  // namespace

msgpack::object read_msgpack(bytes_view bytes, msgpack::zone& zone, std::size_t max_depth,
                             std::size_t max_elements) {
    return reader(bytes, zone, max_depth, max_elements).read_document();
}

}  // namespace zsession::detail
