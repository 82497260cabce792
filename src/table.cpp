#include "zsession/table.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>
#include <limits>
#include <set>

namespace zsession {

namespace detail {
/// Checks `c` against `rows`; returns an error message, empty when it is valid (internal:
/// every public entry point that takes columns calls it).
std::string check_column(const table_column& c, std::size_t rows);
}  // namespace detail

namespace {

constexpr std::array<std::string_view, 13> time_units = {"Y",  "M",  "W",  "D",  "h",  "m", "s",
                                                         "ms", "us", "ns", "ps", "fs", "as"};

bool known_unit(std::string_view u) noexcept {
    return std::find(time_units.begin(), time_units.end(), u) != time_units.end();
}

constexpr dtype int_dtype(std::size_t size, std::endian order = std::endian::little) noexcept {
    return dtype{dtype_kind::signed_int, size, order};
}

// rows * size, or nullopt on overflow.
std::optional<std::size_t> mul(std::size_t rows, std::size_t size) noexcept {
    if (size != 0 && rows > std::numeric_limits<std::size_t>::max() / size) return std::nullopt;
    return rows * size;
}

// Offset i of a string column, read with memcpy (frames may be misaligned), little-endian.
std::int64_t offset_at(const table_column& c, std::size_t i) noexcept {
    const std::size_t size = c.type.storage.itemsize;
    unsigned char raw[8] = {};
    std::memcpy(raw, c.values.data() + i * size, size);
    std::uint64_t u = 0;
    for (std::size_t b = size; b-- > 0;) u = (u << 8) | raw[b];
    if (size == 4) return static_cast<std::int32_t>(static_cast<std::uint32_t>(u));
    return static_cast<std::int64_t>(u);
}

std::string check_strings(const table_column& c, std::size_t rows) {
    const auto bytes = rows == std::numeric_limits<std::size_t>::max()
                           ? std::nullopt
                           : mul(rows + 1, c.type.storage.itemsize);
    if (!bytes || c.values.size() != *bytes) return "offsets buffer is not (rows + 1) offsets";
    if (offset_at(c, 0) != 0) return "first offset is not 0";
    std::int64_t prev = 0;
    const auto* data = reinterpret_cast<const unsigned char*>(c.data.data());
    for (std::size_t i = 1; i <= rows; ++i) {
        const std::int64_t o = offset_at(c, i);
        if (o < prev) return "offsets decrease at row " + std::to_string(i - 1);
        if (static_cast<std::uint64_t>(o) > c.data.size()) return "offset beyond the data";
        // A string must not start inside a multi-byte character.
        if (static_cast<std::size_t>(o) < c.data.size() && (data[o] & 0xC0) == 0x80) {
            return "offset splits a UTF-8 character at row " + std::to_string(i);
        }
        prev = o;
    }
    if (static_cast<std::uint64_t>(prev) != c.data.size()) {
        return "last offset is not the data size";
    }
    if (!detail::valid_utf8(c.data.as_string_view())) return "string data is not valid UTF-8";
    return {};
}

std::string check_values(const table_column& c, std::size_t rows) {
    const auto bytes = mul(rows, c.type.storage.itemsize);
    if (!bytes || c.values.size() != *bytes) return "values buffer is not rows * itemsize bytes";
    if (c.type.kind == column_kind::array && c.type.storage.kind == dtype_kind::boolean) {
        const auto v = c.values.view().as_span();
        if (std::any_of(v.begin(), v.end(), [](std::byte b) { return b > std::byte{1}; })) {
            return "|b1 column holds a byte other than 0 or 1";
        }
    }
    if (!c.data.empty()) return "a non-string column has a data buffer";
    return {};
}

}  // namespace

column_type column_type::parse(std::string_view s) {
    if (s == "utf8") return {column_kind::utf8, int_dtype(4), {}};
    if (s == "large_utf8") return {column_kind::large_utf8, int_dtype(8), {}};
    // datetime64 / timedelta64: "<M8[ns]", ">m8[s]".
    if (s.size() > 5 && (s[1] == 'M' || s[1] == 'm') && s.substr(2, 2) == "8[" && s.back() == ']') {
        const std::string_view unit = s.substr(4, s.size() - 5);
        if ((s[0] != '<' && s[0] != '>') || !known_unit(unit)) {
            throw decode_error("unsupported column dtype '" + std::string(s) + "'");
        }
        return {s[1] == 'M' ? column_kind::datetime : column_kind::timedelta,
                int_dtype(8, s[0] == '<' ? std::endian::little : std::endian::big),
                std::string(unit)};
    }
    return {column_kind::array, dtype::parse(s), {}};
}

std::string column_type::str() const {
    switch (kind) {
        case column_kind::utf8:
            return "utf8";
        case column_kind::large_utf8:
            return "large_utf8";
        case column_kind::datetime:
        case column_kind::timedelta: {
            const char order = storage.byte_order == std::endian::little ? '<' : '>';
            return std::string(1, order) + (kind == column_kind::datetime ? "M8[" : "m8[") + unit +
                   "]";
        }
        case column_kind::array:
            break;
    }
    return storage.str();
}

table_column table_column::from_array(std::string name, const ndarray_view& a) {
    if (a.ndim() != 1) throw usage_error("a table column must be a 1-D array");
    return {std::move(name), {column_kind::array, a.type(), {}}, a.bytes(), {}, std::nullopt};
}

table_column table_column::from_times(std::string name, std::vector<std::int64_t> counts,
                                      std::string unit, bool timedelta) {
    if (!known_unit(unit)) throw usage_error("unknown datetime unit '" + unit + "'");
    const column_kind k = timedelta ? column_kind::timedelta : column_kind::datetime;
    return {std::move(name),
            {k, dtype_of<std::int64_t>(), std::move(unit)},
            buffer::take(std::move(counts)),
            {},
            std::nullopt};
}

table_column table_column::from_strings(std::string name, std::span<const std::string> values) {
    std::size_t total = 0;
    for (const auto& s : values) total += s.size();
    std::string data;
    data.reserve(total);
    const bool large = total > static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max());
    auto fill = [&](auto zero) {
        using O = decltype(zero);
        std::vector<O> offsets;
        offsets.reserve(values.size() + 1);
        offsets.push_back(0);
        for (const auto& s : values) {
            data += s;
            offsets.push_back(static_cast<O>(data.size()));
        }
        return buffer::take(std::move(offsets));
    };
    buffer offsets = large ? fill(std::int64_t{0}) : fill(std::int32_t{0});
    static_assert(std::endian::native == std::endian::little, "offsets are written native");
    return from_utf8(std::move(name), std::move(offsets), buffer::take(std::move(data)), large);
}

