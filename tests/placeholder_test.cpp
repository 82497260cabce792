// Placeholders: in place at any depth in typed and dynamic content, strict validation of
// every malformed form, and containers that stay in one msgpack pass.
#include <doctest/doctest.h>

#include <numeric>

#include "list_structs.hpp"
#include "support.hpp"

using namespace zsession;

namespace {

struct run_result {
    std::string name;
    inline_or_offloaded<std::vector<double>> samples;
    std::vector<placeholder> images;
    MSGPACK_DEFINE_MAP(name, samples, images)
};

struct task_reply {
    std::string status;
    std::vector<run_result> runs;
    placeholder log;
    MSGPACK_DEFINE_MAP(status, runs, log)
};

/// A copy of placeholder map `ph` with `key` set to `value` (added when absent).
msgpack::object with_key(const msgpack::object& ph, std::string_view key, msgpack::object value,
                         msgpack::zone& z) {
    std::map<std::string, msgpack::object> m;
    for (const auto& kv : std::span(ph.via.map.ptr, ph.via.map.size)) {
        m[kv.key.as<std::string>()] = kv.val;
    }
    m[std::string(key)] = value;
    return msgpack::object(m, z);
}

msgpack::object without_key(const msgpack::object& ph, std::string_view key, msgpack::zone& z) {
    std::map<std::string, msgpack::object> m;
    for (const auto& kv : std::span(ph.via.map.ptr, ph.via.map.size)) {
        if (kv.key.as<std::string>() != key) m[kv.key.as<std::string>()] = kv.val;
    }
    return msgpack::object(m, z);
}

/// A received message with one offloaded float64 array of 4 elements and 2 raw buffers.
struct fixture {
    session s{session_options{}};
    message received;
    msgpack::zone z;
    msgpack::object ph;  // the valid placeholder map
    fixture() {
        message m = s.make_message("t");
        const placeholder p = offload(s, m, std::vector<double>{1, 2, 3, 4});
        m.buffers.push_back(buffer::take(std::string(32, 'x')));
        m.buffers.push_back(buffer::take(std::string("tiny")));
        received = s.decode(s.encode(m));
        ph = p.to_object(z);
    }
    template <class T = ndarray_view>
    T resolve(const msgpack::object& o) {
        resolver r(s, received);
        return r.resolve<T>(o);
    }
    msgpack::object set(std::string_view key, msgpack::object v) { return with_key(ph, key, v, z); }
    msgpack::object header_with(std::string_view key, msgpack::object v) {
        return set("header", with_key(*find_key(ph, "header"), key, v, z));
    }
    msgpack::object obj(const auto& v) { return msgpack::object(v, z); }
};

/// True when `o` uses only what JSON can carry without loss: maps with string keys,
/// arrays, strings, non-negative integers.
bool json_safe(const msgpack::object& o) {
    switch (o.type) {
        case msgpack::type::STR:
        case msgpack::type::POSITIVE_INTEGER:
            return true;
        case msgpack::type::ARRAY:
            return std::all_of(o.via.array.ptr, o.via.array.ptr + o.via.array.size, json_safe);
        case msgpack::type::MAP:
            for (const auto& kv : std::span(o.via.map.ptr, o.via.map.size)) {
                if (kv.key.type != msgpack::type::STR || !json_safe(kv.val)) return false;
            }
            return true;
        default:
            return false;
    }
}

}  // namespace

TEST_CASE("the placeholder map has the documented keys and only JSON-safe values") {
    fixture f;
    CHECK(json_safe(f.ph));
    CHECK(f.ph.via.map.size == 7);
    CHECK(find_key(f.ph, "__placeholder__")->as<int>() == 1);
    CHECK(find_key(f.ph, "handler")->as<std::string>() == "ndarray");
    CHECK(find_key(f.ph, "first")->as<int>() == 0);
    CHECK(find_key(f.ph, "count")->as<int>() == 1);
    CHECK(find_key(f.ph, "sizes")->as<std::vector<int>>() == std::vector<int>{32});
    CHECK(find_key(f.ph, "compression")->as<std::vector<std::string>>() ==
          std::vector<std::string>{"none"});
    const auto h = find_key(f.ph, "header")->as<ndarray_header>();
    CHECK(h.dtype == "<f8");
    CHECK(h.shape == std::vector<std::uint64_t>{4});
    CHECK(h.order == "C");
    CHECK(f.resolve<std::vector<double>>(f.ph) == std::vector<double>{1, 2, 3, 4});
}

