// Writes the golden vectors: generate_vectors DIR (normally tests/vectors in the source tree).
// Re-run only when the wire format changes on purpose; vectors_test then checks them.
#include <cstdio>
#include <fstream>

#include "golden.hpp"

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    for (const auto& v : golden::all()) {
        const zsession::session s = golden::make_session(v.signed_);
        const std::string bytes = golden::serialize(s.encode(v.make()));
        std::ofstream(golden::path(argv[1], v.name), std::ios::binary) << bytes;
        std::printf("%s: %zu bytes\n", golden::path(argv[1], v.name).c_str(), bytes.size());
    }
    return 0;
}
