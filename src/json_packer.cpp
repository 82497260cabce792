#include "json_packer.hpp"

#include <algorithm>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <span>
#include <type_traits>
#include <vector>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <openssl/evp.h>
#include <rapidjson/internal/dtoa.h>

#include "packer_common.hpp"
#include "small_copy.hpp"
#include "string_out.hpp"
#include "text_util.hpp"
#include "unique_keys.hpp"

namespace zsession::detail {

namespace {

// ---------------------------------------------------------------------------------------
// UTF-8: validation and U+FFFD replacement (Python's bytes.decode("utf8", "replace")).

/// Bytes a valid continuation of `lead` may take as its first continuation byte, and how many
/// continuation bytes it needs; need == 0 for a byte that cannot start a sequence.
struct utf8_lead {
    int need;
    unsigned char lo, hi;
};
utf8_lead classify(unsigned char c) noexcept {
    if (c >= 0xC2 && c <= 0xDF) return {1, 0x80, 0xBF};
    if (c == 0xE0) return {2, 0xA0, 0xBF};
    if (c == 0xED) return {2, 0x80, 0x9F};  // no UTF-16 surrogates
    if (c >= 0xE1 && c <= 0xEF) return {2, 0x80, 0xBF};
    if (c == 0xF0) return {3, 0x90, 0xBF};
    if (c >= 0xF1 && c <= 0xF3) return {3, 0x80, 0xBF};
    if (c == 0xF4) return {3, 0x80, 0x8F};  // nothing above U+10FFFF
    return {0, 0, 0};
}

/// Position of the first invalid UTF-8 sequence in s[i, n) (n when none); `bad` receives the
/// length of its maximal invalid subpart (what one U+FFFD replaces).
std::size_t find_invalid(const unsigned char* s, std::size_t n, std::size_t i, std::size_t& bad) {
    while (i < n) {
        if (s[i] < 0x80) {
            ++i;
            continue;
        }
        const utf8_lead lead = classify(s[i]);
        std::size_t j = i + 1;
        int got = 0;
        for (; got < lead.need && j < n; ++got, ++j) {
            const unsigned char lo = got == 0 ? lead.lo : 0x80, hi = got == 0 ? lead.hi : 0xBF;
            if (s[j] < lo || s[j] > hi) break;
        }
        if (lead.need == 0 || got != lead.need) {
            bad = j - i;
            return i;
        }
        i = j;
    }
    return n;
}

constexpr std::string_view replacement_char = "\xEF\xBF\xBD";

/// Size of `in` once each maximal invalid subsequence is replaced by U+FFFD (3 bytes).
std::size_t replaced_size(std::string_view in) {
    const auto* s = reinterpret_cast<const unsigned char*>(in.data());
    std::size_t i = 0, bad = 0, size = in.size();
    while ((i = find_invalid(s, in.size(), i, bad)) != in.size()) {
        size = size + replacement_char.size() - bad;
        i += bad;
    }
    return size;
}

/// Writes `in` with replacements to out[0, replaced_size(in)).
void write_utf8_replacing(std::string_view in, char* out) {
    const auto* s = reinterpret_cast<const unsigned char*>(in.data());
    std::size_t i = 0, bad = 0;
    for (;;) {
        const std::size_t j = find_invalid(s, in.size(), i, bad);
        std::memcpy(out, in.data() + i, j - i);
        out += j - i;
        if (j == in.size()) return;
        std::memcpy(out, replacement_char.data(), replacement_char.size());
        out += replacement_char.size();
        i = j + bad;
    }
}

// ---------------------------------------------------------------------------------------
// The ASCII fast path: eight bytes at a time.

constexpr std::uint64_t ones = 0x0101010101010101ULL;
constexpr std::uint64_t highs = 0x8080808080808080ULL;

/// Non-zero when one of the eight bytes of `v` is a control character (< 0x20), '"', '\\'
/// or not ASCII (>= 0x80): the bytes a JSON string cannot copy as they are. Exact as a test
/// of the whole word (a borrow only propagates above a byte that is itself special); callers
/// then look at the bytes of a flagged word one by one (is_special).
inline std::uint64_t special_bytes(std::uint64_t v) noexcept {
    // A byte's top bit is set in (x - 1) & ~x exactly when the byte x was 0 (first such
    // byte exact); `v` itself flags bytes >= 0x80, which also makes "& ~v" unnecessary.
    const std::uint64_t quote = v ^ (ones * '"');
    const std::uint64_t backslash = v ^ (ones * '\\');
    return ((v - ones * 0x20) | (quote - ones) | (backslash - ones) | v) & highs;
}

/// The exact per-byte test.
inline bool is_special(unsigned char c) noexcept {
    return c < 0x20 || c == '"' || c == '\\' || c >= 0x80;
}

#if defined(__SSE2__)
/// Bit k set when byte k of the 16 at `p` is special (is_special).
inline unsigned special_mask16(const unsigned char* p) noexcept {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    // A signed compare: bytes >= 0x80 are negative, so one test flags them and the controls.
    const __m128i low = _mm_cmplt_epi8(v, _mm_set1_epi8(0x20));
    const __m128i quote = _mm_cmpeq_epi8(v, _mm_set1_epi8('"'));
    const __m128i backslash = _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'));
    return static_cast<unsigned>(
        _mm_movemask_epi8(_mm_or_si128(low, _mm_or_si128(quote, backslash))));
}
#endif

/// Index of the first special byte in s[0, n) for n < 16, or n: two loads of 8 (or 4) bytes
/// that overlap in the middle, tested eight bytes at a time (not a copy into a padded word:
/// a load of bytes just stored one by one stalls).
inline std::size_t find_special_short(const unsigned char* s, std::size_t n) noexcept {
    if constexpr (std::endian::native == std::endian::little) {
        std::uint64_t a, b;
        if (n >= 8) {
            std::memcpy(&a, s, 8);
            std::memcpy(&b, s + n - 8, 8);
        } else if (n >= 4) {
            std::uint32_t a4, b4;
            std::memcpy(&a4, s, 4);
            std::memcpy(&b4, s + n - 4, 4);
            constexpr std::uint64_t pad = (ones * 'A') << 32;  // plain ASCII letters
            a = pad | a4;
            b = pad | b4;
        } else {
            for (std::size_t i = 0; i < n; ++i) {
                if (is_special(s[i])) return i;
            }
            return n;
        }
        if (const std::uint64_t m = special_bytes(a)) {
            return static_cast<std::size_t>(std::countr_zero(m) >> 3);
        }
        if (const std::uint64_t m = special_bytes(b)) {  // b's first bytes were in a: clean
            const std::size_t k = static_cast<std::size_t>(std::countr_zero(m) >> 3);
            return n >= 8 ? n - 8 + k : n - 4 + k;
        }
        return n;
    } else {
        for (std::size_t i = 0; i < n; ++i) {
            if (is_special(s[i])) return i;
        }
        return n;
    }
}

/// Index of the first special byte (is_special) in s[i, n), or n. Reads only s[0, n): with
/// SSE2 16 bytes at a time, the last (partial) block as the last 16 bytes of s[0, n), which
/// overlap bytes already scanned; fewer than 16 bytes in all by find_special_short. The
/// lowest flagged byte of a word is exactly the first special one (borrows only run upwards).
inline std::size_t find_special(const unsigned char* s, std::size_t n, std::size_t i) noexcept {
#if defined(__SSE2__)
    for (; i + 16 <= n; i += 16) {
        if (const unsigned m = special_mask16(s + i)) {
            return i + static_cast<std::size_t>(std::countr_zero(m));
        }
    }
    if (i >= n) return n;
    if (n >= 16) {
        const unsigned m = special_mask16(s + n - 16) >> (16 - (n - i));
        return m != 0 ? i + static_cast<std::size_t>(std::countr_zero(m)) : n;
    }
    return i + find_special_short(s + i, n - i);
#else
    for (; i + 16 <= n; i += 8) {
        std::uint64_t v;
        std::memcpy(&v, s + i, 8);
        if (const std::uint64_t m = special_bytes(v)) {
            if constexpr (std::endian::native == std::endian::little) {
                return i + static_cast<std::size_t>(std::countr_zero(m) >> 3);
            } else {
                return i + find_special_short(s + i, 8);
            }
        }
    }
    return i >= n ? n : i + find_special_short(s + i, n - i);
#endif
}

/// Sets bit k % 64 of bits[k / 64] for each special byte s[k] (is_special) of s[0, n), and
/// clears the others, for n <= 64 * 64 (the words up to (n + 63) / 64 are written). One pass
/// of independent 16-byte tests: a reader then finds a string's end with a few bit
/// operations on this map instead of a scan that waits on the previous token's end.
inline void special_map(const unsigned char* s, std::size_t n, std::uint64_t* bits) noexcept {
    for (std::size_t base = 0; base < n; base += 64) {
        std::uint64_t m = 0;
#if defined(__SSE2__)
        if (base + 64 <= n) {
            m = std::uint64_t{special_mask16(s + base)} |
                std::uint64_t{special_mask16(s + base + 16)} << 16 |
                std::uint64_t{special_mask16(s + base + 32)} << 32 |
                std::uint64_t{special_mask16(s + base + 48)} << 48;
        } else {
            for (std::size_t k = base; k < n; k += 16) {
                if (k + 16 <= n) {
                    m |= std::uint64_t{special_mask16(s + k)} << (k - base);
                } else if (n >= 16) {  // the last 16 bytes, minus those already tested
                    m |= std::uint64_t{special_mask16(s + n - 16) >> (16 - (n - k))} << (k - base);
                } else {
                    for (std::size_t j = k; j < n; ++j) {
                        if (is_special(s[j])) m |= std::uint64_t{1} << (j - base);
                    }
                }
            }
        }
#else
        for (std::size_t j = base; j < n && j < base + 64; ++j) {
            if (is_special(s[j])) m |= std::uint64_t{1} << (j - base);
        }
#endif
        bits[base / 64] = m;
    }
}

}  // namespace

// ---------------------------------------------------------------------------------------
// Writing: straight into the caller's std::string, RapidJSON's Writer's exact output (no
// whitespace; escapes \" \\ \b \f \n \r \t and \u00XX in upper case for the other control
// characters; everything else raw; doubles by RapidJSON's Grisu2 dtoa), so the frames are
// byte for byte what they were.

namespace {

/// string_out with JSON's container closing.
class json_out : public string_out {
  public:
    using string_out::string_out;

