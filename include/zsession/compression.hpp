// zsession/compression.hpp - per-buffer codecs (lz4, zstd, blosc's byte shuffle + zstd) and
// the policies that decide when to use them.
//
// The lz4 wire form is one raw LZ4 *block* (no frame header, no stored size); zstd is one
// zstd frame; blosc is one Blosc 1 chunk (byte shuffle by element size, then zstd). In every
// case the decoded size travels in the placeholder (see placeholder.hpp and
// docs/PROTOCOL.md), which bounds the decompression before anything is allocated.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

#include "zsession/buffer.hpp"

namespace zsession {

/// How one buffer is stored on the wire. Wire names: "none", "lz4", "zstd", "blosc".
enum class compression { none, lz4, zstd, blosc };

/// Wire name of `c`.
std::string_view to_string(compression c) noexcept;
/// Parses a wire name. Throws compression_error for any other name.
compression compression_from_string(std::string_view name);

/// When buffers are compressed on offload.
enum class compression_policy {
    off,     ///< never (the default: most array payloads are incompressible floats)
    always,  ///< every buffer lz4 can take, even when it does not shrink
    /// Dask's maybe_compress: try a sample, keep the result only where it pays. With a
    /// link_bandwidth configured (not 0) it also applies link_aware's time rule.
    automatic,
    /// Only where it beats the link: compressed size / link_bandwidth + compression and
    /// decompression time (measured on a sample) < raw size / link_bandwidth. Never on an
    /// unknown link (link_bandwidth 0) or loopback (infinity; see link_bandwidth_for).
    link_aware,
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
    /// The codec always / automatic / link_aware use. lz4 is the default (and the only codec
    /// of earlier versions); blosc shuffles bytes by the buffer's element size first (the
    /// handler says it, e.g. 8 for "<f8"), which is what makes numeric arrays compress.
    compression codec = compression::lz4;
    /// zstd level for "zstd" and "blosc" (1: fastest; zstd's levels go to 19 and beyond).
    int zstd_level = 1;
    /// Bytes per second the link carries. 0: unknown (link_aware never compresses; automatic
    /// uses the ratio rule alone, as before). Infinity: loopback (never compresses).
    double link_bandwidth = 0;
};

/// The bandwidth to use for `endpoint`: infinity for inproc://, ipc:// and tcp:// to
/// 127.x.x.x, localhost or [::1] (loopback: compressing never pays), `configured` otherwise.
double link_bandwidth_for(std::string_view endpoint, double configured) noexcept;

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

/// Applies the policy to one buffer with lz4 (whatever opts.codec says; kept as in earlier
/// versions): the compressed form, or empty when `in` should travel as it is. Never throws
/// for policy reasons (too large for lz4 means "as it is").
[[nodiscard]] std::optional<buffer> maybe_compress(bytes_view in, const compression_options& opts);

/// zstd: one frame with its content size. Throws usage_error when compression fails.
buffer zstd_compress(bytes_view in, int level = 1);
/// Decompresses one zstd frame that must declare and decode to exactly `declared` bytes.
/// Throws limit_error when declared > max_decompressed, compression_error when the declared
/// size is impossible for the input's size (zstd expands at most ~32768-fold), the input is
/// not exactly one frame, or it decodes to anything else. Result aligned for any dtype.
buffer zstd_decompress(bytes_view in, std::size_t declared, std::size_t max_decompressed);

/// blosc: one Blosc 1 chunk, byte-shuffled by `element_size` (1 or > 255: no shuffle), zstd
/// inside. Throws usage_error when in.size() > blosc_max_input().
buffer blosc_compress(bytes_view in, std::size_t element_size, int level = 1);
/// Decompresses one Blosc chunk whose header must say `declared` bytes and in.size()
/// compressed bytes. Errors as zstd_decompress.
buffer blosc_decompress(bytes_view in, std::size_t declared, std::size_t max_decompressed);
/// Largest buffer blosc takes (BLOSC_MAX_BUFFERSIZE, about 2 GiB).
std::size_t blosc_max_input() noexcept;

/// Compresses with `codec` (not none). element_size matters to blosc only.
buffer compress(compression codec, bytes_view in, std::size_t element_size = 1, int level = 1);
/// Decompresses a buffer stored as `codec`; none returns `in` checked against `declared`
/// (decode_error). Errors as the codec's own function.
buffer decompress(compression codec, const buffer& in, std::size_t declared,
                  std::size_t max_decompressed);

/// A buffer as it will travel: its codec and bytes.
struct compressed_buffer {
    compression codec = compression::none;
    buffer bytes;
};

/// Applies opts.policy with opts.codec to one buffer whose elements are `element_size`
/// bytes: the form to send (codec none: `in` unchanged). Never throws for policy reasons.
compressed_buffer compress_buffer(buffer in, const compression_options& opts,
                                  std::size_t element_size = 1);

}  // namespace zsession
