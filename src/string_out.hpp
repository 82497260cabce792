// src/string_out.hpp (private) - an output cursor over a std::string, for the packers'
// writers (json_packer.cpp, msgpack_packer.cpp): room is made once, then bytes are written
// without further checks.
#pragma once

#include <cstddef>
#include <cstring>
#include <string>
#include <string_view>

namespace zsession::detail {

/// Writes after the current end of `out`: reserve(n) makes room for n more bytes (growing
/// `out`), then up to n bytes are written through put/append, or at cursor() and then
/// advance(n) or done(end). The destructor trims `out` to what was written, also when an
/// exception leaves a partial document.
class string_out {
  public:
    explicit string_out(std::string& out) : out_(out), used_(out.size()) {}
    ~string_out() { out_.resize(used_); }
    string_out(const string_out&) = delete;
    string_out& operator=(const string_out&) = delete;

    /// Makes room for `n` more bytes.
    void reserve(std::size_t n) {
        if (out_.size() - used_ < n) grow(n);
    }
    /// reserve(n), and where those bytes go.
    char* room(std::size_t n) {
        reserve(n);
        return cursor();
    }
    void put(char c) noexcept { out_[used_++] = c; }
    void append(const char* p, std::size_t n) noexcept {
        std::memcpy(out_.data() + used_, p, n);
        used_ += n;
    }
    void append(std::string_view s) noexcept { append(s.data(), s.size()); }
    char* cursor() noexcept { return out_.data() + used_; }
    void advance(std::size_t n) noexcept { used_ += n; }
    /// Everything up to `end` (within the room made) is written.
    void done(const char* end) noexcept { used_ = static_cast<std::size_t>(end - out_.data()); }
    /// `out` trimmed to what was written, for another writer to append to; resume()
    /// continues after what it appended.
    std::string& appendable() {
        out_.resize(used_);
        return out_;
    }
    void resume() noexcept { used_ = out_.size(); }

  protected:
    std::string& out_;
    std::size_t used_;

  private:
    /// Within the capacity (the codec's scratch keeps it) this only zero-fills the new bytes;
    /// past it, std::string grows geometrically.
    [[gnu::noinline]] void grow(std::size_t n) { out_.resize(used_ + n + 256); }
};

}  // namespace zsession::detail
