// The handler registry: registration rules, lookups, and a user-defined type end to end.
#include <doctest/doctest.h>

#include "support.hpp"

using namespace zsession;

namespace {

/// A user type: a label and two coordinate columns, sent as two buffers.
struct particles {
    std::string label;
    std::vector<double> x, y;
};

struct particles_header {
    std::string label;
    std::uint64_t n = 0;
    MSGPACK_DEFINE_MAP(label, n)
};

/// A type that tries to take the built-in "ndarray" name.
struct impostor {};

struct unregistered_alias {};

}  // namespace

template <>
struct zsession::handler<particles> {
    static constexpr std::string_view wire_name = "test.particles";
    using header_type = particles_header;
    static particles_header encode(particles p, std::vector<buffer>& out) {
        if (p.x.size() != p.y.size()) throw usage_error("columns differ");
        const std::uint64_t n = p.x.size();
        out.push_back(buffer::take(std::move(p.x)));
        out.push_back(buffer::take(std::move(p.y)));
        return {std::move(p.label), n};
    }
    static particles decode(const particles_header& h, std::span<const buffer> in) {
        detail::expect_buffers(in, 2, wire_name);
        particles p{h.label, column(in[0], h.n), column(in[1], h.n)};
        return p;
    }
    static std::vector<double> column(const buffer& b, std::uint64_t n) {
        if (b.size() != n * sizeof(double)) throw decode_error("column size");
        std::vector<double> v(n);
        std::memcpy(v.data(), b.data(), b.size());
        return v;
    }
};

template <>
struct zsession::handler<impostor> {
    static constexpr std::string_view wire_name = "ndarray";
    using header_type = empty_header;
    static empty_header encode(impostor, std::vector<buffer>&) { return {}; }
    static impostor decode(const empty_header&, std::span<const buffer>) { return {}; }
};

template <>
struct zsession::handler<unregistered_alias> {
    using wire_type = particles;
    static particles to_wire(unregistered_alias) { return {}; }
    static unregistered_alias from_wire(particles) { return {}; }
};

TEST_CASE("the built-ins are registered by type and by wire name") {
    const registry r = registry::builtins();
    CHECK(r.contains<buffer>());
    CHECK(r.contains<std::string>());
    CHECK(r.contains<ndarray_view>());
    CHECK(r.contains<ndarray>());
    CHECK(r.contains<std::vector<double>>());
    CHECK(r.contains<std::vector<std::uint8_t>>());
    CHECK(r.contains<std::vector<bool>>());
    CHECK_FALSE(r.contains<std::vector<std::string>>());
    for (const char* name : {"bytes", "str", "ndarray"}) CHECK(r.contains(name));
    CHECK(r.find(typeid(std::vector<float>)).wire_name == "ndarray");
    CHECK(r.find(typeid(ndarray)).wire_type == typeid(ndarray_view));
    CHECK(r.find("str").type == typeid(std::string));
}

TEST_CASE("registration fails at once on a duplicate type or wire name") {
    registry r = registry::builtins();
    CHECK_THROWS_AS(r.add<std::string>(), registry_error);
    CHECK_THROWS_AS(r.add<impostor>(), registry_error);
    CHECK_FALSE(r.contains<impostor>());  // a failed registration leaves nothing behind
    r.add<particles>();
    CHECK_THROWS_AS(r.add<particles>(), registry_error);
}

TEST_CASE("an alias needs its wire type registered first") {
    registry r;
    CHECK_THROWS_AS(r.add<ndarray>(), registry_error);
    CHECK_THROWS_AS(r.add<unregistered_alias>(), registry_error);
    r.add<particles>().add<unregistered_alias>();
    CHECK(r.find(typeid(unregistered_alias)).wire_name == "test.particles");
}

TEST_CASE("lookups: unknown wire name is unknown_handler_error, unknown type usage_error") {
    const registry r = registry::builtins();
    CHECK_THROWS_AS(r.find("no.such.handler"), unknown_handler_error);
    CHECK_THROWS_AS(r.find(typeid(particles)), usage_error);
    msgpack::zone z;
    CHECK_THROWS_AS(r.decode_any("no.such.handler", msgpack::object(empty_header{}, z), {}),
                    unknown_handler_error);
}

TEST_CASE("registries are independent objects") {
    registry a = registry::builtins();
    const registry b = registry::builtins();
    a.add<particles>();
    CHECK(a.contains("test.particles"));
    CHECK_FALSE(b.contains("test.particles"));
}

TEST_CASE("a user-defined type round-trips over a real socket") {
    auto reg = std::make_shared<registry>(registry::builtins());
    reg->add<particles>();
    session_options o{.key = "k"};
    o.handlers = reg;
    session s(o);
    zmq::context_t ctx;
    test::socket_pair p(ctx, "tcp");

    message m = s.make_message("particles");
    const particles sent{"cloud", {1, 2, 3}, {4, 5, 6}};
    m.set_content(std::map<std::string, placeholder>{{"cloud", offload(s, m, sent)}});
    CHECK(m.buffers.size() == 2);
    s.send(p.a, m);
    auto r = s.recv(p.b);
    REQUIRE(r);
    resolver res(s, *r);
    const particles got = res.resolve<particles>(*find_key(r->content(), "cloud"));
    CHECK(got.label == "cloud");
    CHECK(got.x == sent.x);
    CHECK(got.y == sent.y);
    CHECK(res.claimed() == 2);
}

TEST_CASE("untyped decode dispatches on the wire name") {
    session s(session_options{});
    message m = s.make_message("t");
    const placeholder ph = offload(s, m, std::string("hello"));
    message r = s.decode(s.encode(m));
    resolver res(s, r);
    std::any v = res.resolve_any(ph);
    REQUIRE(std::any_cast<std::string>(&v));
    CHECK(std::any_cast<std::string>(v) == "hello");
}
