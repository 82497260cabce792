#include "json_packer.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <span>
#include <vector>

#include <openssl/evp.h>
#include <rapidjson/error/en.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>
#include <rapidjson/writer.h>

#include "packer_common.hpp"
#include "text_util.hpp"
#include "unique_keys.hpp"

namespace zsession::detail {

namespace {

/// RapidJSON output stream appending to a std::string.
struct string_out {
    using Ch = char;
    std::string& s;
    void Put(char c) { s.push_back(c); }
    void Flush() {}
};
using json_writer = rapidjson::Writer<string_out>;

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

}  // namespace

namespace {

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

/// Whether `in` is well-formed UTF-8 (no surrogates, nothing above U+10FFFF, shortest forms).
bool is_valid_utf8(std::string_view in) noexcept {
    std::size_t bad = 0;
    return find_invalid(reinterpret_cast<const unsigned char*>(in.data()), in.size(), 0, bad) ==
           in.size();
}

/// Appends `in` to `out` with each maximal invalid UTF-8 subsequence replaced by U+FFFD.
void append_utf8_replacing(std::string_view in, std::string& out) {
    static constexpr std::string_view replacement = "\xEF\xBF\xBD";
    const auto* s = reinterpret_cast<const unsigned char*>(in.data());
    std::size_t i = 0, bad = 0;
    for (;;) {
        const std::size_t j = find_invalid(s, in.size(), i, bad);
        out.append(in.data() + i, j - i);
        if (j == in.size()) return;
        out.append(replacement);
        i = j + bad;
    }
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

void write_string(json_writer& w, std::string_view s, bool key) {
    thread_local std::string clean;
    if (!is_valid_utf8(s)) {
        clean.clear();
        append_utf8_replacing(s, clean);
        s = clean;
    }
    const auto n = static_cast<rapidjson::SizeType>(s.size());
    key ? w.Key(s.data(), n) : w.String(s.data(), n);
    // Do not keep a large scratch string alive for the thread's lifetime.
    if (clean.capacity() > (std::size_t{1} << 20)) std::string().swap(clean);
}

void write_base64(json_writer& w, const msgpack::object_bin& bin) {
    const std::size_t encoded = 4 * ((std::size_t{bin.size} + 2) / 3);
    if (encoded > std::numeric_limits<rapidjson::SizeType>::max()) {
        throw usage_error("a binary value of " + std::to_string(bin.size) +
                          " bytes is too large for a JSON string");
    }
    std::string text(encoded + 1, '\0');  // EVP_EncodeBlock writes a terminating NUL
    // EVP_EncodeBlock takes an int length: encode in whole base64 quanta of 3 MiB.
    constexpr std::size_t chunk = std::size_t{3} << 20;
    std::size_t in = 0, out = 0;
    while (in < bin.size) {
        const std::size_t n = std::min<std::size_t>(chunk, bin.size - in);
        out += static_cast<std::size_t>(EVP_EncodeBlock(
            reinterpret_cast<unsigned char*>(text.data() + out),
            reinterpret_cast<const unsigned char*>(bin.ptr + in), static_cast<int>(n)));
        in += n;
    }
    w.String(text.data(), static_cast<rapidjson::SizeType>(out));
}

void write_double(json_writer& w, double d) {
    if (std::isfinite(d)) {
        w.Double(d);
    } else {
        write_string(w, std::isnan(d) ? "nan" : d > 0 ? "inf" : "-inf", false);
    }
}

void write_key(json_writer& w, const msgpack::object& k, const std::string& where) {
    using msgpack::type::object_type;
    switch (k.type) {
        case object_type::STR:
            return write_string(w, {k.via.str.ptr, k.via.str.size}, true);
        case object_type::POSITIVE_INTEGER:
            return write_string(w, std::to_string(k.via.u64), true);
        case object_type::NEGATIVE_INTEGER:
            return write_string(w, std::to_string(k.via.i64), true);
        case object_type::BOOLEAN:
            return write_string(w, k.via.boolean ? "true" : "false", true);
        case object_type::NIL:
            return write_string(w, "null", true);
        default:
            throw usage_error(where +
                              " has a map key with no JSON form (not a string, "
                              "integer, bool or nil)");
    }
}

void write_value(json_writer& w, const msgpack::object& o, const std::string& where,
                 std::size_t depth) {
    using msgpack::type::object_type;
    switch (o.type) {
        case object_type::NIL:
            w.Null();
            return;
        case object_type::BOOLEAN:
            w.Bool(o.via.boolean);
            return;
        case object_type::POSITIVE_INTEGER:
            w.Uint64(o.via.u64);
            return;
        case object_type::NEGATIVE_INTEGER:
            w.Int64(o.via.i64);
            return;
        case object_type::FLOAT32:
        case object_type::FLOAT64:
            write_double(w, o.via.f64);
            return;
        case object_type::STR:
            write_string(w, {o.via.str.ptr, o.via.str.size}, false);
            return;
        case object_type::BIN:
            write_base64(w, o.via.bin);
            return;
        case object_type::ARRAY:
            if (depth >= max_pack_depth)
                throw usage_error(where + " nests deeper than 1024 levels");
            w.StartArray();
            for (const auto& e : std::span(o.via.array.ptr, o.via.array.size)) {
                write_value(w, e, where, depth + 1);
            }
            w.EndArray();
            return;
        case object_type::MAP:
            if (depth >= max_pack_depth)
                throw usage_error(where + " nests deeper than 1024 levels");
            w.StartObject();
            for (const auto& kv : std::span(o.via.map.ptr, o.via.map.size)) {
                write_key(w, kv.key, where);
                write_value(w, kv.val, where, depth + 1);
            }
            w.EndObject();
            return;
        case object_type::EXT: {
            if (o.via.ext.type() != -1) {
                throw usage_error(where + " holds a msgpack extension (type " +
                                  std::to_string(o.via.ext.type()) + ") with no JSON form");
            }
            std::string iso;
            try {
                iso = timestamp_to_iso(o, where);
            } catch (const decode_error& e) {
                throw usage_error(e.what());
            }
            write_string(w, iso, false);
            return;
        }
    }
    throw usage_error(where + " holds an object of unknown type");
}

}  // namespace

void json_pack_header(const header& h, std::string& out) {
    string_out os{out};
    json_writer w(os);
    w.StartObject();
    if (!h.empty()) {
        for (const auto& [k, v] : header_fields(h)) {
            write_string(w, k, true);
            write_string(w, *v, false);
        }
    }
    w.EndObject();
}

void json_pack_map(const msgpack::object& obj, std::string& out, const char* what) {
    if (obj.type != msgpack::type::NIL && obj.type != msgpack::type::MAP) {
        throw usage_error(std::string(what) + " must be a map");
    }
    string_out os{out};
    json_writer w(os);
    if (obj.type == msgpack::type::NIL) {
        w.StartObject();
        w.EndObject();
        return;
    }
    write_value(w, obj, what, 0);
}

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

/// SAX handler building msgpack objects in a zone. Values wait on a stack until their
/// container ends; then the container's elements move into one zone allocation.
class object_builder : public rapidjson::BaseReaderHandler<rapidjson::UTF8<>, object_builder> {
  public:
    /// `frame_size`: the JSON text's bytes, which bound the growth of U+FFFD replacement.
    object_builder(msgpack::zone& zone, std::size_t max_depth, std::size_t max_elements,
                   std::size_t frame_size)
        : zone_(zone), max_(max_depth), elements_left_(max_elements), growth_left_(frame_size) {}

