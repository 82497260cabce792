#include "received_maps.hpp"

#include <new>
#include <utility>

namespace zsession::detail {

namespace {

/// Entries a thread keeps for reuse, of each kind. A decoding thread holds about one at a
/// time, a consumer that releases messages another thread decoded fills its own pool up to
/// this.
constexpr std::size_t pool_capacity = 8;

/// Raw storage for the control block of one take_frame holder (a zmq::message_t and its
/// shared_ptr counts, one block); the type is known only where it is allocated.
constexpr std::size_t frame_block_size = 128;

/// The calling thread's pools: received_maps ready for reuse, and raw blocks for take_frame
/// holders. Trivially destructible and zero-initialised, so that reaching it is a single
/// thread-local address lookup (in a shared library, a __tls_get_addr call) with no guard;
/// the entries left when the thread ends are freed by a `reaper` registered on first use.
struct thread_pools {
    received_maps* maps[pool_capacity];
    void* blocks[pool_capacity];
    unsigned char n_maps;
    unsigned char n_blocks;
    bool reaper_registered;
    bool gone;  // the thread is ending (its reaper ran): nothing more is kept

    /// Makes sure the entries are freed when the thread ends. False when that is no longer
    /// possible (the thread is ending): the caller frees the entry itself.
    bool keep() {
        if (gone) return false;
        if (!reaper_registered) register_reaper();
        return !gone;
    }
    [[gnu::noinline]] void register_reaper();
};

thread_local thread_pools pools;

struct reaper {
    ~reaper() {
        thread_pools& p = pools;
        p.gone = true;
        while (p.n_maps > 0) delete p.maps[--p.n_maps];
        while (p.n_blocks > 0) ::operator delete(p.blocks[--p.n_blocks]);
    }
};

void thread_pools::register_reaper() {
    thread_local reaper r;  // constructed once per thread, destroyed when it ends
    (void)r;
    reaper_registered = true;
}

/// The shared_ptr control block's allocator for a received_maps: the block lives in the
/// object's `control` member. Releasing the block (after the deleter, `clear`, ran) is where
/// the object goes back to the releasing thread's pool, or is deleted.
template <class T>
struct in_place_allocator {
    using value_type = T;
    received_maps* owner;

    explicit in_place_allocator(received_maps* m) noexcept : owner(m) {}
    template <class U>
    in_place_allocator(const in_place_allocator<U>& other) noexcept : owner(other.owner) {}

    T* allocate(std::size_t n) {
        static_assert(sizeof(T) <= sizeof(received_maps::control));
        static_assert(alignof(T) <= alignof(std::max_align_t));
        if (n != 1) throw std::bad_alloc();  // shared_ptr asks for its one block
        return reinterpret_cast<T*>(owner->control);
    }
    void deallocate(T*, std::size_t) noexcept {
        received_maps* const m = owner;
        if (m->recyclable) {
            thread_pools& p = pools;
            if (p.n_maps < pool_capacity && p.keep()) {
                p.maps[p.n_maps++] = m;
                return;
            }
        }
        delete m;
    }
    template <class U>
    friend bool operator==(const in_place_allocator& a, const in_place_allocator<U>& b) noexcept {
        return a.owner == b.owner;
    }
};

/// The last owner's release of a received_maps: its frames closed and its zone cleared
/// (finalizers run, chunks beyond the first freed), ready for the pool.
struct clear {
    void operator()(received_maps* m) const noexcept {
        if (!m->recyclable) return;  // deleted whole by in_place_allocator::deallocate
        for (std::size_t i = m->first_used; i < m->frames.size(); ++i) m->frames[i].rebuild();
        m->first_used = 0;
        m->zone.clear();
    }
};

/// The allocator of a take_frame holder's block (the zmq::message_t and its counts): single
/// blocks recycled through the thread's pool of raw blocks.
template <class T>
struct frame_allocator {
    using value_type = T;
    frame_allocator() noexcept = default;
    template <class U>
    frame_allocator(const frame_allocator<U>&) noexcept {}

    T* allocate(std::size_t n) {
        if (n == 1 && sizeof(T) <= frame_block_size) {
            thread_pools& p = pools;
            if (p.n_blocks > 0) return static_cast<T*>(p.blocks[--p.n_blocks]);
            return static_cast<T*>(::operator new(frame_block_size));
        }
        return static_cast<T*>(::operator new(n * sizeof(T)));
    }
    void deallocate(T* block, std::size_t n) noexcept {
        if (n == 1 && sizeof(T) <= frame_block_size) {
            thread_pools& p = pools;
            if (p.n_blocks < pool_capacity && p.keep()) {
                p.blocks[p.n_blocks++] = block;
                return;
            }
        }
        ::operator delete(block);
    }
    template <class U>
    friend bool operator==(const frame_allocator&, const frame_allocator<U>&) noexcept {
        return true;
    }
};

}  // namespace

std::shared_ptr<received_maps> make_received_maps(std::size_t chunk) {
    received_maps* m = nullptr;
    if (chunk <= recycled_chunk_size) {
        thread_pools& p = pools;
        m = p.n_maps > 0 ? p.maps[--p.n_maps] : new received_maps(recycled_chunk_size);
    } else {
        m = new received_maps(chunk);
    }
    // The control block goes into m->control: this allocates nothing and cannot throw.
    return std::shared_ptr<received_maps>(m, clear{}, in_place_allocator<received_maps>(m));
}

buffer take_frame(zmq::message_t&& frame) {
    // The frame moves into its final place first: a small frame keeps its bytes inside the
    // zmq_msg_t itself, so the view is taken there.
    auto owner =
        std::allocate_shared<zmq::message_t>(frame_allocator<zmq::message_t>{}, std::move(frame));
    const bytes_view bytes{owner->data(), owner->size()};
    return buffer(bytes, std::move(owner));
}

}  // namespace zsession::detail
