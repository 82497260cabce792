// src/ipp_client/array_wire.hpp - the array request/reply maps shared by the comm path and the
// direct path (internal; the contract is in include/zsession/ipp/client_arrays.hpp).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "zsession/ipp/client_arrays.hpp"

namespace zsession::ipp::detail {

/// The request map. Keys that do not apply to an op are sent empty and ignored.
struct wire_request {
    std::string op{}, name{}, expr{}, dtype{};
    std::vector<std::uint64_t> shape{};
    std::string order = "C";
    MSGPACK_DEFINE_MAP(op, name, expr, dtype, shape, order)
};

/// The reply map. A missing key keeps its default; extra keys are ignored.
struct wire_reply {
    std::string status{}, op{}, request{}, ename{}, evalue{}, dtype{}, order = "C", direct{};
    std::vector<std::uint64_t> shape{};
    std::uint64_t nbytes = 0;
    std::string curve_serverkey{};  // info: the direct endpoint's CurveZMQ key
    MSGPACK_DEFINE_MAP(status, op, request, ename, evalue, dtype, order, direct, shape, nbytes,
                       curve_serverkey)
};

/// The map and the buffers (0 or 1) for `req`.
wire_request to_wire(const array_request& req, std::vector<buffer>& buffers);
/// The request `w` describes, its array (if any) a view of buffers[0].
/// Throws decode_error / usage_error for a bad dtype, order or size.
array_request from_wire(const wire_request& w, const std::vector<buffer>& buffers);
/// The reply map and buffers for `r`.
wire_reply to_wire(const array_reply& r, std::vector<buffer>& buffers);
/// An array_reply from its map and buffers; a malformed array makes it an error reply.
array_reply from_wire(const wire_reply& w, const std::vector<buffer>& buffers);

}  // namespace zsession::ipp::detail
