// The xtensor handler of include/zsession/xtensor.hpp: built only with meson's `xtensor` feature.
#include "zsession/xtensor.hpp"

#include <doctest/doctest.h>

#include "support.hpp"

using namespace zsession;

namespace {

registry xtensor_registry() {
    registry r = registry::builtins();
    r.add<xt::xarray<double>>()
        .add<xt::xtensor<float, 2>>()
        .add<xt::xarray<std::int32_t, xt::layout_type::dynamic>>();
    return r;
}

template <class T, class U>
T round_trip(const registry& reg, U value) {
    const session s{session_options{}};
    message m = s.make_message("m");
    m.set_content(std::map<std::string, placeholder>{{"v", offload(m, std::move(value), reg)}});
    const message got = s.decode(s.encode(std::move(m)));
    resolver r(got, reg);
    return r.resolve<T>(got.content_as<std::map<std::string, placeholder>>().at("v"));
}

}  // namespace

TEST_CASE("an xarray travels as a C-order ndarray, zero-copy on send") {
    const registry reg = xtensor_registry();
    xt::xarray<double> a = {{1.0, 2.0, 3.0}, {4.0, 5.0, 6.0}};
    xt::xarray<double> moved = a;
    const double* p = moved.data();
    message m;
    const placeholder ph = offload(m, std::move(moved), reg);
    CHECK(reinterpret_cast<const double*>(m.buffers[0].data()) == p);
    const auto h = ph.header.as<ndarray_header>();
    CHECK(h.shape == std::vector<std::uint64_t>{2, 3});
    CHECK(h.order == "C");
    CHECK(round_trip<xt::xarray<double>>(reg, a) == a);
}

TEST_CASE("xtensor of fixed rank; F-order input becomes row-major; wrong rank refused") {
    const registry reg = xtensor_registry();
    xt::xtensor<float, 2> t = {{1, 2}, {3, 4}, {5, 6}};
    CHECK(round_trip<xt::xtensor<float, 2>>(reg, t) == t);
    const ndarray f =
        ndarray::from<double>(std::vector<double>{1, 4, 2, 5, 3, 6}, {2, 3}, array_order::fortran);
    const xt::xarray<double> from_f = round_trip<xt::xarray<double>>(reg, f);
    CHECK(from_f(0, 2) == 3);
    CHECK(from_f(1, 0) == 4);
    CHECK(from_f.data()[1] == 2);  // row-major memory
    using xt2f = xt::xtensor<float, 2>;
    CHECK_THROWS_AS(round_trip<xt2f>(reg, std::vector<float>{1, 2}), decode_error);
    CHECK_THROWS_AS(round_trip<xt::xarray<double>>(reg, std::vector<float>{1, 2}), decode_error);
    xt::xarray<std::int32_t, xt::layout_type::dynamic> dyn(std::vector<std::size_t>{2, 2},
                                                           xt::layout_type::column_major);
    dyn(0, 1) = 7;
    const auto back = round_trip<xt::xarray<std::int32_t, xt::layout_type::dynamic>>(reg, dyn);
    CHECK(back.layout() == xt::layout_type::column_major);
    CHECK(back(0, 1) == 7);
}

TEST_CASE("xtensor_adapt views a received aligned array without copying") {
    const ndarray a = ndarray::from<double>(std::vector<double>{1, 2, 3, 4, 5, 6}, {3, 2});
    const ndarray_view v = a.view();
    const auto x = xtensor_adapt<double>(v);
    CHECK(x.data() == reinterpret_cast<const double*>(v.data()));
    CHECK(x(2, 1) == 6);
}
