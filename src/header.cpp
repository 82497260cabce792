#include "zsession/header.hpp"

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <random>

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

}  // namespace

std::string new_uuid4() {
    auto& rng = thread_rng();
    std::uint64_t hi = rng(), lo = rng();
    hi = (hi & ~std::uint64_t{0xF000}) | 0x4000;                           // version 4
    lo = (lo & ~(std::uint64_t{0xC} << 60)) | (std::uint64_t{0x8} << 60);  // variant 10
    static constexpr char hex[] = "0123456789abcdef";
    std::string out(36, '-');
    std::size_t pos = 0;
    auto put = [&](std::uint64_t v, int nibbles) {
        for (int i = nibbles - 1; i >= 0; --i) {
            if (pos == 8 || pos == 13 || pos == 18 || pos == 23) ++pos;
            out[pos++] = hex[(v >> (4 * i)) & 0xF];
        }
    };
    put(hi, 16);
    put(lo, 16);
    return out;
}

std::string utc_now_iso8601() {
    using namespace std::chrono;
    const auto us = duration_cast<microseconds>(system_clock::now().time_since_epoch()).count();
    const std::int64_t secs = us / 1'000'000;
    // "YYYY-MM-DDTHH:MM:SS" changes once a second: format it once per second and thread.
    thread_local std::int64_t cached_secs = -1;
    thread_local char prefix[64];
    if (secs != cached_secs) {
        const std::time_t t = static_cast<std::time_t>(secs);
        std::tm tm{};
        gmtime_r(&t, &tm);
        std::snprintf(prefix, sizeof prefix, "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900,
                      tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
        cached_secs = secs;
    }
    std::string out(27, '\0');  // prefix (19) + ".ffffff" + "Z"
    std::memcpy(out.data(), prefix, 19);
    out[19] = '.';
    auto frac = static_cast<std::uint32_t>(us % 1'000'000);
    for (int i = 25; i >= 20; --i, frac /= 10)
        out[static_cast<std::size_t>(i)] = static_cast<char>('0' + frac % 10);
    out[26] = 'Z';
    return out;
}

}  // namespace zsession
