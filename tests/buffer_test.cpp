#include "zsession/buffer.hpp"

#include <doctest/doctest.h>

#include <array>
#include <atomic>
#include <numeric>
#include <thread>

#include "support.hpp"

using zsession::buffer;
using zsession::bytes_view;

namespace {

// An owner that counts its own destruction.
struct counted {
    std::vector<double> values;
    std::atomic<int>* destroyed;
    counted(std::size_t n, std::atomic<int>* d) : values(n, 1.5), destroyed(d) {}
    ~counted() { ++*destroyed; }
    const double* data() const { return values.data(); }
    std::size_t size() const { return values.size(); }
};

}  // namespace

TEST_CASE("take(vector) keeps the vector's own bytes") {
    std::vector<std::int32_t> v(1000);
    std::iota(v.begin(), v.end(), 0);
    const auto* original = v.data();
    buffer b = buffer::take(std::move(v));
    CHECK(static_cast<const void*>(b.data()) == static_cast<const void*>(original));
    CHECK(b.size() == 4000);
    CHECK(reinterpret_cast<const std::int32_t*>(b.data())[999] == 999);
}

TEST_CASE("take(string) keeps short and long strings valid") {
    buffer small = buffer::take(std::string("abc"));
    CHECK(small.as_string_view() == "abc");
    std::string big(10000, 'x');
    const char* original = big.data();
    buffer large = buffer::take(std::move(big));
    CHECK(reinterpret_cast<const char*>(large.data()) == original);
    CHECK(large.size() == 10000);
}

TEST_CASE("take(zmq::message_t) views the frame without copying, small or large") {
    zmq::message_t big(100000);
    std::memset(big.data(), 7, big.size());
    const void* original = big.data();
    buffer b = buffer::take(std::move(big));
    CHECK(static_cast<const void*>(b.data()) == original);
    // A small frame lives inside the zmq_msg_t; the view must follow it to the heap.
    buffer s = buffer::take(test::frame("tiny"));
    CHECK(s.as_string_view() == "tiny");
}

TEST_CASE("pin(shared_ptr) shares the owner, copies share the pin") {
    std::atomic<int> destroyed{0};
    {
        auto owner = std::make_shared<counted>(16, &destroyed);
        buffer b = buffer::pin(owner);
        CHECK(b.size() == 16 * sizeof(double));
        owner.reset();
        CHECK(destroyed == 0);
        buffer c = b;
        b = buffer();
        CHECK(destroyed == 0);
        CHECK(reinterpret_cast<const double*>(c.data())[15] == 1.5);
    }
    CHECK(destroyed == 1);
}

TEST_CASE("copy_of copies, slice shares") {
    const std::string text = "hello, world";
    buffer b = buffer::copy_of(bytes_view(text));
    CHECK(reinterpret_cast<const char*>(b.data()) != text.data());
    CHECK(b.view() == bytes_view(text));
    buffer s = b.slice(7, 5);
    CHECK(s.as_string_view() == "world");
    CHECK(s.data() == b.data() + 7);
    CHECK(s.keepalive() == b.keepalive());
    CHECK_THROWS_AS((void)b.slice(8, 5), zsession::usage_error);
    CHECK_THROWS_AS((void)b.slice(13, 0), zsession::usage_error);
    CHECK(b.slice(12, 0).empty());
}

TEST_CASE("make_frame: copy copies, zero_copy hands libzmq the buffer's own bytes") {
    buffer b = buffer::take(std::vector<char>(4096, 'z'));
    zmq::message_t copied = zsession::make_frame(b, zsession::send_mode::copy);
    zmq::message_t shared = zsession::make_frame(b, zsession::send_mode::zero_copy);
    CHECK(copied.data() != static_cast<const void*>(b.data()));
    CHECK(bytes_view(copied.data(), copied.size()) == b.view());
    CHECK(shared.data() == static_cast<const void*>(b.data()));
    CHECK(shared.size() == b.size());
}

TEST_CASE("make_frame never zero-copies memory that nobody pins") {
    std::vector<char> local(4096, 'q');
    buffer unpinned(bytes_view(local.data(), local.size()), nullptr);
    zmq::message_t f = zsession::make_frame(unpinned, zsession::send_mode::zero_copy);
    CHECK(f.data() != static_cast<void*>(local.data()));
    CHECK(f.size() == local.size());
}

TEST_CASE("an empty buffer makes an empty frame in both modes") {
    CHECK(zsession::make_frame(buffer(), zsession::send_mode::zero_copy).size() == 0);
    CHECK(
        zsession::make_frame(buffer::take(std::string()), zsession::send_mode::zero_copy).size() ==
        0);
}

TEST_CASE("the keepalive is released exactly once, after libzmq is done") {
    for (const auto& transport : test::transports) {
        CAPTURE(transport);
        std::atomic<int> destroyed{0};
        zmq::context_t ctx;
        test::socket_pair p(ctx, transport);
        {
            buffer b = buffer::pin(std::make_shared<counted>(100000, &destroyed));
            zmq::message_t f = zsession::make_frame(b, zsession::send_mode::zero_copy);
            b = buffer();  // only libzmq's frame pins the bytes now
            CHECK(destroyed == 0);
            REQUIRE(p.a.send(f, zmq::send_flags::none));
        }
        zmq::message_t got;
        REQUIRE(p.b.recv(got));
        CHECK(got.size() == 100000 * sizeof(double));
        CHECK(static_cast<const double*>(got.data())[99999] == 1.5);
        if (transport == "inproc") {
            // inproc passes the very bytes: still pinned until the receiver drops them.
            CHECK(destroyed == 0);
            got = zmq::message_t();
        }
        // Over ipc/tcp the I/O thread releases after writing; wait for it (bounded).
        for (int i = 0; i < 2000 && destroyed == 0; ++i) {
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
        CHECK(destroyed == 1);
    }
}

TEST_CASE("bytes_view from std::string, string literals, vectors and spans") {
    const std::string s = "hello";
    const bytes_view a = s;
    CHECK(a.data() == reinterpret_cast<const std::byte*>(s.data()));
    CHECK(a.size() == 5);
    const bytes_view lit = "abc";  // without the terminating NUL
    CHECK(lit.size() == 3);
    CHECK(lit.as_string_view() == "abc");
    const std::vector<double> v(4, 1.5);
    const bytes_view bv = v;
    CHECK(bv.data() == reinterpret_cast<const std::byte*>(v.data()));
    CHECK(bv.size() == 32);
    const std::vector<std::uint8_t> none;
    CHECK(bytes_view(none).empty());
    const std::span<const double> dyn(v);
    CHECK(bytes_view(dyn).size() == 32);
    const std::span<const double, 4> fixed(v.data(), 4);
    CHECK(bytes_view(fixed).size() == 32);
    std::array<std::int32_t, 3> arr{1, 2, 3};
    CHECK(bytes_view(std::span(arr)).size() == 12);
    CHECK(bytes_view(std::string_view("xy")).size() == 2);
    CHECK(bytes_view(s) == bytes_view("hello"));
}
