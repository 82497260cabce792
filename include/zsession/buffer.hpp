// zsession/buffer.hpp - the two byte types: a borrowed view and a pinned buffer.
//
// bytes_view is a pointer and a size; it owns nothing and must not outlive the bytes.
// buffer is a view plus a keepalive: a shared owner that keeps the bytes valid for as long
// as any copy of the buffer (or a zero-copy frame that libzmq still holds) exists.
// Copying a buffer copies the pin, never the bytes.
#pragma once

#include <cstddef>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

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
    template <class T>
    constexpr bytes_view(std::span<T> s) noexcept : bytes_view(s.data(), s.size_bytes()) {}

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

  private:
    bytes_view view_;
    std::shared_ptr<const void> keepalive_;
};

}  // namespace zsession
