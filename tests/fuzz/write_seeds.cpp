// Writes seed corpora for the JSON and placeholder fuzz targets from the golden "arrays"
// message (tests/vectors/golden.hpp), in both packers: write_seeds JSON_DIR PLACEHOLDER_DIR
#include <fstream>

#include "../vectors/golden.hpp"
#include "targets.hpp"

int main(int argc, char** argv) {
    if (argc != 3) return 2;
    int n = 0;
    for (const auto packer : {zsession::packer_kind::msgpack, zsession::packer_kind::json}) {
        zsession::session_options o;
        o.packer = packer;
        const zsession::session s(o);
        for (const auto& m : {golden::arrays_message(), golden::routed_message()}) {
            const zsession::frames f = s.encode(m);
            std::vector<std::string> parts;
            for (std::size_t i = 5; i < f.size(); ++i) parts.emplace_back(f[i].to_string_view());
            const bool json = packer == zsession::packer_kind::json;
            if (json)
                std::ofstream(std::string(argv[1]) + "/golden" + std::to_string(n)) << parts[0];
            std::ofstream(std::string(argv[2]) + "/golden" + std::to_string(n))
                << (json ? '\1' : '\0') << fuzz::join_frames(parts);
            ++n;
        }
    }
    return 0;
}
