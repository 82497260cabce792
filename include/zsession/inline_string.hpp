// zsession/inline_string.hpp - the string type of a message header's fields: up to 55 bytes
// inline (a UUID, an ISO 8601 date, jupyter_client's "<session>_<pid>_<n>" ids), on the heap
// beyond, and usable where a std::string or std::string_view is expected.
#pragma once

#include <compare>
#include <cstddef>
#include <cstring>
#include <functional>
#include <iosfwd>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

namespace zsession {

/// An owning string of bytes that keeps up to `inline_capacity` bytes inside the object (no
/// heap allocation) and any longer value on the heap, so that a header made or received by
/// the library costs no allocation for its ids and date (36 and 27 characters, beyond
/// libstdc++'s 15-byte small-string buffer), while a peer may still send a field of any
/// length.
///
/// It reads like a std::string: size/empty/data/c_str/operator[]/begin/end, comparisons
/// (==, <=>) with inline_string, std::string, std::string_view and const char*, `+` giving a
/// std::string, operator<<, std::hash. It converts implicitly to std::string_view (free) and
/// to std::string (a copy), and is built and assigned from either and from const char*, so
/// that `std::string id = h.msg_id;`, `h.msg_type == "execute_request"`, `map[h.msg_id]`
/// (a std::string-keyed map) and `h.msg_id = new_uuid4();` compile unchanged.
/// A function overloaded on both std::string and std::string_view needs an explicit
/// `.str()` or `.view()`.
///
/// data() is always NUL-terminated. Copies are deep; a move leaves the source empty. Contents
/// are bytes (no encoding is checked). Not thread-safe (as std::string).
class inline_string {
  public:
    using value_type = char;
    using size_type = std::size_t;
    using iterator = char*;
    using const_iterator = const char*;
    /// Bytes held without allocating; the object is 64 bytes.
    static constexpr size_type inline_capacity = 55;
    static constexpr size_type npos = std::string_view::npos;

    inline_string() noexcept { local_[0] = '\0'; }
    inline_string(std::string_view s) { init(s.data(), s.size()); }
    inline_string(const char* s) : inline_string(std::string_view(s)) {}
    inline_string(const std::string& s) : inline_string(std::string_view(s)) {}
    inline_string(const char* s, size_type n) { init(s, n); }
    inline_string(const inline_string& other) { init(other.data(), other.size_); }
    inline_string(inline_string&& other) noexcept { take(other); }
    ~inline_string() { release(); }

    inline_string& operator=(const inline_string& other) {
        return assign(other.data(), other.size_);
    }
    inline_string& operator=(inline_string&& other) noexcept {
        if (this != &other) {
            release();
            take(other);
        }
        return *this;
    }
    inline_string& operator=(std::string_view s) { return assign(s.data(), s.size()); }
    inline_string& operator=(const char* s) { return *this = std::string_view(s); }
    inline_string& operator=(const std::string& s) { return *this = std::string_view(s); }

    /// Replaces the contents with the `n` bytes at `s`, which may point into this string.
    /// Throws std::bad_alloc or std::length_error, leaving the string unchanged.
    inline_string& assign(const char* s, size_type n) {
        if (n <= inline_capacity) {
            char* block = on_heap() ? heap_.ptr : nullptr;  // read before local_ overwrites it
            if (n != 0) std::memmove(local_, s, n);  // `s` may be in `block`, never in local_
            delete[] block;
            size_ = n;
            local_[n] = '\0';
        } else if (on_heap() && heap_.capacity >= n) {
            std::memmove(heap_.ptr, s, n);
            size_ = n;
            heap_.ptr[n] = '\0';
        } else {
            const size_type cap = heap_capacity(n, 0);
            char* block = new char[cap + 1];
            std::memcpy(block, s, n);  // before the old block, which `s` may be in, is freed
            release();
            set_heap(block, cap, n);
        }
        return *this;
    }
    inline_string& assign(std::string_view s) { return assign(s.data(), s.size()); }

