// zsession/ipp/comm.hpp - Jupyter comms on an ipyparallel C++ engine: a client opens a comm
// to a target the engine registered (comm_open through the mux), sends comm_msg with data
// and raw buffers (numpy arrays as {dtype, shape} + bytes), and the engine answers with
// comm_msg on iopub (topic "comm-<comm_id>"), buffers included. Nothing here is pickle.
#pragma once

#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "zsession/buffer.hpp"
#include "zsession/message.hpp"

namespace zsession::ipp {

namespace detail {
/// How a comm reaches the engine's iopub. Implemented by the engine.
class comm_channel {
  public:
    virtual ~comm_channel() = default;
    /// A new message whose parent is the request being handled.
    virtual message make_message(std::string_view msg_type) = 0;
    /// Publishes `m` on iopub with topic `topic`. Thread-safe.
    virtual void publish(message&& m, std::string_view topic) = 0;
};

template <class T>
struct comm_content {
    std::string comm_id;
    T data;
    MSGPACK_DEFINE_MAP(comm_id, data)
};
}  // namespace detail

/// An incoming comm_open, comm_msg or comm_close, as the handler sees it. Everything in it
/// is valid only during the handler call.
struct comm_message {
    std::string_view comm_id;
    /// content["data"], or nil when absent. Lives in `raw`'s zone.
    const msgpack::object& data;
    /// The message's buffers: views into the received zmq frames (zero-copy). Copying a
    /// `buffer` only shares its keepalive, so a handler may keep one past the call.
    std::span<const buffer> buffers;
    const message& raw;

    /// data converted to T (a MSGPACK_DEFINE_MAP struct...). Throws decode_error.
    template <class T>
    T data_as() const {
        try {
            return data.as<T>();
        } catch (const msgpack::type_error& e) {
            throw decode_error(std::string("comm data does not have the expected shape: ") +
                               e.what());
        }
    }
};

/// One open comm, as its handler sees it. Owned by the engine; used on the shell thread.
class comm {
  public:
    comm(std::string id, std::string target_name, detail::comm_channel& channel)
        : id_(std::move(id)), target_(std::move(target_name)), channel_(&channel) {}

    const std::string& id() const noexcept { return id_; }
    const std::string& target_name() const noexcept { return target_; }

    /// Sends comm_msg {comm_id, data} with `buffers` on iopub (parent = the request being
    /// handled). Buffers at or above the session's copy_threshold go zero-copy; the engine
    /// keeps them alive until libzmq has sent them. Throws zmq::error_t on socket failure.
    template <class T>
    void send(const T& data, std::vector<buffer> buffers = {}) {
        message m = channel_->make_message("comm_msg");
        m.set_content(detail::comm_content<T>{id_, data});
        m.buffers = std::move(buffers);
        channel_->publish(std::move(m), "comm-" + id_);
    }

  private:
    std::string id_, target_;
    detail::comm_channel* channel_;
};

/// Receives the messages of one comm.
class comm_handler {
  public:
    virtual ~comm_handler() = default;
    /// A comm_msg from the client. An exception is logged and published as an iopub error;
    /// the comm stays open.
    virtual void on_msg(comm& c, const comm_message& m) = 0;
    /// comm_close from the client (or the engine shutting down: then m is empty of data).
    virtual void on_close(comm& c, const comm_message& m) {
        (void)c;
        (void)m;
    }
};

/// A comm target: called on comm_open with the comm and the open message (whose data and
/// buffers it may already use). Returns the handler of the comm's later messages, or nullptr
/// to refuse it (the engine then sends comm_close).
using comm_target = std::function<std::unique_ptr<comm_handler>(comm& c, const comm_message& open)>;

}  // namespace zsession::ipp
