// tests/fuzz/frames_from_bytes.hpp - turns arbitrary bytes into message frames, for fuzzing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "zsession/session.hpp"

namespace fuzz {

/// Splits `data` into frames: each frame is a 1-byte length (0-254) followed by that many
/// bytes, 255 meaning "the rest". When `signer` is given, frames 2-5 after a leading
/// `<IDS|MSG>` are re-signed so that the parser (not only the signature check) is reached.
inline zsession::frames frames_from_bytes(const std::uint8_t* data, std::size_t size,
                                          const zsession::session* signer) {
    zsession::frames out;
    std::size_t pos = 0;
    while (pos < size && out.size() < 64) {
        std::size_t n = data[pos++];
        if (n == 255 || n > size - pos) n = size - pos;
        out.emplace_back(data + pos, n);
        pos += n;
    }
    if (signer && out.size() >= 6 && out[0].to_string_view() == zsession::delimiter) {
        std::array<zsession::bytes_view, 4> parts;
        for (std::size_t i = 0; i < 4; ++i) parts[i] = {out[2 + i].data(), out[2 + i].size()};
        const std::string sig = signer->sign(parts);
        out[1] = zmq::message_t(sig.data(), sig.size());
    }
    return out;
}

/// Touches every byte a decoded message refers to (packs the maps back), so that a sanitizer
/// sees any dangling view.
inline std::size_t touch(const zsession::message& m) {
    msgpack::sbuffer sb;
    msgpack::pack(sb, m.metadata());
    msgpack::pack(sb, m.content());
    std::size_t sum = sb.size() + m.header.msg_id.size() + m.parent_header.msg_id.size();
    for (const auto& b : m.buffers) sum += b.size() ? static_cast<std::size_t>(b.data()[0]) : 0;
    return sum;
}

}  // namespace fuzz
