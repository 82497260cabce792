// The Eigen handler of include/zsession/eigen.hpp: built only with meson's `eigen` feature.
#include "zsession/eigen.hpp"

#include <doctest/doctest.h>

#include "support.hpp"

using namespace zsession;

namespace {

registry eigen_registry() {
    registry r = registry::builtins();
    register_eigen_handlers(r);
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

TEST_CASE("a column-major MatrixXd travels as an F-order ndarray, zero-copy on send") {
    const registry reg = eigen_registry();
    Eigen::MatrixXd a(2, 3);
    a << 1, 2, 3, 4, 5, 6;
    Eigen::MatrixXd moved = a;
    const double* p = moved.data();
    message m;
    const placeholder ph = offload(m, std::move(moved), reg);
    CHECK(reinterpret_cast<const double*>(m.buffers[0].data()) == p);
    const auto h = ph.header.as<ndarray_header>();
    CHECK(h.dtype == "<f8");
    CHECK(h.shape == std::vector<std::uint64_t>{2, 3});
    CHECK(h.order == "F");
    CHECK(round_trip<Eigen::MatrixXd>(reg, a) == a);
}

TEST_CASE("storage orders convert both ways; numpy-style C arrays become matrices") {
    const registry reg = eigen_registry();
    using row_major = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    Eigen::MatrixXd a(3, 2);
    a << 1, 2, 3, 4, 5, 6;
    const row_major r = round_trip<row_major>(reg, a);
    CHECK(r(2, 1) == 6);
    CHECK(r.data()[1] == 2);  // row-major memory
    const Eigen::MatrixXd back = round_trip<Eigen::MatrixXd>(reg, r);
    CHECK(back == a);
    const ndarray c = ndarray::from<double>(std::vector<double>{1, 2, 3, 4, 5, 6}, {2, 3});
    const Eigen::MatrixXd from_c = round_trip<Eigen::MatrixXd>(reg, c);
    CHECK(from_c(1, 0) == 4);
    CHECK(from_c(0, 2) == 3);
}

TEST_CASE("vectors travel 1-D; wrong dtype or rank is a decode_error") {
    const registry reg = eigen_registry();
    Eigen::VectorXf v(4);
    v << 1, 2, 3, 4;
    CHECK(round_trip<Eigen::VectorXf>(reg, v) == v);
    CHECK(round_trip<std::vector<float>>(reg, v) == std::vector<float>{1, 2, 3, 4});
    CHECK_THROWS_AS(round_trip<Eigen::MatrixXd>(reg, v), decode_error);
    CHECK_THROWS_AS(round_trip<Eigen::MatrixXd>(reg, std::vector<double>{1, 2}), decode_error);
    CHECK(round_trip<Eigen::MatrixXd>(reg, Eigen::MatrixXd(0, 3)).cols() == 3);
}

TEST_CASE("eigen_map maps a received aligned view without copying") {
    Eigen::MatrixXd a(2, 2);
    a << 1, 2, 3, 4;
    const ndarray_view v = handler<Eigen::MatrixXd>::to_wire(a);
    const auto map = eigen_map<Eigen::MatrixXd>(v);
    CHECK(map.data() == reinterpret_cast<const double*>(v.data()));
    CHECK(map(1, 0) == 3);
    using row_major = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    CHECK_THROWS_AS(eigen_map<row_major>(v), usage_error);
}
