// zsession/xtensor.hpp - xtensor arrays as registered handlers: an example of a user's handler.
//
// Like eigen.hpp, written only against the public API. xt::xarray<T> and xt::xtensor<T, N>
// travel as "ndarray" with their shape, in row-major ("C") or column-major ("F") order:
//   - send: the container is moved into the buffer's owner, its elements are not copied;
//   - receive: resolve<xt::xarray<double>> copies into a new container in the sender's order;
//     xtensor_adapt<T>(view) adapts a received ndarray_view without copying (read-only).
// Register the types you use: reg.add<xt::xarray<double>>(). Requires xtensor (Debian:
// libxtensor-dev); built and tested when meson's `xtensor` feature is on.
#pragma once

#include <cstring>
#include <memory>
#include <string>

#include <xtensor/xadapt.hpp>
#include <xtensor/xarray.hpp>
#include <xtensor/xtensor.hpp>

#include "zsession/ndarray.hpp"
#include "zsession/registry.hpp"

namespace zsession {

namespace xtensor_detail {

/// The part both handlers share: owner -> view, view -> container.
template <class C>
struct common {
    using value_type = typename C::value_type;

    static ndarray_view to_wire(C c) {
        if (c.layout() != xt::layout_type::row_major &&
            c.layout() != xt::layout_type::column_major) {
            throw usage_error("xtensor container must be row- or column-major");
        }
        auto owner = std::make_shared<C>(std::move(c));
        const std::vector<std::size_t> shape(owner->shape().begin(), owner->shape().end());
        const bytes_view bytes(owner->data(), owner->size() * sizeof(value_type));
        const array_order order = owner->layout() == xt::layout_type::column_major
                                      ? array_order::fortran
                                      : array_order::c;
        return ndarray_view(dtype_of<value_type>(), shape,
                            buffer(bytes, std::shared_ptr<const void>(owner)), order);
    }

    /// Throws decode_error for another dtype (or, for xtensor<T, N>, another rank).
    static C from_wire(ndarray_view a, std::size_t rank) {
        if (!a.holds<value_type>() || (rank != 0 && a.ndim() != rank)) {
            throw decode_error("expected a " + dtype_of<value_type>().str() + " array" +
                               (rank ? " of " + std::to_string(rank) + " dims" : "") + ", got " +
                               a.type().str() + " with " + std::to_string(a.ndim()));
        }
        const auto layout = a.order() == array_order::fortran ? xt::layout_type::column_major
                                                              : xt::layout_type::row_major;
        typename C::shape_type shape;
        if constexpr (requires { shape.resize(std::size_t{}); }) shape.resize(a.ndim());
        std::copy(a.shape().begin(), a.shape().end(), shape.begin());
        if constexpr (C::static_layout == xt::layout_type::dynamic) {
            C c(shape, layout);
            if (a.nbytes() != 0) std::memcpy(c.data(), a.data(), a.nbytes());
            return c;
        } else {
            if (layout == C::static_layout) {
                C c(shape);
                if (a.nbytes() != 0) std::memcpy(c.data(), a.data(), a.nbytes());
                return c;
            }
            // The other order: copy aligned in the sender's layout, let xtensor transpose.
            xt::xarray<value_type, xt::layout_type::dynamic> tmp(
                std::vector<std::size_t>(a.shape().begin(), a.shape().end()), layout);
            if (a.nbytes() != 0) std::memcpy(tmp.data(), a.data(), a.nbytes());
            C c = tmp;
            return c;
        }
    }
};

}  // namespace xtensor_detail

template <class T, xt::layout_type L>
requires element_type<T>
struct handler<xt::xarray<T, L>> {
    using C = xt::xarray<T, L>;
    using wire_type = ndarray_view;
    static ndarray_view to_wire(C c) { return xtensor_detail::common<C>::to_wire(std::move(c)); }
    static C from_wire(ndarray_view a) { return xtensor_detail::common<C>::from_wire(a, 0); }
    static std::size_t nbytes(const C& c) noexcept { return c.size() * sizeof(T); }
};

template <class T, std::size_t N, xt::layout_type L>
requires element_type<T>
struct handler<xt::xtensor<T, N, L>> {
    using C = xt::xtensor<T, N, L>;
    using wire_type = ndarray_view;
    static ndarray_view to_wire(C c) { return xtensor_detail::common<C>::to_wire(std::move(c)); }
    static C from_wire(ndarray_view a) { return xtensor_detail::common<C>::from_wire(a, N); }
    static std::size_t nbytes(const C& c) noexcept { return c.size() * sizeof(T); }
};

/// A received array adapted without copying (read-only; valid while `a` lives). Throws
/// usage_error unless the dtype is T's and the view is aligned.
template <class T>
auto xtensor_adapt(const ndarray_view& a) {
    const auto elements = a.values<T>();  // checks dtype and alignment
    const auto layout = a.order() == array_order::fortran ? xt::layout_type::column_major
                                                          : xt::layout_type::row_major;
    std::vector<std::size_t> shape(a.shape().begin(), a.shape().end());
    return xt::adapt(elements.data(), elements.size(), xt::no_ownership(), shape, layout);
}

}  // namespace zsession
