#include "zsession/compression.hpp"

#include <blosc.h>
#include <lz4.h>
#include <zstd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "zsession/error.hpp"

namespace zsession {

std::string_view to_string(compression c) noexcept {
    switch (c) {
        case compression::lz4:
            return "lz4";
        case compression::zstd:
            return "zstd";
        case compression::blosc:
            return "blosc";
        case compression::none:
            break;
    }
    return "none";
}

compression compression_from_string(std::string_view name) {
    if (name == "none") return compression::none;
    if (name == "lz4") return compression::lz4;
    if (name == "zstd") return compression::zstd;
    if (name == "blosc") return compression::blosc;
    throw compression_error("unknown compression '" + std::string(name) + "'");
}

std::size_t lz4_max_input() noexcept {
    return LZ4_MAX_INPUT_SIZE;
}

buffer lz4_compress(bytes_view in) {
    if (in.size() > lz4_max_input()) throw usage_error("buffer too large for lz4");
    const int n = static_cast<int>(in.size());
    std::vector<char> out(static_cast<std::size_t>(LZ4_compressBound(n)));
    const int written =
        LZ4_compress_default(in.chars(), out.data(), n, static_cast<int>(out.size()));
    if (written <= 0 && n > 0) throw usage_error("lz4 compression failed");
    out.resize(static_cast<std::size_t>(std::max(written, 0)));
    out.shrink_to_fit();
    return buffer::take(std::move(out));
}

buffer lz4_decompress(bytes_view in, std::size_t declared, std::size_t max_decompressed) {
    if (declared > max_decompressed) {
        throw limit_error("declared decompressed size exceeds limits.max_decompressed_bytes");
    }
    if (declared > lz4_max_input() || in.size() > static_cast<std::size_t>(INT32_MAX)) {
        throw compression_error("lz4 block larger than the format allows");
    }
    // An lz4 block expands at most 255-fold (each length byte adds at most 255): a larger
    // declared size is a lie, refused before anything is allocated.
    if (declared > in.size() * 255 + 16) {
        throw compression_error("declared decompressed size is impossible for a " +
                                std::to_string(in.size()) + "-byte lz4 block");
    }
    // Uninitialised (every byte is written or the block is refused); operator new[] storage
    // is aligned for every dtype.
    const std::shared_ptr<std::byte[]> out(new std::byte[std::max<std::size_t>(declared, 1)]);
    const int got = LZ4_decompress_safe(in.chars(), reinterpret_cast<char*>(out.get()),
                                        static_cast<int>(in.size()), static_cast<int>(declared));
    if (got < 0 || static_cast<std::size_t>(got) != declared) {
        throw compression_error("lz4 block does not decompress to its declared " +
                                std::to_string(declared) + " bytes");
    }
    return buffer(bytes_view(out.get(), declared), out);
}

namespace {

// Up to five evenly spaced pieces of `in` (all of it when small).
std::vector<char> take_sample(bytes_view in, std::size_t piece) {
    if (in.size() <= 5 * piece) return std::vector<char>(in.chars(), in.chars() + in.size());
    std::vector<char> sample;
    sample.reserve(5 * piece);
    const std::size_t step = (in.size() - piece) / 4;
    for (std::size_t i = 0; i < 5; ++i) {
        const char* p = in.chars() + i * step;
        sample.insert(sample.end(), p, p + piece);
    }
    return sample;
}

// True when a sample of `in` (up to 5 evenly spaced pieces) compresses to at most max_ratio.
bool sample_pays(bytes_view in, const compression_options& o) {
    const std::size_t piece = std::max<std::size_t>(o.sample_piece, 1);
    if (in.size() <= 5 * piece) {
        return static_cast<double>(lz4_compress(in).size()) <= o.max_ratio * in.size();
    }
    const std::vector<char> sample = take_sample(in, piece);
    const buffer c = lz4_compress(bytes_view(sample.data(), sample.size()));
    return static_cast<double>(c.size()) <= o.max_ratio * sample.size();
}

}  // namespace

std::optional<buffer> maybe_compress(bytes_view in, const compression_options& opts) {
    if (opts.policy == compression_policy::off || in.size() > lz4_max_input()) return {};
    if (opts.policy == compression_policy::always) return lz4_compress(in);
    if (in.size() < opts.min_size || !sample_pays(in, opts)) return {};
    buffer c = lz4_compress(in);
    if (static_cast<double>(c.size()) > opts.max_ratio * in.size()) return {};
    return c;
}

// ---- zstd, blosc, dispatch and the link-aware policy ---------------------------------------

namespace {

// Uninitialised storage for `n` decoded bytes, aligned for every dtype (operator new[]).
std::shared_ptr<std::byte[]> decoded_storage(std::size_t n) {
    return std::shared_ptr<std::byte[]>(new std::byte[std::max<std::size_t>(n, 1)]);
}

// zstd cannot expand more than one 128 KiB block per 4 input bytes (3-byte block header and
// one RLE byte); blosc 1 wraps zstd streams, so the same bound holds. A larger declared size
// is a lie, refused before allocating.
void check_expansion(std::size_t in, std::size_t declared, const char* codec) {
    constexpr std::size_t block = std::size_t{128} << 10;
    if (declared / block > in / 4 + 1) {
        throw compression_error(std::string("declared decompressed size is impossible for a ") +
                                std::to_string(in) + "-byte " + codec + " buffer");
    }
}

void check_declared(std::size_t declared, std::size_t max_decompressed) {
    if (declared > max_decompressed) {
        throw limit_error("declared decompressed size exceeds limits.max_decompressed_bytes");
    }
}

}  // namespace

buffer zstd_compress(bytes_view in, int level) {
    std::vector<char> out(ZSTD_compressBound(in.size()));
    const std::size_t n = ZSTD_compress(out.data(), out.size(), in.data(), in.size(), level);
    if (ZSTD_isError(n)) throw usage_error(std::string("zstd: ") + ZSTD_getErrorName(n));
    out.resize(n);
    out.shrink_to_fit();
    return buffer::take(std::move(out));
}

buffer zstd_decompress(bytes_view in, std::size_t declared, std::size_t max_decompressed) {
    check_declared(declared, max_decompressed);
    const unsigned long long size = ZSTD_getFrameContentSize(in.data(), in.size());
    if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN || size != declared) {
        throw compression_error("zstd frame does not declare its placeholder's " +
                                std::to_string(declared) + " bytes");
    }
    if (ZSTD_findFrameCompressedSize(in.data(), in.size()) != in.size()) {
        throw compression_error("zstd buffer is not exactly one frame");
    }
    check_expansion(in.size(), declared, "zstd");
    const auto out = decoded_storage(declared);
    const std::size_t got = ZSTD_decompress(out.get(), declared, in.data(), in.size());
    if (ZSTD_isError(got) || got != declared) {
        throw compression_error("zstd frame does not decompress to its declared " +
                                std::to_string(declared) + " bytes");
    }
    return buffer(bytes_view(out.get(), declared), out);
}

