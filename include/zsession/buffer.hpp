// zsession/buffer.hpp - the two byte types: a borrowed view and a pinned buffer.
//
// bytes_view is a pointer and a size; it owns nothing and must not outlive the bytes.
// buffer is a view plus a keepalive: a shared owner that keeps the bytes valid for as long
// as any copy of the buffer (or a zero-copy frame that libzmq still holds) exists.
// Copying a buffer copies the pin, never the bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "zsession/error.hpp"

namespace zmq {
class message_t;
}

namespace zsession {

/// A borrowed, read-only run of bytes. Trivially copyable; owns nothing.
class bytes_view {
  public:
    constexpr bytes_view() noexcept = default;
    constexpr bytes_view(const void* data, std::size_t size) noexcept
        : data_(static_cast<const std::byte*>(data)), size_(size) {}
    constexpr bytes_view(std::string_view s) noexcept : bytes_view(s.data(), s.size()) {}
    /// The string's bytes (no terminating NUL).
    bytes_view(const std::string& s) noexcept : bytes_view(s.data(), s.size()) {}
    /// A string literal's bytes, without its terminating NUL: bytes_view("abc").size() == 3.
    template <std::size_t N>
    constexpr bytes_view(const char (&literal)[N]) noexcept
        : bytes_view(literal, N > 0 ? N - 1 : 0) {}
    /// A vector's elements as bytes (size() * sizeof(T)).
    template <class T>
    requires std::is_arithmetic_v<T> bytes_view(const std::vector<T>& v)
    noexcept : bytes_view(v.data(), v.size() * sizeof(T)) {}
    /// A span's elements as bytes (any extent).
    template <class T, std::size_t N>
    constexpr bytes_view(std::span<T, N> s) noexcept : bytes_view(s.data(), s.size_bytes()) {}

    constexpr const std::byte* data() const noexcept { return data_; }
    constexpr std::size_t size() const noexcept { return size_; }
    constexpr bool empty() const noexcept { return size_ == 0; }
    const char* chars() const noexcept { return reinterpret_cast<const char*>(data_); }
    std::string_view as_string_view() const noexcept { return {chars(), size_}; }
    std::span<const std::byte> as_span() const noexcept { return {data_, size_}; }

    /// Byte-wise equality (not identity).
    friend bool operator==(bytes_view a, bytes_view b) noexcept {
        return a.size_ == b.size_ && (a.size_ == 0 || std::memcmp(a.data_, b.data_, a.size_) == 0);
    }

  private:
    const std::byte* data_ = nullptr;
    std::size_t size_ = 0;
};

/// Bytes that stay valid as long as this object (or any copy) lives.
///
/// Ownership: the keepalive is a shared owner of whatever holds the bytes (a moved-in
/// vector or string, a user's shared_ptr, a received zmq::message_t). Copies share the pin.
/// Thread safety: a buffer may be copied and read from several threads (the pin is a
/// shared_ptr); the bytes themselves are never written through a buffer.
class buffer {
  public:
    buffer() noexcept = default;

    /// Pins `bytes` with `owner`, which must keep them valid. Throws nothing.
    buffer(bytes_view bytes, std::shared_ptr<const void> owner) noexcept
        : view_(bytes), keepalive_(std::move(owner)) {}

