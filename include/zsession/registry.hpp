// zsession/registry.hpp - handlers that turn C++ values into a small header plus buffers,
// and the registry object that maps types and wire names to them.
//
// Users add a type by specializing `handler<T>` (as they do msgpack adaptors or
// fmt::formatter) and registering it on a registry they own and hand to the session.
// There is no global registry.
#pragma once

#ifndef MSGPACK_NO_BOOST
#define MSGPACK_NO_BOOST
#endif
#include <msgpack.hpp>

#include <any>
#include <cstddef>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <typeindex>
#include <unordered_map>
#include <vector>

#include "zsession/buffer.hpp"
#include "zsession/error.hpp"

namespace zsession {

/// Specialize for your type. Two forms:
///
/// A *wire handler* defines a wire format of its own:
///   static constexpr std::string_view wire_name = "my.type";  // stable, unique
///   using header_type = H;  // any type with msgpack adaptors; written as a map
///   // Appends the value's buffers to `out` and returns its header. May move from value.
///   static H encode(T value, std::vector<buffer>& out);
///   // Rebuilds a value from its header and exactly the buffers encode produced (already
///   // decompressed, each of its declared size). Throws decode_error when they disagree.
///   static T decode(const H& header, std::span<const buffer> in);
///   // Optional: payload bytes, used to decide inline vs offloaded (inline_or_offloaded).
///   static std::size_t nbytes(const T& value);
///
/// An *alias handler* reuses another type's wire format (the owning ndarray and the
/// std::vector<T> built-ins travel as "ndarray"):
///   using wire_type = W;  // W has a wire handler, registered first
///   static W to_wire(T value);
///   static T from_wire(W value);  // throws decode_error when W does not fit T
///   static std::size_t nbytes(const T& value);  // optional, as above
template <class T>
struct handler;

template <class T>
concept wire_handled = requires {
    handler<T>::wire_name;
    typename handler<T>::header_type;
};
template <class T>
concept alias_handled = requires {
    typename handler<T>::wire_type;
};
template <class T>
concept handled = wire_handled<T> || alias_handled<T>;

/// The wire type whose handler writes T: T itself, or handler<T>::wire_type.
template <class T>
struct wire_type_of {
    using type = T;
};
template <alias_handled T>
struct wire_type_of<T> {
    using type = typename handler<T>::wire_type;
};

/// A handler header with no fields, written as the empty map `{}`.
struct empty_header {};

/// One registered handler, type-erased, as registry::find returns it.
struct handler_entry {
    std::type_index type;       ///< the C++ type registered
    std::type_index wire_type;  ///< == type for a wire handler; the alias target otherwise
    std::string wire_name;      ///< for an alias, its wire type's name
    /// Decodes a header object and buffers into a std::any holding `type` (wire handlers
    /// only; null for aliases). Throws decode_error.
    std::any (*decode_any)(const msgpack::object& header, std::span<const buffer> in) = nullptr;
};

namespace detail {

/// Converts a header object to H; a msgpack type mismatch becomes decode_error.
template <class H>
H header_from(const msgpack::object& o, std::string_view wire_name) {
    try {
        return o.as<H>();
    } catch (const msgpack::type_error&) {
        throw decode_error("placeholder header has wrong types for handler '" +
                           std::string(wire_name) + "'");
    }
}

/// Decodes a value of wire type W from its header object and buffers.
template <wire_handled W>
W decode_wire(const msgpack::object& header, std::span<const buffer> in) {
    using H = typename handler<W>::header_type;
    return handler<W>::decode(header_from<H>(header, handler<W>::wire_name), in);
}

}  // namespace detail

/// Maps C++ types (for encoding) and wire names (for decoding) to handlers.
///
/// Both lookups are map lookups. Registering checks everything at once and throws
/// registry_error for a duplicate type, a duplicate or empty wire name, or an alias whose
/// wire type is not registered yet. Thread safety: registering is not thread-safe; a
/// registry that is no longer modified (e.g. held by a session as shared_ptr<const
/// registry>) may be read from any number of threads.
class registry {
  public:
    /// An empty registry.
    registry() = default;
    /// A registry with the built-ins: "bytes" (buffer), "str" (std::string), "ndarray"
    /// (ndarray_view, ndarray, std::vector of every arithmetic type).
    static registry builtins();

