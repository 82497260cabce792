// tests/ipp/connection_test.cpp - the engine connection file and launcher arguments.
#include "zsession/ipp/connection.hpp"

#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <thread>

#include <unistd.h>

using namespace zsession::ipp;

namespace {

const char* sample = R"({"ssh": "", "interface": "tcp://127.0.0.1", "registration": 36707,
 "control": 41627, "mux": 41139, "task": 42739, "iopub": 49661, "hb_ping": 59559,
 "hb_pong": 35501, "broadcast": [37511, 45503], "key": "625ee2a7", "curve_serverkey": null,
 "location": "vm", "pack": "json", "unpack": "json", "signature_scheme": "hmac-sha256"})";

std::string replaced(std::string s, const std::string& from, const std::string& to) {
    s.replace(s.find(from), from.size(), to);
    return s;
}

}  // namespace

TEST_CASE("launcher arguments in both forms, unknown ones kept") {
    const char* argv[] = {
        "e", "--profile-dir",     "/p",           "--cluster-id=abc",         "--id",
        "3", "--log-level=DEBUG", "--reregister", "--max_missed_heartbeats=7"};
    const engine_args a = parse_engine_args(9, argv);
    CHECK(a.profile_dir == "/p");
    CHECK(a.cluster_id == "abc");
    CHECK(a.id == 3);
    CHECK(a.reregister);
    CHECK(a.max_missed_heartbeats == 7);
    REQUIRE(a.unknown.size() == 1);
    CHECK(a.unknown[0] == "--log-level=DEBUG");
    CHECK(engine_file_path(a) == "/p/security/ipcontroller-abc-engine.json");

    const char* missing[] = {"e", "--profile-dir"};
    CHECK_THROWS_AS(parse_engine_args(2, missing), std::invalid_argument);
    const char* bad_id[] = {"e", "--id", "3x"};
    CHECK_THROWS_AS(parse_engine_args(3, bad_id), std::invalid_argument);
    const char* bad_wait[] = {"e", "--wait=-1"};
    CHECK_THROWS_AS(parse_engine_args(2, bad_wait), std::invalid_argument);
}

TEST_CASE("the connection file path: --file, profile dir, IPYTHONDIR") {
    engine_args a;
    a.file = "/x/engine.json";
    CHECK(engine_file_path(a) == "/x/engine.json");
    engine_args b;
    ::setenv("IPYTHONDIR", "/ipy", 1);
    CHECK(engine_file_path(b) == "/ipy/profile_default/security/ipcontroller-engine.json");
    b.profile = "mpi";
    b.cluster_id = "7";
    CHECK(engine_file_path(b) == "/ipy/profile_mpi/security/ipcontroller-7-engine.json");
    ::unsetenv("IPYTHONDIR");
}

TEST_CASE("an engine connection file as ipcontroller writes it") {
    const engine_connection c = parse_engine_connection(sample);
    CHECK(c.endpoint(c.mux) == "tcp://127.0.0.1:41139");
    CHECK(c.broadcast == std::vector<int>{37511, 45503});
    CHECK(c.key == "625ee2a7");
    CHECK(!c.curve_serverkey);
    const std::string key40(40, 'A');
    const auto curve = parse_engine_connection(
        replaced(sample, "\"curve_serverkey\": null", "\"curve_serverkey\": \"" + key40 + "\""));
    CHECK(curve.curve_serverkey == key40);
}

TEST_CASE("a broken connection file is refused with the reason") {
    CHECK_THROWS_WITH_AS(parse_engine_connection("{"), doctest::Contains("not a JSON object"),
                         std::runtime_error);
    CHECK_THROWS_WITH_AS(parse_engine_connection(replaced(sample, "\"mux\": 41139,", "")),
                         doctest::Contains("mux"), std::runtime_error);
    CHECK_THROWS_WITH_AS(parse_engine_connection(replaced(sample, "41139", "70000")),
                         doctest::Contains("mux"), std::runtime_error);
    CHECK_THROWS_WITH_AS(
        parse_engine_connection(replaced(sample, "\"pack\": \"json\"", "\"pack\": \"pickle\"")),
        doctest::Contains("json packer only"), std::runtime_error);
    CHECK_THROWS_WITH_AS(parse_engine_connection(replaced(sample, "[37511, 45503]", "[]")),
                         doctest::Contains("broadcast"), std::runtime_error);
    CHECK_THROWS_WITH_AS(parse_engine_connection(replaced(sample, "\"curve_serverkey\": null",
                                                          "\"curve_serverkey\": \"short\"")),
                         doctest::Contains("Z85"), std::runtime_error);
}

TEST_CASE("reading waits for the file, as ipengine does, and times out naming it") {
    const auto dir =
        std::filesystem::temp_directory_path() / ("zsession-conn-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    const std::string path = (dir / "engine.json").string();
    std::thread writer([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
        std::ofstream(path + ".tmp") << sample;
        std::filesystem::rename(path + ".tmp", path);
    });
    const auto t0 = std::chrono::steady_clock::now();
    const engine_connection c = read_engine_connection(path, std::chrono::seconds(5));
    writer.join();
    CHECK(c.mux == 41139);
    CHECK(std::chrono::steady_clock::now() - t0 >= std::chrono::milliseconds(250));
    CHECK_THROWS_WITH_AS(
        read_engine_connection((dir / "none.json").string(), std::chrono::milliseconds(200)),
        doctest::Contains("none.json"), std::runtime_error);
    std::filesystem::remove_all(dir);
}
