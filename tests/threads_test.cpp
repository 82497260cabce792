// One session shared by threads, as a kernel's shell, control and iopub threads share it.
// Built also under ThreadSanitizer (scripts/test.sh), which fails on any data race.
#include <doctest/doctest.h>

#include <atomic>
#include <thread>

#include "support.hpp"

using namespace zsession;

TEST_CASE("sign, verify and the replay history are safe to share between threads") {
    session s(session_options{.key = "shared-key", .replay_history = 1000});
    constexpr int threads = 4, per_thread = 300;
    std::atomic<int> decoded{0}, replays{0};
    std::vector<frames> shared_messages;
    for (int i = 0; i < 50; ++i) shared_messages.push_back(s.encode(s.make_message("shared")));

    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
        pool.emplace_back([&] {
            for (int i = 0; i < per_thread; ++i) {
                message m = s.make_message("work");
                m.buffers.push_back(buffer::take(std::vector<char>(100, 'x')));
                message r = s.decode(s.encode(m));
                if (r.header.msg_id == m.header.msg_id) ++decoded;
            }
            // All threads race to decode the same 50 messages: exactly one wins each.
            for (const auto& f : shared_messages) {
                try {
                    (void)s.decode(test::clone(f));
                } catch (const replay_error&) {
                    ++replays;
                }
            }
        });
    }
    for (auto& t : pool) t.join();
    CHECK(decoded == threads * per_thread);
    CHECK(replays == (threads - 1) * 50);
}
