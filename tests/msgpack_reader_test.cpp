// The single-pass msgpack reader against msgpack-c: same objects for every valid document,
// typed errors for every invalid one.
#include <doctest/doctest.h>

#include <cstring>
#include <random>

#include "../src/msgpack_reader.hpp"
#include "zsession/error.hpp"
#include "zsession/session.hpp"

using zsession::bytes_view;
using zsession::detail::read_msgpack;

namespace {

using packer = msgpack::packer<msgpack::sbuffer>;

// Writes a random document exercising every msgpack format family.
void random_value(packer& pk, std::mt19937& rng, int depth) {
    auto pick = [&](unsigned n) { return static_cast<unsigned>(rng() % n); };
    const unsigned kind = depth > 5 ? pick(12) : pick(14);
    switch (kind) {
        case 0:
            pk.pack_nil();
            break;
        case 1:
            pk.pack(pick(2) == 1);
            break;
        case 2:
            pk.pack(static_cast<std::uint64_t>(rng()) << pick(40));
            break;
        case 3:
            pk.pack(-static_cast<std::int64_t>(rng() >> pick(32)));
            break;
        case 4:
            pk.pack(static_cast<std::int8_t>(rng()));
            break;
        case 5:
            pk.pack(static_cast<float>(rng()) / 7.0f);
            break;
        case 6:
            pk.pack(static_cast<double>(rng()) / 3.0);
            break;
        case 7:
            pk.pack(std::string(pick(3) == 0 ? 40000 : pick(300), 's'));
            break;
        case 8: {
            const std::string bin(pick(3) == 0 ? 70000 : pick(40), '\x01');
            pk.pack_bin(static_cast<std::uint32_t>(bin.size()));
            pk.pack_bin_body(bin.data(), static_cast<std::uint32_t>(bin.size()));
            break;
        }
        case 9:
        case 10: {
            static constexpr std::uint32_t sizes[] = {1, 2, 4, 8, 16, 0, 3, 300, 70000};
            const std::string ext(sizes[pick(9)], 'e');
            pk.pack_ext(ext.size(), static_cast<std::int8_t>(rng()));
            pk.pack_ext_body(ext.data(), static_cast<std::uint32_t>(ext.size()));
            break;
        }
        case 11:
            pk.pack(static_cast<std::int16_t>(rng()));
            break;
        case 12: {
            const unsigned n = pick(3) == 0 ? 20 : pick(5);
            pk.pack_array(n);
            for (unsigned i = 0; i < n; ++i) random_value(pk, rng, depth + 1);
            break;
        }
        default: {
            const unsigned n = pick(3) == 0 ? 20 : pick(5);
            pk.pack_map(n);
            // Keys are distinct (an integer or a string made from i): a map repeating a key
            // is refused by the reader (docs/PROTOCOL.md, "Duplicate keys").
            for (unsigned i = 0; i < n; ++i) {
                if (pick(2)) {
                    pk.pack(i);
                } else {
                    pk.pack("k" + std::to_string(i) + std::string(pick(3), 'x'));
                }
                random_value(pk, rng, depth + 1);
            }
        }
    }
}

/// Deep equality, bit-exact for floats. (msgpack-c's operator== memcmp()s the null pointer
/// its unpacker leaves for an empty string, which UBSan reports.)
bool same(const msgpack::object& a, const msgpack::object& b) {
    namespace type = msgpack::type;
    if (a.type != b.type) return false;
    const auto raw = [](const char* p, std::uint32_t n) { return std::string_view(p, n); };
    switch (a.type) {
        case type::NIL:
            return true;
        case type::BOOLEAN:
            return a.via.boolean == b.via.boolean;
        case type::POSITIVE_INTEGER:
            return a.via.u64 == b.via.u64;
        case type::NEGATIVE_INTEGER:
            return a.via.i64 == b.via.i64;
        case type::FLOAT32:
        case type::FLOAT64:
            return std::memcmp(&a.via.f64, &b.via.f64, sizeof(double)) == 0;
        case type::STR:
            return raw(a.via.str.ptr, a.via.str.size) == raw(b.via.str.ptr, b.via.str.size);
        case type::BIN:
            return raw(a.via.bin.ptr, a.via.bin.size) == raw(b.via.bin.ptr, b.via.bin.size);
        case type::EXT:
            return a.via.ext.size == b.via.ext.size &&
                   raw(a.via.ext.ptr, a.via.ext.size + 1) == raw(b.via.ext.ptr, b.via.ext.size + 1);
        case type::ARRAY:
            if (a.via.array.size != b.via.array.size) return false;
            for (std::uint32_t i = 0; i < a.via.array.size; ++i) {
                if (!same(a.via.array.ptr[i], b.via.array.ptr[i])) return false;
            }
            return true;
        case type::MAP:
            if (a.via.map.size != b.via.map.size) return false;
            for (std::uint32_t i = 0; i < a.via.map.size; ++i) {
                if (!same(a.via.map.ptr[i].key, b.via.map.ptr[i].key) ||
                    !same(a.via.map.ptr[i].val, b.via.map.ptr[i].val)) {
                    return false;
                }
            }
            return true;
    }
    return false;
}

std::string repack(const msgpack::object& o) {
    msgpack::sbuffer sb;
    msgpack::pack(sb, o);
    return std::string(sb.data(), sb.size());
}

msgpack::object read(const std::string& bytes, msgpack::zone& z, std::size_t depth = 64) {
    return read_msgpack(bytes_view(bytes), z, depth);
}

}  // namespace

