// zsession/placeholder.hpp - values offloaded into a message's buffers, and the in-place
// placeholders that stand for them in the content.
//
// Send: offload(m, value) runs the value's handler, appends its buffers (lz4-compressed by
// policy) to m.buffers and returns a placeholder. Put it anywhere in the content, at any
// depth, as often as needed (a struct field, a vector element, a msgpack::object map).
// Receive: a resolver over the received message turns each placeholder back into a value or
// a zero-copy view, validating it strictly (docs/PROTOCOL.md, "Placeholders").
#pragma once

#include <any>
#include <array>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>
#include <vector>

#include "zsession/buffer.hpp"
#include "zsession/compression.hpp"
#include "zsession/error.hpp"
#include "zsession/message.hpp"
#include "zsession/options.hpp"
#include "zsession/registry.hpp"

namespace zsession {

/// The key that marks a map as a placeholder; its value is the format version.
inline constexpr std::string_view placeholder_marker = "__placeholder__";
inline constexpr std::uint64_t placeholder_version = 1;

/// One offloaded value: which buffers hold it and how to read them.
///
/// Wire form (a map of string keys, ints, strings, arrays and maps only, so it is valid in
/// msgpack and in JSON): {"__placeholder__": 1, "handler": name, "header": {...},
/// "first": i, "count": n, "sizes": [decoded bytes...], "compression": ["none"|"lz4"...]}.
/// Copyable; copies share the zone that holds `header`.
struct placeholder {
    std::string handler;               ///< the handler's wire name
    msgpack::object header;            ///< the handler's header (a map), in `zone`
    std::uint64_t first = 0;           ///< index of the first buffer in message.buffers
    std::uint64_t count = 0;           ///< number of consecutive buffers
    std::vector<std::uint64_t> sizes;  ///< decoded (decompressed) size of each buffer
    std::vector<zsession::compression> compression;  ///< wire form of each buffer
    std::shared_ptr<msgpack::zone> zone = std::make_shared<msgpack::zone>(256);

