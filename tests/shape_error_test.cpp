// Content of the wrong shape names the field (shape_error.hpp): content_as<T>() and
// map_view::get<T>() for MSGPACK_DEFINE_MAP structs, nested structs, and the fallbacks.
#include "zsession/shape_error.hpp"

#include <doctest/doctest.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "zsession/message.hpp"

using namespace zsession;

namespace {

struct inner {
    int count = 0;
    std::string name;
    MSGPACK_DEFINE_MAP(count, name)
};

struct request {
    std::string code;
    bool silent = false;
    double scale = 1;
    std::vector<int> items;
    inner opts;
    std::optional<int> maybe;
    MSGPACK_DEFINE_MAP(code, silent, scale, items, opts, maybe)
};

using any_map = std::map<std::string, msgpack::object>;

/// A message whose content is `fields` (values built in the message's zone).
template <class F>
message with_content(F&& fields) {
    message m;
    m.set_content(fields(m.zone()));
    return m;
}

std::string content_error(const message& m) {
    try {
        (void)m.content_as<request>();
    } catch (const decode_error& e) {
        return e.what();
    }
    return "no error";
}

}  // namespace

TEST_CASE("shape_error: a struct field of the wrong type is named with both kinds") {
    message m = with_content([](msgpack::zone& z) {
        return any_map{{"code", msgpack::object("x", z)}, {"silent", msgpack::object("yes", z)}};
    });
    CHECK(content_error(m) == "content.silent: expected bool, got str");
}

TEST_CASE("shape_error: the first failing field in declaration order; fitting fields pass") {
    // scale accepts an int (msgpack-c reads ints as double), code accepts bin.
    message m = with_content([](msgpack::zone& z) {
        return any_map{{"scale", msgpack::object(3, z)},
                       {"code", msgpack::object(std::vector<char>{'a'}, z)},
                       {"items", msgpack::object(std::map<std::string, int>{{"a", 1}}, z)}};
    });
    CHECK(content_error(m) == "content.items: expected array, got map");
    message ok = with_content([](msgpack::zone& z) {
        return any_map{{"scale", msgpack::object(3, z)}, {"maybe", msgpack::object(2, z)}};
    });
    CHECK(ok.content_as<request>().scale == 3.0);
}

TEST_CASE("shape_error: a nested struct's field is named by its path") {
    message m = with_content([](msgpack::zone& z) {
        return any_map{
            {"opts", msgpack::object(
                         std::map<std::string, std::string>{{"name", "n"}, {"count", "many"}}, z)}};
    });
    CHECK(content_error(m) == "content.opts.count: expected int, got str");
}

TEST_CASE("shape_error: an array element of the wrong type names the array") {
    message m = with_content([](msgpack::zone& z) {
        return any_map{{"items", msgpack::object(std::vector<std::string>{"a"}, z)}};
    });
    CHECK(content_error(m) == "content.items: array of the wrong shape");
}

TEST_CASE("shape_error: content that is not a map, or has a non-string key") {
    message m;
    m.set_content(std::vector<int>{1, 2});
    CHECK(content_error(m) == "content: expected map, got array");
    message k;
    k.set_content(std::map<int, int>{{1, 2}});
    CHECK(content_error(k) == "content: a key is not a string");
}

TEST_CASE("shape_error: a type that is not a struct keeps msgpack-c's text") {
    message m;
    m.set_content(std::map<std::string, std::string>{{"a", "b"}});
    try {
        (void)m.content_as<std::map<std::string, int>>();
        FAIL("no error");
    } catch (const decode_error& e) {
        CHECK(std::string(e.what()) == "content does not have the expected shape: std::bad_cast");
    }
}

TEST_CASE("shape_error: map_view::get<T> of a struct names the key and the field") {
    message m = with_content([](msgpack::zone& z) {
        return any_map{{"req", msgpack::object(any_map{{"silent", msgpack::object(1, z)}}, z)},
                       {"n", msgpack::object("x", z)}};
    });
    const map_view c = m.content_map();
    try {
        (void)c.get<request>("req");
        FAIL("no error");
    } catch (const decode_error& e) {
        CHECK(std::string(e.what()) == "content['req'].silent: expected bool, got int");
    }
    // A plain type keeps map_view's own text.
    CHECK_THROWS_WITH_AS(c.get<int>("n"), "content['n'] is not a integer", decode_error);
}
