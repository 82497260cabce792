// tests/fuzz/engine_target.hpp - the ipyparallel engine fuzz target: signed messages, built
// from fuzzed frames, through engine::handle() (the dispatch run() uses, without sockets),
// with zcalc-ipengine's interpreter and comm targets (zcalc.arrays, zsession.array). Shared by
// the libFuzzer target (engine_fuzz.cpp), its seed writer (write_engine_seeds.cpp) and the
// deterministic test (tests/ipp/engine_fuzz_test.cpp).
//
// Input: split_frames (targets.hpp). Messages follow one another (at most 8 per input): a
// selector frame [s, n] then the message's frames. s bit 0: control (else shell); bit 1: the
// header frame is fuzzed too (else a fresh one is made); s >> 2 picks the msg_type (types()).
// Then [header,] parent, metadata, content and n % 4 buffers; missing frames are "{}".
// Every message is signed with the engine's key, so the fuzzer gets past the HMAC check.
//
// Checked (a violation is returned as text; the libFuzzer target aborts on it):
//  - handle() throws nothing; every reply decodes as a signed message (and what went to iopub,
//    for every 4th input; every input in the test);
//  - at most one reply per message, whose parent is that message;
//  - a request the engine knows (known_request) with a fresh header that decodes gets
//    exactly one reply, an error one when it cannot be served;
//  - after every 16th input (every input in the test) the engine still serves kernel_info
//    (control) and execute (shell).
#pragma once

#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#define ZCALC_IPENGINE_NO_MAIN
#include "../../examples/ipengine/zcalc_ipengine.cpp"
#include "targets.hpp"