    bool Null() { return count() && push(msgpack::object()); }
    bool Bool(bool b) { return count() && push(msgpack::object(b)); }
    bool Int(int i) { return Int64(i); }
    bool Uint(unsigned u) { return Uint64(u); }
    bool Int64(std::int64_t i) { return count() && push(msgpack::object(i)); }
    bool Uint64(std::uint64_t u) { return count() && push(msgpack::object(u)); }
    bool Double(double d) { return count() && push(msgpack::object(d)); }
    /// Every number arrives here as its text (kParseNumbersAsStringsFlag): see json_number.
    bool RawNumber(const char* s, rapidjson::SizeType n, bool) {
        msgpack::object o;
        if (!json_number({s, n}, o, number_error_)) return false;
        return count() && push(o);
    }
    bool String(const char* s, rapidjson::SizeType n, bool) {
        return count() && push(string(s, n)) && !too_much_growth_;
    }
    bool Key(const char* s, rapidjson::SizeType n, bool) { return String(s, n, true); }
    bool StartObject() { return enter(); }
    bool StartArray() { return enter(); }
    bool EndObject(rapidjson::SizeType members) {
        return end_container(msgpack::type::MAP, members);
    }
    bool EndArray(rapidjson::SizeType elements) {
        return end_container(msgpack::type::ARRAY, elements);
    }

    bool too_deep() const noexcept { return too_deep_; }
    bool too_many() const noexcept { return too_many_; }
    bool duplicate_key() const noexcept { return duplicate_key_; }
    bool too_much_growth() const noexcept { return too_much_growth_; }
    /// Why a number was refused (empty when none was).
    const std::string& number_error() const noexcept { return number_error_; }
    /// The one top-level value, once parsing succeeded.
    const msgpack::object& result() const { return values_.front(); }

  private:
    bool push(const msgpack::object& o) {
        values_.push_back(o);
        return true;
    }
    /// Every value, key and container counts once against limits.max_map_elements.
    bool count() {
        if (elements_left_ == 0) return !(too_many_ = true);
        --elements_left_;
        return true;
    }
    bool enter() {
        if (++depth_ > max_) too_deep_ = true;
        return !too_deep_ && count();
    }
    msgpack::object string(const char* s, std::size_t n);
    /// Replaces the last `n` values (2n for a map: key, value, ...) with one container.
    bool end_container(msgpack::type::object_type type, std::uint32_t n);
    template <class T>
    T* allocate(std::size_t count) {
        return static_cast<T*>(zone_.allocate_align(sizeof(T) * count, alignof(T)));
    }