TEST_CASE("index out of range, including overflow of first + count, is a decode_error") {
    fixture f;
    CHECK_THROWS_AS(f.resolve(f.set("first", f.obj(3))), decode_error);
    CHECK_THROWS_AS(f.resolve(f.set("first", f.obj(UINT64_MAX))), decode_error);
    msgpack::object two = f.set("count", f.obj(2));
    two = with_key(two, "sizes", f.obj(std::vector<int>{32, 32}), f.z);
    two = with_key(two, "compression", f.obj(std::vector<std::string>{"none", "none"}), f.z);
    two = with_key(two, "first", f.obj(2), f.z);
    CHECK_THROWS_AS(f.resolve(two), decode_error);
}

TEST_CASE("a buffer claimed by two placeholders is a decode_error") {
    fixture f;
    resolver r(f.s, f.received);
    CHECK_NOTHROW(r.resolve<ndarray_view>(f.ph));
    CHECK_THROWS_WITH_AS(r.resolve<ndarray_view>(f.ph), "buffer 0 claimed twice", decode_error);
    // Overlapping ranges: [1, 3) then [2, 3).
    resolver r2(f.s, f.received);
    msgpack::object bytes_ph = f.set("handler", f.obj("bytes"));
    bytes_ph = with_key(bytes_ph, "header", msgpack::object(empty_header{}, f.z), f.z);
    msgpack::object pair = with_key(bytes_ph, "first", f.obj(1), f.z);
    pair = with_key(pair, "count", f.obj(2), f.z);
    pair = with_key(pair, "sizes", f.obj(std::vector<int>{32, 4}), f.z);
    pair = with_key(pair, "compression", f.obj(std::vector<std::string>{"none", "none"}), f.z);
    CHECK_THROWS_AS(r2.resolve<buffer>(pair), decode_error);  // bytes wants exactly 1 buffer
    CHECK(r2.claimed() == 2);  // the range was claimed before the handler refused it
    msgpack::object last = with_key(bytes_ph, "first", f.obj(2), f.z);
    last = with_key(last, "sizes", f.obj(std::vector<int>{4}), f.z);
    CHECK_THROWS_AS(r2.resolve<buffer>(last), decode_error);
    CHECK(resolver(f.s, f.received).resolve<buffer>(last).as_string_view() == "tiny");
}

TEST_CASE("sizes inconsistent with the frame or with the header are decode errors") {
    fixture f;
    CHECK_THROWS_AS(f.resolve(f.set("sizes", f.obj(std::vector<int>{31}))), decode_error);
    CHECK_THROWS_AS(f.resolve(f.set("sizes", f.obj(std::vector<int>{32, 32}))), decode_error);
    CHECK_THROWS_AS(f.resolve(f.header_with("shape", f.obj(std::vector<int>{5}))), decode_error);
    CHECK_THROWS_AS(f.resolve(f.header_with("dtype", f.obj("<f4"))), decode_error);
    CHECK_NOTHROW(f.resolve(f.header_with("dtype", f.obj("<i8"))));  // same size: fine
    CHECK_THROWS_AS(f.resolve(f.header_with(
                        "shape", f.obj(std::vector<std::uint64_t>{1ull << 62, 1ull << 62}))),
                    decode_error);
}

TEST_CASE("an unknown handler is an unknown_handler_error") {
    fixture f;
    CHECK_THROWS_AS(f.resolve(f.set("handler", f.obj("pandas.DataFrame"))), unknown_handler_error);
    resolver r(f.s, f.received);
    CHECK_THROWS_AS(r.resolve_any(placeholder::from_object(f.set("handler", f.obj("x")))),
                    unknown_handler_error);
}

TEST_CASE("wrong types in the placeholder or in the handler's header are decode errors") {
    fixture f;
    CHECK_THROWS_AS(f.resolve(f.header_with("dtype", f.obj(8))), decode_error);
    CHECK_THROWS_AS(f.resolve(f.header_with("shape", f.obj("4"))), decode_error);
    CHECK_THROWS_AS(f.resolve(f.header_with("shape", f.obj(std::vector<int>{-4}))), decode_error);
    CHECK_THROWS_AS(f.resolve(f.header_with("order", f.obj("K"))), decode_error);
    CHECK_THROWS_AS(f.resolve(f.header_with("dtype", f.obj("<U8"))), decode_error);
    CHECK_THROWS_AS(f.resolve(f.set("header", f.obj(std::vector<int>{}))), decode_error);
    CHECK_THROWS_AS(f.resolve(f.set("first", f.obj(-1))), decode_error);
    CHECK_THROWS_AS(f.resolve(f.set("first", f.obj("0"))), decode_error);
    CHECK_THROWS_AS(f.resolve(f.set("count", f.obj(1.0))), decode_error);
    CHECK_THROWS_AS(f.resolve(f.set("handler", f.obj(1))), decode_error);
    CHECK_THROWS_AS(f.resolve(f.set("sizes", f.obj(std::vector<std::string>{"32"}))), decode_error);
    CHECK_THROWS_AS(f.resolve(f.set("compression", f.obj(std::vector<int>{0}))), decode_error);
    CHECK_THROWS_AS(f.resolve(f.set("compression", f.obj(std::vector<std::string>{"gzip"}))),
                    compression_error);
    CHECK_THROWS_AS(f.resolve(f.set("__placeholder__", f.obj(2))), decode_error);
    for (const char* key :
         {"__placeholder__", "handler", "header", "first", "count", "sizes", "compression"}) {
        CAPTURE(key);
        CHECK_THROWS_AS(f.resolve(without_key(f.ph, key, f.z)), decode_error);
    }
    CHECK_THROWS_AS(f.resolve(f.obj(std::vector<int>{1})), decode_error);
    CHECK_NOTHROW(f.resolve(f.set("future_key", f.obj("ignored"))));
}

