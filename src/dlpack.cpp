#include "zsession/dlpack.hpp"

#include <limits>

namespace zsession {

namespace {

// What a DLManagedTensor made by to_dlpack owns: the pinned view and the dims it points to.
struct export_context {
    ndarray_view view;
    std::vector<std::int64_t> shape;
    std::vector<std::int64_t> strides;
    DLManagedTensor tensor{};
};

void delete_export(DLManagedTensor* t) {
    delete static_cast<export_context*>(t->manager_ctx);
}

std::string device_name(DLDevice d) {
    return "device type " + std::to_string(static_cast<int>(d.device_type)) + " id " +
           std::to_string(d.device_id);
}

// Strides (in elements) of a compact array of `shape` in `order`.
std::vector<std::int64_t> compact_strides(const std::vector<std::int64_t>& shape,
                                          array_order order) {
    std::vector<std::int64_t> s(shape.size());
    std::int64_t step = 1;
    if (order == array_order::c) {
        for (std::size_t i = shape.size(); i-- > 0;) {
            s[i] = step;
            step *= std::max<std::int64_t>(shape[i], 1);
        }
    } else {
        for (std::size_t i = 0; i < shape.size(); ++i) {
            s[i] = step;
            step *= std::max<std::int64_t>(shape[i], 1);
        }
    }
    return s;
}

// True when `strides` (null: compact C) describe a compact array in `order`; dimensions of
// extent 1 or less may have any stride.
bool is_compact(const DLTensor& t, array_order order) {
    if (!t.strides) return order == array_order::c;
    const std::vector<std::int64_t> shape(t.shape, t.shape + t.ndim);
    const std::vector<std::int64_t> want = compact_strides(shape, order);
    for (int i = 0; i < t.ndim; ++i) {
        if (t.shape[i] > 1 && t.strides[i] != want[static_cast<std::size_t>(i)]) return false;
    }
    return true;
}

}  // namespace

DLDataType to_dlpack_dtype(const dtype& d) {
    if (!d.is_native_order()) throw usage_error("DLPack has no non-native byte order");
    DLDataType t{0, static_cast<std::uint8_t>(d.itemsize * 8), 1};
    switch (d.kind) {
        case dtype_kind::boolean:
            t.code = dlpack_bool_code;
            break;
        case dtype_kind::signed_int:
            t.code = kDLInt;
            break;
        case dtype_kind::unsigned_int:
            t.code = kDLUInt;
            break;
        case dtype_kind::floating:
            if (d.itemsize > 8) throw usage_error("DLPack has no long double");
            t.code = kDLFloat;
            break;
        case dtype_kind::complex:
            if (d.itemsize > 16) throw usage_error("DLPack has no complex long double");
            t.code = kDLComplex;
            break;
    }
    return t;
}

dtype from_dlpack_dtype(DLDataType t) {
    if (t.lanes != 1) throw usage_error("DLPack vector types (lanes != 1) are not supported");
    if (t.bits % 8 != 0) throw usage_error("DLPack type with a bit size not a multiple of 8");
    dtype d{dtype_kind::signed_int, t.bits / 8u, std::endian::native};
    switch (t.code) {
        case kDLInt:
            break;
        case kDLUInt:
            d.kind = dtype_kind::unsigned_int;
            break;
        case kDLFloat:
            d.kind = dtype_kind::floating;
            break;
        case kDLComplex:
            d.kind = dtype_kind::complex;
            break;
        case dlpack_bool_code:
            d.kind = dtype_kind::boolean;
            break;
        default:
            throw usage_error("DLPack type code " + std::to_string(t.code) + " has no dtype");
    }
    // Round trip through the dtype parser: refuses sizes numpy has no dtype for.
    try {
        return dtype::parse(d.str());
    } catch (const decode_error&) {
        throw usage_error("DLPack type of " + std::to_string(t.bits) + " bits has no dtype");
    }
}

DLManagedTensor* to_dlpack(const ndarray_view& v) {
    auto ctx = std::make_unique<export_context>();
    ctx->view = v;
    for (std::size_t d : v.shape()) ctx->shape.push_back(static_cast<std::int64_t>(d));
    ctx->strides = compact_strides(ctx->shape, v.order());
    DLTensor& t = ctx->tensor.dl_tensor;
    t.data = const_cast<std::byte*>(v.data());  // read-only by contract (see the header)
    t.device = {kDLCPU, 0};
    t.ndim = static_cast<int>(ctx->shape.size());
    t.dtype = to_dlpack_dtype(v.type());
    t.shape = ctx->shape.data();
    t.strides = ctx->strides.data();
    t.byte_offset = 0;
    ctx->tensor.manager_ctx = ctx.get();
    ctx->tensor.deleter = delete_export;
    return &ctx.release()->tensor;
}

dlpack_tensor dlpack_tensor::adopt(DLManagedTensor* t) {
    if (!t) throw usage_error("null DLManagedTensor");
    dlpack_tensor out;
    out.t_ = std::shared_ptr<DLManagedTensor>(t, [](DLManagedTensor* p) {
        if (p->deleter) p->deleter(p);
    });
    const DLTensor& d = t->dl_tensor;
    if (d.ndim < 0 || (d.ndim > 0 && !d.shape)) throw usage_error("DLPack tensor without a shape");
    for (int i = 0; i < d.ndim; ++i) {
        if (d.shape[i] < 0) throw usage_error("DLPack tensor with a negative dimension");
    }
    if (d.dtype.lanes != 1) throw usage_error("DLPack vector types (lanes != 1) are not supported");
    return out;
}

dlpack_tensor dlpack_tensor::from_view(const ndarray_view& v) {
    return adopt(zsession::to_dlpack(v));
}

ndarray_view dlpack_tensor::view() const {
    if (!t_) throw usage_error("empty dlpack_tensor");
    const DLTensor& d = t_->dl_tensor;
    if (d.device.device_type != kDLCPU) {
        throw usage_error("tensor lives on " + device_name(d.device) +
                          ", not the CPU: copy it to host memory first");
    }
    const dtype type = from_dlpack_dtype(d.dtype);
    std::vector<std::size_t> shape(d.shape, d.shape + d.ndim);
    const std::size_t count = element_count(shape);
    if (count > std::numeric_limits<std::size_t>::max() / type.itemsize) {
        throw usage_error("DLPack tensor size overflows");
    }
    array_order order = array_order::c;
    if (!is_compact(d, array_order::c)) {
        if (!is_compact(d, array_order::fortran)) {
            throw usage_error("DLPack tensor is not contiguous (C or Fortran); copy it first");
        }
        order = array_order::fortran;
    }
    const std::size_t nbytes = count * type.itemsize;
    if (nbytes > 0 && !d.data) throw usage_error("DLPack tensor with elements but no data");
    const auto* p = static_cast<const std::byte*>(d.data) + (d.data ? d.byte_offset : 0);
    // The buffer pins the shared owner: the deleter waits for the view too.
    return ndarray_view(type, std::move(shape), buffer(bytes_view(p, nbytes), t_), order);
}

tensor_header handler<dlpack_tensor>::encode(dlpack_tensor value, std::vector<buffer>& out) {
    const DLDevice dev = value.device();
    const ndarray_view v = value.view();  // throws usage_error off the CPU
    tensor_header h{v.type().str(),
                    {},
                    std::string(to_string(v.order())),
                    {static_cast<std::int64_t>(dev.device_type), dev.device_id}};
    h.shape.assign(v.shape().begin(), v.shape().end());
    out.push_back(v.bytes());
    return h;
}

dlpack_tensor handler<dlpack_tensor>::decode(const tensor_header& h, std::span<const buffer> in) {
    if (h.device.size() != 2) throw decode_error("tensor device must be [type, id]");
    if (h.device[0] != kDLCPU) {
        throw decode_error("tensor for device type " + std::to_string(h.device[0]) + " id " +
                           std::to_string(h.device[1]) +
                           ": this receiver has only the CPU (kDLCPU = 1)");
    }
    const ndarray_view v = handler<ndarray_view>::decode({h.dtype, h.shape, h.order}, in);
    if (!v.type().is_native_order()) {
        throw decode_error("tensor of non-native byte order " + h.dtype + " (DLPack has none)");
    }
    if (v.type().kind == dtype_kind::floating && v.type().itemsize > 8) {
        throw decode_error("tensor of long double (DLPack has none)");
    }
    return dlpack_tensor::from_view(v);
}

std::vector<std::size_t> handler<dlpack_tensor>::element_sizes(const tensor_header& h) {
    return {dtype::parse(h.dtype).itemsize};
}

void register_dlpack_handlers(registry& r) {
    r.add<dlpack_tensor>();
}

}  // namespace zsession
