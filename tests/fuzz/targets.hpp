// tests/fuzz/targets.hpp - what the JSON and placeholder fuzz targets do with one input, shared
// by the libFuzzer targets (json_fuzz.cpp, placeholder_fuzz.cpp) and the deterministic
// mutation test (tests/fuzz_test.cpp). Every outcome must be a decoded message or a typed
// zsession::error; anything else escapes to the caller (a crash for libFuzzer).
#pragma once

#include <any>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "frames_from_bytes.hpp"
#include "zsession/zsession.hpp"

namespace fuzz {

/// Splits `data` into frames, each a 2-byte little-endian length then that many bytes;
/// 0xffff or a length past the end means "the rest". At most 64 frames.
inline std::vector<std::string> split_frames(const std::uint8_t* data, std::size_t size) {
    std::vector<std::string> out;
    std::size_t pos = 0;
    while (pos + 2 <= size && out.size() < 64) {
        std::size_t n = data[pos] | (std::size_t{data[pos + 1]} << 8);
        pos += 2;
        if (n == 0xffff || n > size - pos) n = size - pos;
        out.emplace_back(reinterpret_cast<const char*>(data + pos), n);
        pos += n;
    }
    return out;
}

/// The inverse of split_frames (for writing seeds).
inline std::string join_frames(const std::vector<std::string>& frames) {
    std::string out;
    for (const auto& f : frames) {
        const std::size_t n = std::min<std::size_t>(f.size(), 0xfffe);
        out.push_back(static_cast<char>(n & 0xff));
        out.push_back(static_cast<char>(n >> 8));
        out.append(f, 0, n);
    }
    return out;
}

/// A session with limits small enough that fuzzing never allocates much.
inline zsession::session fuzz_session(zsession::packer_kind packer, std::string key) {
    zsession::session_options o;
    o.key = std::move(key);
    o.packer = packer;
    o.replay_history = 0;
    o.limits.max_content_bytes = 1 << 16;
    o.limits.max_decompressed_bytes = 1 << 20;
    o.limits.max_decompressed_per_message = 1 << 21;
    return zsession::session(o);
}

/// Decodes a signed message whose content frame is `content`, with `buffers`.
inline zsession::message decode_with(const zsession::session& s, std::string_view content,
                                     const std::vector<std::string>& buffers) {
    zsession::frames f = s.encode(s.make_message("fuzz"));
    f[5] = zmq::message_t(content.data(), content.size());
    std::array<zsession::bytes_view, 4> parts;
    for (std::size_t i = 0; i < 4; ++i) parts[i] = {f[2 + i].data(), f[2 + i].size()};
    const std::string sig = s.sign(parts);
    f[1] = zmq::message_t(sig.data(), sig.size());
    for (const auto& b : buffers) f.emplace_back(b.data(), b.size());
    return s.decode(std::move(f));
}

/// Resolves every placeholder of `m`: untyped (the handler it names), then as a few typed
/// reads with fresh resolvers (wrong types must be refused, not misread).
inline std::size_t resolve_all(const zsession::session& s, const zsession::message& m) {
    std::size_t sum = 0;
    const auto content = m.content_as<msgpack::object>();
    zsession::resolver all(s, m);
    for (const msgpack::object* o : zsession::find_placeholders(content)) {
        try {
            const zsession::placeholder p = zsession::placeholder::from_object(*o);
            sum += all.resolve_any(p).has_value();
            zsession::resolver r1(s, m), r2(s, m), r3(s, m), r4(s, m);
            try {
                sum += r1.resolve<std::vector<double>>(p).size();
            } catch (const zsession::error&) {
            }
            try {
                sum += r2.resolve<std::string>(p).size();
            } catch (const zsession::error&) {
            }
            try {
                sum += r3.resolve<std::vector<bool>>(p).size();
            } catch (const zsession::error&) {
            }
            try {
                const zsession::ndarray_view a = r4.resolve<zsession::ndarray_view>(p);
                sum += a.nbytes() ? static_cast<std::size_t>(a.bytes().data()[0]) : 0;
            } catch (const zsession::error&) {
            }
        } catch (const zsession::error&) {
        }
    }
    return sum;
}

/// The JSON target: `data` is a JSON content frame of a signed JSON-packer message. On
/// success the message is touched, re-encoded (the writer) and its placeholders resolved.
inline void json_input(const std::uint8_t* data, std::size_t size) {
    static const zsession::session s = fuzz_session(zsession::packer_kind::json, "fuzz");
    try {
        const std::string_view content(reinterpret_cast<const char*>(data), size);
        zsession::message m = decode_with(s, content, {std::string(48, '\1'), "abc"});
        volatile std::size_t sink = touch(m) + resolve_all(s, m);
        (void)sink;
        zsession::frames again = s.encode(m);
        sink = again.size();
    } catch (const zsession::error&) {
    }
}

/// The placeholder target: the first byte picks the packer (even: msgpack, odd: JSON); the
/// rest is split_frames: content, then buffers.
inline void placeholder_input(const std::uint8_t* data, std::size_t size) {
    static const zsession::session mp = fuzz_session(zsession::packer_kind::msgpack, "fuzz");
    static const zsession::session js = fuzz_session(zsession::packer_kind::json, "fuzz");
    if (size == 0) return;
    const zsession::session& s = data[0] % 2 ? js : mp;
    std::vector<std::string> frames = split_frames(data + 1, size - 1);
    if (frames.empty()) return;
    const std::string content = std::move(frames.front());
    frames.erase(frames.begin());
    try {
        const zsession::message m = decode_with(s, content, frames);
        volatile std::size_t sink = resolve_all(s, m);
        (void)sink;
    } catch (const zsession::error&) {
    }
}

}  // namespace fuzz
