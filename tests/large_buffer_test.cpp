// A 5 GiB buffer (beyond every 32-bit size) sent and received over ipc through the session,
// as a raw buffer and as an ndarray placeholder. The sender's 5 GiB are one small memfd
// mapped over and over (a few hundred KiB of real memory); the receiver holds the 5 GiB
// frame. Peak memory: about 5 GiB. Not built under sanitizers (tests/meson.build).
#include <doctest/doctest.h>

#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <stdexcept>

#include "support.hpp"

using namespace zsession;

namespace {

constexpr std::size_t gib = std::size_t{1} << 30;

struct content_t {
    placeholder data;
    MSGPACK_DEFINE_MAP(data)
};

/// `total` bytes of virtual memory repeating one pattern of `period` bytes (a multiple of
/// the page size, deliberately not a power of two, so that misplaced pieces of a received
/// copy do not line up with the same bytes). Backed by one memfd of `period` bytes mapped
/// total / period times (rounded up), read-only. Unmapped when the last pin goes.
buffer repeated_pattern(std::size_t total, std::size_t period) {
    const int fd = memfd_create("zsession-pattern", 0);
    if (fd < 0) throw std::runtime_error("memfd_create");
    if (ftruncate(fd, static_cast<off_t>(period)) != 0) throw std::runtime_error("ftruncate");
    void* w = mmap(nullptr, period, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (w == MAP_FAILED) throw std::runtime_error("mmap");
    auto* bytes = static_cast<unsigned char*>(w);
    std::uint64_t x = 0x9E3779B97F4A7C15ull;
    for (std::size_t i = 0; i < period; ++i) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        bytes[i] = static_cast<unsigned char>(x);
    }
    munmap(w, period);
    const std::size_t maps = (total + period - 1) / period;
    const std::size_t span = maps * period;
    void* base = mmap(nullptr, span, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (base == MAP_FAILED) throw std::runtime_error("mmap reserve");
    for (std::size_t k = 0; k < maps; ++k) {
        void* at = static_cast<char*>(base) + k * period;
        if (mmap(at, period, PROT_READ, MAP_SHARED | MAP_FIXED, fd, 0) == MAP_FAILED) {
            throw std::runtime_error("mmap fixed");
        }
    }
    close(fd);
    std::shared_ptr<const void> owner(
        base, [span](const void* p) { munmap(const_cast<void*>(p), span); });
    return buffer(bytes_view(base, total), std::move(owner));
}

/// Sampled bytes (both ends of every GiB, and around each 4 GiB boundary) and a full
/// comparison against the sender's mapping (reads the 5 GiB once; the sender's side is a
/// few hundred KiB that stay in cache).
void check_same(const buffer& got, const buffer& sent) {
    REQUIRE(got.size() == sent.size());
    for (std::size_t at = 0; at < got.size(); at += gib / 4) {
        CHECK(std::memcmp(got.data() + at, sent.data() + at, 64) == 0);
    }
    const std::size_t b4 = std::size_t{4} << 30;
    CHECK(std::memcmp(got.data() + b4 - 4096, sent.data() + b4 - 4096, 8192) == 0);
    CHECK(std::memcmp(got.data() + got.size() - 4096, sent.data() + sent.size() - 4096, 4096) == 0);
    CHECK(got.view() == sent.view());
}

}  // namespace

TEST_CASE("a 5 GiB buffer over ipc: one frame, resolved as an ndarray placeholder") {
    const std::size_t total = 5 * gib + 12345;  // not a multiple of anything
    const buffer sent = repeated_pattern(total, 257 * 4096);
    zmq::context_t ctx;
    test::socket_pair p(ctx, "ipc");
    session s(session_options{.key = "k"});
    apply_limits(p.b, s.options().limits);  // ZMQ_MAXMSGSIZE from the default limits
    CHECK(s.options().limits.max_buffer_bytes > total);

    {
        message m = s.make_message("data");
        const ndarray_view a(dtype_of<std::uint8_t>(), {total}, sent);
        m.set_content(content_t{offload(s, m, a)});
        s.send(p.a, m);
        m = message();
        auto r = s.recv(p.b);
        REQUIRE(r);
        resolver res(s, *r);
        const ndarray_view got = res.resolve<ndarray_view>(r->content_as<content_t>().data);
        REQUIRE(got.shape() == std::vector<std::size_t>{total});
        check_same(got.bytes(), sent);
        // The view is the received frame itself (no copy on receive).
        REQUIRE(r->buffers.size() == 1);
        CHECK(got.data() == r->buffers[0].data());
    }
}

TEST_CASE("lz4's 32-bit block limit: larger buffers travel uncompressed whatever the policy") {
    // Nothing below reads the 5 GiB: every decision is made from the size.
    const buffer big = repeated_pattern(5 * gib, 257 * 4096);
    REQUIRE(big.size() > lz4_max_input());
    for (const auto policy : {compression_policy::always, compression_policy::automatic}) {
        compression_options o;
        o.policy = policy;
        CHECK_FALSE(maybe_compress(big, o).has_value());
        message m;
        offload_options oo;
        oo.compression = o;
        const placeholder p = offload(m, ndarray_view(dtype_of<std::uint8_t>(), {big.size()}, big),
                                      registry::builtins(), oo);
        REQUIRE(p.compression.size() == 1);
        CHECK(p.compression[0] == compression::none);
        CHECK(p.sizes[0] == big.size());
        CHECK(m.buffers[0].data() == big.data());  // the buffer itself, not a copy
    }
    CHECK_THROWS_AS(lz4_compress(big), usage_error);
    // A placeholder declaring an lz4 block that decodes beyond lz4's limit is refused before
    // anything is allocated: first by the limit, then by the format even without a limit.
    const std::string block(16, '\0');
    CHECK_THROWS_AS(lz4_decompress(bytes_view(block), 5 * gib, std::size_t{4} << 30), limit_error);
    CHECK_THROWS_AS(lz4_decompress(bytes_view(block), 5 * gib, SIZE_MAX), compression_error);
}
