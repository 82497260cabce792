// libFuzzer target: see fuzz::engine_input in engine_target.hpp. Build and run: scripts/fuzz.sh
#include <cstdio>
#include <cstdlib>

#include "engine_target.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (const auto bad = fuzz::engine_input(data, size)) {
        std::fprintf(stderr, "engine_fuzz: %s\n", bad->c_str());
        std::abort();
    }
    return 0;
}
