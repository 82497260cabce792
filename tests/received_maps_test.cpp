// The recycled storage of decoded maps (src/received_maps.hpp): reuse on the releasing
// thread, never while a message still holds it, finalizers and extra chunks released.
#include <doctest/doctest.h>

#include <map>
#include <thread>

#include "../src/received_maps.hpp"
#include "support.hpp"

using namespace zsession;
using zsession::detail::make_received_maps;
using zsession::detail::recycled_chunk_size;

namespace {

struct content_type {
    std::string code;
    int n = 0;
    MSGPACK_DEFINE_MAP(code, n)
};

int finalized = 0;

}  // namespace

TEST_CASE("small storage is recycled on the releasing thread; large storage is not") {
    detail::received_maps* first = nullptr;
    {
        auto m = make_received_maps(256);
        CHECK(m->recyclable);
        first = m.get();
        m->frames[0] = zmq::message_t(std::string_view("header bytes of a received message"));
        // A finalizer and a second chunk: both released when the storage is recycled.
        m->zone.push_finalizer([](void*) { ++finalized; }, nullptr);
        (void)m->zone.allocate_align(4 * recycled_chunk_size);
    }
    CHECK(finalized == 1);
    auto again = make_received_maps(recycled_chunk_size);
    CHECK(again.get() == first);
    CHECK(again->frames[0].size() == 0);   // closed on release
    auto other = make_received_maps(100);  // the pool is empty now: a fresh one
    CHECK(other.get() != first);
    CHECK(other->recyclable);

    auto large = make_received_maps(recycled_chunk_size + 1);
    CHECK_FALSE(large->recyclable);
}

TEST_CASE("storage released on another thread goes to that thread's pool") {
    auto m = make_received_maps(256);
    detail::received_maps* p = m.get();
    detail::received_maps* reused = nullptr;
    std::thread t([&] {
        m.reset();  // released here: into this thread's pool
        reused = make_received_maps(256).get();
    });
    t.join();
    CHECK(reused == p);
}

TEST_CASE("decoded messages keep their maps while later messages reuse released storage") {
    session_options o;
    o.key = "recycle-key";
    const session s(o);
    std::vector<message> held;
    for (int round = 0; round < 3; ++round) {
        for (int i = 0; i < 40; ++i) {
            message m = s.make_message("execute_request");
            m.set_content(content_type{"print(" + std::to_string(i) + ")", i});
            message got = s.decode(s.encode(m));
            CHECK(got.header == m.header);
            if (i % 4 == 0) held.push_back(std::move(got));  // others are released at once
        }
        for (std::size_t k = 0; k < held.size(); ++k) {
            const auto c = held[k].content_as<content_type>();
            CHECK(c.n == static_cast<int>(k % 10) * 4);
            CHECK(c.code == "print(" + std::to_string(c.n) + ")");
            CHECK(held[k].header.msg_type == "execute_request");
        }
        held.clear();
    }
}

TEST_CASE("take_frame owns the frame; its holder is recycled once released") {
    const std::byte* first = nullptr;
    {
        const buffer b = detail::take_frame(zmq::message_t(std::string_view("small frame")));
        CHECK(b.as_string_view() == "small frame");
        first = b.data();  // a small frame's bytes live inside the holder
    }
    const buffer again = detail::take_frame(zmq::message_t(std::string_view("other frame")));
    CHECK(again.as_string_view() == "other frame");
    CHECK(again.data() == first);
    const std::string big(4096, 'x');
    const buffer large = detail::take_frame(zmq::message_t(big.data(), big.size()));
    CHECK(large.as_string_view() == big);
    CHECK(again.as_string_view() == "other frame");  // still held, not reused
}
