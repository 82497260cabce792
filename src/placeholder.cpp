#include "zsession/placeholder.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <functional>

#include "text_util.hpp"
#include "unique_keys.hpp"

namespace zsession {

namespace {

using object_type = msgpack::type::object_type;

const msgpack::object& require(const msgpack::object& map, std::string_view key, object_type type) {
    const msgpack::object* v = find_key(map, key);
    if (!v) throw decode_error("placeholder lacks '" + std::string(key) + "'");
    if (v->type != type) {
        throw decode_error("placeholder '" + std::string(key) + "' has the wrong type");
    }
    return *v;
}

std::span<const msgpack::object> array_of(const msgpack::object& a) noexcept {
    return {a.via.array.ptr, a.via.array.size};
}

std::vector<std::uint64_t> read_sizes(const msgpack::object& map, std::uint64_t count) {
    const auto& a = require(map, "sizes", msgpack::type::ARRAY);
    if (a.via.array.size != count) throw decode_error("placeholder 'sizes' length is not count");
    std::vector<std::uint64_t> out;
    for (const auto& v : array_of(a)) {
        if (v.type != msgpack::type::POSITIVE_INTEGER) {
            throw decode_error("placeholder 'sizes' holds a non-integer");
        }
        out.push_back(v.via.u64);
    }
    return out;
}

std::vector<compression> read_compression(const msgpack::object& map, std::uint64_t count) {
    const auto& a = require(map, "compression", msgpack::type::ARRAY);
    if (a.via.array.size != count) {
        throw decode_error("placeholder 'compression' length is not count");
    }
    std::vector<compression> out;
    for (const auto& v : array_of(a)) {
        if (v.type != msgpack::type::STR) {
            throw decode_error("placeholder 'compression' holds a non-string");
        }
        out.push_back(compression_from_string({v.via.str.ptr, v.via.str.size}));
    }
    return out;
}

// A string object whose bytes are copied into `z` (msgpack's string_view adaptor would
// only reference them).
msgpack::object str_object(std::string_view s, msgpack::zone& z) {
    return detail::zone_string(s, z);
}

}  // namespace

placeholder placeholder::from_object(const msgpack::object& o) {
    if (o.type != msgpack::type::MAP) throw decode_error("placeholder is not a map");
    if (detail::has_duplicate_key(o.via.map)) throw decode_error("placeholder repeats a key");
    const auto& version = require(o, placeholder_marker, msgpack::type::POSITIVE_INTEGER);
    if (version.via.u64 != placeholder_version) {
        throw decode_error("unsupported placeholder version " + std::to_string(version.via.u64));
    }
    placeholder p;
    const auto& name = require(o, "handler", msgpack::type::STR);
    p.handler.assign(name.via.str.ptr, name.via.str.size);
    p.header = msgpack::object(require(o, "header", msgpack::type::MAP), *p.zone);
    p.first = require(o, "first", msgpack::type::POSITIVE_INTEGER).via.u64;
    p.count = require(o, "count", msgpack::type::POSITIVE_INTEGER).via.u64;
    p.sizes = read_sizes(o, p.count);
    p.compression = read_compression(o, p.count);
    return p;
}

msgpack::object placeholder::to_object(msgpack::zone& z) const {
    if (handler.empty()) {
        throw usage_error(
            "a default-constructed placeholder (no handler) cannot be sent: assign it from "
            "offload() before set_content/encode");
    }
    msgpack::object sizes_obj(sizes, z);
    std::vector<std::string> names;
    for (zsession::compression c : compression) names.emplace_back(to_string(c));
    const std::array<std::pair<std::string_view, msgpack::object>, 7> fields{{
        {placeholder_marker, msgpack::object(placeholder_version)},
        {"handler", str_object(handler, z)},
        {"header", msgpack::object(header, z)},
        {"first", msgpack::object(first)},
        {"count", msgpack::object(count)},
        {"sizes", sizes_obj},
        {"compression", msgpack::object(names, z)},
    }};
    msgpack::object out;
    out.type = msgpack::type::MAP;
    out.via.map.size = static_cast<std::uint32_t>(fields.size());
    out.via.map.ptr = static_cast<msgpack::object_kv*>(
        z.allocate_align(sizeof(msgpack::object_kv) * fields.size(), alignof(msgpack::object_kv)));
    for (std::size_t i = 0; i < fields.size(); ++i) {
        out.via.map.ptr[i].key = str_object(fields[i].first, z);
        out.via.map.ptr[i].val = fields[i].second;
    }
    return out;
}

bool is_placeholder(const msgpack::object& o) noexcept {
    return find_key(o, placeholder_marker) != nullptr;
}

std::vector<const msgpack::object*> find_placeholders(const msgpack::object& root) {
    std::vector<const msgpack::object*> out;
    std::function<void(const msgpack::object&)> walk = [&](const msgpack::object& o) {
        if (is_placeholder(o)) {
            out.push_back(&o);
        } else if (o.type == msgpack::type::MAP) {
            for (const auto& kv : std::span(o.via.map.ptr, o.via.map.size)) walk(kv.val);
        } else if (o.type == msgpack::type::ARRAY) {
            for (const auto& v : array_of(o)) walk(v);
        }
    };
    walk(root);
    return out;
}

namespace detail {

placeholder append_buffers(message& m, std::string wire_name, std::vector<buffer> bufs,
                           const compression_options& opts,
                           std::span<const std::size_t> element_sizes) {
    placeholder p;
    p.handler = std::move(wire_name);
    p.first = m.buffers.size();
    p.count = bufs.size();
    for (std::size_t i = 0; i < bufs.size(); ++i) {
        p.sizes.push_back(bufs[i].size());
        const std::size_t es = i < element_sizes.size() ? element_sizes[i] : 1;
        compressed_buffer packed = compress_buffer(std::move(bufs[i]), opts, es);
        p.compression.push_back(packed.codec);
        m.buffers.push_back(std::move(packed.bytes));
    }
    return p;
}

}  // namespace detail

resolver::resolver(const message& m, const registry& reg, const limits& lim)
    : buffers_(m.buffers), reg_(reg), limits_(lim), claimed_(m.buffers.size(), false) {}

namespace {

const registry& handlers_of(const session_options& o) {
    if (!o.handlers) throw usage_error("session_options.handlers is not set");
    return *o.handlers;
}

}  // namespace

resolver::resolver(const session_options& o, const message& m)
    : resolver(m, handlers_of(o), o.limits) {}

std::size_t resolver::claimed() const noexcept {
    return static_cast<std::size_t>(std::count(claimed_.begin(), claimed_.end(), true));
}

namespace {

/// An empty placeholder is what a struct holds when its placeholder field was missing from
/// the received content: say so rather than "no handler named ''".
void require_set(const placeholder& p) {
    if (p.handler.empty()) {
        throw decode_error(
            "placeholder has no handler: the content lacks this placeholder field (a "
            "default-constructed placeholder)");
    }
}

}  // namespace

void resolver::check_handler(const placeholder& p, std::type_index type) const {
    require_set(p);
    const handler_entry& named = reg_.find(std::string_view(p.handler));
    const handler_entry& mine = reg_.find(type);
    if (named.type != mine.wire_type) {
        throw decode_error("placeholder holds '" + p.handler + "', not a '" + mine.wire_name + "'");
    }
}

void resolver::check_decompression(compression codec, std::size_t compressed,
                                   std::uint64_t declared, std::uint64_t index) {
    // Sizes lz4_decompress refuses itself (above max_decompressed_bytes, or more than lz4
    // can expand) keep their documented errors; it checks them before allocating. zstd and
    // blosc can expand far more than lz4, so for them the ratio below always applies.
    const bool impossible =
        codec == compression::lz4 &&
        (compressed > (UINT64_MAX - 16) / 255 ? false : declared > compressed * 255 + 16);
    if (impossible || declared > limits_.max_decompressed_bytes) return;
    constexpr std::size_t slack = std::size_t{1} << 20;
    const std::size_t ratio = limits_.max_decompression_ratio;
    const std::size_t allowed = compressed > (SIZE_MAX - slack) / std::max<std::size_t>(ratio, 1)
                                    ? SIZE_MAX
                                    : compressed * ratio + slack;
    if (declared > allowed) {
        throw limit_error("buffer " + std::to_string(index) + " declares " +
                          std::to_string(declared) + " bytes from " + std::to_string(compressed) +
                          " compressed: more than limits.max_decompression_ratio allows");
    }
    const std::size_t budget = limits_.max_decompressed_per_message;
    if (declared > budget || decompressed_ > budget - declared) {
        throw limit_error(
            "compressed buffers of one message declare more than "
            "limits.max_decompressed_per_message");
    }
    decompressed_ += declared;
}

std::vector<buffer> resolver::claim(const placeholder& p) {
    const std::size_t n = buffers_.size();
    if (p.sizes.size() != p.count || p.compression.size() != p.count) {
        throw decode_error("placeholder lists do not match its count");
    }
    if (p.count > n || p.first > n - p.count) {
        throw decode_error("placeholder buffer range [" + std::to_string(p.first) + ", +" +
                           std::to_string(p.count) + ") outside the message's " +
                           std::to_string(n) + " buffers");
    }
    for (std::uint64_t i = p.first; i < p.first + p.count; ++i) {
        if (claimed_[i]) throw decode_error("buffer " + std::to_string(i) + " claimed twice");
    }
    std::vector<buffer> out;
    out.reserve(p.count);
    for (std::uint64_t k = 0; k < p.count; ++k) {
        const buffer& b = buffers_[p.first + k];
        if (p.compression[k] != compression::none) {
            check_decompression(p.compression[k], b.size(), p.sizes[k], p.first + k);
        } else if (b.size() != p.sizes[k]) {
            throw decode_error("buffer " + std::to_string(p.first + k) + " has " +
                               std::to_string(b.size()) + " bytes, placeholder declares " +
                               std::to_string(p.sizes[k]));
        }
        out.push_back(decompress(p.compression[k], b, p.sizes[k], limits_.max_decompressed_bytes));
    }
    for (std::uint64_t i = p.first; i < p.first + p.count; ++i) claimed_[i] = true;
    return out;
}

std::any resolver::resolve_any(const placeholder& p) {
    require_set(p);
    (void)reg_.find(std::string_view(p.handler));  // unknown_handler_error before claiming
    const std::vector<buffer> in = claim(p);
    return reg_.decode_any(p.handler, p.header, in);
}

}  // namespace zsession
