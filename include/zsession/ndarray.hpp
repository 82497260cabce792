// zsession/ndarray.hpp - n-dimensional arrays described the way numpy describes them
// (dtype string, shape, C or Fortran order), an owning form and a zero-copy view, and the
// built-in "ndarray" handler (which std::vector<T> of arithmetic T also travels as).
//
// A numpy peer rebuilds a received array with
//   numpy.frombuffer(buf, dtype).reshape(shape, order=order)
// (docs/PROTOCOL.md, "ndarray").
#pragma once

#include <bit>
#include <complex>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "zsession/buffer.hpp"
#include "zsession/error.hpp"
#include "zsession/registry.hpp"

namespace zsession {

/// numpy's dtype kind characters that zsession supports.
enum class dtype_kind : char {
    boolean = 'b',
    signed_int = 'i',
    unsigned_int = 'u',
    floating = 'f',
    complex = 'c',
};

/// An element type as numpy's dtype.str writes it: byte order, kind, item size ("<f8").
struct dtype {
    dtype_kind kind = dtype_kind::unsigned_int;
    std::size_t itemsize = 1;
    std::endian byte_order = std::endian::native;  ///< irrelevant when itemsize == 1

    /// Parses "<f8", ">i4", "|u1", "|b1", "<c16"... Accepted: byte order '<', '>' or '|'
    /// ('|' only for itemsize 1); kinds b (size 1), i/u (1, 2, 4, 8), f (2, 4, 8, 16),
    /// c (8, 16, 32). Throws decode_error for anything else.
    static dtype parse(std::string_view s);
    /// numpy's dtype.str: '|' for itemsize 1, '<' or '>' otherwise.
    std::string str() const;
    /// Bytes an element's address must be a multiple of to be read in place: the item
    /// size (half of it for complex), at most alignof(std::max_align_t).
    std::size_t alignment() const noexcept;
    bool is_native_order() const noexcept {
        return itemsize == 1 || byte_order == std::endian::native;
    }
    friend bool operator==(const dtype& a, const dtype& b) noexcept {
        return a.kind == b.kind && a.itemsize == b.itemsize &&
               (a.itemsize == 1 || a.byte_order == b.byte_order);
    }
};

template <class T>
struct is_complex : std::false_type {};
template <class F>
struct is_complex<std::complex<F>> : std::is_floating_point<F> {};

/// Element types with a dtype: arithmetic types and std::complex of floating types.
template <class T>
concept element_type = std::is_arithmetic_v<T> || is_complex<T>::value;

/// The native dtype of T (bool is "|b1", double "<f8" on little-endian hosts, ...).
template <element_type T>
constexpr dtype dtype_of() noexcept {
    dtype d{dtype_kind::floating, sizeof(T), std::endian::native};
    if constexpr (std::is_same_v<T, bool>) {
        d.kind = dtype_kind::boolean;
    } else if constexpr (is_complex<T>::value) {
        d.kind = dtype_kind::complex;
    } else if constexpr (std::is_integral_v<T>) {
        d.kind = std::is_signed_v<T> ? dtype_kind::signed_int : dtype_kind::unsigned_int;
    }
    return d;
}

/// Memory order of an array with more than one dimension. Wire names: "C", "F".
enum class array_order { c, fortran };

/// Parses "C" or "F". Throws decode_error otherwise.
array_order array_order_from_string(std::string_view s);
std::string_view to_string(array_order o) noexcept;

/// The one naming for wire names across the library: to_string(x) and <type>_from_string(s)
/// (as for compression and array_order). dtype_from_string is dtype::parse, to_string(dtype)
/// is dtype::str.
inline dtype dtype_from_string(std::string_view s) {
    return dtype::parse(s);
}
inline std::string to_string(const dtype& d) {
    return d.str();
}

/// Product of the shape (1 for a 0-d array). Throws decode_error on overflow (a received
/// shape); the array constructors turn that into usage_error for a shape built locally.
std::size_t element_count(std::span<const std::size_t> shape);

class ndarray;

/// What the two array forms share: dtype, shape, order.
class array_layout {
  public:
    array_layout() = default;  ///< an empty 1-d array (shape {0})
    array_layout(zsession::dtype type, std::vector<std::size_t> shape, array_order order)
        : type_(type), shape_(std::move(shape)), order_(order) {}