    /// Reads a placeholder map, deep-copying its header into this placeholder's zone.
    /// Throws decode_error for a missing key, a key of the wrong type, a version other than
    /// 1, or lists whose length is not count; compression_error for an unknown compression.
    /// Unknown extra keys are ignored.
    static placeholder from_object(const msgpack::object& o);
    /// The wire map, built in `z` (deep copy of the header).
    msgpack::object to_object(msgpack::zone& z) const;
};

/// True when `o` is a map with the placeholder marker key (it may still be malformed).
bool is_placeholder(const msgpack::object& o) noexcept;

/// Every placeholder map in `root`, depth first, in document order. Pointers into root.
std::vector<const msgpack::object*> find_placeholders(const msgpack::object& root);

namespace detail {

/// Appends `bufs` to m.buffers, each compressed where `opts` says (element_sizes[i]: the
/// element size of buffer i, for shuffling codecs; 1 when absent), and returns a placeholder
/// naming them (header not set). Throws std::bad_alloc, or usage_error when
/// a codec itself fails on a buffer the policy compresses.
placeholder append_buffers(message& m, std::string wire_name, std::vector<buffer> bufs,
                           const compression_options& opts,
                           std::span<const std::size_t> element_sizes = {});

/// Element size of each buffer a wire handler wrote: handler<W>::element_sizes(header) when
/// the handler has it (optional; used by the blosc codec's byte shuffle), else empty (1).
template <class W, class H>
std::vector<std::size_t> element_sizes_of(const H& header) {
    if constexpr (requires { handler<W>::element_sizes(header); }) {
        return handler<W>::element_sizes(header);
    } else {
        return {};
    }
}

/// Payload bytes of a value, for the inline threshold: the handler's nbytes when it has
/// one, sizeof for arithmetic types, otherwise "large" (always offload when it can).
template <class T>
std::size_t payload_bytes(const T& v) {
    if constexpr (requires { handler<T>::nbytes(v); }) {
        return handler<T>::nbytes(v);
    } else if constexpr (std::is_arithmetic_v<T>) {
        return sizeof(T);
    } else {
        return std::numeric_limits<std::size_t>::max();
    }
}

/// Whether T is a specialization of a class template over types (std::vector<int>, ...).
template <class T>
struct is_type_template_instance : std::false_type {};
template <template <class...> class C, class... A>
struct is_type_template_instance<C<A...>> : std::true_type {};
template <class T>
struct is_std_array : std::false_type {};
template <class E, std::size_t N>
struct is_std_array<std::array<E, N>> : std::true_type {};

/// False for the mistake inline_or_offloaded<T> can catch at compile time: T a plain
/// aggregate struct (not a template instance, not std::array) with no MSGPACK_DEFINE* member
/// and no msgpack adaptor specialization of its own in MSGPACK_DEFAULT_API_NS (msgpack-c's
/// default primary adaptor, which derives from the v1 primary, would then call the missing
/// T::msgpack_pack deep inside msgpack-c). True for everything else, including types this
/// cannot judge (classes with constructors, enums): those still fail inside msgpack-c.
template <class T>
concept msgpack_adaptor_plausible =
    !std::is_class_v<T> || !std::is_aggregate_v<T> || is_type_template_instance<T>::value ||
    is_std_array<T>::value || requires(const T& v, msgpack::packer<msgpack::sbuffer>& pk) {
    v.msgpack_pack(pk);
}
|| !std::is_base_of_v<msgpack::v1::adaptor::pack<T>, msgpack::adaptor::pack<T>>;

}  // namespace detail

/// Offloads `value` into m's buffers through reg's handler for T (looked up by type) and
/// returns its placeholder. Move a vector/string in to send it without copying it.
/// This registry form compresses by `opts` as given (the defaults when omitted), not by a
/// session's options: offload(s, m, value) below applies the session's.
/// Throws usage_error when T is not registered in `reg`.
template <handled T>
[[nodiscard]] placeholder offload(message& m, T value, const registry& reg,
                                  const offload_options& opts = {}) {
    using W = typename wire_type_of<T>::type;
    const handler_entry& entry = reg.find(typeid(T));
    std::vector<buffer> bufs;
    auto header = [&] {
        if constexpr (alias_handled<T>) {
            return handler<W>::encode(handler<T>::to_wire(std::move(value)), bufs);
        } else {
            return handler<W>::encode(std::move(value), bufs);
        }
    }();
    placeholder p = detail::append_buffers(m, entry.wire_name, std::move(bufs), opts.compression,
                                           opts.compression.policy == compression_policy::off
                                               ? std::vector<std::size_t>{}
                                               : detail::element_sizes_of<W>(header));
    p.header = msgpack::object(header, *p.zone);
    return p;
}

/// Same, with the registry and offload options of `o`. Throws usage_error when o.handlers
/// is null (a session's options() always has it).
template <handled T>
[[nodiscard]] placeholder offload(const session_options& o, message& m, T value) {
    if (!o.handlers) throw usage_error("session_options.handlers is not set");
    return offload(m, std::move(value), *o.handlers, o.offload);
}
/// Same, with a session's (anything with options()) registry and offload options.
template <handled T, has_session_options S>
[[nodiscard]] placeholder offload(const S& s, message& m, T value) {
    return offload(static_cast<const session_options&>(s.options()), m, std::move(value));
}

template <class T>
class inline_or_offloaded;

/// Resolves the placeholders of one received message.
///
/// Validation: indices in range, no buffer claimed by two placeholders (across every
/// resolve call of this resolver), each buffer of its declared size (after bounded lz4
/// decompression), the handler known and its header of the right shape. Decompression is
/// bounded per buffer (limits.max_decompressed_bytes, limits.max_decompression_ratio) and
/// over all placeholders this resolver resolves (limits.max_decompressed_per_message).
/// Lifetime: keeps references to the message's buffers and to the registry, which must
/// outlive the resolver; resolved views pin their frames themselves and may outlive both.
/// Thread safety: none (one resolver per message and thread).
class resolver {
  public:
    resolver(const message& m, const registry& reg, const limits& lim = {});
    /// The registry and limits of `o`. Throws usage_error when o.handlers is null.
    resolver(const session_options& o, const message& m);
    /// The registry and limits of a session (anything with options()).
    template <has_session_options S>
    resolver(const S& s, const message& m)
        : resolver(static_cast<const session_options&>(s.options()), m) {}
    /// A resolver keeps references to the message's buffers and to the registry: one built
    /// over a temporary message, registry, options or session would dangle on first use,
    /// so these do not compile (tests/compile_fail_test.py).
    resolver(const message&&, const registry&, const limits& = {}) = delete;
    resolver(const message&, const registry&&, const limits& = {}) = delete;
    resolver(const message&&, const registry&&, const limits& = {}) = delete;
    resolver(const session_options&, const message&&) = delete;
    resolver(const session_options&&, const message&) = delete;
    template <has_session_options S>
    resolver(const S&, const message&&) = delete;
    template <has_session_options S>
    resolver(const S&&, const message&) = delete;

