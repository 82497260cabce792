// DLPack: arrays <-> DLManagedTensor without copying (pointer identity), deleters called
// exactly once, device tensors refused, and the "tensor" handler over a real message.
#include "zsession/dlpack.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <numeric>

#include "support.hpp"

using namespace zsession;

namespace {

const registry& reg() {
    static const registry r = registry::builtins();
    return r;
}

// A producer's tensor over a vector, counting its deleter's calls.
struct counted {
    std::vector<double> data;
    std::vector<std::int64_t> shape;
    std::vector<std::int64_t> strides;
    std::atomic<int>* deleted;
    DLManagedTensor t{};
};

DLManagedTensor* make_tensor(std::atomic<int>& deleted, std::vector<std::int64_t> shape,
                             std::vector<std::int64_t> strides = {},
                             DLDevice device = {kDLCPU, 0}) {
    auto* c = new counted{{}, std::move(shape), std::move(strides), &deleted, {}};
    std::int64_t n = 1;
    for (auto d : c->shape) n *= d;
    c->data.resize(static_cast<std::size_t>(n));
    std::iota(c->data.begin(), c->data.end(), 0.0);
    c->t.dl_tensor = {c->data.data(),
                      device,
                      static_cast<int>(c->shape.size()),
                      DLDataType{kDLFloat, 64, 1},
                      c->shape.data(),
                      c->strides.empty() ? nullptr : c->strides.data(),
                      0};
    c->t.manager_ctx = c;
    c->t.deleter = [](DLManagedTensor* t) {
        auto* self = static_cast<counted*>(t->manager_ctx);
        ++*self->deleted;
        delete self;
    };
    return &c->t;
}

}  // namespace

TEST_CASE("dtypes map to DLPack types and back") {
    for (const char* s : {"<f8", "<f4", "<f2", "<i8", "|i1", "<u2", "|u1", "|b1", "<c8", "<c16"}) {
        CAPTURE(s);
        const dtype d = dtype::parse(s);
        CHECK(from_dlpack_dtype(to_dlpack_dtype(d)) == d);
    }
    CHECK_THROWS_AS(to_dlpack_dtype(dtype::parse(">f8")), usage_error);
    CHECK_THROWS_AS(to_dlpack_dtype(dtype::parse("<f16")), usage_error);
    CHECK_THROWS_AS(from_dlpack_dtype(DLDataType{kDLFloat, 32, 4}), usage_error);
    CHECK_THROWS_AS(from_dlpack_dtype(DLDataType{kDLBfloat, 16, 1}), usage_error);
    CHECK_THROWS_AS(from_dlpack_dtype(DLDataType{kDLInt, 24, 1}), usage_error);
}

TEST_CASE("to_dlpack shares the view's bytes and its deleter releases the pin once") {
    const ndarray a = ndarray::from<double>(std::vector<double>{1, 2, 3, 4, 5, 6}, {2, 3});
    const std::byte* p = a.data();
    std::weak_ptr<const void> pin;
    {
        const ndarray_view v = a.view();
        pin = v.bytes().keepalive();
    }
    DLManagedTensor* t = to_dlpack(a.view());
    CHECK(t->dl_tensor.data == p);
    CHECK(t->dl_tensor.ndim == 2);
    CHECK(t->dl_tensor.shape[0] == 2);
    CHECK(t->dl_tensor.shape[1] == 3);
    CHECK(t->dl_tensor.strides[0] == 3);
    CHECK(t->dl_tensor.strides[1] == 1);
    CHECK(t->dl_tensor.dtype.code == kDLFloat);
    CHECK(t->dl_tensor.device.device_type == kDLCPU);
    CHECK(pin.use_count() == 2);  // the ndarray and the tensor's context
    t->deleter(t);
    CHECK(pin.use_count() == 1);

    const ndarray f = ndarray::from<std::int32_t>(std::vector<std::int32_t>{1, 2, 3, 4, 5, 6},
                                                  {2, 3}, array_order::fortran);
    DLManagedTensor* tf = to_dlpack(f.view());
    CHECK(tf->dl_tensor.strides[0] == 1);
    CHECK(tf->dl_tensor.strides[1] == 2);
    tf->deleter(tf);
}

TEST_CASE("an adopted tensor is viewed without copying; its deleter runs once, last") {
    std::atomic<int> deleted{0};
    DLManagedTensor* raw = make_tensor(deleted, {3, 4});
    const void* p = raw->dl_tensor.data;
    ndarray_view v;
    {
        const dlpack_tensor t = dlpack_tensor::adopt(raw);
        const dlpack_tensor copy = t;
        v = t.view();
        CHECK(v.data() == p);
        CHECK(v.shape() == std::vector<std::size_t>{3, 4});
        CHECK(v.values<double>()[11] == 11.0);
    }
    CHECK(deleted == 0);  // the view still pins it
    v = ndarray_view();
    CHECK(deleted == 1);
}