TEST_CASE("a placeholder of another handler than the requested type's is a decode_error") {
    fixture f;
    CHECK_THROWS_AS(f.resolve<std::string>(f.ph), decode_error);
    CHECK_THROWS_AS(f.resolve<buffer>(f.ph), decode_error);
}

TEST_CASE("a lying compressed placeholder is a compression_error") {
    fixture f;
    msgpack::object lz = f.set("compression", f.obj(std::vector<std::string>{"lz4"}));
    CHECK_THROWS_AS(f.resolve(lz), compression_error);  // the frame is not an lz4 block
}

TEST_CASE("typed content: placeholders in place at several depths, resolved after receive") {
    // Both packers: the placeholder map uses only JSON-safe types, so it survives JSON too.
    for (const packer_kind packer : {packer_kind::msgpack, packer_kind::json}) {
        CAPTURE(static_cast<int>(packer));
        zmq::context_t ctx;
        test::socket_pair sp(ctx, "tcp");
        session_options o;
        o.key = "k";
        o.packer = packer;
        session s(o);
        message m = s.make_message("task_reply");
        task_reply sent{"ok", {}, offload(s, m, std::string("log line\n"))};
        for (int i = 0; i < 3; ++i) {
            run_result run{"run" + std::to_string(i), {}, {}};
            std::vector<double> samples(i == 1 ? 10'000 : 4, i);  // only run1's samples are big
            run.samples = inline_or_offloaded<std::vector<double>>::make(s, m, samples);
            for (int k = 0; k < i; ++k) {
                run.images.push_back(offload(
                    s, m, ndarray::from<std::uint8_t>(std::vector<std::uint8_t>(64, k), {8, 8})));
            }
            sent.runs.push_back(std::move(run));
        }
        m.set_content(sent);
        CHECK(m.buffers.size() == 1 + 1 + 0 + 1 + 2);
        s.send(sp.a, m);
        auto r = s.recv(sp.b);
        REQUIRE(r);
        const auto got = r->content_as<task_reply>();
        resolver res(s, *r);
        CHECK(got.status == "ok");
        CHECK(res.resolve<std::string>(got.log) == "log line\n");
        REQUIRE(got.runs.size() == 3);
        CHECK(got.runs[0].samples.is_inline());
        CHECK_FALSE(got.runs[1].samples.is_inline());
        CHECK(res.get(got.runs[0].samples) == std::vector<double>(4, 0));
        CHECK(res.get(got.runs[1].samples) == std::vector<double>(10'000, 1));
        CHECK(res.get(got.runs[2].samples) == std::vector<double>(4, 2));
        const auto image = res.resolve<ndarray_view>(got.runs[2].images[1]);
        CHECK(image.shape() == std::vector<std::size_t>{8, 8});
        CHECK(image.values<std::uint8_t>()[63] == 1);
        CHECK(res.claimed() == 3);  // 5 buffers; runs[1..2].images[0] are still unclaimed
    }
}

TEST_CASE("dynamic content: find the placeholders in a msgpack::object and resolve them") {
    session s(session_options{});
    message m = s.make_message("t");
    std::map<std::string, std::vector<msgpack::object>> content;
    content["items"].push_back(msgpack::object(offload(s, m, std::string("a")), m.zone()));
    content["items"].push_back(msgpack::object(42));
    content["items"].push_back(msgpack::object(offload(s, m, std::vector<int>{1, 2}), m.zone()));
    m.set_content(content);
    message r = s.decode(s.encode(m));
    const auto found = find_placeholders(r.content());
    REQUIRE(found.size() == 2);
    resolver res(s, r);
    CHECK(std::any_cast<std::string>(res.resolve_any(placeholder::from_object(*found[0]))) == "a");
    const std::any arr = res.resolve_any(placeholder::from_object(*found[1]));
    CHECK(std::any_cast<ndarray_view>(arr).type().str() == "<i4");
}

TEST_CASE("offloading an unregistered type is a usage_error") {
    session_options o;
    o.handlers = std::make_shared<registry>();  // empty
    session s(o);
    message m = s.make_message("t");
    CHECK_THROWS_AS(offload(s, m, std::string("x")), usage_error);
    CHECK(m.buffers.empty());
}

namespace {

using test::int_list;
using test::string_list;
using test::wrapped_list;

std::size_t content_bytes(const session& s, const message& m) {
    return s.encode(m)[5].size();
}

}  // namespace

TEST_CASE("a list of 1000 integers costs what plain msgpack costs (IPython's 34,086 bytes case)") {
    session s(session_options{});
    std::vector<std::int64_t> ints(1000);
    std::iota(ints.begin(), ints.end(), 0);
    message plain = s.make_message("t");
    plain.set_content(int_list{ints});
    message typed = s.make_message("t");
    typed.set_content(wrapped_list{inline_or_offload_each(typed, ints, *s.options().handlers)});
    CHECK(typed.buffers.empty());
    msgpack::sbuffer bare;
    msgpack::pack(bare, ints);
    MESSAGE("plain msgpack list: " << bare.size() << " bytes; content frame: "
                                   << content_bytes(s, typed) << " bytes");
    CHECK(content_bytes(s, typed) == content_bytes(s, plain));
    CHECK(content_bytes(s, typed) <= bare.size() + 7);  // {"items": ...}: 1 + 6 bytes
    // 0..127 fixint (1 byte), 128..255 uint8 (2), 256..999 uint16 (3), array16 header (3):
    // 128 + 256 + 2232 + 3 = 2619 bytes (plain pickle took 2752 in the IPython audit).
    CHECK(bare.size() == 2'619);
    message r = s.decode(s.encode(typed));
    resolver res(s, r);
    const auto back = r.content_as<wrapped_list>();
    CHECK(res.get(back.items[999]) == 999);
}

TEST_CASE("a container offloads only the items above the inline threshold") {
    session s(session_options{});
    message m = s.make_message("t");
    std::vector<std::string> items(100, "small");
    items[42] = std::string(5000, 'L');
    m.set_content(string_list{inline_or_offload_each(m, items, *s.options().handlers)});
    REQUIRE(m.buffers.size() == 1);
    CHECK(m.buffers[0].size() == 5000);
    message r = s.decode(s.encode(m));
    const auto got = r.content_as<string_list>();
    resolver res(s, r);
    for (std::size_t i = 0; i < items.size(); ++i) CHECK(res.get(got.items[i]) == items[i]);
    CHECK_FALSE(got.items[42].is_inline());
}

namespace {
struct with_one {
    std::string name;
    placeholder data;
    MSGPACK_DEFINE_MAP(name, data)
};
struct name_only {
    std::string name;
    MSGPACK_DEFINE_MAP(name)
};
}  // namespace

TEST_CASE("a default-constructed placeholder is refused at the sender") {
    session s(session_options{});
    message m = s.make_message("t");
    try {
        m.set_content(with_one{"x", placeholder{}});
        FAIL("set_content accepted an empty placeholder");
    } catch (const usage_error& e) {
        CHECK(std::string(e.what()).find("default-constructed placeholder") != std::string::npos);
    }
    msgpack::sbuffer out;  // packing it directly is refused the same way
    CHECK_THROWS_AS(msgpack::pack(out, with_one{"x", placeholder{}}), usage_error);
    with_one ok{"x", offload(s, m, std::string("payload"))};
    CHECK_NOTHROW(m.set_content(ok));
}

TEST_CASE("a missing placeholder field is a decode_error that says so, not an unknown handler") {
    session s(session_options{});
    message m = s.make_message("t");
    m.set_content(name_only{"x"});
    message r = s.decode(s.encode(m));
    const with_one got = r.content_as<with_one>();  // the field is absent: default placeholder
    resolver res(s, r);
    try {
        (void)res.resolve<std::string>(got.data);
        FAIL("resolved an absent placeholder");
    } catch (const unknown_handler_error&) {
        FAIL("reported as an unknown handler");
    } catch (const decode_error& e) {
        CHECK(std::string(e.what()).find("lacks this placeholder field") != std::string::npos);
    }
    CHECK_THROWS_AS(res.resolve_any(got.data), decode_error);
}
