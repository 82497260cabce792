// std23: a C++23 translation unit using zsession must stay C++23 with the flags zsession
// hands out (pkg-config's zsession.pc, CMake's zsession::zsession): neither may force an
// older -std onto the consumer.
#include "zsession/zsession.hpp"

static_assert(__cplusplus > 202002L, "the consumer's C++23 was downgraded by zsession's flags");

int main() {
    return zsession::version().empty() ? 1 : 0;
}
