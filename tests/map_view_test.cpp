// message's accessors and setters, the dynamic map view, and the codec on its own (no
// socket, no session).
#include "zsession/map_view.hpp"

#include <doctest/doctest.h>

#include <map>
#include <string>

#include "zsession/codec.hpp"
#include "zsession/message.hpp"

using namespace zsession;

namespace {

struct request {
    std::string code;
    bool silent = false;
    int count = 0;
    std::map<std::string, int> nested;
    MSGPACK_DEFINE_MAP(code, silent, count, nested)
};

message with_request() {
    message m;
    m.set_content(request{"1+1", true, 3, {{"a", 1}}});
    m.set_metadata(std::map<std::string, std::string>{{"origin", "test"}});
    return m;
}

}  // namespace

TEST_CASE("map_view: typed get, contains, find, nested maps and iteration in wire order") {
    const message m = with_request();
    const map_view c = m.content_map();
    CHECK(c.size() == 4);
    CHECK(c.get<std::string>("code") == "1+1");
    CHECK(c.get<bool>("silent"));
    CHECK(c.get<int>("count") == 3);
    CHECK(c.contains("nested"));
    CHECK_FALSE(c.contains("missing"));
    CHECK(c.find("missing") == nullptr);
    REQUIRE(c.find("count") != nullptr);
    CHECK(c.find("count")->as<int>() == 3);
    CHECK(c.map("nested").get<int>("a") == 1);
    CHECK(c.get_or<int>("missing", 7) == 7);
    std::string keys;
    for (const auto& kv : c) keys += kv.key.as<std::string>() + ",";
    CHECK(keys == "code,silent,count,nested,");
    CHECK(m.metadata_map().get<std::string>("origin") == "test");
}

TEST_CASE("map_view: errors name the map, the key and the expected type") {
    const message m = with_request();
    const map_view c = m.content_map();
    try {
        (void)c.get<int>("code");
        FAIL("no error");
    } catch (const decode_error& e) {
        CHECK(std::string(e.what()) == "content['code'] is not a integer");
    }
    try {
        (void)c.get<std::string>("nope");
        FAIL("no error");
    } catch (const decode_error& e) {
        CHECK(std::string(e.what()) == "content has no key 'nope'");
    }
    CHECK_THROWS_AS((void)c.map("code"), decode_error);
    CHECK_THROWS_AS((void)c.get_or<int>("code", 1), decode_error);
    msgpack::zone z;
    CHECK_THROWS_AS(map_view(msgpack::object(3, z)), decode_error);
}

TEST_CASE("map_view: a nil map (an empty message's content) views as empty") {
    const message m;
    CHECK(m.content().type == msgpack::type::NIL);
    CHECK(m.content_map().empty());
    CHECK_FALSE(m.content_map().contains("x"));
}

TEST_CASE("set_content(value, owner) shares storage without copying and keeps the owner alive") {
    auto zone = std::make_shared<msgpack::zone>();
    const msgpack::object shared(request{"x", false, 1, {}}, *zone);
    std::weak_ptr<msgpack::zone> weak = zone;
    message m;
    m.set_content(shared, std::move(zone));
    CHECK(m.content().via.map.ptr == shared.via.map.ptr);  // no copy
    message moved = std::move(m);
    CHECK_FALSE(weak.expired());
    CHECK(moved.content_as<request>().code == "x");
    moved.set_content(request{"y", false, 2, {}});  // a copying setter drops the owner
    CHECK(weak.expired());
    CHECK(moved.content_as<request>().code == "y");
}

TEST_CASE("set_content(value) deep-copies: the copy outlives the source's storage") {
    message m;
    {
        msgpack::zone z;
        m.set_content(msgpack::object(request{"deep", false, 0, {}}, z));
    }
    CHECK(m.content_map().get<std::string>("code") == "deep");
}

TEST_CASE("codec alone: encode then decode round-trips, verifying before parsing") {
    session_options o;
    o.key = "k";
    const codec c(o);
    message m = with_request();
    m.header.msg_id = "id";
    m.header.msg_type = "t";
    m.header.username = "u";
    m.header.session = "s";
    m.header.date = "2026-01-01T00:00:00.000000Z";
    m.header.version = "5.3";
    frames f = c.encode(m);
    CHECK(f.size() == 1 + signed_frame_count);
    frames tampered;
    for (const auto& x : f) tampered.emplace_back(x.data(), x.size());
    const message back = c.decode(std::move(f));
    CHECK(back.header == m.header);
    CHECK(back.content_as<request>().code == "1+1");
    CHECK_THROWS_AS((void)c.decode(std::move(tampered)), replay_error);
}
