// Deterministic mutation fuzzing of the decoder, run in every build (and so under ASan and
// UBSan): valid signed messages are mutated, re-signed so the parser is reached, and decoded.
// Every outcome must be a decoded message or a typed zsession::error.
#include <doctest/doctest.h>

#include <map>
#include <random>

#include "fuzz/frames_from_bytes.hpp"
#include "support.hpp"

using namespace zsession;

namespace {

struct nested {
    std::map<std::string, std::vector<double>> series;
    std::vector<std::string> names;
    msgpack::type::raw_ref raw;
    std::map<std::string, std::map<std::string, int>> deep;
    MSGPACK_DEFINE_MAP(series, names, raw, deep)
};

std::vector<frames> seeds(const session& s) {
    std::vector<frames> out;
    for (int i = 0; i < 4; ++i) {
        message m = s.make_message(i % 2 ? "execute_request" : "apply_request");
        if (i > 1) m.parent_header = s.make_header("parent");
        static const char raw[] = "\x00\x01binary\xff";
        m.set_content(nested{{{"a", {1.5, -2.0}}, {"b", {}}},
                             {"x", std::string(40 * i, 'y')},
                             msgpack::type::raw_ref(raw, sizeof raw),
                             {{"k", {{"v", i}}}}});
        m.set_metadata(std::map<std::string, bool>{{"flag", i % 2 == 0}});
        for (int b = 0; b < i; ++b) m.buffers.push_back(buffer::take(std::string(100, 'b')));
        out.push_back(s.encode(m));
    }
    return out;
}

void mutate(std::string& bytes, std::mt19937& rng) {
    auto pick = [&](std::size_t n) {
        return std::uniform_int_distribution<std::size_t>(0, n)(rng);
    };
    switch (pick(4)) {
        case 0:  // flip a byte
            if (!bytes.empty()) bytes[pick(bytes.size() - 1)] = static_cast<char>(rng());
            break;
        case 1:  // truncate
            bytes.resize(pick(bytes.size()));
            break;
        case 2:  // insert a byte, often a msgpack type marker
            bytes.insert(pick(bytes.size()), 1,
                         static_cast<char>(pick(1) ? rng() : 0xc0 + pick(0x1f)));
            break;
        case 3: {  // duplicate a run
            const std::size_t at = pick(bytes.size());
            bytes.insert(at, bytes.substr(at, pick(16)));
            break;
        }
        default:  // a big declared length
            if (bytes.size() > 2) bytes[pick(bytes.size() - 1)] = static_cast<char>(0xdd);
    }
}

}  // namespace

TEST_CASE("mutated, re-signed messages decode or fail with a typed error, never otherwise") {
    session s(session_options{.key = "fuzz-key", .replay_history = 0});
    std::mt19937 rng(20261122);
    const auto corpus = seeds(s);
    int accepted = 0, rejected = 0;
    for (int iter = 0; iter < 20000; ++iter) {
        const frames& seed = corpus[static_cast<std::size_t>(iter) % corpus.size()];
        frames f = test::clone(seed);
        const std::size_t target = 2 + static_cast<std::size_t>(rng() % 4);  // one of the maps
        std::string bytes(f[target].to_string_view());
        for (int k = 0; k < 1 + iter % 3; ++k) mutate(bytes, rng);
        f[target] = test::frame(bytes);
        std::array<bytes_view, 4> parts;
        for (std::size_t i = 0; i < 4; ++i) parts[i] = {f[2 + i].data(), f[2 + i].size()};
        f[1] = test::frame(s.sign(parts));
        try {
            message m = s.decode(std::move(f));
            CHECK(fuzz::touch(m) > 0);
            ++accepted;
        } catch (const error&) {
            ++rejected;
        }
    }
    // Both paths were exercised (the mutations are neither all harmless nor all fatal).
    CHECK(accepted > 1000);
    CHECK(rejected > 1000);
}

