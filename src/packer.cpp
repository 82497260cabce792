#include "packer.hpp"

#include "json_packer.hpp"
#include "msgpack_packer.hpp"

namespace zsession::detail {

const packer& packer_for(packer_kind kind) {
    static constexpr packer msgpack{&msgpack_pack_header, &msgpack_pack_map, &msgpack_unpack_map};
    static constexpr packer json{&json_pack_header, &json_pack_map, &json_unpack_map};
    switch (kind) {
        case packer_kind::msgpack:
            return msgpack;
        case packer_kind::json:
            return json;
    }
    throw usage_error("unknown packer_kind " + std::to_string(static_cast<int>(kind)));
}

}  // namespace zsession::detail