    /// Registers handler<T>. Returns *this to chain. Throws registry_error (see above).
    template <handled T>
    registry& add() {
        handler_entry e{typeid(T), typeid(typename wire_type_of<T>::type), {}, nullptr};
        if constexpr (wire_handled<T>) {
            e.wire_name = std::string(handler<T>::wire_name);
            e.decode_any = [](const msgpack::object& h, std::span<const buffer> in) {
                return std::any(detail::decode_wire<T>(h, in));
            };
        }
        insert(std::move(e));
        return *this;
    }

    template <class T>
    bool contains() const noexcept {
        return by_type_.count(typeid(T)) != 0;
    }
    bool contains(std::string_view wire_name) const noexcept;

    /// The handler registered for `type`. Throws usage_error when there is none.
    const handler_entry& find(std::type_index type) const;
    /// The wire handler named `wire_name`. Throws unknown_handler_error when there is none.
    const handler_entry& find(std::string_view wire_name) const;

    /// Decodes by wire name into a std::any holding the wire handler's type (for untyped
    /// code). Throws unknown_handler_error or decode_error.
    std::any decode_any(std::string_view wire_name, const msgpack::object& header,
                        std::span<const buffer> in) const;

  private:
    void insert(handler_entry e);

    std::unordered_map<std::type_index, handler_entry> by_type_;
    std::map<std::string, std::type_index, std::less<>> by_name_;
};

/// "bytes": one buffer, header {}. Decodes to a view of the received frame (no copy).
template <>
struct handler<buffer> {
    static constexpr std::string_view wire_name = "bytes";
    using header_type = empty_header;
    static empty_header encode(buffer value, std::vector<buffer>& out);
    static buffer decode(const empty_header&, std::span<const buffer> in);
    static std::size_t nbytes(const buffer& b) noexcept { return b.size(); }
};

/// "str": one buffer of UTF-8 (not validated), header {}. Decoding copies into the string.
template <>
struct handler<std::string> {
    static constexpr std::string_view wire_name = "str";
    using header_type = empty_header;
    static empty_header encode(std::string value, std::vector<buffer>& out);
    static std::string decode(const empty_header&, std::span<const buffer> in);
    static std::size_t nbytes(const std::string& s) noexcept { return s.size(); }
};

namespace detail {
/// Throws decode_error unless in.size() == expected.
void expect_buffers(std::span<const buffer> in, std::size_t expected, std::string_view wire_name);
}  // namespace detail

}  // namespace zsession

namespace msgpack {
MSGPACK_API_VERSION_NAMESPACE(MSGPACK_DEFAULT_API_NS) {
    namespace adaptor {

    template <>
    struct convert<zsession::empty_header> {
        const msgpack::object& operator()(const msgpack::object& o, zsession::empty_header&) const {
            if (o.type != msgpack::type::MAP) throw msgpack::type_error();
            return o;
        }
    };
    template <>
    struct pack<zsession::empty_header> {
        template <class Stream>
        packer<Stream>& operator()(packer<Stream>& o, const zsession::empty_header&) const {
            return o.pack_map(0);
        }
    };
    template <>
    struct object_with_zone<zsession::empty_header> {
        void operator()(msgpack::object::with_zone& o, const zsession::empty_header&) const {
            o.type = msgpack::type::MAP;
            o.via.map.size = 0;
            o.via.map.ptr = nullptr;
        }
    };

    }  // namespace adaptor
}  // MSGPACK_API_VERSION_NAMESPACE
}  // namespace msgpack
