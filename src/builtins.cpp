// The built-in handlers' registration: the registry itself (registry.cpp) knows no value
// type; this file is where a new built-in type is added.
#include "zsession/registry.hpp"

#include "zsession/dlpack.hpp"
#include "zsession/ndarray.hpp"
#include "zsession/table.hpp"

namespace zsession {

namespace {

// Registers handler<std::vector<T>> for each T of the pack.
template <class... T>
void add_vectors(registry& r) {
    (r.add<std::vector<T>>(), ...);
}

}  // namespace

registry registry::builtins() {
    registry r;
    r.add<buffer>().add<std::string>().add<ndarray_view>().add<ndarray>();
    add_vectors<bool, char, signed char, unsigned char, short, unsigned short, int, unsigned, long,
                unsigned long, long long, unsigned long long, float, double>(r);
    if constexpr (sizeof(long double) == 16) add_vectors<long double>(r);
    register_table_handlers(r);
    register_dlpack_handlers(r);
    return r;
}

}  // namespace zsession
