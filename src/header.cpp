#include "zsession/header.hpp"

#include <pthread.h>

#include <atomic>
#include <bit>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <random>

#include "header_ids.hpp"
#include "hex.hpp"
#include "text_util.hpp"
#include "tls_pin.hpp"

namespace zsession {

namespace {

constexpr std::size_t uuid_size = 36;

/// Incremented in a forked child (pthread_atfork): a thread's generator seeded before the
/// fork reseeds, so parent and child never draw the same ids. Starts at 1: 0 is "unseeded".
/// (glibc drops the handler when the library is dlclose'd.) Only fork() runs atfork
/// handlers: a child made by _Fork() or a raw clone() keeps drawing its parent's sequence.
std::atomic<unsigned> fork_generation{1};

void register_fork_handler() {
    static std::once_flag once;
    std::call_once(once, [] {
        (void)pthread_atfork(nullptr, nullptr,
                             [] { fork_generation.fetch_add(1, std::memory_order_relaxed); });
    });
}

/// What making a header needs per thread, in one object so that one thread-local lookup
/// reaches all of it. Trivially constructible and destructible: no guard, no registration
/// at thread exit; zero-initialised (generation 0, secs 0) means "seed me" and "format me".
///
/// The msg_id generator is xoshiro256** (Blackman and Vigna), 256 bits of state seeded
/// from std::random_device per thread and again after a fork.
/// Message ids must be unique across threads, processes and hosts, not secret (they travel
/// in clear; Jupyter's own are uuid4 from Python's os.urandom, but nothing authenticates
/// with them): 256 independent random seed bits per stream make two streams' overlap within
/// any realistic number of ids negligible, as with the mt19937_64 this replaces (which was
/// no less predictable from its outputs, and slower: a 2.5 KB state refilled in bursts).
struct per_thread {
    std::uint64_t s[4];
    unsigned generation;  // fork_generation when seeded
    std::int64_t secs;    // the second `text` holds
    char text[detail::iso8601_seconds_size + 1];

    [[gnu::noinline]] void seed() {
        register_fork_handler();
        std::random_device rd;
        do {
            for (auto& w : s) w = std::uint64_t{rd()} << 32 | rd();
        } while ((s[0] | s[1] | s[2] | s[3]) == 0);  // the one state xoshiro must not have
        generation = fork_generation.load(std::memory_order_relaxed);
    }

    std::uint64_t next() noexcept {  // xoshiro256**
        const auto rotl = [](std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); };
        const std::uint64_t result = rotl(s[1] * 5, 7) * 9;
        const std::uint64_t t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = rotl(s[3], 45);
        return result;
    }

    /// Seeds the generator if this thread has not yet, or has since forked. Throws what
    /// std::random_device throws: callers call it before they write anything.
    void ready() {
        if (generation != fork_generation.load(std::memory_order_relaxed)) seed();
    }

