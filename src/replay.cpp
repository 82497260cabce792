#include "replay.hpp"

namespace zsession::detail {

bool replay_history::insert(std::string_view signature) {
    if (capacity_ == 0) return true;
    std::lock_guard lock(mutex_);
    auto [it, fresh] = seen_.emplace(signature);
    if (!fresh) return false;
    order_.push_back(&*it);
    if (order_.size() > capacity_) {
        seen_.erase(seen_.find(*order_.front()));
        order_.pop_front();
    }
    return true;
}

std::size_t replay_history::size() const {
    std::lock_guard lock(mutex_);
    return seen_.size();
}

}  // namespace zsession::detail
