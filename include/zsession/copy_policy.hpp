// zsession/copy_policy.hpp - the one decision between copying a buffer and sending it
// zero-copy, and the frames each choice makes.
#pragma once

#include <cstddef>

#include "zsession/buffer.hpp"

namespace zmq {
class message_t;
}

namespace zsession {

enum class send_mode { copy, zero_copy };

/// Pure policy: a buffer smaller than `copy_threshold` is copied into its frame (cheaper
/// than libzmq's zero-copy bookkeeping); one of `copy_threshold` bytes or more is sent
/// zero-copy. A threshold of 0 sends everything zero-copy; SIZE_MAX copies everything.
constexpr send_mode choose_send_mode(std::size_t size, std::size_t copy_threshold) noexcept {
    return size < copy_threshold ? send_mode::copy : send_mode::zero_copy;
}

/// Makes the frame for `b`.
/// copy: a new zmq message holding a copy of the bytes.
/// zero_copy: a zmq message over b's own bytes; a copy of b's keepalive moves into libzmq's
///   free callback and is released (on libzmq's I/O thread, or on whichever thread drops
///   the last reference to the frame) exactly once when libzmq is done with the bytes.
///   A buffer without a keepalive is always copied: zero-copy over memory nobody pins is
///   the use-after-free of cppzmq #614.
/// Throws zmq::error_t if libzmq cannot create the message.
zmq::message_t make_frame(const buffer& b, send_mode mode);

}  // namespace zsession