    /// Sets the size to `n` and returns data() for the caller to write all `n` bytes. The
    /// first min(n, size()) bytes are kept, the others are unspecified. Allocates only when
    /// `n` > inline_capacity and the heap block is smaller.
    char* resize_for_overwrite(size_type n) { return resize_keep(n); }
    /// Sets the size to `n`, keeping the first min(n, size()) bytes and filling the rest
    /// with `c`.
    void resize(size_type n, char c = '\0') {
        const size_type old = size_;
        char* p = resize_keep(n);
        if (n > old) std::memset(p + old, c, n - old);
    }
    /// Appends the bytes of `s`, which may point into this string.
    inline_string& append(std::string_view s) {
        const size_type old = size_;
        if (s.size() > max_size() - old) throw std::length_error("inline_string is too long");
        const char* src = s.data();
        const std::less_equal<const char*> le;
        const bool self = !s.empty() && le(data(), src) && le(src, data() + old);
        const size_type offset = self ? static_cast<size_type>(src - data()) : 0;
        char* p = resize_keep(old + s.size());  // may move our own bytes, kept in order
        if (!s.empty()) std::memmove(p + old, self ? p + offset : src, s.size());
        return *this;
    }
    inline_string& operator+=(std::string_view s) { return append(s); }
    inline_string& operator+=(char c) { return append(std::string_view(&c, 1)); }
    void clear() noexcept {
        release();
        size_ = 0;
        local_[0] = '\0';
    }
    void swap(inline_string& other) noexcept { std::swap(*this, other); }

    size_type size() const noexcept { return size_; }
    size_type length() const noexcept { return size_; }
    bool empty() const noexcept { return size_ == 0; }
    /// The bytes held without a new allocation: inline_capacity, or the heap block's size.
    size_type capacity() const noexcept { return on_heap() ? heap_.capacity : inline_capacity; }
    static constexpr size_type max_size() noexcept { return std::string_view().max_size() - 1; }
    const char* data() const noexcept { return on_heap() ? heap_.ptr : local_; }
    char* data() noexcept { return on_heap() ? heap_.ptr : local_; }
    const char* c_str() const noexcept { return data(); }
    char operator[](size_type i) const noexcept { return data()[i]; }
    char& operator[](size_type i) noexcept { return data()[i]; }
    char front() const noexcept { return data()[0]; }
    char back() const noexcept { return data()[size_ - 1]; }
    const_iterator begin() const noexcept { return data(); }
    const_iterator end() const noexcept { return data() + size_; }
    iterator begin() noexcept { return data(); }
    iterator end() noexcept { return data() + size_; }

    std::string_view view() const noexcept { return {data(), size_}; }
    std::string str() const { return std::string(data(), size_); }
    operator std::string_view() const noexcept { return view(); }
    operator std::string() const { return str(); }

    bool starts_with(std::string_view s) const noexcept { return view().starts_with(s); }
    bool ends_with(std::string_view s) const noexcept { return view().ends_with(s); }
    size_type find(std::string_view s, size_type pos = 0) const noexcept {
        return view().find(s, pos);
    }
    size_type find(char c, size_type pos = 0) const noexcept { return view().find(c, pos); }
    std::string_view substr(size_type pos = 0, size_type n = npos) const {
        return view().substr(pos, n);
    }

    // Comparisons: one overload per string type, so that none is ambiguous. (The reversed
    // forms, std::string == inline_string and so on, are C++20's rewritten candidates.)
    friend bool operator==(const inline_string& a, const inline_string& b) noexcept {
        return a.view() == b.view();
    }
    friend bool operator==(const inline_string& a, std::string_view b) noexcept {
        return a.view() == b;
    }
    friend bool operator==(const inline_string& a, const char* b) noexcept {
        return a.view() == std::string_view(b);
    }
    friend bool operator==(const inline_string& a, const std::string& b) noexcept {
        return a.view() == std::string_view(b);
    }
    friend std::strong_ordering operator<=>(const inline_string& a,
                                            const inline_string& b) noexcept {
        return a.view() <=> b.view();
    }
    friend std::strong_ordering operator<=>(const inline_string& a, std::string_view b) noexcept {
        return a.view() <=> b;
    }
    friend std::strong_ordering operator<=>(const inline_string& a, const char* b) noexcept {
        return a.view() <=> std::string_view(b);
    }
    friend std::strong_ordering operator<=>(const inline_string& a, const std::string& b) noexcept {
        return a.view() <=> std::string_view(b);
    }

