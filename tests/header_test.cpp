#include "zsession/header.hpp"

#include <doctest/doctest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <regex>
#include <set>

TEST_CASE("new_uuid4 is a canonical version-4 UUID and does not repeat") {
    const std::regex form("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}");
    std::set<std::string> seen;
    for (int i = 0; i < 1000; ++i) {
        const std::string id = zsession::new_uuid4();
        CHECK(std::regex_match(id, form));
        seen.insert(id);
    }
    CHECK(seen.size() == 1000);
}

TEST_CASE("utc_now_iso8601 has Jupyter's form with microseconds") {
    const std::regex form(
        "20[0-9]{2}-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9]\\.[0-9]{6}Z");
    CHECK(std::regex_match(zsession::utc_now_iso8601(), form));
}

TEST_CASE("a forked child draws other msg_ids than its parent (the generator reseeds)") {
    (void)zsession::new_uuid4();  // this thread's generator is seeded before the fork
    int fds[2];
    REQUIRE(pipe(fds) == 0);
    const pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        const std::string id = zsession::new_uuid4();
        const ssize_t n = write(fds[1], id.data(), id.size());
        _exit(n == static_cast<ssize_t>(id.size()) ? 0 : 1);
    }
    close(fds[1]);
    const std::string mine = zsession::new_uuid4();
    char buf[64] = {};
    const ssize_t n = read(fds[0], buf, sizeof buf);
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    REQUIRE(n == 36);
    CHECK(WIFEXITED(status));
    CHECK(std::string(buf, 36) != mine);
}
