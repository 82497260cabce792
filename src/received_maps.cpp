#include "received_maps.hpp"

#include <new>
#include <utility>

namespace zsession::detail {

namespace {

/// Entries a thread keeps for reuse. A decoding thread holds about one at a time, a
/// consumer that releases messages another thread decoded fills its own pool up to this.
constexpr std::size_t pool_capacity = 8;

/// A per-thread stack of at most pool_capacity pointers, without heap storage of its own.
/// `destroy` frees an entry; it runs for the entries left when the thread ends.
template <class T, void (*destroy)(T*) noexcept>
class stack_pool {
  public:
    ~stack_pool() {
        gone_ = true;
        while (n_ > 0) destroy(items_[--n_]);
    }
    T* take() noexcept { return gone_ || n_ == 0 ? nullptr : items_[--n_]; }
    /// False when full or being destroyed: the caller frees `p` itself.
    bool give(T* p) noexcept {
        if (gone_ || n_ == pool_capacity) return false;
        items_[n_++] = p;
        return true;
    }
    /// Whether this thread's pool is usable (false during and after thread exit).
    static bool usable() noexcept { return !gone_; }

  private:
    T* items_[pool_capacity];
    std::size_t n_ = 0;
    static thread_local bool gone_;  // trivially destructible: readable after ~stack_pool
};
template <class T, void (*destroy)(T*) noexcept>
thread_local bool stack_pool<T, destroy>::gone_ = false;

void delete_maps(received_maps* m) noexcept {
    delete m;
}
template <class T>
void delete_block(T* p) noexcept {
    ::operator delete(p);
}

using maps_pool = stack_pool<received_maps, &delete_maps>;
template <class T>
using block_pool = stack_pool<T, &delete_block<T>>;

maps_pool& maps() noexcept {
    thread_local maps_pool pool;
    return pool;
}
/// Raw storage for one T (a shared_ptr control block), not constructed.
template <class T>
block_pool<T>& blocks() noexcept {
    thread_local block_pool<T> pool;
    return pool;
}

/// The shared_ptr control block's allocator: single blocks recycled through the thread's
/// pool of raw blocks of that type.
template <class T>
struct control_allocator {
    using value_type = T;
    control_allocator() noexcept = default;
    template <class U>
    control_allocator(const control_allocator<U>&) noexcept {}

    T* allocate(std::size_t n) {
        if (n == 1 && block_pool<T>::usable()) {
            if (T* p = blocks<T>().take()) return p;
        }
        return static_cast<T*>(::operator new(n * sizeof(T)));
    }
    void deallocate(T* p, std::size_t n) noexcept {
        if (n == 1 && block_pool<T>::usable() && blocks<T>().give(p)) return;
        ::operator delete(p);
    }
    template <class U>
    friend bool operator==(const control_allocator&, const control_allocator<U>&) noexcept {
        return true;
    }
};

/// The last owner's release: cleared and back to this thread's pool, or deleted.
struct recycle {
    void operator()(received_maps* m) const noexcept {
        if (m->recyclable && maps_pool::usable()) {
            for (auto& f : m->frames) f.rebuild();
            m->zone.clear();
            if (maps().give(m)) return;
        }
        delete m;
    }
};

}  // namespace

std::shared_ptr<received_maps> make_received_maps(std::size_t chunk) {
    received_maps* m = nullptr;
    if (chunk <= recycled_chunk_size) {
        if (maps_pool::usable()) m = maps().take();
        if (m == nullptr) m = new received_maps(recycled_chunk_size);
    } else {
        m = new received_maps(chunk);
    }
    // If the control block cannot be allocated, shared_ptr hands `m` to recycle{} itself.
    return std::shared_ptr<received_maps>(m, recycle{}, control_allocator<received_maps>{});
}

buffer take_frame(zmq::message_t&& frame) {
    // The frame moves into its final place first: a small frame keeps its bytes inside the
    // zmq_msg_t itself, so the view is taken there.
    auto owner =
        std::allocate_shared<zmq::message_t>(control_allocator<zmq::message_t>{}, std::move(frame));
    const bytes_view bytes{owner->data(), owner->size()};
    return buffer(bytes, std::move(owner));
}

}  // namespace zsession::detail
