#include "zsession/header.hpp"

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <random>

#include "text_util.hpp"

namespace zsession {

namespace {

std::mt19937_64& thread_rng() {
    thread_local std::mt19937_64 rng = [] {
        std::random_device rd;
        std::seed_seq seq{rd(), rd(), rd(), rd(), rd(), rd(), rd(), rd()};
        return std::mt19937_64(seq);
    }();
    return rng;
}

/// Writes a version 4 UUID's 36 characters to out[0, 36).
void write_uuid4(char* out) noexcept {
    auto& rng = thread_rng();
    std::uint64_t hi = rng(), lo = rng();
    hi = (hi & ~std::uint64_t{0xF000}) | 0x4000;                           // version 4
    lo = (lo & ~(std::uint64_t{0xC} << 60)) | (std::uint64_t{0x8} << 60);  // variant 10
    std::size_t pos = 0;
    auto put = [&](std::uint64_t v, int nibbles) {
        for (int i = nibbles - 1; i >= 0; --i) {
            if (pos == 8 || pos == 13 || pos == 18 || pos == 23) out[pos++] = '-';
            out[pos++] = detail::hex_digits[(v >> (4 * i)) & 0xF];
        }
    };
    put(hi, 16);
    put(lo, 16);
}

/// Writes the current time's 27 characters "YYYY-MM-DDTHH:MM:SS.ffffffZ" to out[0, 27).
void write_utc_now(char* out) noexcept {
    using namespace std::chrono;
    const auto us = duration_cast<microseconds>(system_clock::now().time_since_epoch()).count();
    const std::int64_t secs = us / 1'000'000;
    // "YYYY-MM-DDTHH:MM:SS" changes once a second: format it once per second and thread.
    struct cached_prefix {
        std::int64_t secs = -1;
        char text[detail::iso8601_seconds_size + 1];
    };
    thread_local cached_prefix cache;  // one thread-local lookup
    cached_prefix& c = cache;
    if (secs != c.secs) {
        (void)detail::write_iso8601_seconds(secs, c.text);  // the clock is always in range
        c.secs = secs;
    }
    std::memcpy(out, c.text, detail::iso8601_seconds_size);
    detail::write_iso8601_fraction(static_cast<std::uint32_t>(us % 1'000'000),
                                   out + detail::iso8601_seconds_size);
}

constexpr std::size_t uuid_size = 36;

}  // namespace

std::string new_uuid4() {
    std::string out(uuid_size, '\0');
    write_uuid4(out.data());
    return out;
}

void new_uuid4(inline_string& out) {
    write_uuid4(out.resize_for_overwrite(uuid_size));
}

std::string utc_now_iso8601() {
    std::string out(detail::iso8601_size, '\0');
    write_utc_now(out.data());
    return out;
}

void utc_now_iso8601(inline_string& out) {
    write_utc_now(out.resize_for_overwrite(detail::iso8601_size));
}

}  // namespace zsession
