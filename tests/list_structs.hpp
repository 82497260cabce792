// tests/list_structs.hpp - content structs holding lists, shared by the placeholder tests
// and bench/array_bench.cpp's container cost: a plain list, and lists whose items are each
// inline or offloaded.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "zsession/placeholder.hpp"

namespace test {

struct int_list {
    std::vector<std::int64_t> items;
    MSGPACK_DEFINE_MAP(items)
};
struct wrapped_list {
    std::vector<zsession::inline_or_offloaded<std::int64_t>> items;
    MSGPACK_DEFINE_MAP(items)
};
struct string_list {
    std::vector<zsession::inline_or_offloaded<std::string>> items;
    MSGPACK_DEFINE_MAP(items)
};

}  // namespace test
