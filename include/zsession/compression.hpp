// zsession/compression.hpp - lz4 per buffer: the codec, and the policy that decides when.
//
// The wire form is one raw LZ4 *block* (no frame header, no stored size): the decoded size
// travels in the placeholder (see placeholder.hpp and docs/PROTOCOL.md), which bounds the
// decompression before anything is allocated.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

#include "zsession/buffer.hpp"

namespace zsession {

/// How one buffer is stored on the wire. Wire names: "none", "lz4".
enum class compression { none, lz4 };

/// Wire name of `c`.
std::string_view to_string(compression c) noexcept;
/// Parses a wire name. Throws compression_error for any other name.
compression compression_from_string(std::string_view name);

/// When buffers are compressed on offload.
enum class compression_policy {
    off,        ///< never (the default: most array payloads are incompressible floats)
    always,     ///< every buffer lz4 can take, even when it does not shrink
    automatic,  ///< Dask's maybe_compress: try a sample, keep the result only where it pays
};

struct compression_options {
    compression_policy policy = compression_policy::off;
    /// automatic: buffers smaller than this stay as they are (Dask uses 10 kB: below it
    /// the time saved on the wire is smaller than the time spent compressing).
    std::size_t min_size = 10'000;
    /// automatic: the compressed form is kept only when compressed <= ratio * original,
    /// both for the sample and for the whole buffer (Dask's 0.9).
    double max_ratio = 0.9;
    /// automatic: up to 5 evenly spaced pieces of this many bytes form the sample.
    std::size_t sample_piece = 10'000;
};

/// Largest buffer the LZ4 block format can take (LZ4_MAX_INPUT_SIZE, about 2 GiB). Larger
/// buffers are always sent uncompressed, whatever the policy.
std::size_t lz4_max_input() noexcept;

/// Compresses `in` into a new owned buffer. Throws usage_error when in.size() exceeds
/// lz4_max_input().
[[nodiscard]] buffer lz4_compress(bytes_view in);

/// Decompresses one block that must decode to exactly `declared` bytes.
/// Throws limit_error when declared > max_decompressed (before allocating), and
/// compression_error when the block is malformed or decodes to another size.
/// The result is an owned buffer aligned for any element type (operator new).
[[nodiscard]] buffer lz4_decompress(bytes_view in, std::size_t declared,
                                    std::size_t max_decompressed);

/// Applies the policy to one buffer: the compressed form, or empty when `in` should travel
/// as it is. Never throws for policy reasons (too large for lz4 means "as it is").
[[nodiscard]] std::optional<buffer> maybe_compress(bytes_view in, const compression_options& opts);

}  // namespace zsession