    /// The value `p` stands for, as T. Throws unknown_handler_error (handler not in the
    /// registry), decode_error (bad indices, buffer claimed twice, size mismatch, header of
    /// the wrong shape, or a handler that is not T's), compression_error, limit_error;
    /// usage_error when T itself is not registered.
    template <handled T>
    T resolve(const placeholder& p) {
        using W = typename wire_type_of<T>::type;
        check_handler(p, typeid(T));
        const std::vector<buffer> in = claim(p);
        W wire = detail::decode_wire<W>(p.header, in);
        if constexpr (alias_handled<T>) {
            return handler<T>::from_wire(std::move(wire));
        } else {
            return wire;
        }
    }
    /// Reads the placeholder map `o` and resolves it.
    template <handled T>
    T resolve(const msgpack::object& o) {
        return resolve<T>(placeholder::from_object(o));
    }
    /// Untyped: a std::any holding the wire handler's type (buffer, std::string,
    /// ndarray_view, ...). Same errors.
    std::any resolve_any(const placeholder& p);

    /// The inline value, or the offloaded one resolved.
    template <class T>
    T get(const inline_or_offloaded<T>& v);

    /// Number of buffers claimed so far.
    std::size_t claimed() const noexcept;

  private:
    /// Throws unknown_handler_error, usage_error (type not registered), or decode_error
    /// when p's handler does not produce `type`.
    void check_handler(const placeholder& p, std::type_index type) const;
    std::vector<buffer> claim(const placeholder& p);
    /// Throws limit_error when a buffer of `compressed` bytes declaring `declared` exceeds
    /// the ratio or the message's budget; otherwise charges `declared` to the budget.
    void check_decompression(compression codec, std::size_t compressed, std::uint64_t declared,
                             std::uint64_t index);

    const std::vector<buffer>& buffers_;
    const registry& reg_;
    limits limits_;
    std::vector<bool> claimed_;
    /// Declared sizes of the lz4 buffers claimed so far (limits.max_decompressed_per_message).
    std::size_t decompressed_ = 0;
};

/// A content field that holds its value inline (as T's own msgpack form) when it is small,
/// or a placeholder when it was offloaded. Packs as exactly one or the other, so a struct
/// of small inline values costs what the plain struct costs.
template <class T>
class inline_or_offloaded {
    static_assert(detail::msgpack_adaptor_plausible<T>,
                  "inline_or_offloaded<T> needs a msgpack adaptor for T (its inline form): add "
                  "MSGPACK_DEFINE_MAP(fields...) to T, or specialize msgpack::adaptor::pack, "
                  "convert and object_with_zone for T");

  public:
    inline_or_offloaded() = default;
    explicit inline_or_offloaded(T value) : v_(std::move(value)) {}
    explicit inline_or_offloaded(placeholder p) : v_(std::move(p)) {}

    /// Inline when detail::payload_bytes(value) < opts.inline_threshold or T has no
    /// handler; otherwise offloaded into m (throws usage_error if T is not in `reg`).
    /// `opts` as given (defaults when omitted); make(s, m, value) applies a session's.
    static inline_or_offloaded make(message& m, T value, const registry& reg,
                                    const offload_options& opts = {}) {
        if constexpr (handled<T>) {
            if (detail::payload_bytes(value) >= opts.inline_threshold) {
                return inline_or_offloaded(offload(m, std::move(value), reg, opts));
            }
        }
        return inline_or_offloaded(std::move(value));
    }
    /// Same, with the registry and offload options of `o` or of a session.
    static inline_or_offloaded make(const session_options& o, message& m, T value) {
        if (!o.handlers) throw usage_error("session_options.handlers is not set");
        return make(m, std::move(value), *o.handlers, o.offload);
    }
    template <has_session_options S>
    static inline_or_offloaded make(const S& s, message& m, T value) {
        return make(static_cast<const session_options&>(s.options()), m, std::move(value));
    }

    bool is_inline() const noexcept { return v_.index() == 0; }
    /// Throws usage_error when offloaded.
    const T& inline_value() const { return checked<T>("offloaded"); }
    /// Throws usage_error when inline.
    const placeholder& offloaded() const { return checked<placeholder>("inline"); }
    const std::variant<T, placeholder>& variant() const noexcept { return v_; }

