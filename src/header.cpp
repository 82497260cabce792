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

}  // namespace

std::string new_uuid4() {
    auto& rng = thread_rng();
    std::uint64_t hi = rng(), lo = rng();
    hi = (hi & ~std::uint64_t{0xF000}) | 0x4000;                           // version 4
    lo = (lo & ~(std::uint64_t{0xC} << 60)) | (std::uint64_t{0x8} << 60);  // variant 10
    std::string out(36, '-');
    std::size_t pos = 0;
    auto put = [&](std::uint64_t v, int nibbles) {
        for (int i = nibbles - 1; i >= 0; --i) {
            if (pos == 8 || pos == 13 || pos == 18 || pos == 23) ++pos;
            out[pos++] = detail::hex_digits[(v >> (4 * i)) & 0xF];
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
    thread_local char prefix[detail::iso8601_seconds_size + 1];
    if (secs != cached_secs) {
        (void)detail::write_iso8601_seconds(secs, prefix);  // the clock is always in range
        cached_secs = secs;
    }
    std::string out(detail::iso8601_size, '\0');  // prefix (19) + ".ffffff" + "Z"
    std::memcpy(out.data(), prefix, detail::iso8601_seconds_size);
    detail::write_iso8601_fraction(static_cast<std::uint32_t>(us % 1'000'000),
                                   out.data() + detail::iso8601_seconds_size);
    return out;
}

}  // namespace zsession
