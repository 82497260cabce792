// zsession/eigen.hpp - Eigen matrices as registered handlers: an example of a user's handler.
//
// Nothing here touches the library's internals: it is what an application writes to send its
// own type (docs/TYPES.md, "Your own types"). An Eigen matrix travels as a 2-D "ndarray"
// (vectors as 1-D), in its own storage order ("F" for Eigen's default column-major), so a
// numpy peer reads it with numpy.frombuffer(...).reshape(shape, order=order).
//   - send: the matrix is moved into the buffer's owner; a dynamic-size matrix keeps its heap
//     block, so its bytes go to libzmq without a copy.
//   - receive: resolve<Eigen::MatrixXd> copies into a new matrix (transposing the layout if the
//     sender's order differs); eigen_map<M>(view) maps a received ndarray_view without copying.
// Register the types you use: reg.add<Eigen::MatrixXd>(), or register_eigen_handlers(reg).
// Requires Eigen 3 (Debian: libeigen3-dev); built and tested when meson's `eigen` feature is on.
#pragma once

#include <Eigen/Core>

#include <cstring>
#include <memory>
#include <string>

#include "zsession/ndarray.hpp"
#include "zsession/registry.hpp"

namespace zsession {

template <class Scalar, int Rows, int Cols, int Options, int MaxRows, int MaxCols>
requires element_type<Scalar>
struct handler<Eigen::Matrix<Scalar, Rows, Cols, Options, MaxRows, MaxCols>> {
    using matrix = Eigen::Matrix<Scalar, Rows, Cols, Options, MaxRows, MaxCols>;
    using wire_type = ndarray_view;
    static constexpr bool is_vector = Rows == 1 || Cols == 1;
    static constexpr array_order order = matrix::IsRowMajor ? array_order::c : array_order::fortran;

    /// Moves `m` into the buffer's owner (no copy of a dynamic matrix's elements).
    static ndarray_view to_wire(matrix m) {
        auto owner = std::make_shared<matrix>(std::move(m));
        std::vector<std::size_t> shape{static_cast<std::size_t>(owner->rows()),
                                       static_cast<std::size_t>(owner->cols())};
        if (is_vector) shape = {static_cast<std::size_t>(owner->size())};
        const bytes_view bytes(owner->data(),
                               static_cast<std::size_t>(owner->size()) * sizeof(Scalar));
        return ndarray_view(dtype_of<Scalar>(), std::move(shape),
                            buffer(bytes, std::shared_ptr<const void>(owner)), order);
    }

    /// Copies a received array into a matrix. Throws decode_error unless the dtype is
    /// exactly Scalar's and the shape fits (2-D; 1-D also for vector types).
    static matrix from_wire(ndarray_view a) {
        if (!a.holds<Scalar>() || a.ndim() < 1 || a.ndim() > 2 || (a.ndim() == 1 && !is_vector)) {
            throw decode_error("expected a " + std::string(is_vector ? "1-D or " : "") + "2-D " +
                               dtype_of<Scalar>().str() + " array, got " + a.type().str() +
                               " with " + std::to_string(a.ndim()) + " dims");
        }
        const auto rows = static_cast<Eigen::Index>(a.ndim() == 2 ? a.shape()[0]
                                                    : Rows == 1   ? 1
                                                                  : a.shape()[0]);
        const auto cols = static_cast<Eigen::Index>(a.ndim() == 2 ? a.shape()[1]
                                                    : Rows == 1   ? a.shape()[0]
                                                                  : 1);
        if ((Rows != Eigen::Dynamic && rows != Rows) || (Cols != Eigen::Dynamic && cols != Cols)) {
            throw decode_error("array shape does not fit the fixed-size matrix");
        }
        matrix m(rows, cols);
        if constexpr (!is_vector) {
            if (a.order() != order) {
                // The other storage order: copy the bytes aligned, let Eigen transpose layout.
                using other = Eigen::Matrix<Scalar, Rows, Cols,
                                            matrix::IsRowMajor ? Eigen::ColMajor : Eigen::RowMajor,
                                            MaxRows, MaxCols>;
                other o(rows, cols);
                if (a.nbytes() != 0) std::memcpy(o.data(), a.data(), a.nbytes());
                m = o;
                return m;
            }
        }
        // Same order, or a vector (one row or column: both orders are the same memory).
        if (a.nbytes() != 0) std::memcpy(m.data(), a.data(), a.nbytes());
        return m;
    }

    static std::size_t nbytes(const matrix& m) noexcept {
        return static_cast<std::size_t>(m.size()) * sizeof(Scalar);
    }
};

/// A received 2-D array as an Eigen map of its frame, no copy. Throws usage_error unless
/// the dtype is M's scalar, the view is aligned, 2-D, and in M's storage order.
template <class M>
Eigen::Map<const M> eigen_map(const ndarray_view& a) {
    using Scalar = typename M::Scalar;
    const auto elements = a.values<Scalar>();  // checks dtype and alignment
    const array_order want = M::IsRowMajor ? array_order::c : array_order::fortran;
    if (a.ndim() != 2 || a.order() != want) {
        throw usage_error("eigen_map needs a 2-D array in the matrix's storage order");
    }
    return Eigen::Map<const M>(elements.data(), static_cast<Eigen::Index>(a.shape()[0]),
                               static_cast<Eigen::Index>(a.shape()[1]));
}

/// Registers the common dynamic types: MatrixXd, MatrixXf, VectorXd, VectorXf, MatrixXi and
/// the row-major MatrixXd.
inline void register_eigen_handlers(registry& r) {
    using row_major_xd = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    r.add<Eigen::MatrixXd>()
        .add<Eigen::MatrixXf>()
        .add<Eigen::VectorXd>()
        .add<Eigen::VectorXf>()
        .add<Eigen::MatrixXi>()
        .add<row_major_xd>();
}

}  // namespace zsession
