// tune_malloc_for_large_messages: after it, received large frames land in reused heap memory
// instead of fresh pages, which shows as (almost) no page faults per received message.
// This executable calls it before its first zmq context, as the function requires.
#include <doctest/doctest.h>

#include <sys/resource.h>

#include "support.hpp"

using namespace zsession;

namespace {

long minor_faults() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return u.ru_minflt;
}

#if defined(__SANITIZE_ADDRESS__)
constexpr bool sanitized = true;  // the sanitizer's allocator ignores mallopt
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool sanitized = true;
#else
constexpr bool sanitized = false;
#endif
#else
constexpr bool sanitized = false;
#endif

}  // namespace

TEST_CASE("after tuning, a received 64 MiB frame reuses memory: far fewer faults than pages") {
    const bool tuned = tune_malloc_for_large_messages();
    if (sanitized) {
        CHECK_FALSE(tuned);  // ASan's mallopt interceptor refuses every setting
        return;
    }
    REQUIRE(tuned);
    constexpr std::size_t bytes = std::size_t{64} << 20;
    constexpr long pages = static_cast<long>(bytes / 4096);
    std::vector<std::uint32_t> values(bytes / 4);
    for (std::size_t i = 0; i < values.size(); ++i) values[i] = static_cast<std::uint32_t>(i * 7);
    const buffer payload = buffer::take(std::move(values));

    for (const char* transport : {"ipc", "tcp"}) {
        CAPTURE(transport);
        zmq::context_t ctx;
        test::socket_pair p(ctx, transport);
        session s(session_options{.key = "k"});
        long faults = 0;
        constexpr int warm = 2, measured = 3;
        for (int i = 0; i < warm + measured; ++i) {
            message m = s.make_message("data");
            m.buffers.push_back(payload);
            const long f0 = minor_faults();
            s.send(p.a, m);
            auto r = s.recv(p.b);
            const long f1 = minor_faults();
            REQUIRE(r);
            REQUIRE(r->buffers.size() == 1);
            CHECK(r->buffers[0].view() == payload.view());
            if (i >= warm) faults += f1 - f0;
        }
        // Untuned, each receive faults in every page of a fresh mmap (16385 here).
        CHECK(faults / measured < pages / 16);
    }
}
