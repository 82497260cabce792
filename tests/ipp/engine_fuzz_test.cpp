// The engine's dispatch without sockets (engine::handle), in every build: the engine fuzz
// target's seeds and deterministic mutations of them (tests/fuzz/engine_target.hpp), and the
// rule the target checks, request by request: every request the engine knows is answered,
// with an error when it cannot be served, and the engine keeps serving.
#include <doctest/doctest.h>

#include <random>

#include "fuzz/engine_target.hpp"

using zsession::ipp::engine;

namespace {

/// The one reply to `type` with `content` on `ch`, decoded; fails the test when there is not
/// exactly one.
zsession::message only_reply(engine& e, engine::channel ch, const std::string& type,
                             const std::string& content,
                             std::vector<zsession::message>* iopub = nullptr) {
    engine::handled out = e.handle(ch, fuzz::engine_request(type, content));
    REQUIRE(out.replies.size() == 1);
    if (iopub) {
        for (auto& f : out.iopub) iopub->push_back(fuzz::engine_client().decode(std::move(f)));
    }
    return fuzz::engine_client().decode(std::move(out.replies[0]));
}

std::string text(const zsession::message& m, const char* key) {
    return m.content_map().get<std::string>(key);
}

}  // namespace

TEST_CASE("engine: the fuzz target's seeds pass its checks") {
    for (const std::string& seed : fuzz::engine_seeds()) {
        const auto bad =
            fuzz::engine_input(reinterpret_cast<const std::uint8_t*>(seed.data()), seed.size(), 1);
        CHECK_MESSAGE(!bad, *bad);
    }
}

TEST_CASE("engine: wrong-typed content gets an error reply and nothing runs") {
    auto e = fuzz::make_fuzz_engine();
    const auto ch = engine::channel::shell;
    zsession::message r = only_reply(*e, ch, "execute_request", R"({"code": 5})");
    CHECK(r.header.msg_type == "execute_reply");
    CHECK(text(r, "status") == "error");
    CHECK(text(r, "ename") == "InvalidRequest");
    CHECK(r.metadata_as<std::map<std::string, msgpack::object>>().count("engine") == 1);
    r = only_reply(*e, ch, "execute_request", R"({"code": "1", "silent": "no"})");
    CHECK(text(r, "ename") == "InvalidRequest");
    r = only_reply(*e, ch, "complete_request", R"({"code": "x", "cursor_pos": "end"})");
    CHECK(r.header.msg_type == "complete_reply");
    CHECK(text(r, "status") == "error");
    r = only_reply(*e, ch, "inspect_request", R"({"code": []})");
    CHECK(text(r, "status") == "error");
    // is_complete_reply's status is never "error".
    r = only_reply(*e, ch, "is_complete_request", R"({"code": 1})");
    CHECK(text(r, "status") == "unknown");
    // The execution count did not move: the next execute is number 1.
    r = only_reply(*e, ch, "execute_request", R"({"code": "6*7", "silent": false})");
    CHECK(text(r, "status") == "ok");
    CHECK(r.content_map().get<int>("execution_count") == 1);
}

TEST_CASE("engine: a request on the wrong channel is refused with an error reply") {
    auto e = fuzz::make_fuzz_engine();
    std::vector<zsession::message> iopub;
    zsession::message r =
        only_reply(*e, engine::channel::control, "execute_request", R"({"code": "x = 1"})", &iopub);
    CHECK(text(r, "ename") == "WrongChannel");
    for (const auto& m : iopub) CHECK(m.header.msg_type == "status");  // nothing executed
    r = only_reply(*e, engine::channel::shell, "execute_request", R"({"code": "x"})");
    CHECK(text(r, "ename") == "NameError");  // x = 1 did not run
    r = only_reply(*e, engine::channel::shell, "shutdown_request", "{}");
    CHECK(r.header.msg_type == "shutdown_reply");
    CHECK(text(r, "ename") == "WrongChannel");
    r = only_reply(*e, engine::channel::shell, "clear_request", "{}");
    CHECK(text(r, "ename") == "WrongChannel");
    r = only_reply(*e, engine::channel::control, "shutdown_request", R"({"restart": 3})");
    CHECK(text(r, "status") == "ok");  // wrong-typed restart: the default
}

