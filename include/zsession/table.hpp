// zsession/table.hpp - a columnar table (a dataframe's columns, Arrow's layout) and its
// "table" wire handler.
//
// A table is a row count and named columns. Each column is one of
//   - a numpy-compatible 1-D array: bool, integer, float, complex (ndarray's dtypes), or
//     datetime64/timedelta64 with a unit ("<M8[ns]", "<m8[s]"), stored as 8-byte integers;
//   - variable-length UTF-8 strings: int32 ("utf8") or int64 ("large_utf8") offsets, rows + 1
//     of them, and one data buffer, as Arrow lays them out;
// each with an optional validity bitmap (Arrow's: bit i of byte i / 8, least significant bit
// first, 1 = present). Every buffer travels as its own frame, zero-copy on send; a received
// column is a set of views of the received frames (docs/PROTOCOL.md, "table").
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "zsession/buffer.hpp"
#include "zsession/error.hpp"
#include "zsession/ndarray.hpp"
#include "zsession/registry.hpp"

namespace zsession {

/// What a column holds.
enum class column_kind {
    array,       ///< ndarray dtype elements (bool, int, uint, float, complex)
    datetime,    ///< numpy datetime64: signed 8-byte counts of `unit` since the epoch
    timedelta,   ///< numpy timedelta64: signed 8-byte counts of `unit`
    utf8,        ///< strings, int32 offsets (Arrow "utf8")
    large_utf8,  ///< strings, int64 offsets (Arrow "large_utf8")
};

/// A column's element type as written on the wire: "<f8", "|b1", "<M8[ns]", "utf8", ...
struct column_type {
    column_kind kind = column_kind::array;
    /// array: the element dtype. datetime/timedelta: "<i8" or ">i8" (the storage).
    /// utf8 / large_utf8: the offsets, "<i4" / "<i8" (always little-endian, as Arrow).
    zsession::dtype storage;
    /// datetime/timedelta only: "Y", "M", "W", "D", "h", "m", "s", "ms", "us", "ns", "ps",
    /// "fs" or "as" (numpy's units; no multiples such as "10s").
    std::string unit;

    /// Parses a wire dtype. Throws decode_error for anything not listed above.
    static column_type parse(std::string_view s);
    /// The wire dtype.
    std::string str() const;
    bool is_string() const noexcept {
        return kind == column_kind::utf8 || kind == column_kind::large_utf8;
    }
    friend bool operator==(const column_type&, const column_type&) = default;
};

/// One column: a name, a type and its buffers (views or pinned owners, never copied).
///
/// Invariants (checked by table::add and by decoding, never by the raw constructor-less
/// aggregate): values holds rows elements (strings: rows + 1 offsets); strings have `data`;
/// validity, when present, is exactly ceil(rows / 8) bytes.
struct table_column {
    std::string name;
    column_type type;
    buffer values;                   ///< elements, or the string offsets
    buffer data;                     ///< strings only: the UTF-8 bytes
    std::optional<buffer> validity;  ///< the validity bitmap, or none (every row present)

