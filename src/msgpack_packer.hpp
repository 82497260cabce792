// src/msgpack_packer.hpp (private) - the msgpack packer: a writer of msgpack-c's exact
// bytes, and the bounded single-pass reader (msgpack_reader.hpp). Strings of a parsed map
// point into the frame. Contracts as in packer.hpp's packer struct.
#pragma once

#include <string>

#include "zsession/buffer.hpp"
#include "zsession/header.hpp"
#include "zsession/message.hpp"
#include "zsession/options.hpp"

namespace zsession::detail {

void msgpack_pack_header(const header& h, std::string& out);
void msgpack_pack_map(const msgpack::object& obj, std::string& out, const char* what);
msgpack::object msgpack_unpack_map(bytes_view bytes, msgpack::zone& zone, const limits& lim,
                                   const char* what);
bool msgpack_try_read_header(bytes_view bytes, bool strict, const limits& lim, header& out);

}  // namespace zsession::detail