    const zsession::dtype& type() const noexcept { return type_; }
    const std::vector<std::size_t>& shape() const noexcept { return shape_; }
    std::size_t ndim() const noexcept { return shape_.size(); }
    array_order order() const noexcept { return order_; }
    /// Number of elements.
    std::size_t size() const { return element_count(shape_); }
    std::size_t nbytes() const { return size() * type_.itemsize; }
    /// True when elements are T (same kind, size, native byte order).
    template <element_type T>
    bool holds() const noexcept {
        return type_ == dtype_of<T>() && type_.is_native_order();
    }

  protected:
    /// Throws usage_error unless holds<T>().
    template <element_type T>
    void require_type() const {
        if (!holds<T>())
            throw usage_error("array holds " + type_.str() + ", not the requested type");
    }

  private:
    zsession::dtype type_;
    // Default: one dimension of length 0 (an empty array). An empty shape would be a 0-d
    // array of one element, which a default-constructed array has no storage for.
    std::vector<std::size_t> shape_{0};
    array_order order_ = array_order::c;
};

/// A read-only array over a buffer it pins: typically a received frame (no copy).
///
/// Alignment: a received frame may start at any address (libzmq packs small and batched
/// messages at arbitrary offsets). The "ndarray" handler (what a resolver hands out) copies
/// such a frame once into aligned memory, so a resolved view is always aligned for its
/// dtype, and a large frame stays a view of the frame. A view built by hand over any
/// buffer may not be: is_aligned() says; values<T>() throws usage_error on a misaligned
/// view instead of handing out a misaligned span (undefined behaviour); copy() makes an
/// aligned owning copy; bytes() is always usable (memcpy from it is fine).
/// Thread safety: like buffer; a view may be read from several threads.
class ndarray_view : public array_layout {
  public:
    ndarray_view() = default;
    /// Throws usage_error when bytes.size() != element_count(shape) * type.itemsize.
    ndarray_view(zsession::dtype type, std::vector<std::size_t> shape, buffer bytes,
                 array_order order = array_order::c);

    /// The pinned bytes (a view of the received frame for a received array).
    const buffer& bytes() const noexcept { return bytes_; }
    const std::byte* data() const noexcept { return bytes_.data(); }
    /// True when data() is a multiple of type().alignment().
    bool is_aligned() const noexcept;
    /// The elements in memory order. Throws usage_error unless holds<T>() and data() is
    /// aligned for T. The span is valid while this view (or a copy of bytes()) lives.
    template <element_type T>
    std::span<const T> values() const& {
        require_type<T>();
        if (reinterpret_cast<std::uintptr_t>(data()) % alignof(T) != 0) {
            throw usage_error("array data is not aligned for its element type; use copy()");
        }
        return {reinterpret_cast<const T*>(data()), size()};
    }
    /// The span would outlive a temporary view, which may be the bytes' only pin (a small
    /// received array copied to aligned memory): keep the view in a variable.
    template <element_type T>
    std::span<const T> values() const&& = delete;
    /// An owning, aligned copy (the one explicit copy).
    ndarray copy() const;

  private:
    buffer bytes_;
};

/// An array that owns its elements, aligned for any element type, writable.
///
/// Copies share the storage (like shared_ptr); view() pins it, so a view or an offloaded
/// placeholder stays valid after the ndarray is gone. Writing while a message holding a
/// view is being sent is a data race: finish writing first.
class ndarray : public array_layout {
  public:
    ndarray() = default;
    /// Zero-filled. Throws decode_error when the size overflows.
    ndarray(zsession::dtype type, std::vector<std::size_t> shape,
            array_order order = array_order::c);

    /// Storage left uninitialized, for an output array the caller writes whole: no
    /// zero-fill pass (for an 800 MB array that is a whole pass over memory saved). Reading
    /// an element before writing it reads an indeterminate value. Throws usage_error when
    /// the size overflows.
    [[nodiscard]] static ndarray uninitialized(zsession::dtype type, std::vector<std::size_t> shape,
                                               array_order order = array_order::c);
    /// uninitialized(dtype_of<T>(), shape, order).
    template <element_type T>
    [[nodiscard]] static ndarray uninitialized(std::vector<std::size_t> shape,
                                               array_order order = array_order::c) {
        return uninitialized(dtype_of<T>(), std::move(shape), order);
    }

    /// Copies `values` into a new array of the given shape (default: 1-D). Throws
    /// usage_error when the element count does not match.
    template <element_type T>
    static ndarray from(std::span<const T> values, std::vector<std::size_t> shape = {},
                        array_order order = array_order::c) {
        if (shape.empty()) shape = {values.size()};
        ndarray a(for_overwrite, dtype_of<T>(), std::move(shape), order);
        if (a.size() != values.size()) throw usage_error("shape does not match the value count");
        if (!values.empty()) std::memcpy(a.data(), values.data(), a.nbytes());
        return a;
    }