std::size_t blosc_max_input() noexcept {
    return BLOSC_MAX_BUFFERSIZE;
}

buffer blosc_compress(bytes_view in, std::size_t element_size, int level) {
    if (in.size() > blosc_max_input()) throw usage_error("buffer too large for blosc");
    const std::size_t type_size =
        element_size == 0 || element_size > BLOSC_MAX_TYPESIZE ? 1 : element_size;
    const char* inner = blosc_compname_to_compcode("zstd") >= 0 ? "zstd" : "lz4";
    std::vector<char> out(in.size() + BLOSC_MAX_OVERHEAD);
    const int n = blosc_compress_ctx(std::clamp(level, 0, 9), BLOSC_SHUFFLE, type_size, in.size(),
                                     in.data(), out.data(), out.size(), inner, 0, 1);
    if (n <= 0) throw usage_error("blosc compression failed");
    out.resize(static_cast<std::size_t>(n));
    out.shrink_to_fit();
    return buffer::take(std::move(out));
}

buffer blosc_decompress(bytes_view in, std::size_t declared, std::size_t max_decompressed) {
    check_declared(declared, max_decompressed);
    std::size_t nbytes = 0, cbytes = 0, block = 0;
    if (in.size() < BLOSC_MIN_HEADER_LENGTH ||
        blosc_cbuffer_validate(in.data(), in.size(), &nbytes) != 0) {
        throw compression_error("not a valid blosc chunk");
    }
    blosc_cbuffer_sizes(in.data(), &nbytes, &cbytes, &block);
    if (nbytes != declared || cbytes != in.size()) {
        throw compression_error("blosc chunk does not hold its placeholder's " +
                                std::to_string(declared) + " bytes in " +
                                std::to_string(in.size()));
    }
    // A chunk stored uncompressed ("memcpyed") is exactly header + bytes; otherwise the
    // inner codec's expansion bound applies.
    if (cbytes != declared + BLOSC_MAX_OVERHEAD) check_expansion(in.size(), declared, "blosc");
    const auto out = decoded_storage(declared);
    const int got = blosc_decompress_ctx(in.data(), out.get(), declared, 1);
    if (got < 0 || static_cast<std::size_t>(got) != declared) {
        throw compression_error("blosc chunk does not decompress to its declared " +
                                std::to_string(declared) + " bytes");
    }
    return buffer(bytes_view(out.get(), declared), out);
}