table_column table_column::from_utf8(std::string name, buffer offsets, buffer data, bool large) {
    table_column c{std::move(name), column_type::parse(large ? "large_utf8" : "utf8"),
                   std::move(offsets), std::move(data), std::nullopt};
    if (c.values.size() % c.type.storage.itemsize != 0 || c.values.empty()) {
        throw usage_error("string offsets must hold rows + 1 offsets");
    }
    const std::string err = detail::check_column(c, c.rows());
    if (!err.empty()) throw usage_error("column '" + c.name + "': " + err);
    return c;
}

table_column& table_column::with_validity(buffer bitmap) & {
    validity = std::move(bitmap);
    return *this;
}

table_column&& table_column::with_validity(buffer bitmap) && {
    validity = std::move(bitmap);
    return std::move(*this);
}

buffer table_column::bitmap_from(const std::vector<bool>& present) {
    std::vector<std::uint8_t> bits((present.size() + 7) / 8, 0);
    for (std::size_t i = 0; i < present.size(); ++i) {
        if (present[i]) bits[i / 8] |= static_cast<std::uint8_t>(1u << (i % 8));
    }
    return buffer::take(std::move(bits));
}

std::size_t table_column::rows() const noexcept {
    const std::size_t n = values.size() / type.storage.itemsize;
    return type.is_string() ? (n == 0 ? 0 : n - 1) : n;
}

ndarray_view table_column::array() const {
    return ndarray_view(type.storage, {values.size() / type.storage.itemsize}, values);
}

bool table_column::is_valid(std::size_t i) const noexcept {
    if (!validity) return true;
    return (std::to_integer<unsigned>(validity->data()[i / 8]) >> (i % 8)) & 1u;
}

std::string_view table_column::string_at(std::size_t i) const {
    if (!type.is_string()) throw usage_error("column '" + name + "' holds no strings");
    const auto a = static_cast<std::size_t>(offset_at(*this, i));
    const auto b = static_cast<std::size_t>(offset_at(*this, i + 1));
    return data.as_string_view().substr(a, b - a);
}

table& table::add(table_column c) {
    const std::string err = detail::check_column(c, rows_);
    if (!err.empty()) throw usage_error("column '" + c.name + "': " + err);
    for (const auto& other : columns_) {
        if (other.name == c.name) throw usage_error("duplicate column name '" + c.name + "'");
    }
    columns_.push_back(std::move(c));
    return *this;
}