  private:
    template <class V>
    const V& checked(const char* state) const {
        if (const V* p = std::get_if<V>(&v_)) return *p;
        throw usage_error(std::string("the value is ") + state);
    }

    std::variant<T, placeholder> v_;
};

template <class T>
T resolver::get(const inline_or_offloaded<T>& v) {
    if (v.is_inline()) return v.inline_value();
    if constexpr (handled<T>) {
        return resolve<T>(v.offloaded());
    } else {
        throw decode_error("a placeholder stands where a type without a handler is expected");
    }
}

/// A container in one pass: each item inline or offloaded by opts.inline_threshold and
/// compressed by opts.compression. This registry form uses `opts` as given (the defaults
/// when omitted), not a session's: use the session form below to apply those.
template <class T>
std::vector<inline_or_offloaded<T>> inline_or_offload_each(message& m, std::vector<T> items,
                                                           const registry& reg,
                                                           const offload_options& opts = {}) {
    std::vector<inline_or_offloaded<T>> out;
    out.reserve(items.size());
    for (auto& item : items) {
        out.push_back(inline_or_offloaded<T>::make(m, std::move(item), reg, opts));
    }
    return out;
}
/// Same, with the registry, inline threshold and compression of `o` (o.handlers,
/// o.offload). Throws usage_error when o.handlers is null.
template <class T>
std::vector<inline_or_offloaded<T>> inline_or_offload_each(const session_options& o, message& m,
                                                           std::vector<T> items) {
    if (!o.handlers) throw usage_error("session_options.handlers is not set");
    return inline_or_offload_each(m, std::move(items), *o.handlers, o.offload);
}
/// Same, with a session's (anything with options()) registry, threshold and compression.
template <class T, has_session_options S>
std::vector<inline_or_offloaded<T>> inline_or_offload_each(const S& s, message& m,
                                                           std::vector<T> items) {
    return inline_or_offload_each(static_cast<const session_options&>(s.options()), m,
                                  std::move(items));
}

}  // namespace zsession

namespace msgpack {
MSGPACK_API_VERSION_NAMESPACE(MSGPACK_DEFAULT_API_NS) {
    namespace adaptor {

    namespace detail_zs {
    /// Writes a placeholder map through any packer.
    template <class Stream>
    packer<Stream>& pack_placeholder(packer<Stream>& pk, const zsession::placeholder& p) {
        msgpack::zone z;
        return pk.pack(p.to_object(z));
    }
    }  // namespace detail_zs

    template <>
    struct convert<zsession::placeholder> {
        const msgpack::object& operator()(const msgpack::object& o,
                                          zsession::placeholder& p) const {
            p = zsession::placeholder::from_object(o);
            return o;
        }
    };
    template <>
    struct pack<zsession::placeholder> {
        template <class Stream>
        packer<Stream>& operator()(packer<Stream>& pk, const zsession::placeholder& p) const {
            return detail_zs::pack_placeholder(pk, p);
        }
    };
    template <>
    struct object_with_zone<zsession::placeholder> {
        void operator()(msgpack::object::with_zone& o, const zsession::placeholder& p) const {
            static_cast<msgpack::object&>(o) = p.to_object(o.zone);
        }
    };

    template <class T>
    struct convert<zsession::inline_or_offloaded<T>> {
        const msgpack::object& operator()(const msgpack::object& o,
                                          zsession::inline_or_offloaded<T>& v) const {
            if (zsession::is_placeholder(o)) {
                v = zsession::inline_or_offloaded<T>(zsession::placeholder::from_object(o));
            } else {
                v = zsession::inline_or_offloaded<T>(o.as<T>());
            }
            return o;
        }
    };
    template <class T>
    struct pack<zsession::inline_or_offloaded<T>> {
        template <class Stream>
        packer<Stream>& operator()(packer<Stream>& pk,
                                   const zsession::inline_or_offloaded<T>& v) const {
            std::visit([&pk](const auto& x) { pk.pack(x); }, v.variant());
            return pk;
        }
    };
    template <class T>
    struct object_with_zone<zsession::inline_or_offloaded<T>> {
        void operator()(msgpack::object::with_zone& o,
                        const zsession::inline_or_offloaded<T>& v) const {
            std::visit(
                [&o](const auto& x) {
                    static_cast<msgpack::object&>(o) = msgpack::object(x, o.zone);
                },
                v.variant());
        }
    };

    }  // namespace adaptor
}  // MSGPACK_API_VERSION_NAMESPACE
}  // namespace msgpack
