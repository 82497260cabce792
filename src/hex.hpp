// src/hex.hpp (private) - lower-case hex of bytes without a table, and a constant-time
// equality of byte strings: the HMAC signature (hmac.cpp) and the UUIDs (header.cpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace zsession::detail {

#if defined(__SSE2__)
/// The 32 lower-case hex characters of the 16 bytes of `v` (in memory order): the first 16
/// in `first`, the others in `second`. Branch-free and table-free.
inline void hex_of_16(__m128i v, __m128i& first, __m128i& second) noexcept {
    const __m128i nibble = _mm_set1_epi8(0x0f);
    const auto ascii = [](__m128i x) {  // 0-9 -> '0'-'9', 10-15 -> 'a'-'f'
        const __m128i letter = _mm_cmpgt_epi8(x, _mm_set1_epi8(9));
        return _mm_add_epi8(_mm_add_epi8(x, _mm_set1_epi8('0')),
                            _mm_and_si128(letter, _mm_set1_epi8('a' - '0' - 10)));
    };
    const __m128i hi = _mm_and_si128(_mm_srli_epi16(v, 4), nibble);
    const __m128i lo = _mm_and_si128(v, nibble);
    first = ascii(_mm_unpacklo_epi8(hi, lo));
    second = ascii(_mm_unpackhi_epi8(hi, lo));
}
#endif

/// Writes the lower-case hex of in[0, n) to out[0, 2n). Branch-free and table-free (no
/// data-dependent load: the secret digest a signature check hexes leaks nothing through the
/// cache); 16 bytes per step with SSE2.
inline void write_hex(const unsigned char* in, std::size_t n, char* out) noexcept {
    std::size_t i = 0;
#if defined(__SSE2__)
    for (; i + 16 <= n; i += 16) {
        __m128i first, second;
        hex_of_16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(in + i)), first, second);
        _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 2 * i), first);
        _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 2 * i + 16), second);
    }
#endif
    // 39 = 'a' - '0' - 10, added when x > 9: (9 - x) >> 8 is all ones exactly then.
    const auto digit = [](unsigned x) {
        return static_cast<char>('0' + x + (((9u - x) >> 8) & 39u));
    };
    for (char* o = out + 2 * i; i < n; ++i) {
        *o++ = digit(in[i] >> 4);
        *o++ = digit(in[i] & 0xFu);
    }
}

/// a[0, n) == b[0, n), in a time that depends on n only: eight bytes at a time, differences
/// accumulated with no early exit (the compiler barrier keeps it from adding one).
inline bool equal_constant_time(const void* a, const void* b, std::size_t n) noexcept {
    const auto* p = static_cast<const unsigned char*>(a);
    const auto* q = static_cast<const unsigned char*>(b);
    std::uint64_t diff = 0;
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        std::uint64_t x, y;
        std::memcpy(&x, p + i, 8);
        std::memcpy(&y, q + i, 8);
        diff |= x ^ y;
        asm volatile("" : "+r"(diff));
    }
    for (; i < n; ++i) {
        diff |= static_cast<std::uint64_t>(p[i] ^ q[i]);
        asm volatile("" : "+r"(diff));
    }
    return diff == 0;
}

}  // namespace zsession::detail