    std::byte* data() noexcept { return data_.get(); }
    const std::byte* data() const noexcept { return data_.get(); }
    /// The elements in memory order. Throws usage_error unless holds<T>().
    template <element_type T>
    std::span<T> values() {
        require_type<T>();
        return {reinterpret_cast<T*>(data()), size()};
    }
    template <element_type T>
    std::span<const T> values() const {
        require_type<T>();
        return {reinterpret_cast<const T*>(data()), size()};
    }
    /// A view sharing (and pinning) this array's storage.
    ndarray_view view() const;

  private:
    friend class ndarray_view;  // copy() fills a new array whole
    struct for_overwrite_t {};
    static constexpr for_overwrite_t for_overwrite{};
    /// Uninitialized storage, for callers that write every byte at once (from, copy): an
    /// 800 MB copy is one pass over memory, not two.
    ndarray(for_overwrite_t, zsession::dtype type, std::vector<std::size_t> shape,
            array_order order);

    std::shared_ptr<std::byte[]> data_;
};

/// Header of the "ndarray" wire handler: {"dtype": "<f8", "shape": [3, 4], "order": "C"}.
struct ndarray_header {
    std::string dtype;
    std::vector<std::uint64_t> shape;
    std::string order;
    MSGPACK_DEFINE_MAP(dtype, shape, order)
};

/// "ndarray": one buffer of nbytes, header ndarray_header. Decodes to a view (no copy).
template <>
struct handler<ndarray_view> {
    static constexpr std::string_view wire_name = "ndarray";
    using header_type = ndarray_header;
    static ndarray_header encode(ndarray_view value, std::vector<buffer>& out);
    /// Throws decode_error for a bad dtype or order, or a buffer of the wrong size.
    static ndarray_view decode(const ndarray_header& h, std::span<const buffer> in);
    static std::size_t nbytes(const ndarray_view& v) { return v.nbytes(); }
    /// {itemsize}: what the blosc codec shuffles by. Throws decode_error for a bad dtype.
    static std::vector<std::size_t> element_sizes(const ndarray_header& h) {
        return {dtype::parse(h.dtype).itemsize};
    }
};

/// The owning array travels as "ndarray"; decoding copies (aligned).
template <>
struct handler<ndarray> {
    using wire_type = ndarray_view;
    static ndarray_view to_wire(ndarray a) { return a.view(); }
    static ndarray from_wire(ndarray_view v) { return v.copy(); }
    static std::size_t nbytes(const ndarray& a) { return a.nbytes(); }
};

/// std::vector of an arithmetic type travels as a 1-D "ndarray" (std::vector<bool> as
/// "|b1", one byte per element). Encoding a moved-in vector copies nothing; decoding
/// copies (memcpy, so a misaligned frame is fine) and throws decode_error unless the
/// array is 1-D with exactly T's dtype.
template <class T>
requires std::is_arithmetic_v<T>
struct handler<std::vector<T>> {
    using wire_type = ndarray_view;
    static ndarray_view to_wire(std::vector<T> v) {
        if constexpr (std::is_same_v<T, bool>) {
            std::vector<std::uint8_t> bytes(v.begin(), v.end());
            return to_view(std::move(bytes), v.size());
        } else {
            const std::size_t n = v.size();
            return to_view(std::move(v), n);
        }
    }
    static std::vector<T> from_wire(ndarray_view a) {
        if (!a.holds<T>() || a.ndim() != 1) {
            throw decode_error("expected a 1-D " + dtype_of<T>().str() + " array, got " +
                               a.type().str() + " with " + std::to_string(a.ndim()) + " dims");
        }
        if constexpr (std::is_same_v<T, bool>) {
            const auto* p = reinterpret_cast<const std::uint8_t*>(a.data());
            return std::vector<bool>(p, p + a.size());
        } else {
            std::vector<T> out(a.size());
            if (!out.empty()) std::memcpy(out.data(), a.data(), a.nbytes());
            return out;
        }
    }
    static std::size_t nbytes(const std::vector<T>& v) noexcept { return v.size() * sizeof(T); }

  private:
    template <class V>
    static ndarray_view to_view(V&& v, std::size_t n) {
        return ndarray_view(dtype_of<T>(), {n}, buffer::take(std::move(v)));
    }
};

}  // namespace zsession
