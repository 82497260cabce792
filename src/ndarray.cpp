#include "zsession/ndarray.hpp"

#include <algorithm>
#include <limits>

namespace zsession {

namespace {

bool valid_size(dtype_kind kind, std::size_t n) noexcept {
    auto one_of = [n](std::initializer_list<std::size_t> sizes) {
        return std::find(sizes.begin(), sizes.end(), n) != sizes.end();
    };
    switch (kind) {
        case dtype_kind::boolean:
            return n == 1;
        case dtype_kind::signed_int:
        case dtype_kind::unsigned_int:
            return one_of({1, 2, 4, 8});
        case dtype_kind::floating:
            return one_of({2, 4, 8, 16});
        case dtype_kind::complex:
            return one_of({8, 16, 32});
    }
    return false;
}

bool parse_kind(char c, dtype_kind& kind) noexcept {
    switch (c) {
        case 'b':
            kind = dtype_kind::boolean;
            return true;
        case 'i':
            kind = dtype_kind::signed_int;
            return true;
        case 'u':
            kind = dtype_kind::unsigned_int;
            return true;
        case 'f':
            kind = dtype_kind::floating;
            return true;
        case 'c':
            kind = dtype_kind::complex;
            return true;
    }
    return false;
}

}  // namespace

dtype dtype::parse(std::string_view s) {
    const auto bad = [&s] { return decode_error("unsupported dtype '" + std::string(s) + "'"); };
    if (s.size() < 3 || s.size() > 4 || s[2] == '0') throw bad();
    dtype d;
    if (!parse_kind(s[1], d.kind)) throw bad();
    std::size_t n = 0;
    for (char c : s.substr(2)) {
        if (c < '0' || c > '9') throw bad();
        n = n * 10 + static_cast<std::size_t>(c - '0');
    }
    if (!valid_size(d.kind, n)) throw bad();
    d.itemsize = n;
    switch (s[0]) {
        case '<':
            d.byte_order = std::endian::little;
            break;
        case '>':
            d.byte_order = std::endian::big;
            break;
        case '|':
            if (n != 1) throw bad();
            break;
        default:
            throw bad();
    }
    return d;
}

std::string dtype::str() const {
    const char order = itemsize == 1 ? '|' : byte_order == std::endian::little ? '<' : '>';
    return std::string(1, order) + static_cast<char>(kind) + std::to_string(itemsize);
}

std::size_t dtype::alignment() const noexcept {
    const std::size_t natural = kind == dtype_kind::complex ? itemsize / 2 : itemsize;
    return std::min(natural, alignof(std::max_align_t));
}

array_order array_order_from_string(std::string_view s) {
    if (s == "C") return array_order::c;
    if (s == "F") return array_order::fortran;
    throw decode_error("array order must be \"C\" or \"F\", not '" + std::string(s) + "'");
}

std::string_view to_string(array_order o) noexcept {
    return o == array_order::c ? "C" : "F";
}

std::size_t element_count(std::span<const std::size_t> shape) {
    std::size_t n = 1;
    for (std::size_t d : shape) {
        if (d != 0 && n > std::numeric_limits<std::size_t>::max() / d) {
            throw decode_error("array shape overflows");
        }
        n *= d;
    }
    return n;
}

namespace {

/// Elements of a locally built array: an overflowing shape is the caller's usage_error
/// (a received one was already refused as decode_error by the handler).
std::size_t local_count(const array_layout& a) {
    try {
        return a.size();
    } catch (const decode_error&) {
        throw usage_error("array shape overflows");
    }
}

}  // namespace

ndarray_view::ndarray_view(zsession::dtype type, std::vector<std::size_t> shape, buffer bytes,
                           array_order order)
    : array_layout(type, std::move(shape), order), bytes_(std::move(bytes)) {
    const std::size_t count = local_count(*this);
    if (count > std::numeric_limits<std::size_t>::max() / type.itemsize ||
        bytes_.size() != count * type.itemsize) {
        throw usage_error("array buffer size does not match dtype and shape");
    }
}

bool ndarray_view::is_aligned() const noexcept {
    return reinterpret_cast<std::uintptr_t>(data()) % type().alignment() == 0;
}

ndarray ndarray_view::copy() const {
    ndarray a(ndarray::for_overwrite, type(), shape(), order());
    if (!bytes_.empty()) std::memcpy(a.data(), bytes_.data(), bytes_.size());
    return a;
}

ndarray::ndarray(zsession::dtype type, std::vector<std::size_t> shape, array_order order)
    : ndarray(for_overwrite, type, std::move(shape), order) {
    std::memset(data(), 0, nbytes());
}

ndarray ndarray::uninitialized(zsession::dtype type, std::vector<std::size_t> shape,
                               array_order order) {
    return ndarray(for_overwrite, type, std::move(shape), order);
}

ndarray::ndarray(for_overwrite_t, zsession::dtype type, std::vector<std::size_t> shape,
                 array_order order)
    : array_layout(type, std::move(shape), order) {
    const std::size_t count = local_count(*this);
    if (count > std::numeric_limits<std::size_t>::max() / type.itemsize) {
        throw usage_error("array size overflows");
    }
    // new std::byte[] is aligned to __STDCPP_DEFAULT_NEW_ALIGNMENT__ (16 on x86-64 and
    // aarch64): enough for every supported dtype. Not initialized here.
    data_ = std::shared_ptr<std::byte[]>(new std::byte[std::max<std::size_t>(nbytes(), 1)]);
}

ndarray_view ndarray::view() const {
    return ndarray_view(type(), shape(), buffer(bytes_view(data(), nbytes()), data_), order());
}

ndarray_header handler<ndarray_view>::encode(ndarray_view value, std::vector<buffer>& out) {
    ndarray_header h{value.type().str(), {}, std::string(to_string(value.order()))};
    h.shape.assign(value.shape().begin(), value.shape().end());
    out.push_back(value.bytes());
    return h;
}

ndarray_view handler<ndarray_view>::decode(const ndarray_header& h, std::span<const buffer> in) {
    detail::expect_buffers(in, 1, wire_name);
    const dtype type = dtype::parse(h.dtype);
    const array_order order = array_order_from_string(h.order);
    std::vector<std::size_t> shape(h.shape.begin(), h.shape.end());
    const std::size_t count = element_count(shape);
    if (count > std::numeric_limits<std::size_t>::max() / type.itemsize ||
        count * type.itemsize != in[0].size()) {
        throw decode_error("ndarray buffer has " + std::to_string(in[0].size()) +
                           " bytes, dtype and shape say otherwise");
    }
    // A bool holding any byte but 0 or 1 is undefined behaviour to read as bool.
    if (type.kind == dtype_kind::boolean) {
        const auto bytes = in[0].view().as_span();
        if (std::any_of(bytes.begin(), bytes.end(), [](std::byte b) { return b > std::byte{1}; })) {
            throw decode_error("|b1 array holds a byte other than 0 or 1");
        }
    }
    // What the resolver hands out is aligned for its dtype: a frame small enough to share
    // libzmq's batch buffer may start anywhere and is copied once; a large frame (its own
    // allocation) stays a view of the frame.
    return ndarray_view(type, std::move(shape), in[0].aligned(type.alignment()), order);
}

}  // namespace zsession
