#include "zsession/header.hpp"

#include <doctest/doctest.h>

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