    /// A column over an array's bytes (no copy). Throws usage_error unless it is 1-D.
    static table_column from_array(std::string name, const ndarray_view& a);
    /// Typed convenience: moves a vector in (no copy; std::vector<bool> is copied to bytes).
    template <element_type T>
    static table_column from_vector(std::string name, std::vector<T> v) {
        const std::size_t n = v.size();
        if constexpr (std::is_same_v<T, bool>) {  // std::vector<bool> has no bytes: one copy
            std::vector<std::uint8_t> bytes(v.begin(), v.end());
            return from_array(std::move(name),
                              ndarray_view(dtype_of<T>(), {n}, buffer::take(std::move(bytes))));
        } else {
            return from_array(std::move(name),
                              ndarray_view(dtype_of<T>(), {n}, buffer::take(std::move(v))));
        }
    }
    /// datetime64 (`timedelta` false) or timedelta64 column of int64 counts of `unit`.
    /// Throws usage_error for an unknown unit.
    static table_column from_times(std::string name, std::vector<std::int64_t> counts,
                                   std::string unit, bool timedelta = false);
    /// A string column built from `values` (the one copy: into offsets + data). Uses int32
    /// offsets when the data fits, int64 otherwise.
    static table_column from_strings(std::string name, std::span<const std::string> values);
    /// A string column over existing Arrow-layout offsets (int32 when `large` is false,
    /// little-endian) and data, without copying. Checked like a received column.
    static table_column from_utf8(std::string name, buffer offsets, buffer data,
                                  bool large = false);
    /// Attaches a validity bitmap (ceil(rows / 8) bytes); returns *this.
    table_column& with_validity(buffer bitmap) &;
    table_column&& with_validity(buffer bitmap) &&;
    /// Builds a bitmap from one flag per row (true = present).
    static buffer bitmap_from(const std::vector<bool>& present);

    /// Number of rows the buffers hold (strings: offsets - 1).
    std::size_t rows() const noexcept;
    /// The elements as a 1-D array view (datetime/timedelta: of their int64 storage;
    /// strings: the offsets). Zero-copy.
    ndarray_view array() const;
    /// False when the validity bitmap marks row i missing. Requires i < rows().
    bool is_valid(std::size_t i) const noexcept;
    /// String i (a view into data; valid while this column or a copy of data lives).
    /// Requires a string column and i < rows(); reads offsets with memcpy (any alignment).
    std::string_view string_at(std::size_t i) const;
};

/// A row count and named columns (distinct names), each of `rows` rows.
class table {
  public:
    table() = default;
    /// Empty table of `rows` rows (columns added with add).
    explicit table(std::size_t rows) : rows_(rows) {}

    /// Appends a column after validating it against rows() (the same checks as decoding:
    /// sizes, offsets, UTF-8, bitmap length, duplicate names). Throws usage_error.
    table& add(table_column c);

    std::size_t rows() const noexcept { return rows_; }
    const std::vector<table_column>& columns() const noexcept { return columns_; }
    /// The column named `name`. Throws usage_error when absent.
    const table_column& column(std::string_view name) const;
    /// Sum of every buffer's size.
    std::size_t nbytes() const noexcept;

  private:
    friend struct handler<table>;
    std::size_t rows_ = 0;
    std::vector<table_column> columns_;
};

/// One column's entry in the "table" header.
struct table_column_header {
    std::string name;
    std::string dtype;
    bool validity = false;
    MSGPACK_DEFINE_MAP(name, dtype, validity)
};

/// Header of the "table" handler: {"rows": n, "columns": [{"name", "dtype", "validity"}...]}.
struct table_header {
    std::uint64_t rows = 0;
    std::vector<table_column_header> columns;
    MSGPACK_DEFINE_MAP(rows, columns)
};

/// "table": per column in order, its values buffer (strings: offsets then data), then its
/// validity bitmap when the header says so. Decodes to views of the frames (no copy) after
/// validating every column (docs/PROTOCOL.md 6.4); each failure is a decode_error.
template <>
struct handler<table> {
    static constexpr std::string_view wire_name = "table";
    using header_type = table_header;
    static table_header encode(table value, std::vector<buffer>& out);
    static table decode(const table_header& h, std::span<const buffer> in);
    static std::size_t nbytes(const table& t) noexcept { return t.nbytes(); }
    /// Element size of each buffer encode wrote (for shuffling compressors).
    static std::vector<std::size_t> element_sizes(const table_header& h);
};

/// Registers the table handler (the built-ins call this).
void register_table_handlers(registry& r);

namespace detail {
/// True when `s` is valid UTF-8 (no overlong forms, no surrogates, nothing above U+10FFFF).
bool valid_utf8(std::string_view s) noexcept;
}  // namespace detail

}  // namespace zsession
