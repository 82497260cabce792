// Golden vectors: fixed messages encode to exactly the frames checked into tests/vectors/,
// and those files decode back to the same values.
#include <doctest/doctest.h>

#include <cstring>
#include <fstream>
#include <sstream>

#include "support.hpp"
#include "vectors/golden.hpp"

using namespace zsession;

namespace {

std::string read_vector(const std::string& name) {
    std::ifstream in(golden::path(ZSESSION_SOURCE_DIR "/tests/vectors", name), std::ios::binary);
    REQUIRE(in);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

}  // namespace

TEST_CASE("encoding the fixed messages reproduces the checked-in frames byte for byte") {
    for (const auto& v : golden::all()) {
        CAPTURE(v.name);
        const std::string expected = read_vector(v.name);
        const std::string actual =
            golden::serialize(golden::make_session(v.signed_).encode(v.make()));
        CHECK(actual.size() == expected.size());
        CHECK(actual == expected);
    }
}

TEST_CASE("the arrays vector decodes back to its values") {
    const session s = golden::make_session();
    message m = s.decode(golden::deserialize(read_vector("arrays")));
    CHECK(m.header == golden::fixed_header("golden_arrays", 1));
    CHECK(m.parent_header.empty());
    CHECK(m.metadata_as<std::map<std::string, int>>().at("vector") == 1);
    REQUIRE(m.buffers.size() == 6);
    const auto c = m.content_as<golden::arrays_content>();
    resolver r(s, m);
    const ndarray matrix = r.resolve<ndarray>(c.matrix);
    CHECK(matrix.shape() == std::vector<std::size_t>{2, 3});
    const auto mv = matrix.values<double>();
    CHECK(std::vector<double>(mv.begin(), mv.end()) == golden::matrix_values());
    const ndarray fortran = r.resolve<ndarray>(c.fortran);
    CHECK(fortran.order() == array_order::fortran);
    CHECK(fortran.values<std::int32_t>()[3] == 4);
    CHECK(r.resolve<std::string>(c.text) == "zsession \xe2\x9c\x93");
    CHECK(r.resolve<buffer>(c.raw).as_string_view() == std::string_view("\x00\x01\x02\xff", 4));
    CHECK(r.resolve<std::vector<bool>>(c.flags) == std::vector<bool>{true, false, true});
    CHECK(c.packed.compression == std::vector<compression>{compression::lz4});
    CHECK(m.buffers[5].size() < 100);
    CHECK(r.resolve<buffer>(c.packed).as_string_view() == std::string(1000, 'z'));
    CHECK(c.small.is_inline());
    CHECK(r.get(c.small) == std::vector<std::int32_t>{1, 2, 3});
    CHECK(r.claimed() == 6);
}

TEST_CASE("the routed and unsigned vectors decode back") {
    const message routed =
        golden::make_session().decode(golden::deserialize(read_vector("routed")));
    REQUIRE(routed.identities.size() == 1);
    CHECK(routed.identities[0].as_string_view() == "router-id-1");
    CHECK(routed.parent_header == golden::fixed_header("kernel_info_request", 3));
    CHECK(routed.content_as<std::map<std::string, std::string>>().at("status") == "ok");
    const frames f = golden::deserialize(read_vector("unsigned"));
    REQUIRE(f.size() == 6);
    CHECK(f[1].size() == 0);  // empty signature
    const message u = golden::make_session(false).decode(test::clone(f));
    CHECK(u.header.msg_type == "status");
}

TEST_CASE("a tampered vector is rejected") {
    frames f = golden::deserialize(read_vector("arrays"));
    static_cast<char*>(f[5].data())[3] ^= 1;  // a byte of the content map
    CHECK_THROWS_AS(golden::make_session().decode(std::move(f)), signature_error);
}

TEST_CASE("the tables vector decodes back to its table and tensor") {
    const session s = golden::make_session();
    message m = s.decode(golden::deserialize(read_vector("tables")));
    CHECK(m.header == golden::fixed_header("golden_tables", 5));
    const auto c = m.content_as<golden::tables_content>();
    resolver r(s, m);
    const table t = r.resolve<table>(c.table);
    REQUIRE(t.rows() == 3);
    REQUIRE(t.columns().size() == 5);
    CHECK(t.column("when").type.str() == "<M8[ns]");
    CHECK_FALSE(t.column("qty").is_valid(1));
    CHECK(t.column("name").string_at(2) == "\xc3\xbc");
    const dlpack_tensor tensor = r.resolve<dlpack_tensor>(c.tensor);
    std::int32_t last = 0;
    std::memcpy(&last, tensor.view().data() + 12, 4);
    CHECK(last == 4);
    CHECK(r.claimed() == m.buffers.size());
}
