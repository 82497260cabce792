#include "zsession/version.hpp"

namespace zsession {

std::string_view version() noexcept {
    return ZSESSION_VERSION;
}

}  // namespace zsession
