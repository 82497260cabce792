// libFuzzer target: see fuzz::json_input in targets.hpp. Build and run: scripts/fuzz.sh
#include "targets.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    fuzz::json_input(data, size);
    return 0;
}