    /// Replaces a trailing ',' (after the last member of a container) by `c`, or appends it.
    void close(char c) {
        if (out_[used_ - 1] == ',') {
            out_[used_ - 1] = c;
        } else {
            reserve(1);
            put(c);
        }
    }
    /// Drops the last byte written (the ',' after the top-level value).
    void unput() noexcept { --used_; }
};

constexpr char upper_hex[] = "0123456789ABCDEF";

/// Writes s (valid UTF-8) as a JSON string body with RapidJSON's escapes; room for 6 bytes
/// per input byte must have been reserved.
void write_escaped(json_out& w, std::string_view s) noexcept {
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    const std::size_t n = s.size();
    std::size_t i = 0;
    while (i < n) {
        std::size_t j = find_special(p, n, i);
        // Bytes >= 0x80 are copied (already valid UTF-8): only controls, '"', '\\' stop.
        while (j < n && p[j] >= 0x80) j = find_special(p, n, j + 1);
        w.append(s.data() + i, j - i);
        if (j == n) return;
        const unsigned char c = p[j];
        char* o = w.cursor();
        o[0] = '\\';
        switch (c) {
            case '"':
                o[1] = '"';
                w.advance(2);
                break;
            case '\\':
                o[1] = '\\';
                w.advance(2);
                break;
            case '\b':
                o[1] = 'b';
                w.advance(2);
                break;
            case '\f':
                o[1] = 'f';
                w.advance(2);
                break;
            case '\n':
                o[1] = 'n';
                w.advance(2);
                break;
            case '\r':
                o[1] = 'r';
                w.advance(2);
                break;
            case '\t':
                o[1] = 't';
                w.advance(2);
                break;
            default:
                o[1] = 'u';
                o[2] = '0';
                o[3] = '0';
                o[4] = upper_hex[c >> 4];
                o[5] = upper_hex[c & 0xF];
                w.advance(6);
        }
        i = j + 1;
    }
}

/// write_string for a string with a byte at `first` that is not plain ASCII or needs escaping.
[[gnu::noinline]] void write_string_slow(json_out& w, std::string_view s, char suffix,
                                         std::size_t first) {
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    std::string clean;
    std::size_t bad = 0;
    if (find_invalid(p, s.size(), first, bad) != s.size()) {
        clean.resize(replaced_size(s));
        write_utf8_replacing(s, clean.data());
        s = clean;
    }
    if (s.size() > (std::numeric_limits<std::size_t>::max() - 3) / 6) throw std::bad_alloc();
    w.reserve(6 * s.size() + 3);
    w.put('"');
    write_escaped(w, s);
    w.put('"');
    w.put(suffix);
}

/// Writes `"s"` followed by `suffix` (':' for a key, ',' for a value), with each maximal
/// invalid UTF-8 subsequence of `s` replaced by U+FFFD first.
inline void write_string(json_out& w, std::string_view s, char suffix) {
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    const std::size_t n = s.size();
    const std::size_t first = find_special(p, n, 0);
    if (first != n) return write_string_slow(w, s, suffix, first);
    // The common case: plain ASCII, nothing to escape.
    w.reserve(n + 3);
    char* o = w.cursor();
    o[0] = '"';
    copy_bytes(o + 1, s.data(), n);
    o[n + 1] = '"';
    o[n + 2] = suffix;
    w.advance(n + 3);
}

void write_base64(json_out& w, const msgpack::object_bin& bin) {
    const std::size_t encoded = 4 * ((std::size_t{bin.size} + 2) / 3);
    w.reserve(encoded + 4);  // '"', the text, EVP_EncodeBlock's NUL (overwritten), '"', ','
    w.put('"');
    // EVP_EncodeBlock takes an int length: encode in whole base64 quanta of 3 MiB.
    constexpr std::size_t chunk = std::size_t{3} << 20;
    std::size_t in = 0;
    while (in < bin.size) {
        const std::size_t n = std::min<std::size_t>(chunk, bin.size - in);
        w.advance(static_cast<std::size_t>(EVP_EncodeBlock(
            reinterpret_cast<unsigned char*>(w.cursor()),
            reinterpret_cast<const unsigned char*>(bin.ptr + in), static_cast<int>(n))));
        in += n;
    }
    w.put('"');
    w.put(',');
}

void write_double(json_out& w, double d) {
    if (!std::isfinite(d)) {
        write_string(w, std::isnan(d) ? "nan" : d > 0 ? "inf" : "-inf", ',');
        return;
    }
    w.reserve(32);  // dtoa writes at most 25 bytes
    char* end = rapidjson::internal::dtoa(d, w.cursor());
    w.advance(static_cast<std::size_t>(end - w.cursor()));
    w.put(',');
}

template <class T>
void write_integer(json_out& w, T v, char suffix) {
    w.reserve(24);
    char* const b = w.cursor();
    if (suffix == ':') *b = '"';
    char* const digits = suffix == ':' ? b + 1 : b;
    char* e = std::to_chars(digits, b + 22, v).ptr;
    if (suffix == ':') *e++ = '"';
    *e++ = suffix;
    w.advance(static_cast<std::size_t>(e - b));
}

void write_key(json_out& w, const msgpack::object& k, const char* where) {
    using msgpack::type::object_type;
    switch (k.type) {
        case object_type::STR:
            return write_string(w, {k.via.str.ptr, k.via.str.size}, ':');
        case object_type::POSITIVE_INTEGER:
            return write_integer(w, k.via.u64, ':');
        case object_type::NEGATIVE_INTEGER:
            return write_integer(w, k.via.i64, ':');
        case object_type::BOOLEAN:
            return write_string(w, k.via.boolean ? "true" : "false", ':');
        case object_type::NIL:
            return write_string(w, "null", ':');
        default:
            throw usage_error(std::string(where) +
                              " has a map key with no JSON form (not a string, "
                              "integer, bool or nil)");
    }
}

/// Writes `o` followed by ','; containers are closed by replacing their last ','.
void write_value(json_out& w, const msgpack::object& o, const char* where, std::size_t depth) {
    using msgpack::type::object_type;
    switch (o.type) {
        case object_type::NIL:
            w.reserve(5);
            w.append("null,");
            return;
        case object_type::BOOLEAN:
            w.reserve(6);
            w.append(o.via.boolean ? std::string_view("true,") : std::string_view("false,"));
            return;
        case object_type::POSITIVE_INTEGER:
            return write_integer(w, o.via.u64, ',');
        case object_type::NEGATIVE_INTEGER:
            return write_integer(w, o.via.i64, ',');
        case object_type::FLOAT32:
        case object_type::FLOAT64:
            return write_double(w, o.via.f64);
        case object_type::STR:
            return write_string(w, {o.via.str.ptr, o.via.str.size}, ',');
        case object_type::BIN:
            return write_base64(w, o.via.bin);
        case object_type::ARRAY:
            if (depth >= max_pack_depth)
                throw usage_error(std::string(where) + " nests deeper than 1024 levels");
            w.reserve(1);
            w.put('[');
            for (const auto& e : std::span(o.via.array.ptr, o.via.array.size)) {
                write_value(w, e, where, depth + 1);
            }
            w.close(']');
            w.reserve(1);
            w.put(',');
            return;
        case object_type::MAP:
            if (depth >= max_pack_depth)
                throw usage_error(std::string(where) + " nests deeper than 1024 levels");
            w.reserve(1);
            w.put('{');
            for (const auto& kv : std::span(o.via.map.ptr, o.via.map.size)) {
                write_key(w, kv.key, where);
                write_value(w, kv.val, where, depth + 1);
            }
            w.close('}');
            w.reserve(1);
            w.put(',');
            return;
        case object_type::EXT: {
            if (o.via.ext.type() != -1) {
                throw usage_error(std::string(where) + " holds a msgpack extension (type " +
                                  std::to_string(o.via.ext.type()) + ") with no JSON form");
            }
            std::string iso;
            try {
                iso = timestamp_to_iso(o, where);
            } catch (const decode_error& e) {
                throw usage_error(e.what());
            }
            return write_string(w, iso, ',');
        }
    }
    throw usage_error(std::string(where) + " holds an object of unknown type");
}

}  // namespace

void json_pack_header(const header& h, std::string& out) {
    json_out w(out);
    if (h.empty()) {
        w.reserve(2);
        w.append("{}");
        return;
    }
    const auto fields = header_fields(h);
    std::size_t room = 2;  // '{' and '}', and `"name":"value",` for each plain value
    for (const auto& [k, v] : fields) room += k.size() + v->size() + 6;
    w.reserve(room);  // the one growth for the usual header, whose values are all plain
    w.put('{');
    for (const auto& [k, v] : fields) {
        // The field names are plain ASCII: written without a scan.
        const std::string_view s = *v;
        const auto* p = reinterpret_cast<const unsigned char*>(s.data());
        const std::size_t first = find_special(p, s.size(), 0);
        if (first == s.size()) {  // `"name":"value",` in one go
            const std::size_t n = k.size() + s.size() + 6;
            w.reserve(n);  // made above unless a value took the slow path
            char* o = w.cursor();
            o[0] = '"';
            copy_bytes(o + 1, k.data(), k.size());
            o += k.size() + 1;
            std::memcpy(o, "\":\"", 3);
            copy_bytes(o + 3, s.data(), s.size());
            o += s.size() + 3;
            o[0] = '"';
            o[1] = ',';
            w.advance(n);
        } else {
            w.reserve(k.size() + 3);
            w.put('"');
            w.append(k);
            w.put('"');
            w.put(':');
            write_string_slow(w, s, ',', first);
        }
    }
    w.close('}');
}

void json_pack_map(const msgpack::object& obj, std::string& out, const char* what) {
    if (obj.type != msgpack::type::NIL && obj.type != msgpack::type::MAP) {
        throw usage_error(std::string(what) + " must be a map");
    }
    if (obj.type == msgpack::type::NIL) {
        out.append("{}");
        return;
    }
    json_out w(out);
    write_value(w, obj, what, 0);
    w.unput();
}

// ---------------------------------------------------------------------------------------
// Reading: one pass over the frame, building msgpack objects in the zone, no tree between.

namespace {

/// Decimal exponent of the first non-zero digit of a JSON number text (grammar already
/// checked by RapidJSON: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?); the exponent part
/// saturates. Only its sign is used: to tell overflow from underflow.
long long decimal_magnitude(std::string_view t) {
    if (!t.empty() && t.front() == '-') t.remove_prefix(1);
    const std::size_t e = std::min(t.find_first_of("eE"), t.size());
    const std::string_view mantissa = t.substr(0, e);
    const std::size_t dot = std::min(mantissa.find('.'), mantissa.size());
    long long exp = 0;
    if (e < t.size()) {
        std::string_view x = t.substr(e + 1);
        const bool neg = !x.empty() && x.front() == '-';
        if (!x.empty() && (x.front() == '-' || x.front() == '+')) x.remove_prefix(1);
        for (const char c : x) exp = std::min<long long>(exp * 10 + (c - '0'), 1LL << 40);
        if (neg) exp = -exp;
    }
    const std::size_t first = mantissa.find_first_of("123456789");
    if (first == std::string_view::npos) return 0;
    // digit at `first` has weight 10^(dot - first - 1), one less after the dot
    const long long pos = first < dot ? static_cast<long long>(dot - first - 1)
                                      : -static_cast<long long>(first - dot);
    return exp + pos;
}

/// Converts one JSON number token as Python's json.loads would, or explains why not.
/// Integers (no '.', no exponent) within int64/uint64 -> integer objects ("-0" is 0);
/// beyond 64 bits -> refused (Python would make an arbitrary-precision int, which msgpack
/// cannot hold, and a double would be a different number). Other numbers -> the correctly
/// rounded double (std::from_chars), overflow -> +-inf and underflow -> +-0.0, as Python's
/// float() does. NaN, Infinity, -Infinity -> the doubles (Python's literals); RapidJSON's
/// other spellings (Inf, -Inf, -NaN), which Python refuses, are refused.
/// Returns false with `why` set when refused.
bool json_number(std::string_view t, msgpack::object& out, std::string& why) {
    if (t == "NaN" || t == "Infinity" || t == "-Infinity") {
        out = msgpack::object(t == "NaN"        ? std::numeric_limits<double>::quiet_NaN()
                              : t == "Infinity" ? std::numeric_limits<double>::infinity()
                                                : -std::numeric_limits<double>::infinity());
        return true;
    }
    const bool digits_only = t.find_first_not_of("-0123456789") == std::string_view::npos;
    if (t.empty() || t.find_first_of("0123456789") == std::string_view::npos) {
        why = "'" + std::string(t) + "' is not a JSON number";
        return false;
    }
    const char* const b = t.data();
    const char* const e = t.data() + t.size();
    if (digits_only) {
        std::from_chars_result r{};
        if (t.front() == '-') {
            std::int64_t i = 0;
            r = std::from_chars(b, e, i);
            out = msgpack::object(i);
        } else {
            std::uint64_t u = 0;
            r = std::from_chars(b, e, u);
            out = msgpack::object(u);
        }
        if (r.ec == std::errc() && r.ptr == e) return true;
        why = "integer " + std::string(t.substr(0, 32)) + (t.size() > 32 ? "..." : "") +
              " is outside the 64-bit range";
        return false;
    }
    double d = 0;
    const std::from_chars_result r = std::from_chars(b, e, d, std::chars_format::general);
    if (r.ptr != e || (r.ec != std::errc() && r.ec != std::errc::result_out_of_range)) {
        why = "'" + std::string(t.substr(0, 32)) + "' is not a JSON number";
        return false;
    }
    if (r.ec == std::errc::result_out_of_range) {
        d = decimal_magnitude(t) > 0 ? std::numeric_limits<double>::infinity() : 0.0;
        if (t.front() == '-') d = -d;
    }
    out = msgpack::object(d);
    return true;
}

/// The first byte at or after `p` that is not JSON whitespace (space, tab, LF, CR), or `end`.
inline const unsigned char* skip_json_ws(const unsigned char* p,
                                         const unsigned char* end) noexcept {
    while (p < end && *p <= ' ' && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')) ++p;
    return p;
}

/// The reader's stacks, reused by every frame a thread reads. `values` is used as a raw
/// buffer: its size is the stack's capacity (grown by doubling), not its height.
struct reader_scratch {
    std::vector<msgpack::object> values;
    std::vector<std::uint32_t> open;
};

static_assert(sizeof(msgpack::object_kv) == 2 * sizeof(msgpack::object) &&
                  std::is_trivially_copyable_v<msgpack::object> &&
                  std::is_trivially_copyable_v<msgpack::object_kv>,
              "a map's keys and values are copied from the value stack as one block");

/// The JSON reader. Iterative: values wait on a stack (a reused scratch buffer) until their
/// container ends; then the container's elements move into one zone allocation. Strings
/// without escapes or invalid UTF-8 point into the frame; others are decoded into the zone.
/// The accepted language is RFC 8259 plus Python's NaN, Infinity and -Infinity literals,
/// as RapidJSON 1.1 read it with kParseNanAndInfFlag: whitespace is space, tab, LF, CR;
/// control characters (< 0x20) are refused inside strings; \u escapes must pair surrogates
/// (a high one not followed by a low one is refused; a lone low one is written as its
/// 3-byte form, which U+FFFD replacement then turns into three U+FFFD, as before).
///
/// The hot loop (parse) keeps its cursor, the value stack's top and the element budget in
/// locals; a string with no byte that needs work (plain ASCII up to its closing quote, found
/// 16 bytes at a time) is read inline; escapes, bytes >= 0x80, numbers other than short
/// integers and errors leave it for out-of-line members.
class reader {
  public:
    reader(bytes_view bytes, msgpack::zone& zone, const limits& lim, const char* where,
           reader_scratch& scratch)
        : p_(reinterpret_cast<const unsigned char*>(bytes.data())),
          begin_(p_),
          end_(p_ + bytes.size()),
          size_(bytes.size()),
          zone_(zone),
          max_depth_(lim.max_nesting),
          elements_left_(lim.max_map_elements),
          growth_left_(bytes.size()),
          where_(where),
          values_(scratch.values),
          open_(scratch.open) {}

    /// The one value of the frame (then only whitespace may follow).
    msgpack::object parse();

  private:
    /// parse(); Checked: with the element limit, the value stack's room and the 4 GiB string
    /// limit checked as it goes (false only where parse() has shown they cannot be reached).
    template <bool Checked>
    msgpack::object parse_frame();
    [[noreturn]] void fail(const char* what) const { fail_at(p_, what); }
    [[noreturn, gnu::cold, gnu::noinline]] void fail_at(const unsigned char* at,
                                                        const char* what) const {
        throw decode_error(std::string(where_) + " is not valid JSON: " + what + " (at byte " +
                           std::to_string(at - begin_) + ")");
    }
    [[noreturn, gnu::cold, gnu::noinline]] void too_many() const {
        throw limit_error(std::string(where_) + " holds more than limits.max_map_elements");
    }
    [[noreturn, gnu::cold, gnu::noinline]] void too_deep() const {
        throw limit_error(std::string(where_) + " nests deeper than limits.max_nesting");
    }
    [[noreturn, gnu::cold, gnu::noinline]] void too_long() const {
        throw limit_error(std::string(where_) + " holds a string of 4 GiB or more");
    }
    [[noreturn, gnu::cold, gnu::noinline]] void trailing() const {
        throw decode_error(std::string(where_) + " has bytes after its JSON value");
    }
    static const unsigned char* skip_ws(const unsigned char* p, const unsigned char* end) noexcept {
        return skip_json_ws(p, end);
    }
    /// Every value, key and container counts once against limits.max_map_elements.
    void count() {
        if (elements_left_ == 0) too_many();
        --elements_left_;
    }
    /// Doubles the value stack (at least 64 entries).
    [[gnu::noinline]] void grow() { values_.resize(std::max<std::size_t>(64, 2 * values_.size())); }
    [[noreturn, gnu::cold, gnu::noinline]] void repeated_key() const {
        throw decode_error(std::string(where_) + " has an object that repeats a key");
    }
    /// Closes the innermost container (open_.back()), whose elements are v[first, top): they
    /// move into one zone allocation; returns the ARRAY or MAP object (built in registers:
    /// the caller stores it, and returns it when it is the frame's value, without reloading
    /// an object just stored field by field, which would stall).
    [[gnu::always_inline]] inline msgpack::object leave(const msgpack::object* v, std::size_t top,
                                                        std::size_t first);
    /// Reads the string whose opening quote is at `p` into `o`; returns the byte after it.
    template <bool Checked>
    [[gnu::always_inline]] const unsigned char* string(const unsigned char* p, msgpack::object& o) {
        const auto start = static_cast<std::size_t>(p + 1 - begin_);
        std::size_t i;
        if constexpr (Checked) {
            i = find_special(begin_, size_, start);
        } else {
            i = next_special(start);
        }
        if (i < size_ && begin_[i] == '"') [[likely]] {  // plain ASCII, nothing to decode
            const std::size_t n = i - start;
            if constexpr (Checked) {
                if (n > UINT32_MAX) too_long();
            }
            o.type = msgpack::type::STR;
            o.via.str.size = static_cast<std::uint32_t>(n);
            o.via.str.ptr = reinterpret_cast<const char*>(begin_ + start);
            return begin_ + i + 1;
        }
        return string_slow(p + 1, i - start, o);
    }
    /// Index of the first special byte at or after `from` (<= size_), or size_, from special_.
    std::size_t next_special(std::size_t from) const noexcept {
        std::size_t w = from / 64;
        const std::size_t words = (size_ + 63) / 64;
        if (w >= words) return size_;
        std::uint64_t m = special_[w] >> (from % 64);
        if (m != 0) return from + static_cast<std::size_t>(std::countr_zero(m));
        while (++w < words) {
            if (special_[w] != 0) {
                return w * 64 + static_cast<std::size_t>(std::countr_zero(special_[w]));
            }
        }
        return size_;
    }
    /// string() from the first byte (raw[i]) that is not plain ASCII or ends the frame.
    [[gnu::noinline]] const unsigned char* string_slow(const unsigned char* raw, std::size_t i,
                                                       msgpack::object& o);
    /// Reads the number (or NaN, Infinity, -Infinity) at `p` into `o`; returns its end.
    const unsigned char* number(const unsigned char* p, msgpack::object& o);
    /// number() for what is not an integer of up to 18 characters.
    [[gnu::noinline]] const unsigned char* number_slow(const unsigned char* p, msgpack::object& o);
    /// Decodes the escapes of raw[0, n) into out (room for n bytes); returns the size. Sets
    /// `wide` when a \\u escape wrote a byte >= 0x80 (the other escapes write ASCII).
    std::size_t unescape(const unsigned char* raw, std::size_t n, char* out, bool& wide);
    unsigned hex4(const unsigned char* q) const;

    const unsigned char* p_;  // the position errors from unescape/hex4 report
    const unsigned char* const begin_;
    const unsigned char* const end_;
    const std::size_t size_;
    msgpack::zone& zone_;
    const std::size_t max_depth_;
    std::size_t elements_left_;
    std::size_t growth_left_;
    const char* const where_;
    std::vector<msgpack::object>& values_;
    std::vector<std::uint32_t>& open_;
    const std::uint64_t* special_ = nullptr;  // parse_frame<false>: special_map of the frame
};

msgpack::object reader::parse() {
    // Every value, key and container starts at a byte of its own, so a frame of n bytes
    // holds at most n of them: when that is within limits.max_map_elements, counting cannot
    // fail; when the value stack has room for n + 1, it cannot overflow; and a frame under
    // 4 GiB holds no string of 4 GiB. Frames of less than 4 KiB (the stack then stays under
    // the size kept between frames) are read without those checks.
    // Those frames' special bytes are mapped first (special_map; 512 bytes of stack at most).
    if (size_ < 4096 && elements_left_ >= size_) {
        if (values_.size() <= size_) {
            values_.resize(std::max<std::size_t>(64, std::bit_ceil(size_ + 1)));
        }
        std::uint64_t bits[4096 / 64];
        special_map(begin_, size_, bits);
        special_ = bits;
        return parse_frame<false>();
    }
    return parse_frame<true>();
}

template <bool Checked>
msgpack::object reader::parse_frame() {
    const unsigned char* p = begin_;
    const unsigned char* const end = end_;
    msgpack::object* v = values_.data();
    std::size_t top = 0;               // v[0, top) hold values waiting for their container
    std::size_t cap = values_.size();  // v[0, cap) is allocated
    std::size_t depth = 0;             // open containers (open_.size())
    bool in_map = false;               // what the innermost open container is
    const auto room = [&] {            // makes v[top] writable
        if constexpr (Checked) {
            if (top == cap) [[unlikely]] {
                grow();
                v = values_.data();
                cap = values_.size();
            }
        }
    };
    const auto counted = [&] {
        if constexpr (Checked) count();
    };
    for (;;) {
        // A value.
        if (p == end || *p <= ' ') [[unlikely]] {
            p = skip_ws(p, end);
            if (p == end) fail_at(p, "the document ends where a value was expected");
        }
        room();
        msgpack::object& o = v[top];
        if (*p == '"') {
            counted();
            p = string<Checked>(p, o);
        } else {
            switch (*p) {
                case '{':
                case '[': {
                    const bool map = *p == '{';
                    if (depth >= max_depth_) too_deep();
                    counted();
                    ++p;
                    p = skip_ws(p, end);
                    if (p < end && *p == (map ? '}' : ']')) {  // empty
                        ++p;
                        if (map) {
                            o.type = msgpack::type::MAP;
                            o.via.map.size = 0;
                            o.via.map.ptr = nullptr;
                        } else {
                            o.type = msgpack::type::ARRAY;
                            o.via.array.size = 0;
                            o.via.array.ptr = nullptr;
                        }
                        break;
                    }
                    open_.push_back(static_cast<std::uint32_t>(top) << 1 | (map ? 1 : 0));
                    ++depth;
                    in_map = map;
                    if (map) goto key;
                    continue;
                }
                case 't':
                    if (end - p < 4 || std::memcmp(p, "true", 4) != 0) {
                        fail_at(p, "invalid value");
                    }
                    p += 4;
                    counted();
                    o.type = msgpack::type::BOOLEAN;
                    o.via.boolean = true;
                    break;
                case 'f':
                    if (end - p < 5 || std::memcmp(p, "false", 5) != 0) {
                        fail_at(p, "invalid value");
                    }
                    p += 5;
                    counted();
                    o.type = msgpack::type::BOOLEAN;
                    o.via.boolean = false;
                    break;
                case 'n':
                    if (end - p < 4 || std::memcmp(p, "null", 4) != 0) {
                        fail_at(p, "invalid value");
                    }
                    p += 4;
                    counted();
                    o.type = msgpack::type::NIL;
                    break;
                default:
                    p = number(p, o);
                    counted();
                    break;
            }
        }
        ++top;
        // After a value: the end, or ',' / the container's end.
        for (;;) {
            if (depth == 0) {
                p = skip_ws(p, end);
                if (p != end) trailing();
                return v[0];
            }
            if (p == end || *p != ',') {
                p = skip_ws(p, end);
                if (p == end) fail_at(p, "the document ends inside an object or array");
            }
            if (*p == ',') {
                ++p;
                if (!in_map) goto next_value;
                goto key;
            }
            if (*p != (in_map ? '}' : ']')) {
                fail_at(p, in_map ? "missing ',' or '}'" : "missing ',' or ']'");
            }
            ++p;
            const std::size_t first = open_.back() >> 1;
            const msgpack::object closed = leave(v, top, first);
            v[first] = closed;
            top = first + 1;
            if (--depth == 0) {
                p = skip_ws(p, end);
                if (p != end) trailing();
                return closed;
            }
            in_map = (open_.back() & 1) != 0;
        }
    key:
        if (p == end || *p != '"') [[unlikely]] {
            p = skip_ws(p, end);
            if (p == end || *p != '"') fail_at(p, "an object's key must be a string");
        }
        room();
        counted();
        p = string<Checked>(p, v[top]);
        ++top;
        if (p == end || *p != ':') [[unlikely]] {
            p = skip_ws(p, end);
            if (p == end || *p != ':') fail_at(p, "missing ':' after a key");
        }
        ++p;
    next_value:;
    }
}

inline msgpack::object reader::leave(const msgpack::object* v, std::size_t top, std::size_t first) {
    const auto n = static_cast<std::uint32_t>(top - first);
    msgpack::object o;
    if (open_.back() & 1) {
        const std::uint32_t pairs = n / 2;
        msgpack::object_kv* kv = nullptr;
        if (pairs != 0) {
            kv = static_cast<msgpack::object_kv*>(zone_.allocate_align(
                sizeof(msgpack::object_kv) * pairs, alignof(msgpack::object_kv)));
            std::memcpy(static_cast<void*>(kv), v + first, sizeof(msgpack::object_kv) * pairs);
            if (has_duplicate_key(msgpack::object_map{pairs, kv})) repeated_key();
        }
        o.type = msgpack::type::MAP;
        o.via.map.size = pairs;
        o.via.map.ptr = kv;
    } else {
        msgpack::object* a = nullptr;
        if (n != 0) {
            a = static_cast<msgpack::object*>(
                zone_.allocate_align(sizeof(msgpack::object) * n, alignof(msgpack::object)));
            std::memcpy(static_cast<void*>(a), v + first, sizeof(msgpack::object) * n);
        }
        o.type = msgpack::type::ARRAY;
        o.via.array.size = n;
        o.via.array.ptr = a;
    }
    open_.pop_back();
    return o;
}

const unsigned char* reader::number(const unsigned char* p, msgpack::object& o) {
    // The common case inline: an integer of 1-18 characters (fits in int64 whatever its
    // digits) ended by a byte that cannot continue a number.
    const unsigned char* q = p + (*p == '-');
    const unsigned char* const digits = q;
    const unsigned char* const stop =
        digits + std::min<std::size_t>(static_cast<std::size_t>(end_ - digits), 18 - (digits - p));
    while (q < stop && *q >= '0' && *q <= '9') ++q;
    const auto n = static_cast<std::size_t>(q - digits);
    if (n == 0 || (n > 1 && *digits == '0') ||
        (q < end_ && ((*q >= '0' && *q <= '9') || *q == '.' || *q == 'e' || *q == 'E'))) {
        return number_slow(p, o);  // not that case, or not a number at all
    }
    std::int64_t value = 0;
    for (const unsigned char* d = digits; d < q; ++d) value = value * 10 + (*d - '0');
    if (digits != p && value != 0) {  // as msgpack::object(-v) / (uint64_t)v: "-0" is 0
        o.type = msgpack::type::NEGATIVE_INTEGER;
        o.via.i64 = -value;
    } else {
        o.type = msgpack::type::POSITIVE_INTEGER;
        o.via.u64 = static_cast<std::uint64_t>(value);
    }
    return q;
}

const unsigned char* reader::number_slow(const unsigned char* const start, msgpack::object& o) {
    const unsigned char* q = start;
    auto digit = [&](const unsigned char* at) { return at < end_ && *at >= '0' && *at <= '9'; };
    if (q < end_ && *q == '-') ++q;
    if (q < end_ && (*q == 'I' || (*q == 'N' && q == start))) {  // Infinity, -Infinity, NaN
        const std::string_view word = *q == 'I' ? "Infinity" : "NaN";
        if (static_cast<std::size_t>(end_ - q) < word.size() ||
            std::memcmp(q, word.data(), word.size()) != 0) {
            fail_at(start, "invalid value");
        }
        q += word.size();
        std::string why;
        msgpack::object d;
        json_number({reinterpret_cast<const char*>(start), static_cast<std::size_t>(q - start)}, d,
                    why);
        o = d;
        return q;
    }
    bool integer = true;
    if (!digit(q)) fail_at(start, "invalid value");
    if (*q == '0') {
        ++q;
    } else {
        while (digit(q)) ++q;
    }
    if (q < end_ && *q == '.') {
        integer = false;
        ++q;
        if (!digit(q)) fail_at(start, "a number's fraction has no digit");
        while (digit(q)) ++q;
    }
    if (q < end_ && (*q == 'e' || *q == 'E')) {
        integer = false;
        ++q;
        if (q < end_ && (*q == '+' || *q == '-')) ++q;
        if (!digit(q)) fail_at(start, "a number's exponent has no digit");
        while (digit(q)) ++q;
    }
    const std::string_view text(reinterpret_cast<const char*>(start),
                                static_cast<std::size_t>(q - start));
    if (integer && text.size() <= 18) {  // fits in int64 whatever the digits: no checks
        std::int64_t v = 0;
        for (const char c : text.substr(text.front() == '-')) v = v * 10 + (c - '0');
        if (text.front() == '-' && v != 0) {  // as msgpack::object(-v) / (uint64_t)v
            o.type = msgpack::type::NEGATIVE_INTEGER;
            o.via.i64 = -v;
        } else {
            o.type = msgpack::type::POSITIVE_INTEGER;
            o.via.u64 = static_cast<std::uint64_t>(v);
        }
        return q;
    }
    std::string why;
    msgpack::object d;
    if (!json_number(text, d, why)) throw decode_error(std::string(where_) + ": " + why);
    o = d;
    return q;
}
unsigned reader::hex4(const unsigned char* q) const {
    unsigned v = 0;
    for (int i = 0; i < 4; ++i) {
        const unsigned char c = q[i];
        v <<= 4;
        if (c >= '0' && c <= '9') {
            v |= c - '0';
        } else if (c >= 'a' && c <= 'f') {
            v |= c - 'a' + 10;
        } else if (c >= 'A' && c <= 'F') {
            v |= c - 'A' + 10;
        } else {
            fail("invalid \\u escape");
        }
    }
    return v;
}

std::size_t reader::unescape(const unsigned char* raw, std::size_t n, char* out, bool& wide) {
    char* o = out;
    for (std::size_t i = 0; i < n;) {
        const unsigned char c = raw[i];
        if (c != '\\') {
            *o++ = static_cast<char>(c);
            ++i;
            continue;
        }
        // The scan in string() guarantees raw[i + 1] exists and is not the closing quote.
        const unsigned char e = raw[i + 1];
        i += 2;
        switch (e) {
            case '"':
                *o++ = '"';
                continue;
            case '\\':
                *o++ = '\\';
                continue;
            case '/':
                *o++ = '/';
                continue;
            case 'b':
                *o++ = '\b';
                continue;
            case 'f':
                *o++ = '\f';
                continue;
            case 'n':
                *o++ = '\n';
                continue;
            case 'r':
                *o++ = '\r';
                continue;
            case 't':
                *o++ = '\t';
                continue;
            case 'u':
                break;
            default:
                fail("invalid escape in a string");
        }
        if (n - i < 4) fail("invalid \\u escape");
        unsigned cp = hex4(raw + i);
        i += 4;
        if (cp >= 0xD800 && cp <= 0xDBFF) {  // a high surrogate: a low one must follow
            if (n - i < 6 || raw[i] != '\\' || raw[i + 1] != 'u') {
                fail("a high surrogate not followed by a low one");
            }
            const unsigned low = hex4(raw + i + 2);
            if (low < 0xDC00 || low > 0xDFFF) fail("a high surrogate not followed by a low one");
            i += 6;
            cp = (((cp - 0xD800) << 10) | (low - 0xDC00)) + 0x10000;
        }
        if (cp >= 0x80) wide = true;
        if (cp < 0x80) {
            *o++ = static_cast<char>(cp);
        } else if (cp < 0x800) {
            *o++ = static_cast<char>(0xC0 | (cp >> 6));
            *o++ = static_cast<char>(0x80 | (cp & 0x3F));
        } else if (cp < 0x10000) {  // includes a lone low surrogate, replaced later
            *o++ = static_cast<char>(0xE0 | (cp >> 12));
            *o++ = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
            *o++ = static_cast<char>(0x80 | (cp & 0x3F));
        } else {
            *o++ = static_cast<char>(0xF0 | (cp >> 18));
            *o++ = static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
            *o++ = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
            *o++ = static_cast<char>(0x80 | (cp & 0x3F));
        }
    }
    return static_cast<std::size_t>(o - out);
}

const unsigned char* reader::string_slow(const unsigned char* const raw, std::size_t i,
                                         msgpack::object& o) {
    const auto left = static_cast<std::size_t>(end_ - raw);
    const auto offset = static_cast<std::size_t>(raw - begin_);
    bool escapes = false, non_ascii = false;
    // Find the closing quote; note escapes and bytes >= 0x80; refuse control characters.
    while (i < left && raw[i] != '"') {
        const unsigned char c = raw[i];
        if (c == '\\') {
            escapes = true;
            if (i + 1 >= left) {
                i = left;  // a backslash as the frame's last byte: no closing quote
                break;
            }
            i += 2;  // the escaped byte is checked by unescape
        } else if (c >= 0x80) {
            non_ascii = true;
            ++i;
        } else {
            fail_at(raw + i, "a control character in a string");
        }
        i = i >= left ? left : find_special(begin_, size_, offset + i) - offset;
    }
    if (i >= left) fail_at(end_, "a string without its closing quote");
    p_ = raw + i + 1;  // where errors of unescape and hex4 point, as before
    std::string_view text(reinterpret_cast<const char*>(raw), i);
    if (escapes) {
        char* buf = static_cast<char*>(zone_.allocate_no_align(i));
        bool wide = false;
        const std::size_t n = unescape(raw, i, buf, wide);
        text = {buf, n};
        // \u escapes may write bytes >= 0x80 (a lone low surrogate among them): check them
        // all then. Without one, the output holds only ASCII bytes and raw's non-ASCII bytes.
        non_ascii = non_ascii || wide;
    }
    if (non_ascii) {
        const std::size_t size = replaced_size(text);
        if (size != text.size()) {
            // Replacing bytes with U+FFFD grows a string up to 3-fold: the growth of all
            // strings of one frame together may not exceed the frame's size, checked before
            // allocating, so the strings of one frame never take more than twice its bytes.
            if (size - text.size() > growth_left_ || size > UINT32_MAX) {
                throw limit_error(std::string(where_) +
                                  " holds so much invalid UTF-8 that replacing it with U+FFFD "
                                  "would more than double the frame");
            }
            growth_left_ -= size - text.size();
            char* out = static_cast<char*>(zone_.allocate_no_align(size));
            write_utf8_replacing(text, out);
            text = {out, size};
        }
    }
    if (text.size() > UINT32_MAX) too_long();
    o.type = msgpack::type::STR;
    o.via.str.size = static_cast<std::uint32_t>(text.size());
    o.via.str.ptr = text.empty() ? "" : text.data();
    return raw + i + 1;
}

/// This thread's scratch, created by its first use. Not inlined: in a shared library each
/// use of a thread_local costs a __tls_get_addr call, which GCC repeats at every inlined use
/// rather than reusing.
[[gnu::noinline]] reader_scratch& make_thread_scratch(reader_scratch*& cached) {
    thread_local reader_scratch s;
    cached = &s;
    return s;
}

/// This thread's scratch: a trivially destructible pointer (one __tls_get_addr, no guard
/// variable) to the object make_thread_scratch created.
inline reader_scratch& thread_scratch() {
    thread_local reader_scratch* cached = nullptr;
    return cached != nullptr ? *cached : make_thread_scratch(cached);
}

}  // namespace

msgpack::object json_unpack_map(bytes_view bytes, msgpack::zone& zone, const limits& lim,
                                const char* what) {
    // Scratch reused by every frame this thread reads (a large one is released afterwards so
    // that one huge frame does not pin its memory).
    reader_scratch& s = thread_scratch();
    s.open.clear();
    struct trim {
        reader_scratch& s;
        ~trim() {
            if (s.values.size() > 4096) std::vector<msgpack::object>().swap(s.values);
            if (s.open.capacity() > 4096) std::vector<std::uint32_t>().swap(s.open);
        }
    } trim_after{s};
    reader r(bytes, zone, lim, what, s);
    const msgpack::object obj = r.parse();
    if (obj.type != msgpack::type::MAP) throw decode_error(std::string(what) + " is not a map");
    return obj;
}

bool json_try_read_header(bytes_view bytes, bool strict, const limits& lim, header& out) {
    const auto* const begin = reinterpret_cast<const unsigned char*>(bytes.data());
    const std::size_t size = bytes.size();
    const unsigned char* const end = begin + size;
    const unsigned char* p = skip_json_ws(begin, end);
    // The string whose opening quote is at p, when it is plain ASCII (the reader's fast case:
    // its text is its bytes).
    const auto plain = [&](std::string_view& s) noexcept {
        if (p == end || *p != '"') return false;
        const auto start = static_cast<std::size_t>(p + 1 - begin);
        const std::size_t i = find_special(begin, size, start);
        if (i == size || begin[i] != '"' || i - start > UINT32_MAX) return false;
        s = {reinterpret_cast<const char*>(begin + start), i - start};
        p = begin + i + 1;
        return true;
    };
    if (lim.max_nesting == 0 || p == end || *p != '{') return false;
    p = skip_json_ws(p + 1, end);
    header_filler fill(out);
    std::size_t entries = 0;
    if (p != end && *p == '}') {
        ++p;
    } else {
        for (;;) {
            std::string_view key, value;
            if (!plain(key)) return false;
            inline_string* const field = fill.field(key);
            if (field == nullptr) return false;
            ++entries;
            p = skip_json_ws(p, end);
            if (p == end || *p != ':') return false;
            p = skip_json_ws(p + 1, end);
            if (plain(value)) {
                field->assign(value);
            } else if (!strict && end - p >= 4 && std::memcmp(p, "null", 4) == 0) {
                p += 4;
                field->clear();
            } else {
                return false;
            }
            p = skip_json_ws(p, end);
            if (p == end) return false;
            if (*p == '}') {
                ++p;
                break;
            }
            if (*p != ',') return false;
            p = skip_json_ws(p + 1, end);
        }
    }
    // The reader counts the map, each key and each value against limits.max_map_elements.
    if (skip_json_ws(p, end) != end || 1 + 2 * entries > lim.max_map_elements) return false;
    return fill.finish(strict);
}

}  // namespace zsession::detail