    /// Writes a version 4 UUID's 36 characters to out[0, 36): 16 random bytes in memory
    /// order (the two words little-endian), version and variant bits set, hexed, dashed.
    /// The caller called ready().
    void write_uuid4(char* out) noexcept {
        std::uint64_t a = next(), b = next();
        if constexpr (std::endian::native == std::endian::little) {
#if defined(__SSE2__) && defined(__x86_64__)
            // Bytes 6 and 8 in memory order are bits 48-55 of a and 0-7 of b.
            a = (a & ~(std::uint64_t{0xF0} << 48)) | (std::uint64_t{0x40} << 48);  // version 4
            b = (b & ~std::uint64_t{0xC0}) | 0x80;                                 // variant 10
            // From registers to the output: no stack copy for a load to wait on.
            __m128i first, second;
            detail::hex_of_16(_mm_set_epi64x(static_cast<long long>(b), static_cast<long long>(a)),
                              first, second);
            put_dashed(
                out, static_cast<std::uint64_t>(_mm_cvtsi128_si64(first)),
                static_cast<std::uint64_t>(_mm_cvtsi128_si64(_mm_unpackhi_epi64(first, first))),
                static_cast<std::uint64_t>(_mm_cvtsi128_si64(second)),
                static_cast<std::uint64_t>(_mm_cvtsi128_si64(_mm_unpackhi_epi64(second, second))));
            return;
#endif
        }
        unsigned char bytes[16];
        std::memcpy(bytes, &a, 8);
        std::memcpy(bytes + 8, &b, 8);
        bytes[6] = static_cast<unsigned char>((bytes[6] & 0x0F) | 0x40);  // version 4
        bytes[8] = static_cast<unsigned char>((bytes[8] & 0x3F) | 0x80);  // variant 10
        char hex[32];
        detail::write_hex(bytes, sizeof bytes, hex);
        std::memcpy(out, hex, 8);
        out[8] = '-';
        std::memcpy(out + 9, hex + 8, 4);
        out[13] = '-';
        std::memcpy(out + 14, hex + 12, 4);
        out[18] = '-';
        std::memcpy(out + 19, hex + 16, 4);
        out[23] = '-';
        std::memcpy(out + 24, hex + 20, 12);
    }

#if defined(__SSE2__) && defined(__x86_64__)
    /// out[0, 36) = 32 hex characters in 8-4-4-4-12 groups, given as four words of eight
    /// characters each, the first character in the low byte (a little-endian host).
    static void put_dashed(char* out, std::uint64_t h0, std::uint64_t h1, std::uint64_t h2,
                           std::uint64_t h3) noexcept {
        const auto put4 = [](char* p, std::uint64_t w) {
            const auto v = static_cast<std::uint32_t>(w);
            std::memcpy(p, &v, 4);
        };
        std::memcpy(out, &h0, 8);
        out[8] = '-';
        put4(out + 9, h1);
        out[13] = '-';
        put4(out + 14, h1 >> 32);
        out[18] = '-';
        put4(out + 19, h2);
        out[23] = '-';
        put4(out + 24, h2 >> 32);
        std::memcpy(out + 28, &h3, 8);
    }
#endif

    /// Writes the current time's 27 characters "YYYY-MM-DDTHH:MM:SS.ffffffZ" to out[0, 27).
    void write_utc_now(char* out) noexcept {
        using namespace std::chrono;
        const auto us = duration_cast<microseconds>(system_clock::now().time_since_epoch()).count();
        const std::int64_t now = us / 1'000'000;
        // "YYYY-MM-DDTHH:MM:SS" changes once a second: formatted once per second and thread
        // (text[0] is '\0' until the first time).
        if (now != secs || text[0] == '\0') {
            (void)detail::write_iso8601_seconds(now, text);  // the clock is always in range
            secs = now;
        }
        std::memcpy(out, text, detail::iso8601_seconds_size);
        detail::write_iso8601_fraction(static_cast<std::uint32_t>(us % 1'000'000),
                                       out + detail::iso8601_seconds_size);
    }
};

thread_local per_thread state;

}  // namespace

std::string new_uuid4() {
    per_thread& t = detail::pin_thread_local(state);
    t.ready();
    std::string out(uuid_size, '\0');
    t.write_uuid4(out.data());
    return out;
}

void new_uuid4(inline_string& out) {
    per_thread& t = detail::pin_thread_local(state);
    t.ready();  // may throw: before `out` is resized
    char* const p = out.resize_for_overwrite(uuid_size);
    t.write_uuid4(p);
}

std::string utc_now_iso8601() {
    std::string out(detail::iso8601_size, '\0');
    detail::pin_thread_local(state).write_utc_now(out.data());
    return out;
}

void utc_now_iso8601(inline_string& out) {
    char* const p = out.resize_for_overwrite(detail::iso8601_size);
    detail::pin_thread_local(state).write_utc_now(p);
}

void detail::fresh_id_and_date(inline_string& msg_id, inline_string& date) {
    per_thread& t = detail::pin_thread_local(state);  // the one lookup
    t.ready();                                        // may throw: before either field is resized
    char* const id = msg_id.resize_for_overwrite(uuid_size);
    char* const d = date.resize_for_overwrite(detail::iso8601_size);
    t.write_uuid4(id);
    t.write_utc_now(d);
}

}  // namespace zsession