TEST_CASE("strides: C and F contiguous accepted, anything else refused") {
    std::atomic<int> deleted{0};
    CHECK(dlpack_tensor::adopt(make_tensor(deleted, {3, 4}, {4, 1})).view().order() ==
          array_order::c);
    CHECK(dlpack_tensor::adopt(make_tensor(deleted, {3, 4}, {1, 3})).view().order() ==
          array_order::fortran);
    CHECK(dlpack_tensor::adopt(make_tensor(deleted, {1, 4}, {99, 1})).view().order() ==
          array_order::c);
    const dlpack_tensor strided = dlpack_tensor::adopt(make_tensor(deleted, {2, 2}, {4, 2}));
    CHECK_THROWS_AS(strided.view(), usage_error);
    CHECK(dlpack_tensor::adopt(make_tensor(deleted, {})).view().size() == 1);
    DLManagedTensor* negative = make_tensor(deleted, {2, 1});
    negative->dl_tensor.shape[1] = -1;
    CHECK_THROWS_AS(dlpack_tensor::adopt(negative), usage_error);
    CHECK(deleted == 5);  // the refused one too, by adopt
}

TEST_CASE("device tensors are refused with the device named") {
    std::atomic<int> deleted{0};
    const dlpack_tensor gpu = dlpack_tensor::adopt(make_tensor(deleted, {4}, {}, {kDLCUDA, 1}));
    CHECK_FALSE(gpu.on_cpu());
    try {
        (void)gpu.view();
        FAIL("a device tensor was viewed");
    } catch (const usage_error& e) {
        CHECK(std::string(e.what()).find("device type 2 id 1") != std::string::npos);
    }
    message m;
    CHECK_THROWS_AS(offload(m, gpu, reg()), usage_error);
    CHECK(m.buffers.empty());
}

TEST_CASE("a tensor travels zero-copy: producer memory on send, frame memory on receive") {
    std::atomic<int> deleted{0};
    DLManagedTensor* raw = make_tensor(deleted, {256, 4});
    const void* p = raw->dl_tensor.data;
    const session s{session_options{}};
    message m = s.make_message("t");
    m.set_content(
        std::map<std::string, placeholder>{{"t", offload(m, dlpack_tensor::adopt(raw), reg())}});
    REQUIRE(m.buffers.size() == 1);
    CHECK(m.buffers[0].data() == p);
    CHECK(deleted == 0);  // pinned by the message
    frames f = s.encode(std::move(m));
    message got = s.decode(std::move(f));
    const auto c = got.content_as<std::map<std::string, placeholder>>();
    CHECK(c.at("t").header.via.map.size == 4);
    resolver r(got, reg());
    const dlpack_tensor t = r.resolve<dlpack_tensor>(c.at("t"));
    CHECK(t.dl().data == got.buffers[0].data());
    const ndarray_view tv = t.view();
    CHECK(tv.values<double>().size() == 1024);
    DLManagedTensor* out = t.to_dlpack();
    CHECK(out->dl_tensor.data == got.buffers[0].data());
    out->deleter(out);
}

TEST_CASE("a tensor header naming another device, or a bad one, is a decode_error") {
    const auto make = [](tensor_header h) {
        message m;
        placeholder p =
            detail::append_buffers(m, "tensor", {buffer::take(std::string(8, 'a'))}, {});
        p.header = msgpack::object(h, *p.zone);
        resolver r(m, reg());
        return r.resolve<dlpack_tensor>(p);
    };
    CHECK(make({"<f8", {1}, "C", {kDLCPU, 0}}).view().size() == 1);
    try {
        make({"<f8", {1}, "C", {kDLCUDA, 3}});
        FAIL("accepted a CUDA tensor");
    } catch (const decode_error& e) {
        CHECK(std::string(e.what()).find("device type 2 id 3") != std::string::npos);
    }
    CHECK_THROWS_AS(make({"<f8", {1}, "C", {kDLCPU}}), decode_error);
    CHECK_THROWS_AS(make({">f8", {1}, "C", {kDLCPU, 0}}), decode_error);
    CHECK_THROWS_AS(make({"<f8", {2}, "C", {kDLCPU, 0}}), decode_error);
    CHECK_THROWS_AS(make({"<U8", {1}, "C", {kDLCPU, 0}}), decode_error);
}
