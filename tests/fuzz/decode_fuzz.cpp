// libFuzzer target: session::decode over arbitrary frames, signed and unsigned with the
// msgpack packer, and signed with the JSON packer (its header reader and map parser).
// Build and run: scripts/fuzz.sh [seconds]
#include <cstdint>

#include "frames_from_bytes.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static zsession::session unsigned_session([] {
        zsession::session_options o;
        o.limits.max_content_bytes = 1 << 16;
        return o;
    }());
    static zsession::session signed_session(
        zsession::session_options{.key = "fuzz", .replay_history = 0});
    static zsession::session json_session(zsession::session_options{
        .key = "fuzz", .packer = zsession::packer_kind::json, .replay_history = 0});
    for (const zsession::session* s : {&unsigned_session, &signed_session, &json_session}) {
        try {
            zsession::message m = s->decode(fuzz::frames_from_bytes(data, size, s));
            volatile std::size_t sink = fuzz::touch(m);
            (void)sink;
        } catch (const zsession::error&) {
            // every rejection must be a typed zsession error; anything else escapes and
            // libFuzzer reports it as a crash
        }
    }
    return 0;
}
