// The session forms of offload, inline_or_offloaded::make and inline_or_offload_each apply
// the session's inline threshold and compression (placeholder.hpp); the registry forms use
// the options they are given.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "zsession/ndarray.hpp"
#include "zsession/placeholder.hpp"
#include "zsession/session.hpp"

using namespace zsession;

namespace {

session_options compressing(std::size_t threshold) {
    session_options o;
    o.offload.inline_threshold = threshold;
    o.offload.compression.policy = compression_policy::always;
    o.offload.compression.codec = compression::lz4;
    return o;
}

}  // namespace

TEST_CASE("inline_or_offload_each(session): the session's threshold and compression") {
    session s(compressing(100));
    message m = s.make_message("t");
    std::vector<std::string> items{std::string(99, 'a'), std::string(100, 'b'),
                                   std::string(5000, 'c')};
    const auto out = inline_or_offload_each(s, m, items);
    REQUIRE(out.size() == 3);
    CHECK(out[0].is_inline());        // 99 < 100
    CHECK_FALSE(out[1].is_inline());  // 100 >= 100 (the default threshold 1024 keeps it inline)
    CHECK_FALSE(out[2].is_inline());
    REQUIRE(m.buffers.size() == 2);
    CHECK(out[2].offloaded().compression == std::vector<compression>{compression::lz4});
    CHECK(m.buffers[1].size() < 5000);  // 5000 'c' compressed
    // Through the wire and back.
    message r = s.decode(s.encode(m));
    resolver res(s, r);
    CHECK(res.get(out[2]) == items[2]);

    // The options form is the same; the registry form without options uses the defaults.
    message m2 = s.make_message("t");
    const auto by_opts = inline_or_offload_each(s.options(), m2, items);
    CHECK_FALSE(by_opts[1].is_inline());
    message m3 = s.make_message("t");
    const auto by_reg = inline_or_offload_each(m3, items, *s.options().handlers);
    CHECK(by_reg[1].is_inline());
    CHECK(by_reg[2].offloaded().compression == std::vector<compression>{compression::none});
}

TEST_CASE("offload(session) and make(session) compress by the session's options") {
    session s(compressing(16));
    message m = s.make_message("t");
    const placeholder p = offload(s, m, std::vector<double>(4096, 0.5));
    CHECK(p.compression == std::vector<compression>{compression::lz4});
    CHECK(m.buffers[0].size() < 4096 * sizeof(double));
    const auto v = inline_or_offloaded<std::vector<double>>::make(s, m, std::vector<double>(3));
    CHECK_FALSE(v.is_inline());  // 24 bytes >= 16
    CHECK(v.offloaded().compression == std::vector<compression>{compression::lz4});
    const placeholder q = offload(m, std::vector<double>(4096, 0.5), *s.options().handlers);
    CHECK(q.compression == std::vector<compression>{compression::none});
}
