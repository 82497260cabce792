// zsession/message.hpp - one Jupyter message: identities, the four maps, and buffers.
#pragma once

#ifndef MSGPACK_NO_BOOST
#define MSGPACK_NO_BOOST
#endif
#include <msgpack.hpp>

#include <memory>
#include <vector>

#include "zsession/buffer.hpp"
#include "zsession/error.hpp"
#include "zsession/header.hpp"

namespace zsession {

/// A message as the application sees it.
///
/// metadata and content are msgpack objects (maps) living in the message's zone or, for a
/// received message, pointing into its received frames; both stay valid as long as the
/// message lives. A nil metadata or content is sent as an empty map.
/// Buffers of a received message are views into the received frames (no copy).
/// Movable, not copyable (use session::make_reply to answer one).
/// Thread safety: none; a message is used by one thread at a time.
class message {
  public:
    message() = default;
    /// Moves everything, including the zone that metadata and content live in; the moved-from
    /// message is left empty (nil maps, no zone), never pointing into the other's storage.
    message(message&& other) noexcept;
    message& operator=(message&& other) noexcept;
    ~message() = default;

    std::vector<buffer> identities;  ///< routing frames before `<IDS|MSG>`
    zsession::header header;
    zsession::header parent_header;  ///< empty for a request
    msgpack::object metadata;
    msgpack::object content;
    std::vector<buffer> buffers;

    /// Arena for metadata/content objects built for this message; created on first use.
    msgpack::zone& zone();

    /// Sets content from any value with a msgpack adaptor (a MSGPACK_DEFINE_MAP struct, a
    /// std::map, ...), deep-copied into the message's zone.
    template <class T>
    void set_content(const T& value) {
        content = msgpack::object(value, zone());
    }
    template <class T>
    void set_metadata(const T& value) {
        metadata = msgpack::object(value, zone());
    }
    /// Converts content to T. Throws decode_error when content does not have T's shape.
    template <class T>
    T content_as() const {
        return convert<T>(content, "content");
    }
    template <class T>
    T metadata_as() const {
        return convert<T>(metadata, "metadata");
    }

    /// Makes `zone` (owned by `storage`, which may also hold the received frames that
    /// metadata and content point into) this message's zone, kept alive as long as the
    /// message. Used by the codec.
    void adopt_storage(std::shared_ptr<void> storage, msgpack::zone& zone) noexcept {
        storage_ = std::move(storage);
        zone_ = &zone;
    }

  private:
    template <class T>
    static T convert(const msgpack::object& o, const char* what) {
        try {
            return o.as<T>();
        } catch (const msgpack::type_error& e) {
            throw decode_error(std::string(what) +
                               " does not have the expected shape: " + e.what());
        }
    }

    std::shared_ptr<void> storage_;  // owns *zone_ and, when received, the map frames
    msgpack::zone* zone_ = nullptr;
};

/// Looks up `key` in a map object; nullptr when `map` is not a map or lacks the key.
const msgpack::object* find_key(const msgpack::object& map, std::string_view key) noexcept;

}  // namespace zsession
