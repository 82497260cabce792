#include "json_packer.hpp"

#include <algorithm>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <span>
#include <vector>

#include <openssl/evp.h>
#include <rapidjson/internal/dtoa.h>

#include "packer_common.hpp"
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

/// Index of the first special byte (is_special) in s[i, n), or n. The lowest flagged byte
/// of a word is exactly the first special one (borrows only run upwards).
inline std::size_t find_special(const unsigned char* s, std::size_t n, std::size_t i) noexcept {
    if constexpr (std::endian::native == std::endian::little) {
        for (; i + 8 <= n; i += 8) {
            std::uint64_t v;
            std::memcpy(&v, s + i, 8);
            if (const std::uint64_t m = special_bytes(v)) {
                return i + static_cast<std::size_t>(std::countr_zero(m) >> 3);
            }
        }
        if (i < n) {  // the last 1-7 bytes, padded with a plain ASCII letter
            std::uint64_t v = ones * 'A';
            std::memcpy(&v, s + i, n - i);
            if (const std::uint64_t m = special_bytes(v)) {
                return i + static_cast<std::size_t>(std::countr_zero(m) >> 3);
            }
        }
        return n;
    } else {
        for (; i < n; ++i) {
            if (is_special(s[i])) return i;
        }
        return n;
    }
}

}  // namespace

// ---------------------------------------------------------------------------------------
// Writing: straight into the caller's std::string, RapidJSON's Writer's exact output (no
// whitespace; escapes \" \\ \b \f \n \r \t and \u00XX in upper case for the other control
// characters; everything else raw; doubles by RapidJSON's Grisu2 dtoa), so the frames are
// byte for byte what they were.

namespace {

/// An output cursor over `out`: room is made with reserve(n) (growing `out`),
/// then up to n bytes are written through put/append without further checks. The
/// destructor trims `out` to what was written.
class json_out {
  public:
    explicit json_out(std::string& out) : out_(out), used_(out.size()) {}
    /// Trims `out` to what was written, also when a usage_error leaves a partial document.
    ~json_out() { out_.resize(used_); }
    json_out(const json_out&) = delete;
    json_out& operator=(const json_out&) = delete;

    /// Makes room for `n` more bytes.
    void reserve(std::size_t n) {
        if (out_.size() - used_ < n) grow(n);
    }
    void put(char c) noexcept { out_[used_++] = c; }
    void append(const char* p, std::size_t n) noexcept {
        std::memcpy(out_.data() + used_, p, n);
        used_ += n;
    }
    void append(std::string_view s) noexcept { append(s.data(), s.size()); }
    char* cursor() noexcept { return out_.data() + used_; }
    void advance(std::size_t n) noexcept { used_ += n; }
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

  private:
    /// Within the capacity (the codec's scratch keeps it) this only zero-fills the new bytes;
    /// past it, std::string grows geometrically.
    [[gnu::noinline]] void grow(std::size_t n) { out_.resize(used_ + n + 256); }

