// Arrays through a client: the comm to the Python helper across the controller, or the
// direct path when the engine has one and the array is large enough.
#include "zsession/ipp/client_arrays.hpp"

#include <rapidjson/document.h>

#include "array_wire.hpp"

namespace zsession::ipp {

void array_reply::raise_if_error() const {
    if (!ok()) throw remote_error(ename.empty() ? "ArrayError" : ename, evalue, {}, "");
}

namespace detail {

wire_request to_wire(const array_request& req, std::vector<buffer>& buffers) {
    wire_request w{.op = req.op, .name = req.name, .expr = req.expr};
    if (req.array) {
        const auto& a = *req.array;
        w.dtype = a.type().str();
        w.shape.assign(a.shape().begin(), a.shape().end());
        w.order = std::string(to_string(a.order()));
        buffers.push_back(a.bytes());
    }
    return w;
}

namespace {
ndarray_view make_view(const std::string& dt, const std::vector<std::uint64_t>& shape,
                       const std::string& order, const std::vector<buffer>& buffers) {
    if (buffers.size() != 1) {
        throw decode_error("an array needs exactly 1 buffer, got " +
                           std::to_string(buffers.size()));
    }
    std::vector<std::size_t> s(shape.begin(), shape.end());
    return ndarray_view(dtype::parse(dt), std::move(s), buffers.front(),
                        array_order_from_string(order));
}
}  // namespace

array_request from_wire(const wire_request& w, const std::vector<buffer>& buffers) {
    array_request r{.op = w.op, .name = w.name, .expr = w.expr};
    if (!w.dtype.empty()) r.array = make_view(w.dtype, w.shape, w.order, buffers);
    return r;
}

wire_reply to_wire(const array_reply& r, std::vector<buffer>& buffers) {
    wire_reply w{.status = r.status,
                 .ename = r.ename,
                 .evalue = r.evalue,
                 .direct = r.direct,
                 .nbytes = r.nbytes,
                 .curve_serverkey = r.curve_serverkey};
    if (r.array) {
        const auto& a = *r.array;
        w.dtype = a.type().str();
        w.shape.assign(a.shape().begin(), a.shape().end());
        w.order = std::string(to_string(a.order()));
        w.nbytes = a.nbytes();
        buffers.push_back(a.bytes());
    }
    return w;
}

array_reply from_wire(const wire_reply& w, const std::vector<buffer>& buffers) {
    array_reply r{.status = w.status,
                  .ename = w.ename,
                  .evalue = w.evalue,
                  .nbytes = static_cast<std::size_t>(w.nbytes),
                  .direct = w.direct,
                  .curve_serverkey = w.curve_serverkey};
    if (r.ok() && !w.dtype.empty()) {
        try {
            r.array = make_view(w.dtype, w.shape, w.order, buffers);
        } catch (const error& e) {
            r.status = "error";
            r.ename = "ArrayDecodeError";
            r.evalue = e.what();
        }
    }
    return r;
}

}  // namespace detail

namespace {

struct comm_open_content {
    std::string comm_id, target_name;
    detail::wire_request data;
    MSGPACK_DEFINE_MAP(comm_id, target_name, data)
};
struct comm_msg_content {
    std::string comm_id;
    detail::wire_request data;
    MSGPACK_DEFINE_MAP(comm_id, data)
};

std::string base64(std::string_view in) {
    static constexpr char table[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    out.reserve((in.size() + 2) / 3 * 4);
    for (std::size_t i = 0; i < in.size(); i += 3) {
        std::uint32_t n = static_cast<unsigned char>(in[i]) << 16;
        if (i + 1 < in.size()) n |= static_cast<unsigned char>(in[i + 1]) << 8;
        if (i + 2 < in.size()) n |= static_cast<unsigned char>(in[i + 2]);
        out += table[(n >> 18) & 63];
        out += table[(n >> 12) & 63];
        out += i + 1 < in.size() ? table[(n >> 6) & 63] : '=';
        out += i + 2 < in.size() ? table[n & 63] : '=';
    }
    return out;
}

/// The comm reply's data, from the JSON text the client kept.
detail::wire_reply parse_reply_json(const std::string& text) {
    rapidjson::Document d;
    d.Parse(text.c_str());
    detail::wire_reply w;
    if (d.HasParseError() || !d.IsObject()) {
        w.status = "error";
        w.ename = "ArrayDecodeError";
        w.evalue = "comm reply data is not a JSON object";
        return w;
    }
    auto str = [&](const char* k, std::string& out) {
        auto it = d.FindMember(k);
        if (it != d.MemberEnd() && it->value.IsString()) out = it->value.GetString();
    };
    str("status", w.status);
    str("op", w.op);
    str("request", w.request);
    str("ename", w.ename);
    str("evalue", w.evalue);
    str("dtype", w.dtype);
    str("order", w.order);
    str("direct", w.direct);
    str("curve_serverkey", w.curve_serverkey);
    if (auto it = d.FindMember("nbytes"); it != d.MemberEnd() && it->value.IsUint64()) {
        w.nbytes = it->value.GetUint64();
    }
    if (auto it = d.FindMember("shape"); it != d.MemberEnd() && it->value.IsArray()) {
        for (const auto& n : it->value.GetArray()) {
            if (!n.IsUint64()) {
                w.status = "error";
                w.ename = "ArrayDecodeError";
                w.evalue = "shape holds a non-integer";
                return w;
            }
            w.shape.push_back(n.GetUint64());
        }
    }
    return w;
}

}  // namespace

// -- array_client ---------------------------------------------------------------------------

array_client::array_client(client& c, std::size_t direct_threshold)
    : client_(c), threshold_(direct_threshold) {}

array_client::~array_client() = default;

void array_client::install(const std::vector<int>& engine_ids, bool direct,
                           std::chrono::milliseconds timeout) {
    // A curve cluster's engines serve their direct endpoint with CurveZMQ too.
    const bool curve = !client_.connection().curve_serverkey.empty();
    const std::string code =
        "import base64 as _zb, sys as _zs, types as _zt\n"
        "if 'zsession_ipp_comm' not in _zs.modules:\n"
        "    _zm = _zt.ModuleType('zsession_ipp_comm')\n"
        "    exec(compile(_zb.b64decode('" +
        base64(array_helper_source()) +
        "').decode('utf-8'), 'zsession_ipp_comm.py', 'exec'), _zm.__dict__)\n"
        "    _zs.modules['zsession_ipp_comm'] = _zm\n"
        "    del _zm\n"
        "_zs.modules['zsession_ipp_comm'].register(direct=" +
        std::string(direct ? "True" : "False") + ", curve=" + (curve ? "True" : "False") +
        ")\n"
        "del _zb, _zs, _zt\n";
    auto futures = client_.execute(engine_ids, code, true);
    for (const auto& f : futures) f.get(timeout).raise_if_error();
    if (!direct) return;
    for (const auto& f : futures) {
        const int id = f.get(timeout).engine_id;
        auto info = request_via_controller(id, array_request{.op = "info"}, timeout);
        info.raise_if_error();
        set_direct_endpoint(id, info.direct, info.curve_serverkey);
    }
}

void array_client::set_direct_endpoint(int engine_id, const std::string& endpoint,
                                       const std::string& curve_serverkey) {
    std::lock_guard lock(mu_);
    if (endpoint.empty()) {
        direct_.erase(engine_id);
        return;
    }
    if (!client_.connection().curve_serverkey.empty() && curve_serverkey.empty()) {
        throw usage_error("the cluster uses CurveZMQ: the direct endpoint " + endpoint +
                          " of engine " + std::to_string(engine_id) +
                          " needs a curve_serverkey too");
    }
    auto opts = client_.session().options();
    opts.session_id.clear();  // each channel its own session id
    direct_[engine_id] =
        std::make_shared<direct_channel>(endpoint, std::move(opts), curve_serverkey);
}

std::string array_client::direct_endpoint(int engine_id) const {
    std::lock_guard lock(mu_);
    auto it = direct_.find(engine_id);
    return it == direct_.end() ? std::string() : it->second->endpoint();
}

std::string array_client::discover_direct(int engine_id, std::chrono::milliseconds timeout) {
    auto m = client_.session().make_message("kernel_info_request");
    const auto r = client_.send(client::channel::mux, engine_id, std::move(m)).get(timeout);
    r.raise_if_error();
    rapidjson::Document d;
    d.Parse(r.content_json.c_str());
    std::string endpoint, key;
    if (!d.HasParseError() && d.IsObject()) {
        auto z = d.FindMember("zsession");
        if (z != d.MemberEnd() && z->value.IsObject()) {
            auto ep = z->value.FindMember("direct");
            if (ep != z->value.MemberEnd() && ep->value.IsString())
                endpoint = ep->value.GetString();
            auto k = z->value.FindMember("curve_serverkey");
            if (k != z->value.MemberEnd() && k->value.IsString()) key = k->value.GetString();
        }
    }
    if (endpoint.empty()) return endpoint;
    if (!client_.connection().curve_serverkey.empty() && key.empty()) {
        return {};  // an endpoint without CurveZMQ in a curve cluster: not used
    }
    set_direct_endpoint(engine_id, endpoint, key);
    return endpoint;
}

array_reply array_client::push(int engine_id, const std::string& name, const ndarray_view& a,
                               std::chrono::milliseconds timeout) {
    return dispatch(engine_id, array_request{.op = "push", .name = name, .array = a}, timeout);
}

array_reply array_client::pull(int engine_id, const std::string& expr,
                               std::chrono::milliseconds timeout) {
    // The reply's size is unknown before the call: pull takes the direct path whenever
    // there is one (a small reply costs about the same either way).
    return dispatch(engine_id, array_request{.op = "pull", .expr = expr}, timeout);
}

array_reply array_client::echo(int engine_id, const ndarray_view& a,
                               std::chrono::milliseconds timeout) {
    return dispatch(engine_id, array_request{.op = "echo", .array = a}, timeout);
}

array_reply array_client::dispatch(int engine_id, const array_request& req,
                                   std::chrono::milliseconds timeout) {
    std::shared_ptr<direct_channel> channel;
    {
        std::lock_guard lock(mu_);
        auto it = direct_.find(engine_id);
        if (it != direct_.end()) channel = it->second;
    }
    const std::size_t size = req.array ? req.array->nbytes() : threshold_;
    if (channel && size >= threshold_) {
        auto r = channel->request(req, timeout);
        r.via_direct = true;
        return r;
    }
    return request_via_controller(engine_id, req, timeout);
}

array_reply array_client::request_via_controller(int engine_id, const array_request& req,
                                                 std::chrono::milliseconds timeout) {
    const auto engine = client_.engine(engine_id);
    if (!engine) throw usage_error("no engine with id " + std::to_string(engine_id));
    auto m = client_.session().make_message("comm_msg");
    auto data = detail::to_wire(req, m.buffers);
    {
        std::lock_guard lock(mu_);
        auto it = comm_ids_.find(engine->uuid);
        if (it == comm_ids_.end()) {
            // The first request to an engine opens the comm and carries the op in its data.
            const auto id = new_uuid4();
            comm_ids_[engine->uuid] = id;
            m.header.msg_type = "comm_open";
            m.set_content(comm_open_content{id, std::string(array_comm_target), data});
        } else {
            m.set_content(comm_msg_content{it->second, data});
        }
    }
    auto f =
        client_.send(client::channel::mux, engine_id, std::move(m), client::completion::comm_reply);
    const result& r = f.get(timeout);
    if (r.ename == "CommClosed") {  // not opened on the engine: the next request reopens
        std::lock_guard lock(mu_);
        comm_ids_.erase(engine->uuid);
    }
    if (r.msg_type != "comm_msg") {  // failed: engine death, comm closed, client closed
        return array_reply{
            .status = r.status.empty() ? "error" : r.status, .ename = r.ename, .evalue = r.evalue};
    }
    return detail::from_wire(parse_reply_json(r.content_json), r.buffers);
}

}  // namespace zsession::ipp
