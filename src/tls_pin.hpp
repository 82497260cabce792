// src/tls_pin.hpp (private) - one thread-local lookup per use, not one per access.
#pragma once

namespace zsession::detail {

/// Returns `x` (a thread_local object) through a pointer the compiler cannot recompute. In
/// a shared library each access to a thread_local is a call to __tls_get_addr, and GCC
/// recomputes the address after calls instead of keeping it in a register (it counts that
/// as cheap): a function that reads its per-thread state in several places paid several
/// calls. Take the reference once, at the top, and use only it.
template <class T>
[[gnu::always_inline]] inline T& pin_thread_local(T& x) noexcept {
    T* p = &x;
    asm("" : "+r"(p));
    return *p;
}

}  // namespace zsession::detail