    // Concatenation gives a std::string, as with std::string operands.
    friend std::string operator+(const inline_string& a, const inline_string& b) {
        return concat(a, b);
    }
    friend std::string operator+(const inline_string& a, std::string_view b) {
        return concat(a, b);
    }
    friend std::string operator+(std::string_view a, const inline_string& b) {
        return concat(a, b);
    }
    friend std::string operator+(const inline_string& a, const char* b) { return concat(a, b); }
    friend std::string operator+(const char* a, const inline_string& b) { return concat(a, b); }
    friend std::string operator+(const inline_string& a, const std::string& b) {
        return concat(a, b);
    }
    friend std::string operator+(const std::string& a, const inline_string& b) {
        return concat(a, b);
    }
    friend std::string operator+(std::string&& a, const inline_string& b) {
        return std::move(a.append(b.view()));
    }

    template <class Traits>
    friend std::basic_ostream<char, Traits>& operator<<(std::basic_ostream<char, Traits>& os,
                                                        const inline_string& s) {
        return os << s.view();
    }

  private:
    struct heap_block {
        char* ptr;
        size_type capacity;  // bytes, not counting the terminating NUL
    };

    bool on_heap() const noexcept { return size_ > inline_capacity; }

    static std::string concat(std::string_view a, std::string_view b) {
        std::string out;
        out.reserve(a.size() + b.size());
        out.append(a).append(b);
        return out;
    }

    void init(const char* s, size_type n) {
        if (n <= inline_capacity) {
            if (n != 0) std::memcpy(local_, s, n);
            local_[n] = '\0';
            size_ = n;
            return;
        }
        const size_type cap = heap_capacity(n, 0);
        char* block = new char[cap + 1];
        std::memcpy(block, s, n);
        set_heap(block, cap, n);
    }
    /// Takes `other`'s storage (a heap block's pointer, or the inline bytes) and leaves it
    /// empty. *this holds nothing.
    void take(inline_string& other) noexcept {
        size_ = other.size_;
        if (other.on_heap()) {
            heap_ = other.heap_;
        } else {
            std::memcpy(local_, other.local_, sizeof local_);
        }
        other.size_ = 0;
        other.local_[0] = '\0';
    }
    void release() noexcept {
        if (on_heap()) delete[] heap_.ptr;
    }
    void set_heap(char* block, size_type cap, size_type n) noexcept {
        heap_ = {block, cap};
        size_ = n;
        block[n] = '\0';
    }
    /// The capacity of a new block for `n` bytes (> inline_capacity) replacing one of `old`
    /// bytes (0: none): exactly `n` for a first block, geometric growth after.
    static size_type heap_capacity(size_type n, size_type old) {
        if (n > max_size()) throw std::length_error("inline_string is too long");
        const size_type doubled = old <= max_size() / 2 ? 2 * old : max_size();
        return doubled > n ? doubled : n;
    }
    /// Makes the size `n` (terminated), keeping the first min(n, size()) bytes; returns
    /// data(). Throws std::bad_alloc or std::length_error, leaving the string unchanged.
    char* resize_keep(size_type n) {
        if (n <= inline_capacity) {
            if (on_heap()) {  // shrinking back inline: n < size_
                char* block = heap_.ptr;
                std::memcpy(local_, block, n);
                delete[] block;
            }
            size_ = n;
            local_[n] = '\0';
            return local_;
        }
        if (on_heap() && heap_.capacity >= n) {
            size_ = n;
            heap_.ptr[n] = '\0';
            return heap_.ptr;
        }
        const size_type cap = heap_capacity(n, on_heap() ? heap_.capacity : 0);
        char* block = new char[cap + 1];
        std::memcpy(block, data(), size_ < n ? size_ : n);
        release();
        set_heap(block, cap, n);
        return block;
    }

    size_type size_ = 0;  // > inline_capacity: the bytes are in heap_
    union {
        char local_[inline_capacity + 1];
        heap_block heap_;
    };
};

}  // namespace zsession

template <>
struct std::hash<zsession::inline_string> {
    std::size_t operator()(const zsession::inline_string& s) const noexcept {
        return std::hash<std::string_view>{}(s.view());
    }
};