TEST_CASE("engine: apply_request is refused, comm_open to an unknown target is closed") {
    auto e = fuzz::make_fuzz_engine();
    zsession::message r = only_reply(*e, engine::channel::shell, "apply_request", "{}");
    CHECK(text(r, "ename") == "NotImplementedError");
    engine::handled out =
        e->handle(engine::channel::shell,
                  fuzz::engine_request("comm_open", R"({"comm_id": "u", "target_name": "nope"})"));
    CHECK(out.replies.empty());  // comm messages have no reply
    bool closed = false;
    for (auto& f : out.iopub) {
        const auto m = fuzz::engine_client().decode(std::move(f));
        closed = closed || m.header.msg_type == "comm_close";
    }
    CHECK(closed);
    // Unknown types are ignored, as ipykernel does.
    out = e->handle(engine::channel::shell, fuzz::engine_request("no_such_request", "{}"));
    CHECK(out.replies.empty());
    // A message signed with another key is dropped before anything reads it.
    zsession::frames bad = fuzz::engine_request("kernel_info_request", "{}");
    bad[2] = zmq::message_t(std::string(64, '0').data(), 64);
    out = e->handle(engine::channel::control, std::move(bad));
    CHECK(out.replies.empty());
    CHECK(out.iopub.empty());
}

TEST_CASE("engine: zcalc.arrays on empty arrays (found by the engine fuzz target)") {
    // matmul and scale of 0-element <f8 arrays copied from a null pointer (UB: memcpy's
    // arguments must not be null even for 0 bytes); the sanitizer builds see it.
    auto e = fuzz::make_fuzz_engine();
    for (const char* data : {R"({"op": "matmul", "shape": [0, 2], "shape_b": [2, 0]})",
                             R"({"op": "scale", "shape": [0], "factor": 2})"}) {
        engine::handled out =
            e->handle(engine::channel::shell,
                      fuzz::engine_request(
                          "comm_open",
                          std::string(R"({"comm_id": "e", "target_name": "zcalc.arrays", )") +
                              R"("data": )" + data + "}",
                          {"", ""}));
        bool answered = false;
        for (auto& f : out.iopub) {
            const auto m = fuzz::engine_client().decode(std::move(f));
            if (m.header.msg_type != "comm_msg") continue;
            const auto d = m.content_map().get<std::map<std::string, msgpack::object>>("data");
            answered = d.at("status").as<std::string>() == "ok";
        }
        CHECK(answered);
        (void)e->handle(engine::channel::shell,
                        fuzz::engine_request("comm_close", R"({"comm_id": "e"})"));
    }
}

TEST_CASE("engine: mutated seeds (deterministic) pass the target's checks") {
    std::mt19937 rng(10);
    const auto seeds = fuzz::engine_seeds();
    for (int i = 0; i < 3000; ++i) {
        std::string in = seeds[rng() % seeds.size()];
        for (int k = 0; k < 1 + static_cast<int>(rng() % 4); ++k) {
            if (in.empty()) break;
            const std::size_t at = rng() % in.size();
            switch (rng() % 4) {
                case 0:
                    in[at] = static_cast<char>(rng());
                    break;
                case 1:
                    in.resize(at);
                    break;
                case 2:
                    in.insert(at, 1, "{}[]\":,0-e\\"[rng() % 11]);
                    break;
                default:
                    in.erase(at, 1 + rng() % 8);
                    break;
            }
        }
        const auto bad =
            fuzz::engine_input(reinterpret_cast<const std::uint8_t*>(in.data()), in.size(), 1);
        REQUIRE_MESSAGE(!bad, *bad);
    }
}
