// src/packer_common.hpp (private) - what both packers share, below both: the header's
// fields, reading a header map, the msgpack timestamp as ISO 8601, the write depth limit.
#pragma once

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "zsession/header.hpp"
#include "zsession/message.hpp"

namespace zsession::detail {

/// Deepest object either packer writes: far beyond any message, short of exhausting the
/// stack (both writers recurse). Deeper content is a usage_error on encode.
inline constexpr std::size_t max_pack_depth = 1024;

/// The six header fields in wire order: (name, pointer into `h`). Valid while `h` lives.
std::array<std::pair<std::string_view, const inline_string*>, 6> header_fields(const header& h);
std::array<std::pair<std::string_view, inline_string*>, 6> header_fields(header& h);

/// Reads a header map into `out` (every field is overwritten or cleared). With `strict`,
/// every field must be present (msg_id, msg_type, username, session, date, version);
/// without, missing fields stay empty (parent_header). Throws decode_error for a missing or
/// repeated field or a value of the wrong type; `out` is then unspecified. Keys that are not
/// header fields are ignored. Fields in wire order (as every known peer writes them) cost
/// one key comparison each.
void read_header(const msgpack::object& map, bool strict, const char* what, header& out);

/// The header field names in wire order, as header_fields gives them.
inline constexpr std::array<std::string_view, 6> header_field_names = {
    "msg_id", "msg_type", "username", "session", "date", "version"};

/// The `size` (4 to 8) bytes at `p` as one word: the first four bytes and the last four
/// (overlapping when size < 8), little-endian. Two strings of one size have equal words only
/// when they are equal.
constexpr std::uint64_t header_name_word(const char* p, std::size_t size) noexcept {
    if (!std::is_constant_evaluated() && std::endian::native == std::endian::little) {
        std::uint32_t lo, hi;  // two loads
        std::memcpy(&lo, p, 4);
        std::memcpy(&hi, p + size - 4, 4);
        return lo | std::uint64_t{hi} << 32;
    }
    std::uint64_t lo = 0, hi = 0;
    for (std::size_t b = 0; b < 4; ++b) {
        lo |= std::uint64_t{static_cast<unsigned char>(p[b])} << (8 * b);
        hi |= std::uint64_t{static_cast<unsigned char>(p[size - 4 + b])} << (8 * b);
    }
    return lo | hi << 32;
}

/// header_name_word of each header field name (every one is 4 to 8 bytes).
inline constexpr std::array<std::uint64_t, 6> header_name_words = [] {
    std::array<std::uint64_t, 6> w{};
    for (std::size_t i = 0; i < w.size(); ++i) {
        w[i] = header_name_word(header_field_names[i].data(), header_field_names[i].size());
    }
    return w;
}();

/// Matching a header map's keys to the fields of `out` as the entries arrive: read_header
/// and each packer's try_read_header (packer.hpp). `out` is unspecified until finish()
/// returned true.
class header_filler {
  public:
    explicit header_filler(header& out) noexcept
        : fields_{&out.msg_id,  &out.msg_type, &out.username,
                  &out.session, &out.date,     &out.version} {}
    /// The field named `key`, marked seen; nullptr when `key` is not a header field, or was
    /// seen already (then `*repeated`, when given, is set). Fields in wire order (as every
    /// known peer writes them) cost one comparison each, of a word: no memcmp call.
    inline_string* field(std::string_view key, bool* repeated = nullptr) noexcept {
        // Every field name is 4 to 8 bytes: a key of another size names none.
        if (key.size() < 4 || key.size() > 8) return nullptr;
        const std::uint64_t word = header_name_word(key.data(), key.size());
        for (unsigned k = 0; k < n; ++k) {
            const unsigned i = next_ + k < n ? next_ + k : next_ + k - n;
            if (header_field_names[i].size() != key.size() || header_name_words[i] != word)
                continue;
            if (seen_ & (1u << i)) {
                if (repeated) *repeated = true;
                return nullptr;
            }
            seen_ |= 1u << i;
            next_ = i + 1 < n ? i + 1 : 0;
            return fields_[i];
        }
        return nullptr;
    }
    /// After the last entry: clears the fields not seen and returns true, or (with `strict`,
    /// when one is missing) returns false.
    bool finish(bool strict) noexcept {
        if (seen_ == (1u << n) - 1) return true;
        if (strict) return false;
        for (unsigned i = 0; i < n; ++i) {
            if (!(seen_ & (1u << i))) fields_[i]->clear();
        }
        return true;
    }
    /// The name of the first field (in wire order) not seen; empty when every one was.
    std::string_view missing() const noexcept {
        for (unsigned i = 0; i < n; ++i) {
            if (!(seen_ & (1u << i))) return header_field_names[i];
        }
        return {};
    }

  private:
    static constexpr unsigned n = 6;
    std::array<inline_string*, n> fields_;
    unsigned seen_ = 0;  // one bit per field
    unsigned next_ = 0;  // the field expected next
};

/// A msgpack timestamp extension (type -1, as Python's msgpack writes datetimes) as ISO 8601
/// "YYYY-MM-DDTHH:MM:SS.ffffffZ". Throws decode_error (naming `where`) for another extension
/// type or an invalid timestamp.
std::string timestamp_to_iso(const msgpack::object& ext, const std::string& where);

}  // namespace zsession::detail
