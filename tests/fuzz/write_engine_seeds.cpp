// Writes the engine fuzz target's seed corpus (fuzz::engine_seeds, realistic ipyparallel
// requests): write_engine_seeds DIR
#include <fstream>

#include "engine_target.hpp"

int main(int argc, char** argv) {
    if (argc != 2) return 2;
    int n = 0;
    for (const std::string& seed : fuzz::engine_seeds()) {
        std::ofstream(std::string(argv[1]) + "/seed" + std::to_string(n++), std::ios::binary)
            << seed;
    }
    return 0;
}
