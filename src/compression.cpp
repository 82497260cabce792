#include "zsession/compression.hpp"

#include <lz4.h>

#include <algorithm>
#include <string>
#include <vector>

#include "zsession/error.hpp"

namespace zsession {

std::string_view to_string(compression c) noexcept {
    return c == compression::lz4 ? "lz4" : "none";
}

compression compression_from_string(std::string_view name) {
    if (name == "none") return compression::none;
    if (name == "lz4") return compression::lz4;
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

// True when a sample of `in` (up to 5 evenly spaced pieces) compresses to at most max_ratio.
bool sample_pays(bytes_view in, const compression_options& o) {
    const std::size_t piece = std::max<std::size_t>(o.sample_piece, 1);
    if (in.size() <= 5 * piece) {
        return static_cast<double>(lz4_compress(in).size()) <= o.max_ratio * in.size();
    }
    std::vector<char> sample;
    sample.reserve(5 * piece);
    const std::size_t step = (in.size() - piece) / 4;
    for (std::size_t i = 0; i < 5; ++i) {
        const char* p = in.chars() + i * step;
        sample.insert(sample.end(), p, p + piece);
    }
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

}  // namespace zsession
