// zsession/dlpack.hpp - tensors through DLPack: DLManagedTensor <-> zsession arrays without
// copying, and the "tensor" wire handler.
//
// Export: to_dlpack(view) hands a consumer (libtorch's at::fromDLPack, CuPy, numpy) a
// DLManagedTensor over the view's bytes; its deleter releases the pin, so a received frame
// stays alive exactly as long as the consumer holds the tensor.
// Import: dlpack_tensor::adopt(t) takes a producer's tensor; its deleter runs exactly once,
// when the last dlpack_tensor copy and every buffer/view made from it are gone, so offloading
// it sends the producer's memory zero-copy.
// Only CPU tensors carry bytes here (no GPU on these machines): a tensor on another device is
// refused with usage_error on send and decode_error on receive; the device travels in the
// header ("device": [device_type, device_id]) for peers that have one.
#pragma once

#include <dlpack/dlpack.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "zsession/buffer.hpp"
#include "zsession/error.hpp"
#include "zsession/ndarray.hpp"
#include "zsession/registry.hpp"

namespace zsession {

/// DLPack's bool type code (kDLBool, DLPack >= 0.8; Debian's dlpack.h 0.6 predates it).
inline constexpr std::uint8_t dlpack_bool_code = 6;

/// The DLPack data type of a dtype (lanes 1). Throws usage_error for a non-native byte order
/// (DLPack has none) or a type DLPack cannot say (float128 is refused).
DLDataType to_dlpack_dtype(const dtype& d);
/// The dtype of a DLPack data type. Throws usage_error for lanes != 1, bfloat16, opaque
/// handles and sizes numpy has no dtype for.
dtype from_dlpack_dtype(DLDataType t);

/// A new DLManagedTensor over `v`'s bytes, no copy. Its manager_ctx owns a copy of the view
/// (so the bytes stay pinned) and the shape/strides arrays; its deleter frees both and may be
/// called from any thread, exactly once. The caller owns the result: hand it to a consumer or
/// call t->deleter(t). DLPack data is mutable by contract, but zsession's bytes are read-only
/// (a received frame may be shared): consumers must not write through it.
DLManagedTensor* to_dlpack(const ndarray_view& v);

/// A shared owner of one DLManagedTensor: the tensor's deleter runs exactly once, when the
/// last copy of this object and of every buffer or view made from it is gone (on whichever
/// thread drops it last). Copies share the tensor.
class dlpack_tensor {
  public:
    dlpack_tensor() = default;
    /// Takes ownership of `t` (not null). Throws usage_error, after calling t's deleter,
    /// when `t` is null-data with elements, negative dims, or has lanes != 1.
    static dlpack_tensor adopt(DLManagedTensor* t);
    /// A tensor that shares `v` (to_dlpack(v) adopted).
    static dlpack_tensor from_view(const ndarray_view& v);

    explicit operator bool() const noexcept { return static_cast<bool>(t_); }
    const DLTensor& dl() const noexcept { return t_->dl_tensor; }
    DLDevice device() const noexcept { return t_->dl_tensor.device; }
    bool on_cpu() const noexcept { return device().device_type == kDLCPU; }

    /// The tensor as an array view of its memory, no copy (the view pins the tensor).
    /// Throws usage_error for a tensor not on the CPU (the message names the device), or one
    /// that is neither C- nor F-contiguous (strides), or a dtype that has no numpy dtype.
    ndarray_view view() const;
    /// A new DLManagedTensor that shares this one's memory (for handing to a consumer).
    DLManagedTensor* to_dlpack() const { return zsession::to_dlpack(view()); }

  private:
    std::shared_ptr<DLManagedTensor> t_;
};

/// Header of the "tensor" handler: ndarray's, plus the device it came from.
struct tensor_header {
    std::string dtype;
    std::vector<std::uint64_t> shape;
    std::string order;
    std::vector<std::int64_t> device{kDLCPU, 0};  ///< [DLDeviceType, device_id]
    MSGPACK_DEFINE_MAP(dtype, shape, order, device)
};

/// "tensor": one buffer (as "ndarray"), header tensor_header. Encoding sends the tensor's
/// memory zero-copy (usage_error for a non-CPU tensor); decoding yields a tensor whose memory
/// is the received frame (no copy) and whose deleter releases it. A header naming a device
/// other than the CPU is a decode_error here.
template <>
struct handler<dlpack_tensor> {
    static constexpr std::string_view wire_name = "tensor";
    using header_type = tensor_header;
    static tensor_header encode(dlpack_tensor value, std::vector<buffer>& out);
    static dlpack_tensor decode(const tensor_header& h, std::span<const buffer> in);
    static std::vector<std::size_t> element_sizes(const tensor_header& h);
};

/// Registers the tensor handler (the built-ins call this).
void register_dlpack_handlers(registry& r);

}  // namespace zsession
