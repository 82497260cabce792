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
#include "zsession/map_view.hpp"
#include "zsession/shape_error.hpp"

namespace zsession {

class codec;

/// A message as the application sees it.
///
/// metadata and content are msgpack objects (maps) that the message keeps valid as long as
/// it lives: they live in the message's zone, point into its received frames, or into
/// storage whose owner was handed to a setter. A nil metadata or content is sent as an empty
/// map. Buffers of a received message are views into the received frames (no copy).
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
    std::vector<buffer> buffers;

    /// The metadata and content objects (nil or a map), valid while this message lives and
    /// until the next setter call for the same map.
    const msgpack::object& metadata() const noexcept { return metadata_; }
    const msgpack::object& content() const noexcept { return content_; }

    /// Dynamic, typed reads without a struct: content_map().get<std::string>("code").
    /// Throws decode_error when the map is neither nil nor a map.
    map_view content_map() const& { return map_view(content_, "content"); }
    map_view metadata_map() const& { return map_view(metadata_, "metadata"); }
    /// A map_view points into the message's storage: none from a temporary message.
    map_view content_map() const&& = delete;
    map_view metadata_map() const&& = delete;

    /// Arena for metadata/content objects built for this message; created on first use.
    msgpack::zone& zone();

    /// Sets content from any value with a msgpack adaptor (a MSGPACK_DEFINE_MAP struct, a
    /// std::map, a msgpack::object, ...), deep-copied into the message's zone.
    template <class T>
    void set_content(const T& value) {
        content_ = msgpack::object(value, zone());
        content_owner_.reset();
    }
    template <class T>
    void set_metadata(const T& value) {
        metadata_ = msgpack::object(value, zone());
        metadata_owner_.reset();
    }
    /// Sets content to `value` without copying it: `owner` keeps the storage `value` points
    /// into alive and is held as long as this message holds that content (null only when
    /// that storage is static). Use it for a content built once and sent many times.
    void set_content(const msgpack::object& value, std::shared_ptr<const void> owner) noexcept {
        content_ = value;
        content_owner_ = std::move(owner);
    }
    void set_metadata(const msgpack::object& value, std::shared_ptr<const void> owner) noexcept {
        metadata_ = value;
        metadata_owner_ = std::move(owner);
    }

    /// Converts content to T. Throws decode_error when content does not have T's shape; for
    /// a MSGPACK_DEFINE_MAP struct it names the first field that does not convert
    /// ("content.silent: expected bool, got str", "content.inner.count: ...").
    template <class T>
    T content_as() const {
        return convert<T>(content_, "content");
    }
    template <class T>
    T metadata_as() const {
        return convert<T>(metadata_, "metadata");
    }

  private:
    friend class codec;

    /// Makes `zone` (owned by `storage`, which also holds the received frames that the
    /// objects point into) this message's zone, with metadata and content parsed into it.
    void adopt_storage(std::shared_ptr<void> storage, msgpack::zone& zone,
                       const msgpack::object& metadata, const msgpack::object& content) noexcept {
        storage_ = std::move(storage);
        zone_ = &zone;
        metadata_ = metadata;
        content_ = content;
    }

    template <class T>
    static T convert(const msgpack::object& o, const char* what) {
        try {
            return o.as<T>();
        } catch (const msgpack::type_error& e) {
            // A MSGPACK_DEFINE_MAP struct: name the field ("content.silent: expected bool,
            // got str"); other types keep msgpack-c's text.
            std::string field = detail::shape_error<T>(o, what);
            if (!field.empty()) throw decode_error(std::move(field));
            throw decode_error(std::string(what) +
                               " does not have the expected shape: " + e.what());
        }
    }

    msgpack::object metadata_;
    msgpack::object content_;
    std::shared_ptr<void> storage_;  // owns *zone_ and, when received, the map frames
    msgpack::zone* zone_ = nullptr;
    std::shared_ptr<const void> metadata_owner_;  // set_metadata(value, owner)
    std::shared_ptr<const void> content_owner_;   // set_content(value, owner)
};

}  // namespace zsession
