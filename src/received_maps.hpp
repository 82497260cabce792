// src/received_maps.hpp (private) - the storage a decoded message's maps live in, recycled.
#pragma once

#include <array>
#include <cstddef>
#include <memory>

#include <msgpack.hpp>
#include <zmq.hpp>

#include "zsession/buffer.hpp"

namespace zsession::detail {

/// The zone chunk of a recycled received_maps: requests up to this size are served from
/// the calling thread's pool, larger ones are allocated fresh and freed when released.
inline constexpr std::size_t recycled_chunk_size = 1024;

/// The received map frames (metadata and content; all four when the headers took the
/// general path) and the zone their parsed objects live in (the maps' strings point into
/// the frames).
struct received_maps {
    std::array<zmq::message_t, 4> frames;
    /// frames[0, first_used) were never filled: releasing closes only the others (parse
    /// sets it; 0 until then and after each release).
    std::size_t first_used = 0;
    msgpack::zone zone;
    bool recyclable;  ///< the zone's chunk is recycled_chunk_size: it may go back to a pool
    /// Room for the control block of the shared_ptr that owns this object (make_received_maps):
    /// it lives and is recycled with the object, not allocated apart.
    alignas(std::max_align_t) unsigned char control[64];
    explicit received_maps(std::size_t chunk)
        : zone(chunk), recyclable(chunk == recycled_chunk_size) {}
};

/// A received_maps whose zone's first chunk is at least `chunk` bytes (at most
/// recycled_chunk_size when it comes from the pool). When the last owner releases it, its
/// frames are closed, its zone is cleared (finalizers run, chunks beyond the first freed)
/// and it goes back to the releasing thread's pool (a few entries; beyond that it is
/// deleted), control block included (it lives in `control`): a steady stream of small
/// messages decodes with no allocation here. Thread-safe (the pools are per thread).
std::shared_ptr<received_maps> make_received_maps(std::size_t chunk);

/// buffer::take(std::move(frame)) (a buffer owning the received frame), with the holder (the
/// zmq::message_t and its control block, one block) recycled through the releasing thread's
/// pool instead of allocated per frame. Thread-safe.
buffer take_frame(zmq::message_t&& frame);

}  // namespace zsession::detail