buffer compress(compression codec, bytes_view in, std::size_t element_size, int level) {
    switch (codec) {
        case compression::lz4:
            return lz4_compress(in);
        case compression::zstd:
            return zstd_compress(in, level);
        case compression::blosc:
            return blosc_compress(in, element_size, level);
        case compression::none:
            break;
    }
    throw usage_error("compress: no codec given");
}

buffer decompress(compression codec, const buffer& in, std::size_t declared,
                  std::size_t max_decompressed) {
    switch (codec) {
        case compression::lz4:
            return lz4_decompress(in, declared, max_decompressed);
        case compression::zstd:
            return zstd_decompress(in, declared, max_decompressed);
        case compression::blosc:
            return blosc_decompress(in, declared, max_decompressed);
        case compression::none:
            break;
    }
    if (in.size() != declared) {
        throw decode_error("buffer has " + std::to_string(in.size()) +
                           " bytes, placeholder declares " + std::to_string(declared));
    }
    return in;
}

double link_bandwidth_for(std::string_view endpoint, double configured) noexcept {
    const auto starts = [&](std::string_view p) { return endpoint.substr(0, p.size()) == p; };
    if (starts("inproc://") || starts("ipc://") || starts("tcp://127.") ||
        starts("tcp://localhost:") || starts("tcp://[::1]:")) {
        return std::numeric_limits<double>::infinity();
    }
    return configured;
}

namespace {

std::size_t max_input(compression codec) noexcept {
    return codec == compression::blosc ? blosc_max_input()
           : codec == compression::lz4 ? lz4_max_input()
                                       : std::numeric_limits<std::size_t>::max() / 2;
}

struct sample_result {
    double ratio = 1;             // compressed / raw
    double seconds_per_byte = 0;  // compression + decompression, per raw byte
};

// Compresses a sample; with `timed`, also decompresses it and measures both (link_aware).
sample_result try_sample(bytes_view in, const compression_options& o, std::size_t element_size,
                         bool timed) {
    using clock = std::chrono::steady_clock;
    // Keep shuffle groups whole: pieces a multiple of the element size.
    const std::size_t es = std::max<std::size_t>(element_size, 1);
    const std::size_t piece = std::max<std::size_t>(o.sample_piece / es * es, es);
    const std::vector<char> sample = take_sample(in, piece);
    const bytes_view sv(sample.data(), sample.size());
    const auto t0 = clock::now();
    const buffer c = compress(o.codec, sv, element_size, o.zstd_level);
    if (timed) decompress(o.codec, c, sample.size(), sample.size());
    const auto t2 = clock::now();
    const double n = static_cast<double>(std::max<std::size_t>(sample.size(), 1));
    return {static_cast<double>(c.size()) / n, std::chrono::duration<double>(t2 - t0).count() / n};
}

}  // namespace

compressed_buffer compress_buffer(buffer in, const compression_options& opts,
                                  std::size_t element_size) {
    const compression codec = opts.codec;
    if (opts.policy == compression_policy::off || codec == compression::none ||
        in.size() > max_input(codec)) {
        return {compression::none, std::move(in)};
    }
    if (opts.policy == compression_policy::always) {
        return {codec, compress(codec, in, element_size, opts.zstd_level)};
    }
    if (in.size() < opts.min_size) return {compression::none, std::move(in)};
    const double bw = opts.link_bandwidth;
    // link_aware always applies the time rule; automatic too once a bandwidth is configured.
    const bool link = opts.policy == compression_policy::link_aware || bw != 0;
    if (link && (!(bw > 0) || std::isinf(bw))) return {compression::none, std::move(in)};
    const sample_result s = try_sample(in, opts, element_size, link);
    if (s.ratio > opts.max_ratio) return {compression::none, std::move(in)};
    // link_aware: raw takes 1/bw per byte; compressed takes ratio/bw plus the codec's time.
    if (link && s.ratio / bw + s.seconds_per_byte >= 1 / bw)
        return {compression::none, std::move(in)};
    buffer c = compress(codec, in, element_size, opts.zstd_level);
    if (static_cast<double>(c.size()) > opts.max_ratio * static_cast<double>(in.size())) {
        return {compression::none, std::move(in)};
    }
    return {codec, std::move(c)};
}

}  // namespace zsession