namespace fuzz {

inline const std::vector<std::string>& engine_types() {
    static const std::vector<std::string> t = {
        "execute_request",   "apply_request",    "kernel_info_request", "comm_open",
        "comm_msg",          "comm_close",       "abort_request",       "shutdown_request",
        "clear_request",     "complete_request", "inspect_request",     "is_complete_request",
        "comm_info_request", "no_such_request",  "execute_reply",       "status"};
    return t;
}

/// Types the engine answers on either channel (served, or refused with WrongChannel).
inline bool known_request(std::string_view type) {
    return type.ends_with("_request") && type != "no_such_request";
}

inline zsession::limits engine_fuzz_limits() {
    zsession::limits l;
    l.max_content_bytes = 1 << 16;
    l.max_buffer_bytes = 1 << 16;
    l.max_decompressed_bytes = 1 << 20;
    l.max_decompressed_per_message = 1 << 21;
    return l;
}

/// An engine as zcalc-ipengine makes it, without sockets (handle() only).
inline std::unique_ptr<zsession::ipp::engine> make_fuzz_engine() {
    using namespace zsession::ipp;
    engine_options o;
    o.connection.key = "fuzz";
    o.connection.broadcast = {1};
    o.limits = engine_fuzz_limits();
    o.verbose = false;
    o.direct_endpoint = "tcp://127.0.0.1:1";
    auto e = std::make_unique<engine>(o, std::make_unique<calc_interpreter>());
    // As zcalc-ipengine's main() registers them.
    e->register_comm_target("zcalc.arrays", [](comm& c, const comm_message& open) {
        if (open.data.type == msgpack::type::MAP &&
            open.data_as<std::map<std::string, msgpack::object>>().count("op") != 0) {
            arrays_handler::compute(c, open);
        }
        return std::make_unique<arrays_handler>();
    });
    auto arrays = std::make_shared<direct_arrays>();
    e->register_comm_target(std::string(array_comm_target),
                            [arrays](comm& c, const comm_message& open) {
                                if (open.data.type == msgpack::type::MAP) {
                                    zsession_array_handler::answer(c, open, *arrays);
                                }
                                return std::make_unique<zsession_array_handler>(arrays);
                            });
    return e;
}

/// The client side: signs what it sends and checks what the engine sends back.
inline const zsession::session& engine_client() {
    static const zsession::session s = [] {
        zsession::session_options o;
        o.key = "fuzz";
        o.packer = zsession::packer_kind::json;
        o.replay_history = 0;
        o.limits = engine_fuzz_limits();
        o.username = "fuzz-client";
        return zsession::session(o);
    }();
    return s;
}

inline void re_sign(zsession::frames& f) {
    std::array<zsession::bytes_view, 4> parts;
    for (std::size_t i = 0; i < 4; ++i) parts[i] = {f[3 + i].data(), f[3 + i].size()};
    const std::string sig = engine_client().sign(parts);
    f[2] = zmq::message_t(sig.data(), sig.size());
}

/// A signed request from the client identity "client": [ident, delim, sig, header, parent,
/// metadata, content, buffers...]. `header` empty: a fresh one for `type`.
inline zsession::frames engine_request(const std::string& type, const std::string& content,
                                       const std::vector<std::string>& buffers = {},
                                       const std::string& metadata = "{}",
                                       const std::string& parent = "{}",
                                       const std::string& header = "",
                                       std::string* msg_id = nullptr) {
    zsession::message m = engine_client().make_message(type);
    if (msg_id) *msg_id = m.header.msg_id;
    m.identities.push_back(zsession::buffer::take(std::string("client")));
    zsession::frames f = engine_client().encode(m);
    if (!header.empty()) f[3] = zmq::message_t(header.data(), header.size());
    f[4] = zmq::message_t(parent.data(), parent.size());
    f[5] = zmq::message_t(metadata.data(), metadata.size());
    f[6] = zmq::message_t(content.data(), content.size());
    f.resize(7);
    for (const auto& b : buffers) f.emplace_back(b.data(), b.size());
    re_sign(f);
    return f;
}

inline zsession::frames copy_frames(const zsession::frames& f) {
    zsession::frames out;
    out.reserve(f.size());
    for (const auto& p : f) out.emplace_back(p.data(), p.size());
    return out;
}

/// One message through the engine, checked. Returns a violation, if any.
/// One message through the engine, checked. `msg_id`: the id of the fresh header it carries
/// ("" when the header is fuzzed). `check_iopub`: also decode what went to iopub.
inline std::optional<std::string> engine_one(zsession::ipp::engine& e,
                                             zsession::ipp::engine::channel ch,
                                             zsession::frames&& in, const std::string& type,
                                             const std::string& msg_id, bool check_iopub) {
    using zsession::ipp::engine;
    const zsession::session& client = engine_client();
    const zsession::frames saved = copy_frames(in);
    engine::handled out;
    try {
        out = e.handle(ch, std::move(in));
    } catch (const std::exception& ex) {
        return std::string("handle() threw: ") + ex.what();
    }
    if (out.replies.size() > 1) return "more than one reply to one message";
    std::optional<zsession::message> reply;
    try {
        if (!out.replies.empty()) reply = client.decode(std::move(out.replies[0]));
        if (check_iopub) {
            for (auto& f : out.iopub) (void)client.decode(std::move(f));
        }
    } catch (const zsession::error& ex) {
        return std::string("the engine sent a message that does not decode: ") + ex.what();
    }
    // What the request was, as a client with the same key and limits reads it (decoded only
    // when the answer depends on it).
    auto request = [&]() -> std::optional<zsession::message> {
        try {
            return client.decode(copy_frames(saved));
        } catch (const zsession::error&) {
            return std::nullopt;
        }
    };
    if (reply) {
        std::string id = msg_id;
        if (id.empty()) {
            const auto req = request();
            if (!req) return "a reply to a message that does not decode";
            id = req->header.msg_id;
        }
        if (reply->parent_header.msg_id != id) return "a reply whose parent is not the request";
    } else if (!msg_id.empty() && known_request(type) && request()) {
        return "no reply to " + type + " " + msg_id;
    }
    return std::nullopt;
}

/// The engine still serves: kernel_info on control and execute on shell, one reply each,
/// status ok (or aborted: an abort_request without ids aborts the next shell message).
inline std::optional<std::string> engine_still_serves(zsession::ipp::engine& e) {
    using zsession::ipp::engine;
    for (const auto ch : {engine::channel::control, engine::channel::shell}) {
        const bool control = ch == engine::channel::control;
        engine::handled out =
            e.handle(ch, engine_request(control ? "kernel_info_request" : "execute_request",
                                        control ? "{}" : R"j({"code": "1+1", "silent": false})j"));
        if (out.replies.size() != 1)
            return std::string("stopped serving on ") + (control ? "control" : "shell");
        const zsession::message r = engine_client().decode(std::move(out.replies[0]));
        const auto status = r.content_map().get<std::string>("status");
        if (status != "ok" && status != "aborted") {
            return "probe answered with status " + status;
        }
    }
    return std::nullopt;
}

/// Runs one fuzz input; every `probe_every` inputs, checks that the engine still serves. A
/// fresh engine every 4096 inputs bounds what open comms and pushed arrays hold.
inline std::optional<std::string> engine_input(const std::uint8_t* data, std::size_t size,
                                               unsigned probe_every = 16) {
    using zsession::ipp::engine;
    static std::unique_ptr<engine> e;
    static unsigned inputs = 0;
    if (!e || ++inputs % 4096 == 0) e = make_fuzz_engine();
    if (probe_every == 0) probe_every = 1;
    std::vector<std::string> f = split_frames(data, size);
    std::size_t i = 0;
    for (int n = 0; n < 8 && i < f.size(); ++n) {
        const std::string sel = f[i++];
        const unsigned s = sel.empty() ? 0 : static_cast<unsigned char>(sel[0]);
        const unsigned nbuf = sel.size() > 1 ? static_cast<unsigned char>(sel[1]) % 4 : 0;
        const bool raw_header = s & 2;
        const std::string& type = engine_types()[(s >> 2) % engine_types().size()];
        auto next = [&] { return i < f.size() ? f[i++] : std::string("{}"); };
        const std::string header = raw_header ? next() : "";
        const std::string parent = next(), metadata = next(), content = next();
        std::vector<std::string> buffers;
        for (unsigned b = 0; b < nbuf && i < f.size(); ++b) buffers.push_back(f[i++]);
        zsession::frames msg;
        std::string msg_id;
        try {
            msg = engine_request(type, content, buffers, metadata, parent,
                                 raw_header ? (header.empty() ? std::string(" ") : header) : "",
                                 raw_header ? nullptr : &msg_id);
        } catch (const zsession::error& ex) {
            return std::string("could not build a request: ") + ex.what();
        }
        const auto ch = s & 1 ? engine::channel::control : engine::channel::shell;
        if (auto bad = engine_one(*e, ch, std::move(msg), type, msg_id,
                                  probe_every == 1 || inputs % 4 == 0)) {
            return bad;
        }
    }
    if (inputs % probe_every != 0) return std::nullopt;
    return engine_still_serves(*e);
}

/// Realistic requests, each one input (selector frame + frames), for the seed corpus.
inline std::vector<std::string> engine_seeds() {
    auto type_index = [](std::string_view t) {
        const auto& ts = engine_types();
        return static_cast<unsigned>(std::find(ts.begin(), ts.end(), t) - ts.begin());
    };
    auto one = [&](std::string_view type, bool control, std::string content,
                   std::vector<std::string> buffers = {}, std::string metadata = "{}") {
        std::vector<std::string> fr;
        fr.push_back(std::string{static_cast<char>((type_index(type) << 2) | (control ? 1 : 0)),
                                 static_cast<char>(buffers.size())});
        fr.push_back("{}");
        fr.push_back(std::move(metadata));
        fr.push_back(std::move(content));
        for (auto& b : buffers) fr.push_back(std::move(b));
        return fr;
    };
    auto join = [](std::vector<std::vector<std::string>> msgs) {
        std::vector<std::string> all;
        for (auto& m : msgs) all.insert(all.end(), m.begin(), m.end());
        return join_frames(all);
    };
    const std::string f8(16, '\0');  // two <f8 zeros
    return {
        join({one("execute_request", false, R"j({"code":"x = 2; print(x); x*3","silent":false})j",
                  {}, R"j({"is_broadcast":false,"is_coalescing":false,"original_msg_id":""})j")}),
        join({one("execute_request", false, R"j({"code":"display(1/0)","silent":true})j")}),
        join({one("execute_request", false, R"j({"code":5})j")}),
        join({one("execute_request", true, R"j({"code":"1"})j")}),
        join({one("apply_request", false, "{}", {"pickled-f", "args", "kwargs"})}),
        join({one("kernel_info_request", false, "{}"), one("kernel_info_request", true, "{}")}),
        join({one("complete_request", false, R"j({"code":"x = sq","cursor_pos":6})j"),
              one("inspect_request", false, R"j({"code":"sqrt","cursor_pos":2})j"),
              one("is_complete_request", false, R"j({"code":"(1 +"})j")}),
        join({one("comm_open", false,
                  R"j({"comm_id":"c1","target_name":"zcalc.arrays","data":{}})j"),
              one("comm_msg", false,
                  R"j({"comm_id":"c1","data":{"op":"sum","dtype":"<f8","shape":[2]}})j", {f8}),
              one("comm_msg", false,
                  R"j({"comm_id":"c1","data":{"op":"matmul","shape":[1,2],"shape_b":[2,1]}})j",
                  {f8, f8}),
              one("comm_info_request", false, "{}"),
              one("comm_close", false, R"j({"comm_id":"c1","data":{}})j")}),
        join(
            {one("comm_open", false,
                 R"j({"comm_id":"z1","target_name":"zsession.array","data":{"op":"info"}})j"),
             one("comm_msg", false,
                 R"j({"comm_id":"z1","data":{"op":"push","name":"a","dtype":"<f8","shape":[2]}})j",
                 {f8}),
             one("comm_msg", false, R"j({"comm_id":"z1","data":{"op":"pull","expr":"a"}})j"),
             one("comm_msg", false,
                 R"j({"comm_id":"z1","data":{"op":"echo","dtype":"<i4","shape":[2,2],"order":"F"}})j",
                 {f8}),
             one("comm_close", false, R"j({"comm_id":"z1"})j")}),
        join({one("comm_open", false, R"j({"comm_id":"u","target_name":"nope","data":{}})j")}),
        // Found by the engine target: matmul of empty arrays passed null to memcpy.
        join({one(
            "comm_open", false,
            R"j({"comm_id":"e","target_name":"zcalc.arrays","data":{"op":"matmul","shape":[0,2],"shape_b":[2,0]}})j",
            {"", ""})}),
        join({one("abort_request", true, R"j({"msg_ids":["m1","m2"]})j"),
              one("abort_request", true, "{}"),
              one("execute_request", false, R"j({"code":"1"})j")}),
        join({one("clear_request", true, "{}"),
              one("shutdown_request", true, R"j({"restart":false})j")}),
        join({one("shutdown_request", false, R"j({"restart":"yes"})j")}),
    };
}

}  // namespace fuzz