    std::string& out_;
    std::size_t used_;
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
    const std::size_t first = find_special(p, s.size(), 0);
    if (first != s.size()) return write_string_slow(w, s, suffix, first);
    // The common case: plain ASCII, nothing to escape.
    w.reserve(s.size() + 3);
    w.put('"');
    w.append(s);
    w.put('"');
    w.put(suffix);
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
    w.reserve(1);
    w.put('{');
    if (!h.empty()) {
        for (const auto& [k, v] : header_fields(h)) {
            w.reserve(k.size() + 3);  // the field names are plain ASCII: no scan
            w.put('"');
            w.append(k);
            w.put('"');
            w.put(':');
            write_string(w, *v, ',');
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

/// The JSON reader. Iterative: values wait on a stack (a reused scratch vector) until their
/// container ends; then the container's elements move into one zone allocation. Strings
/// without escapes or invalid UTF-8 point into the frame; others are decoded into the zone.
/// The accepted language is RFC 8259 plus Python's NaN, Infinity and -Infinity literals,
/// as RapidJSON 1.1 read it with kParseNanAndInfFlag: whitespace is space, tab, LF, CR;
/// control characters (< 0x20) are refused inside strings; \u escapes must pair surrogates
/// (a high one not followed by a low one is refused; a lone low one is written as its
/// 3-byte form, which U+FFFD replacement then turns into three U+FFFD, as before).
class reader {
  public:
    reader(bytes_view bytes, msgpack::zone& zone, const limits& lim, const std::string& where,
           std::vector<msgpack::object>& values, std::vector<std::uint32_t>& open)
        : p_(reinterpret_cast<const unsigned char*>(bytes.data())),
          begin_(p_),
          end_(p_ + bytes.size()),
          zone_(zone),
          max_depth_(lim.max_nesting),
          elements_left_(lim.max_map_elements),
          growth_left_(bytes.size()),
          where_(where),
          values_(values),
          open_(open) {}

    /// The one value of the frame (then only whitespace may follow).
    msgpack::object parse();

  private:
    [[noreturn]] void fail(const char* what) const {
        throw decode_error(where_ + " is not valid JSON: " + what + " (at byte " +
                           std::to_string(p_ - begin_) + ")");
    }
    void skip_ws() noexcept {
        while (p_ < end_ && (*p_ == ' ' || *p_ == '\n' || *p_ == '\r' || *p_ == '\t')) ++p_;
    }
    /// Every value, key and container counts once against limits.max_map_elements.
    void count() {
        if (elements_left_ == 0)
            throw limit_error(where_ + " holds more than limits.max_map_elements");
        --elements_left_;
    }
    /// Opens a container (kind in the low bit of the stack entry: 1 map, 0 array).
    void enter(bool map) {
        if (open_.size() >= max_depth_) {
            throw limit_error(where_ + " nests deeper than limits.max_nesting");
        }
        count();
        ++p_;
        open_.push_back(static_cast<std::uint32_t>(values_.size()) << 1 | (map ? 1 : 0));
    }
    /// Closes the innermost container: its values become one ARRAY or MAP object.
    void leave();
    void literal(std::string_view word, const msgpack::object& value) {
        if (static_cast<std::size_t>(end_ - p_) < word.size() ||
            std::memcmp(p_, word.data(), word.size()) != 0) {
            fail("invalid value");
        }
        p_ += word.size();
        count();
        push() = value;
    }
    /// A new last value on the stack, for the caller to fill in place (not a push_back of a
    /// local: a 16-byte load of an object just written field by field stalls store forwarding).
    msgpack::object& push() { return values_.emplace_back(); }
    void number();
    /// Reads the string at p_ (the opening quote) into `o`, a STR object.
    void string(msgpack::object& o);
    /// Decodes the escapes of raw[0, n) into out (room for n bytes); returns the size. Sets
    /// `wide` when a \\u escape wrote a byte >= 0x80 (the other escapes write ASCII).
    std::size_t unescape(const unsigned char* raw, std::size_t n, char* out, bool& wide);
    unsigned hex4(const unsigned char* q) const;

    const unsigned char* p_;
    const unsigned char* const begin_;
    const unsigned char* const end_;
    msgpack::zone& zone_;
    const std::size_t max_depth_;
    std::size_t elements_left_;
    std::size_t growth_left_;
    const std::string& where_;
    std::vector<msgpack::object>& values_;
    std::vector<std::uint32_t>& open_;
};

msgpack::object reader::parse() {
    for (;;) {
        // A value.
        skip_ws();
        if (p_ == end_) fail("the document ends where a value was expected");
        switch (*p_) {
            case '{':
                enter(true);
                skip_ws();
                if (p_ < end_ && *p_ == '}') {
                    ++p_;
                    leave();
                    break;
                }
                goto key;
            case '[':
                enter(false);
                skip_ws();
                if (p_ < end_ && *p_ == ']') {
                    ++p_;
                    leave();
                    break;
                }
                continue;
            case '"':
                count();
                string(push());
                break;
            case 't':
                literal("true", msgpack::object(true));
                break;
            case 'f':
                literal("false", msgpack::object(false));
                break;
            case 'n':
                literal("null", msgpack::object());
                break;
            default:
                number();
                break;
        }
        // After a value: the end, or ',' / the container's end.
        for (;;) {
            if (open_.empty()) {
                skip_ws();
                if (p_ != end_) {
                    throw decode_error(where_ + " has bytes after its JSON value");
                }
                return values_.front();
            }
            skip_ws();
            if (p_ == end_) fail("the document ends inside an object or array");
            const bool map = open_.back() & 1;
            if (*p_ == ',') {
                ++p_;
                if (!map) goto next_value;
                skip_ws();
                goto key;
            }
            if (*p_ != (map ? '}' : ']')) fail(map ? "missing ',' or '}'" : "missing ',' or ']'");
            ++p_;
            leave();
        }
    key:
        if (p_ == end_ || *p_ != '"') fail("an object's key must be a string");
        count();
        string(push());
        skip_ws();
        if (p_ == end_ || *p_ != ':') fail("missing ':' after a key");
        ++p_;
    next_value:;
    }
}

void reader::leave() {
    const std::uint32_t top = open_.back();
    open_.pop_back();
    const std::size_t first = top >> 1;
    const auto n = static_cast<std::uint32_t>(values_.size() - first);
    msgpack::object o;  // copied field by field below (see push)
    if (top & 1) {
        const std::uint32_t pairs = n / 2;
        o.type = msgpack::type::MAP;
        o.via.map.size = pairs;
        o.via.map.ptr = nullptr;
        if (pairs != 0) {
            auto* kv = static_cast<msgpack::object_kv*>(zone_.allocate_align(
                sizeof(msgpack::object_kv) * pairs, alignof(msgpack::object_kv)));
            for (std::uint32_t i = 0; i < pairs; ++i) {
                kv[i].key = values_[first + 2 * i];
                kv[i].val = values_[first + 2 * i + 1];
            }
            o.via.map.ptr = kv;
            if (has_duplicate_key(o.via.map)) {
                throw decode_error(where_ + " has an object that repeats a key");
            }
        }
    } else {
        o.type = msgpack::type::ARRAY;
        o.via.array.size = n;
        o.via.array.ptr = nullptr;
        if (n != 0) {
            auto* a = static_cast<msgpack::object*>(
                zone_.allocate_align(sizeof(msgpack::object) * n, alignof(msgpack::object)));
            std::copy(values_.begin() + static_cast<std::ptrdiff_t>(first), values_.end(), a);
            o.via.array.ptr = a;
        }
    }
    values_.resize(first + 1);
    msgpack::object& slot = values_[first];
    slot.type = o.type;
    if (o.type == msgpack::type::MAP) {
        slot.via.map.size = o.via.map.size;
        slot.via.map.ptr = o.via.map.ptr;
    } else {
        slot.via.array.size = o.via.array.size;
        slot.via.array.ptr = o.via.array.ptr;
    }
}

void reader::number() {
    const unsigned char* const start = p_;
    const unsigned char* q = p_;
    auto digit = [&](const unsigned char* at) { return at < end_ && *at >= '0' && *at <= '9'; };
    msgpack::object o;
    if (q < end_ && *q == '-') ++q;
    if (q < end_ && (*q == 'I' || (*q == 'N' && q == start))) {  // Infinity, -Infinity, NaN
        const std::string_view word = *q == 'I' ? "Infinity" : "NaN";
        if (static_cast<std::size_t>(end_ - q) < word.size() ||
            std::memcmp(q, word.data(), word.size()) != 0) {
            fail("invalid value");
        }
        q += word.size();
        std::string why;
        json_number({reinterpret_cast<const char*>(start), static_cast<std::size_t>(q - start)}, o,
                    why);
    } else {
        bool integer = true;
        if (!digit(q)) fail("invalid value");
        if (*q == '0') {
            ++q;
        } else {
            while (digit(q)) ++q;
        }
        if (q < end_ && *q == '.') {
            integer = false;
            ++q;
            if (!digit(q)) fail("a number's fraction has no digit");
            while (digit(q)) ++q;
        }
        if (q < end_ && (*q == 'e' || *q == 'E')) {
            integer = false;
            ++q;
            if (q < end_ && (*q == '+' || *q == '-')) ++q;
            if (!digit(q)) fail("a number's exponent has no digit");
            while (digit(q)) ++q;
        }
        const std::string_view text(reinterpret_cast<const char*>(start),
                                    static_cast<std::size_t>(q - start));
        if (integer && text.size() <= 18) {  // fits in int64 whatever the digits: no checks
            std::int64_t v = 0;
            for (const char c : text.substr(text.front() == '-')) v = v * 10 + (c - '0');
            p_ = q;
            count();
            msgpack::object& slot = push();  // as msgpack::object(-v) / (uint64_t)v: "-0" is 0
            if (text.front() == '-' && v != 0) {
                slot.type = msgpack::type::NEGATIVE_INTEGER;
                slot.via.i64 = -v;
            } else {
                slot.type = msgpack::type::POSITIVE_INTEGER;
                slot.via.u64 = static_cast<std::uint64_t>(v);
            }
            return;
        } else {
            std::string why;
            if (!json_number(text, o, why)) throw decode_error(where_ + ": " + why);
        }
    }
    p_ = q;
    count();
    push() = o;
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

void reader::string(msgpack::object& o) {
    const unsigned char* const raw = ++p_;  // after the opening quote
    const auto left = static_cast<std::size_t>(end_ - raw);
    std::size_t i = find_special(raw, left, 0);
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
            p_ = raw + i;
            fail("a control character in a string");
        }
        i = find_special(raw, left, i);
    }
    if (i >= left) {
        p_ = end_;
        fail("a string without its closing quote");
    }
    p_ = raw + i + 1;
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
                throw limit_error(where_ +
                                  " holds so much invalid UTF-8 that replacing it with U+FFFD "
                                  "would more than double the frame");
            }
            growth_left_ -= size - text.size();
            char* out = static_cast<char*>(zone_.allocate_no_align(size));
            write_utf8_replacing(text, out);
            text = {out, size};
        }
    }
    if (text.size() > UINT32_MAX) throw limit_error(where_ + " holds a string of 4 GiB or more");
    o.type = msgpack::type::STR;
    o.via.str.size = static_cast<std::uint32_t>(text.size());
    o.via.str.ptr = text.empty() ? "" : text.data();
}

