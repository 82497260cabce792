// src/small_copy.hpp (private) - a copy of a few bytes without a call to memcpy: the
// packers' writers (msgpack_packer.cpp, json_packer.cpp) copy many short strings.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace zsession::detail {

/// Copies n bytes from `s` to `d` (not overlapping): up to 64 bytes inline, with loads and
/// stores that may overlap each other but stay within s[0, n) and d[0, n); the strings of a
/// header or of a small map are that short, and a call to memcpy costs more than the copy.
inline void copy_bytes(char* d, const char* s, std::size_t n) noexcept {
    if (n <= 16) {
        if (n >= 8) {
            std::uint64_t a, b;
            std::memcpy(&a, s, 8);
            std::memcpy(&b, s + n - 8, 8);
            std::memcpy(d, &a, 8);
            std::memcpy(d + n - 8, &b, 8);
        } else if (n >= 4) {
            std::uint32_t a, b;
            std::memcpy(&a, s, 4);
            std::memcpy(&b, s + n - 4, 4);
            std::memcpy(d, &a, 4);
            std::memcpy(d + n - 4, &b, 4);
        } else if (n != 0) {
            const char a = s[0], b = s[n / 2], c = s[n - 1];
            d[0] = a;
            d[n / 2] = b;
            d[n - 1] = c;
        }
    } else if (n <= 64) {
        // The first 16 or 32 bytes and the last 16 or 32 (16-byte blocks).
        char a[16], b[16], c[16], e[16];
        std::memcpy(a, s, 16);
        std::memcpy(b, s + n - 16, 16);
        if (n > 32) {
            std::memcpy(c, s + 16, 16);
            std::memcpy(e, s + n - 32, 16);
            std::memcpy(d + 16, c, 16);
            std::memcpy(d + n - 32, e, 16);
        }
        std::memcpy(d, a, 16);
        std::memcpy(d + n - 16, b, 16);
    } else {
        std::memcpy(d, s, n);
    }
}

}  // namespace zsession::detail
