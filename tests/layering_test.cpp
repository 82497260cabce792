// The value layer compiles without ZeroMQ: placeholder.hpp, registry.hpp and ndarray.hpp
// (and everything they include) must not pull in <zmq.h> or <zmq.hpp>. The check is at
// compile time: this file fails to build when one of them does.
#include "zsession/ndarray.hpp"
#include "zsession/placeholder.hpp"
#include "zsession/registry.hpp"

#if defined(ZMQ_VERSION) || defined(CPPZMQ_VERSION)
#error "a value-layer header includes ZeroMQ"
#endif

#include <doctest/doctest.h>

using namespace zsession;

TEST_CASE("the value layer works with no socket header: offload and resolve through options") {
    session_options o;
    o.handlers = std::make_shared<const registry>(registry::builtins());
    message m;
    const placeholder p = offload(o, m, std::string("hello"));
    CHECK(m.buffers.size() == 1);
    resolver r(o, m);
    CHECK(r.resolve<std::string>(p) == "hello");
}

TEST_CASE("the session_options overloads reject options without a registry") {
    session_options o;  // handlers left null
    message m;
    CHECK_THROWS_AS((void)offload(o, m, std::string("x")), usage_error);
    CHECK_THROWS_AS(resolver(o, m), usage_error);
}