    msgpack::zone& zone_;
    std::size_t max_;
    std::size_t depth_ = 0;
    std::size_t elements_left_;
    bool too_deep_ = false;
    bool too_many_ = false;
    bool duplicate_key_ = false;
    std::size_t growth_left_;
    bool too_much_growth_ = false;
    std::vector<msgpack::object> values_;
    std::string number_error_;
};

msgpack::object object_builder::string(const char* s, std::size_t n) {
    const std::string_view text(s, n);
    const std::size_t size = replaced_size(text);
    // Replacing bytes with U+FFFD grows a string up to 3-fold: the growth of all strings of
    // one frame together may not exceed the frame's size (frame_growth_left_), checked
    // before allocating, so the strings of one frame never take more than twice its bytes.
    if (size - n > growth_left_ || size > UINT32_MAX) {
        too_much_growth_ = true;
        return {};
    }
    growth_left_ -= size - n;
    msgpack::object o;
    o.type = msgpack::type::STR;
    o.via.str.size = static_cast<std::uint32_t>(size);
    o.via.str.ptr = "";
    if (size != 0) {
        char* p = static_cast<char*>(zone_.allocate_no_align(size));
        write_utf8_replacing(text, p);
        o.via.str.ptr = p;
    }
    return o;
}

bool object_builder::end_container(msgpack::type::object_type type, std::uint32_t n) {
    --depth_;
    const bool map = type == msgpack::type::MAP;
    const std::size_t first = values_.size() - (map ? std::size_t{2} * n : n);
    msgpack::object o;
    o.type = type;
    if (map) {
        o.via.map = {n, n ? allocate<msgpack::object_kv>(n) : nullptr};
        for (std::size_t i = 0; i < n; ++i) {
            o.via.map.ptr[i] = {values_[first + 2 * i], values_[first + 2 * i + 1]};
        }
        if (has_duplicate_key(o.via.map)) return !(duplicate_key_ = true);
    } else {
        o.via.array = {n, n ? allocate<msgpack::object>(n) : nullptr};
        std::copy(values_.begin() + static_cast<std::ptrdiff_t>(first), values_.end(),
                  o.via.array.ptr);
    }
    values_.resize(first);
    return push(o);
}

}  // namespace

msgpack::object json_unpack_map(bytes_view bytes, msgpack::zone& zone, const limits& lim,
                                const char* what) {
    const std::string where(what);
    // Stop after the one value, then require only whitespace to the frame's end: RapidJSON
    // reads a NUL byte as the end of input, which would hide whatever follows it.
    // Numbers arrive as text and are converted by json_number: RapidJSON 1.1.0's own
    // conversion (kParseFullPrecisionFlag) returns wrong values for some inputs (e.g. "0."
    // followed by 23 zeros gives -1.2e-150) and its normal precision is not correctly rounded.
    constexpr unsigned flags = rapidjson::kParseIterativeFlag | rapidjson::kParseNanAndInfFlag |
                               rapidjson::kParseNumbersAsStringsFlag |
                               rapidjson::kParseStopWhenDoneFlag;
    object_builder builder(zone, lim.max_nesting, lim.max_map_elements, bytes.size());
    rapidjson::MemoryStream in(bytes.chars(), bytes.size());
    rapidjson::Reader reader;
    const rapidjson::ParseResult r = reader.Parse<flags>(in, builder);
    if (builder.too_deep()) throw limit_error(where + " nests deeper than limits.max_nesting");
    if (builder.too_many()) throw limit_error(where + " holds more than limits.max_map_elements");
    if (builder.too_much_growth()) {
        throw limit_error(where +
                          " holds so much invalid UTF-8 that replacing it with U+FFFD "
                          "would more than double the frame");
    }
    if (builder.duplicate_key()) throw decode_error(where + " has an object that repeats a key");
    if (!builder.number_error().empty()) throw decode_error(where + ": " + builder.number_error());
    if (r.IsError()) {
        throw decode_error(where + " is not valid JSON: " + rapidjson::GetParseError_En(r.Code()) +
                           " (at byte " + std::to_string(r.Offset()) + ")");
    }
    const std::string_view rest = bytes.as_string_view().substr(in.Tell());
    if (rest.find_first_not_of(" \t\n\r") != std::string_view::npos) {
        throw decode_error(where + " has bytes after its JSON value");
    }
    const msgpack::object& obj = builder.result();
    if (obj.type != msgpack::type::MAP) throw decode_error(where + " is not a map");
    return obj;
}

}  // namespace zsession::detail