/// The reader's stacks, reused by every frame a thread reads.
struct reader_scratch {
    std::vector<msgpack::object> values;
    std::vector<std::uint32_t> open;
};

/// This thread's scratch. Not inlined: in a shared library each use of a thread_local
/// costs a __tls_get_addr call, which GCC repeats at every inlined use rather than reusing.
[[gnu::noinline]] reader_scratch& thread_scratch() {
    thread_local reader_scratch s;
    return s;
}

}  // namespace

msgpack::object json_unpack_map(bytes_view bytes, msgpack::zone& zone, const limits& lim,
                                const char* what) {
    const std::string where(what);
    // Scratch reused by every frame this thread reads (cleared first; a large one is
    // released afterwards so that one huge frame does not pin its memory).
    reader_scratch& s = thread_scratch();
    s.values.clear();
    s.open.clear();
    struct trim {
        reader_scratch& s;
        ~trim() {
            if (s.values.capacity() > 4096) std::vector<msgpack::object>().swap(s.values);
            if (s.open.capacity() > 4096) std::vector<std::uint32_t>().swap(s.open);
        }
    } trim_after{s};
    reader r(bytes, zone, lim, where, s.values, s.open);
    const msgpack::object obj = r.parse();
    if (obj.type != msgpack::type::MAP) throw decode_error(where + " is not a map");
    return obj;
}

}  // namespace zsession::detail