TEST_CASE("arbitrary frames from random bytes never escape as anything but zsession::error") {
    session unsigned_session(session_options{});
    std::mt19937 rng(7);
    std::map<errc, int> outcomes;
    for (int iter = 0; iter < 20000; ++iter) {
        std::vector<std::uint8_t> bytes(rng() % 200);
        for (auto& b : bytes) b = static_cast<std::uint8_t>(rng());
        // Half the inputs start like a real message so that the map parser is reached.
        if (iter % 2 == 0 && bytes.size() > 20) {
            static const std::uint8_t head[] = {9, '<', 'I', 'D', 'S', '|', 'M', 'S', 'G', '>', 0};
            std::copy(std::begin(head), std::end(head), bytes.begin());
        }
        try {
            message m = unsigned_session.decode(
                fuzz::frames_from_bytes(bytes.data(), bytes.size(), nullptr));
            CHECK(fuzz::touch(m) > 0);
            ++outcomes[errc::ok];
        } catch (const error& e) {
            ++outcomes[e.code()];
        }
    }
    // Framing errors are caught early, and the map parser was reached and rejected input too.
    CHECK(outcomes[errc::protocol] > 1000);
    CHECK(outcomes[errc::decode] > 50);
}

// The JSON and placeholder targets (tests/fuzz/targets.hpp, also run by libFuzzer through
// scripts/fuzz.sh), over mutations of the golden "arrays" message in both packers.
#include "fuzz/targets.hpp"
#include "vectors/golden.hpp"

namespace {

/// Content frame and buffers of the golden arrays message encoded with `packer`.
std::vector<std::string> golden_arrays(packer_kind packer) {
    session_options o;
    o.packer = packer;
    session s(o);
    frames f = s.encode(golden::arrays_message());
    std::vector<std::string> out;
    for (std::size_t i = 5; i < f.size(); ++i) out.emplace_back(f[i].to_string_view());
    return out;
}

template <class Run>
std::size_t mutate_and_run(const std::vector<std::string>& seeds, int iterations, Run run) {
    std::mt19937 rng(20261128);
    std::size_t distinct = 0;
    for (int iter = 0; iter < iterations; ++iter) {
        std::string bytes = seeds[static_cast<std::size_t>(iter) % seeds.size()];
        for (int k = 0; k < 1 + iter % 4; ++k) mutate(bytes, rng);
        distinct += bytes != seeds[static_cast<std::size_t>(iter) % seeds.size()];
        run(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
    }
    return distinct;
}

}  // namespace

TEST_CASE("mutated JSON content frames decode, re-encode and resolve or fail typed") {
    const std::vector<std::string> seeds = {
        golden_arrays(packer_kind::json).front(),
        R"({"a":[1,-2.5e-300,0.000000000000000000000000],"b":{"c":null}})",
        R"({"v":"\ud83d\ude00 \u00e9","n":18446744073709551615})"};
    CHECK(mutate_and_run(seeds, 10000, fuzz::json_input) > 9000);
}

TEST_CASE("mutated placeholders and buffers, both packers, resolve or fail typed") {
    std::vector<std::string> seeds;
    for (const auto packer : {packer_kind::msgpack, packer_kind::json}) {
        const std::vector<std::string> frames = golden_arrays(packer);
        REQUIRE(frames.size() == 7);  // content + 6 buffers
        seeds.push_back(std::string(1, packer == packer_kind::json ? '\1' : '\0') +
                        fuzz::join_frames(frames));
    }
    // The unmutated seeds resolve every placeholder (the targets reach the handlers).
    for (const auto& seed : seeds) {
        const auto frames = fuzz::split_frames(
            reinterpret_cast<const std::uint8_t*>(seed.data()) + 1, seed.size() - 1);
        REQUIRE(frames.size() == 7);
    }
    CHECK(mutate_and_run(seeds, 10000, fuzz::placeholder_input) > 9000);
}