TEST_CASE("random valid documents read exactly as msgpack-c reads them") {
    std::mt19937 rng(42);
    for (int i = 0; i < 3000; ++i) {
        msgpack::sbuffer sb;
        packer pk(sb);
        random_value(pk, rng, 0);
        const std::string bytes(sb.data(), sb.size());
        msgpack::zone ours_zone;
        const msgpack::object ours = read(bytes, ours_zone);
        const msgpack::object_handle theirs = msgpack::unpack(bytes.data(), bytes.size());
        CAPTURE(i);
        CHECK(ours.type == theirs.get().type);
        CHECK(same(ours, theirs.get()));
        CHECK(repack(ours) == bytes);
    }
}

TEST_CASE("the session writes content exactly as msgpack-c packs it, and reads it back") {
    std::mt19937 rng(43);
    zsession::session s(zsession::session_options{});
    for (int i = 0; i < 1000; ++i) {
        msgpack::sbuffer sb;
        packer pk(sb);
        pk.pack_map(2);
        pk.pack(std::string("a"));
        random_value(pk, rng, 1);
        pk.pack(std::string("b"));
        random_value(pk, rng, 1);
        const std::string expected(sb.data(), sb.size());
        zsession::message m = s.make_message("t");
        const msgpack::object_handle content = msgpack::unpack(sb.data(), sb.size());
        m.set_content(content.get());
        zsession::frames f = s.encode(m);
        CAPTURE(i);
        CHECK(f[5].to_string_view() == expected);
        CHECK(same(s.decode(std::move(f)).content(), content.get()));
    }
}

TEST_CASE("strings, binaries and extensions point into the input: no copy") {
    msgpack::sbuffer sb;
    packer pk(sb);
    pk.pack_array(3);
    pk.pack(std::string("hello"));
    pk.pack_bin(3);
    pk.pack_bin_body("abc", 3);
    pk.pack_ext(2, 7);
    pk.pack_ext_body("xy", 2);
    const std::string bytes(sb.data(), sb.size());
    msgpack::zone z;
    const msgpack::object o = read(bytes, z);
    const char* lo = bytes.data();
    const char* hi = bytes.data() + bytes.size();
    for (const auto& item : std::span(o.via.array.ptr, 3)) {
        CHECK(item.via.str.ptr >= lo);
        CHECK(item.via.str.ptr < hi);
    }
    CHECK(o.via.array.ptr[2].via.ext.type() == 7);
    CHECK(std::string_view(o.via.array.ptr[2].via.ext.data(), 2) == "xy");
}

TEST_CASE("every proper prefix of a document is a decode_error, as are trailing bytes") {
    std::mt19937 rng(5);
    for (int i = 0; i < 50; ++i) {
        msgpack::sbuffer sb;
        packer pk(sb);
        pk.pack_map(2);
        pk.pack(std::string("k"));
        random_value(pk, rng, 3);
        pk.pack(std::string("v"));
        random_value(pk, rng, 3);
        const std::string bytes(sb.data(), std::min<std::size_t>(sb.size(), 600));
        for (std::size_t n = 0; n < bytes.size(); ++n) {
            msgpack::zone z;
            if (n + 1 < sb.size())
                CHECK_THROWS_AS(read(bytes.substr(0, n), z), zsession::decode_error);
        }
        msgpack::zone z;
        CHECK_THROWS_AS(read(std::string(sb.data(), sb.size()) + '\0', z), zsession::decode_error);
    }
}

TEST_CASE("nesting is bounded by max_depth (limit_error) exactly at the limit") {
    auto nested = [](int levels) {
        std::string s(static_cast<std::size_t>(levels), '\x91');  // fixarray of one
        return s + '\x01';
    };
    msgpack::zone z;
    CHECK_NOTHROW(read(nested(8), z, 8));
    CHECK_THROWS_AS(read(nested(9), z, 8), zsession::limit_error);
    CHECK_NOTHROW(read(nested(64), z, 64));
    CHECK_THROWS_AS(read(nested(65), z, 64), zsession::limit_error);
}

TEST_CASE("declared element counts are bounded by the bytes present, cumulatively") {
    msgpack::zone z;
    // One array declaring 2^32 - 1 elements in 5 bytes.
    CHECK_THROWS_AS(read(std::string("\xdd\xff\xff\xff\xff", 5), z), zsession::decode_error);
    // Nested arrays each within the remaining bytes, but together claiming far more: the
    // cumulative budget stops them before the zone grows (a valid document never trips it).
    std::string chain;
    for (int i = 0; i < 20; ++i) chain += std::string("\xdc\x00\x30", 3);  // array16 of 48
    chain.resize(200, '\x01');
    CHECK_THROWS_AS(read(chain, z), zsession::decode_error);
}

TEST_CASE("the unused type byte 0xc1 is a decode_error") {
    msgpack::zone z;
    CHECK_THROWS_AS(read(std::string("\xc1"), z), zsession::decode_error);
    CHECK_THROWS_AS(read(std::string("\x92\x01\xc1"), z), zsession::decode_error);
}
