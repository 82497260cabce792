// tests/vectors/golden.hpp - the messages behind the golden vectors in tests/vectors/.
//
// Every input is fixed (ids, date, key, values), so encoding them is deterministic: the
// generator writes the frames, and vectors_test compares a fresh encoding byte for byte and
// decodes the files back. docs/PROTOCOL.md ("Golden vectors") describes the file format.
#pragma once

#include <cstdint>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "zsession/dlpack.hpp"
#include "zsession/zsession.hpp"

namespace golden {

inline constexpr const char* key = "golden-key-0123456789";

/// The session every vector is encoded and decoded with ("unsigned" uses no key).
inline zsession::session make_session(bool signed_ = true) {
    zsession::session_options o;
    o.key = signed_ ? key : "";
    o.username = "golden";
    o.session_id = "5e55104e-0000-4000-8000-000000000000";
    o.replay_history = 0;  // the same vector is decoded repeatedly
    return zsession::session(o);
}

inline zsession::header fixed_header(const std::string& msg_type, int n) {
    return {"00000000-0000-4000-8000-00000000000" + std::to_string(n),
            msg_type,
            "golden",
            "5e55104e-0000-4000-8000-000000000000",
            "2024-01-02T03:04:05.678901Z",
            "5.3"};
}

/// Content of the "arrays" vector: one value of every built-in, plus an inline array.
struct arrays_content {
    zsession::placeholder matrix;   ///< <f8, shape [2, 3], C order: 0.5, 1.5 ... 5.5
    zsession::placeholder fortran;  ///< <i4, shape [2, 2], F order: memory 1, 2, 3, 4
    zsession::placeholder text;     ///< str "zsession ✓"
    zsession::placeholder raw;      ///< bytes 00 01 02 ff
    zsession::placeholder flags;    ///< |b1 [true, false, true]
    zsession::placeholder packed;   ///< bytes, 1000 x 'z', lz4
    zsession::inline_or_offloaded<std::vector<std::int32_t>> small;  ///< inline [1, 2, 3]
    MSGPACK_DEFINE_MAP(matrix, fortran, text, raw, flags, packed, small)
};

inline std::vector<double> matrix_values() {
    return {0.5, 1.5, 2.5, 3.5, 4.5, 5.5};
}

inline zsession::message arrays_message() {
    const zsession::registry reg = zsession::registry::builtins();
    zsession::message m;
    m.header = fixed_header("golden_arrays", 1);
    m.set_metadata(std::map<std::string, int>{{"vector", 1}});
    zsession::offload_options packed;
    packed.compression.policy = zsession::compression_policy::always;
    using zsession::ndarray;
    arrays_content c{
        offload(m, ndarray::from<double>(matrix_values(), {2, 3}), reg),
        offload(m,
                ndarray::from<std::int32_t>(std::vector<std::int32_t>{1, 2, 3, 4}, {2, 2},
                                            zsession::array_order::fortran),
                reg),
        offload(m, std::string("zsession \xe2\x9c\x93"), reg),
        offload(m, zsession::buffer::take(std::string("\x00\x01\x02\xff", 4)), reg),
        offload(m, std::vector<bool>{true, false, true}, reg),
        offload(m, zsession::buffer::take(std::string(1000, 'z')), reg, packed),
        zsession::inline_or_offloaded<std::vector<std::int32_t>>::make(m, {1, 2, 3}, reg),
    };
    m.set_content(c);
    return m;
}

/// Content of the "tables" vector: a table of every column kind and a tensor.
struct tables_content {
    zsession::placeholder table;   ///< 3 rows: price <f8, qty <i8 (row 1 missing), ok |b1,
                                   ///< when <M8[ns], name utf8 ("a", missing, "ü")
    zsession::placeholder tensor;  ///< <i4 [2, 2] C: 1 2 3 4, device [1, 0]
    MSGPACK_DEFINE_MAP(table, tensor)
};

inline zsession::table golden_table() {
    using zsession::table_column;
    zsession::table t(3);
    t.add(table_column::from_vector<double>("price", {1.25, 2.5, 3.75}));
    t.add(table_column::from_vector<std::int64_t>("qty", {1, 0, 3})
              .with_validity(table_column::bitmap_from({true, false, true})));
    t.add(table_column::from_vector<bool>("ok", {true, false, true}));
    t.add(table_column::from_times("when", {0, 1'000'000'000, 2'000'000'000}, "ns"));
    const std::vector<std::string> names = {"a", "", "\xc3\xbc"};
    t.add(table_column::from_strings("name", names)
              .with_validity(table_column::bitmap_from({true, false, true})));
    return t;
}

inline zsession::message tables_message() {
    zsession::registry reg = zsession::registry::builtins();
    zsession::message m;
    m.header = fixed_header("golden_tables", 5);
    const zsession::ndarray a =
        zsession::ndarray::from<std::int32_t>(std::vector<std::int32_t>{1, 2, 3, 4}, {2, 2});
    tables_content c{offload(m, golden_table(), reg),
                     offload(m, zsession::dlpack_tensor::from_view(a.view()), reg)};
    m.set_content(c);
    return m;
}

/// A routed reply with a parent header and no buffers.
inline zsession::message routed_message() {
    zsession::message m;
    m.identities = {zsession::buffer::take(std::string("router-id-1"))};
    m.header = fixed_header("kernel_info_reply", 2);
    m.parent_header = fixed_header("kernel_info_request", 3);
    m.set_content(std::map<std::string, std::string>{{"status", "ok"}});
    return m;
}

/// An unsigned message with empty maps.
inline zsession::message unsigned_message() {
    zsession::message m;
    m.header = fixed_header("status", 4);
    return m;
}

struct vector_spec {
    std::string name;
    bool signed_;
    std::function<zsession::message()> make;
};

inline std::vector<vector_spec> all() {
    return {{"arrays", true, arrays_message},
            {"routed", true, routed_message},
            {"unsigned", false, unsigned_message},
            {"tables", true, tables_message}};
}

/// File format: for each frame, its length as 8 bytes little-endian, then its bytes.
inline std::string serialize(const zsession::frames& f) {
    std::string out;
    for (const auto& frame : f) {
        std::uint64_t n = frame.size();
        for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((n >> (8 * i)) & 0xFF));
        out.append(static_cast<const char*>(frame.data()), frame.size());
    }
    return out;
}

/// Reads a file written by serialize. Throws std::runtime_error when truncated.
inline zsession::frames deserialize(const std::string& bytes) {
    zsession::frames out;
    std::size_t at = 0;
    while (at < bytes.size()) {
        if (bytes.size() - at < 8) throw std::runtime_error("truncated length");
        std::uint64_t n = 0;
        for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(bytes[at + i]);
        at += 8;
        if (bytes.size() - at < n) throw std::runtime_error("truncated frame");
        out.emplace_back(bytes.data() + at, n);
        at += n;
    }
    return out;
}

inline std::string path(const std::string& dir, const std::string& name) {
    return dir + "/" + name + ".frames";
}

}  // namespace golden