const table_column& table::column(std::string_view name) const {
    for (const auto& c : columns_) {
        if (c.name == name) return c;
    }
    throw usage_error("no column named '" + std::string(name) + "'");
}

std::size_t table::nbytes() const noexcept {
    std::size_t n = 0;
    for (const auto& c : columns_) {
        n += c.values.size() + c.data.size() + (c.validity ? c.validity->size() : 0);
    }
    return n;
}

table_header handler<table>::encode(table value, std::vector<buffer>& out) {
    table_header h{value.rows_, {}};
    for (auto& c : value.columns_) {
        h.columns.push_back({c.name, c.type.str(), c.validity.has_value()});
        out.push_back(std::move(c.values));
        if (c.type.is_string()) out.push_back(std::move(c.data));
        if (c.validity) out.push_back(std::move(*c.validity));
    }
    return h;
}

table handler<table>::decode(const table_header& h, std::span<const buffer> in) {
    if (h.rows > std::numeric_limits<std::size_t>::max() - 1) {
        throw decode_error("table row count overflows");
    }
    if (h.columns.size() > in.size())
        throw decode_error("table header has more columns than buffers");
    table t(static_cast<std::size_t>(h.rows));
    std::set<std::string_view> names;
    std::size_t next = 0;
    auto take = [&](const std::string& name) -> const buffer& {
        if (next >= in.size()) throw decode_error("table column '" + name + "' lacks buffers");
        return in[next++];
    };
    for (const auto& ch : h.columns) {
        if (!names.insert(ch.name).second) {
            throw decode_error("table has two columns named '" + ch.name + "'");
        }
        table_column c{ch.name, column_type::parse(ch.dtype), {}, {}, std::nullopt};
        c.values = take(ch.name);
        if (c.type.is_string()) c.data = take(ch.name);
        if (ch.validity) c.validity = take(ch.name);
        const std::string err = detail::check_column(c, t.rows_);
        if (!err.empty()) throw decode_error("table column '" + ch.name + "': " + err);
        t.columns_.push_back(std::move(c));
    }
    if (next != in.size()) {
        throw decode_error("table placeholder has " + std::to_string(in.size()) +
                           " buffers, its header names " + std::to_string(next));
    }
    return t;
}

std::vector<std::size_t> handler<table>::element_sizes(const table_header& h) {
    std::vector<std::size_t> out;
    for (const auto& ch : h.columns) {
        const column_type t = column_type::parse(ch.dtype);
        out.push_back(t.storage.itemsize);
        if (t.is_string()) out.push_back(1);
        if (ch.validity) out.push_back(1);
    }
    return out;
}

void register_table_handlers(registry& r) {
    r.add<table>();
}

namespace detail {

std::string check_column(const table_column& c, std::size_t rows) {
    std::string err = c.type.is_string() ? check_strings(c, rows) : check_values(c, rows);
    if (err.empty() && c.validity && c.validity->size() != rows / 8 + (rows % 8 != 0)) {
        err = "validity bitmap is not ceil(rows / 8) bytes";
    }
    return err;
}

bool valid_utf8(std::string_view s) noexcept {
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    const std::size_t n = s.size();
    std::size_t i = 0;
    while (i < n) {
        // Fast path: 8 ASCII bytes at a time.
        if (n - i >= 8) {
            std::uint64_t w;
            std::memcpy(&w, p + i, 8);
            if ((w & 0x8080808080808080ull) == 0) {
                i += 8;
                continue;
            }
        }
        const unsigned char b = p[i];
        if (b < 0x80) {
            ++i;
            continue;
        }
        std::size_t len;
        unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
        if (b >= 0xC2 && b <= 0xDF) {
            len = 2;
        } else if (b >= 0xE0 && b <= 0xEF) {
            len = 3;
            if (b == 0xE0) lo = 0xA0;  // overlong
            if (b == 0xED) hi = 0x9F;  // surrogates
        } else if (b >= 0xF0 && b <= 0xF4) {
            len = 4;
            if (b == 0xF0) lo = 0x90;  // overlong
            if (b == 0xF4) hi = 0x8F;  // above U+10FFFF
        } else {
            return false;
        }
        if (n - i < len || p[i + 1] < lo || p[i + 1] > hi) return false;
        for (std::size_t k = 2; k < len; ++k) {
            if ((p[i + k] & 0xC0) != 0x80) return false;
        }
        i += len;
    }
    return true;
}

}  // namespace detail

}  // namespace zsession
