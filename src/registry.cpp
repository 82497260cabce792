#include "zsession/registry.hpp"

#include <cstdint>

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

bool registry::contains(std::string_view wire_name) const noexcept {
    return by_name_.find(wire_name) != by_name_.end();
}

const detail::handler_entry& registry::find(std::type_index type) const {
    const auto it = by_type_.find(type);
    if (it == by_type_.end()) {
        throw usage_error(std::string("no handler registered for type ") + type.name());
    }
    return it->second;
}

const detail::handler_entry& registry::find(std::string_view wire_name) const {
    const auto it = by_name_.find(wire_name);
    if (it == by_name_.end()) {
        throw unknown_handler_error("no handler named '" + std::string(wire_name) + "'");
    }
    return by_type_.at(it->second);
}

std::any registry::decode_any(std::string_view wire_name, const msgpack::object& header,
                              std::span<const buffer> in) const {
    return find(wire_name).decode_any(header, in);
}

void registry::insert(detail::handler_entry e) {
    if (by_type_.count(e.type)) {
        throw registry_error(std::string("type already registered: ") + e.type.name());
    }
    const bool alias = e.type != e.wire_type;
    if (alias) {
        const auto target = by_type_.find(e.wire_type);
        if (target == by_type_.end() || target->second.type != target->second.wire_type) {
            throw registry_error(std::string("alias target not registered as a wire handler: ") +
                                 e.wire_type.name());
        }
        e.wire_name = target->second.wire_name;
    } else {
        if (e.wire_name.empty()) throw registry_error("empty wire name");
        if (contains(e.wire_name)) {
            throw registry_error("wire name already registered: '" + e.wire_name + "'");
        }
        by_name_.emplace(e.wire_name, e.type);
    }
    by_type_.emplace(e.type, std::move(e));
}

namespace detail {

void expect_buffers(std::span<const buffer> in, std::size_t expected, std::string_view wire_name) {
    if (in.size() != expected) {
        throw decode_error("handler '" + std::string(wire_name) + "' expects " +
                           std::to_string(expected) + " buffer(s), placeholder has " +
                           std::to_string(in.size()));
    }
}

}  // namespace detail

empty_header handler<buffer>::encode(buffer value, std::vector<buffer>& out) {
    out.push_back(std::move(value));
    return {};
}

buffer handler<buffer>::decode(const empty_header&, std::span<const buffer> in) {
    detail::expect_buffers(in, 1, wire_name);
    return in[0];
}

empty_header handler<std::string>::encode(std::string value, std::vector<buffer>& out) {
    out.push_back(buffer::take(std::move(value)));
    return {};
}

std::string handler<std::string>::decode(const empty_header&, std::span<const buffer> in) {
    detail::expect_buffers(in, 1, wire_name);
    return std::string(in[0].as_string_view());
}

}  // namespace zsession
