#include "packer.hpp"

#include "json_packer.hpp"
#include "msgpack_packer.hpp"
#include "packer_common.hpp"

namespace zsession::detail {

const packer& packer_for(packer_kind kind) {
    static constexpr packer msgpack{&msgpack_pack_header, &msgpack_pack_map, &msgpack_unpack_map,
                                    &msgpack_try_read_header};
    static constexpr packer json{&json_pack_header, &json_pack_map, &json_unpack_map,
                                 &json_try_read_header};
    switch (kind) {
        case packer_kind::msgpack:
            return msgpack;
        case packer_kind::json:
            return json;
    }
    throw usage_error("unknown packer_kind " + std::to_string(static_cast<int>(kind)));
}

void read_header_frame(const packer& pk, bytes_view bytes, bool strict, const limits& lim,
                       const char* what, header& out) {
    if (pk.try_read_header(bytes, strict, lim, out)) return;
    msgpack::zone zone;
    read_header(pk.unpack_map(bytes, zone, lim, what), strict, what, out);
}

}  // namespace zsession::detail