    /// Takes over a vector of trivially copyable elements; no byte is copied.
    template <class T>
    requires std::is_trivially_copyable_v<T>
    [[nodiscard]] static buffer take(std::vector<T>&& v) {
        auto owner = std::make_shared<std::vector<T>>(std::move(v));
        bytes_view bytes{owner->data(), owner->size() * sizeof(T)};
        return buffer(bytes, std::move(owner));
    }
    /// Takes over a string; no byte is copied (short strings live inside the moved-to
    /// string object on the heap, so the view stays valid).
    [[nodiscard]] static buffer take(std::string&& s);
    /// Takes over a received zmq message; the view points into the frame, no copy.
    [[nodiscard]] static buffer take(zmq::message_t&& frame);
    /// Pins the bytes of `owner`'s contiguous storage (anything with data() and size()).
    template <class Owner>
    [[nodiscard]] static buffer pin(std::shared_ptr<Owner> owner) {
        using elem = std::remove_pointer_t<decltype(owner->data())>;
        bytes_view bytes{owner->data(), owner->size() * sizeof(elem)};
        return buffer(bytes, std::shared_ptr<const void>(std::move(owner)));
    }
    /// Copies `bytes` into a new owned buffer (the one explicit copy).
    [[nodiscard]] static buffer copy_of(bytes_view bytes);

    const std::byte* data() const noexcept { return view_.data(); }
    std::size_t size() const noexcept { return view_.size(); }
    bool empty() const noexcept { return view_.empty(); }
    bytes_view view() const noexcept { return view_; }
    operator bytes_view() const noexcept { return view_; }
    std::string_view as_string_view() const noexcept { return view_.as_string_view(); }
    /// The pin; shared with every copy of this buffer.
    const std::shared_ptr<const void>& keepalive() const noexcept { return keepalive_; }

    /// A sub-range sharing this buffer's pin. Throws usage_error when outside.
    [[nodiscard]] buffer slice(std::size_t offset, std::size_t count) const;

    /// True when data() is a multiple of `alignment` (an empty buffer is always aligned).
    bool is_aligned(std::size_t alignment) const noexcept {
        return empty() || reinterpret_cast<std::uintptr_t>(data()) % alignment == 0;
    }
    /// This buffer itself (same bytes, same pin, no copy) when data() is aligned to
    /// `alignment`; otherwise one copy into new storage aligned to alignof(std::max_align_t).
    /// A received frame small enough to share libzmq's batch buffer may start at any
    /// address; a large frame has its own allocation and comes back unchanged. Throws
    /// usage_error unless `alignment` is a power of two <= alignof(std::max_align_t).
    [[nodiscard]] buffer aligned(std::size_t alignment) const;
    /// aligned(alignof(T)).
    template <class T>
    [[nodiscard]] buffer aligned_for() const {
        return aligned(alignof(T));
    }

    /// The bytes as elements of T, no copy. Throws usage_error when size() is not a
    /// multiple of sizeof(T) or data() is not aligned for T (a small received frame may not
    /// be: use aligned_for<T>() first, or aligned_copy<T>()). The span is valid while this
    /// buffer (or a copy of it) lives, so it is refused on a temporary buffer.
    template <class T>
    requires std::is_trivially_copyable_v<T> std::span<const T> values()
    const& {
        check_elements(sizeof(T));
        if (!is_aligned(alignof(T))) {
            throw usage_error(
                "buffer data is not aligned for the element type; use aligned_for<T>() or "
                "aligned_copy<T>()");
        }
        if (empty()) return {};
        return {reinterpret_cast<const T*>(data()), size() / sizeof(T)};
    }
    template <class T>
    std::span<const T> values() const&& = delete;
    /// The bytes copied into a new vector of T (aligned, owned; any address is fine).
    /// Throws usage_error when size() is not a multiple of sizeof(T).
    template <class T>
    requires std::is_trivially_copyable_v<T> std::vector<T> aligned_copy()
    const {
        check_elements(sizeof(T));
        std::vector<T> out(size() / sizeof(T));
        if (!empty()) std::memcpy(out.data(), data(), size());
        return out;
    }

  private:
    /// Throws usage_error when size() is not a multiple of `element_size`.
    void check_elements(std::size_t element_size) const {
        if (size() % element_size != 0) {
            throw usage_error("buffer of " + std::to_string(size()) +
                              " bytes is not a whole number of " + std::to_string(element_size) +
                              "-byte elements");
        }
    }

    bytes_view view_;
    std::shared_ptr<const void> keepalive_;
};

}  // namespace zsession
