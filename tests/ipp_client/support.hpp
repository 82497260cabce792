// What the cluster tests of tests/ipp_client share: the profile cluster.py started, one
// client per test executable, and byte-for-byte array comparison.
#pragma once

#include <doctest/doctest.h>

#include <cstdlib>
#include <memory>
#include <string>

#include "zsession/ipp/client.hpp"
#include "zsession/ndarray.hpp"

namespace ipp_test {

/// The profile directory of the cluster cluster.py started (ZSESSION_IPP_PROFILE).
inline std::string profile() {
    const char* p = std::getenv("ZSESSION_IPP_PROFILE");
    REQUIRE_MESSAGE(p != nullptr, "run through tests/ipp_client/cluster.py");
    return p;
}

/// The connection of that cluster's client (its connection file, waiting up to 10 s for it).
inline zsession::ipp::client_connection_info connection() {
    using namespace std::chrono_literals;
    return zsession::ipp::client_connection_info::from_profile(profile(), "", 10s);
}

/// The executable's one client, created on first use once `engines` engines have registered
/// (the first call's count decides; waits up to 30 s).
inline zsession::ipp::client& shared_client(std::size_t engines) {
    using namespace std::chrono_literals;
    static std::unique_ptr<zsession::ipp::client> c = [engines] {
        auto cl = std::make_unique<zsession::ipp::client>(connection());
        REQUIRE(cl->wait_for_engines(engines, 30s));
        return cl;
    }();
    return *c;
}

/// Same dtype, shape and bytes.
inline bool same_bytes(const zsession::ndarray_view& a, const zsession::ndarray_view& b) {
    return a.type() == b.type() && a.shape() == b.shape() &&
           zsession::bytes_view(a.bytes()) == b.bytes();
}

}  // namespace ipp_test
