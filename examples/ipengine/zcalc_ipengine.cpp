// examples/ipengine/zcalc_ipengine.cpp - zcalc-ipengine: the calc language of examples/kernel
// as an ipyparallel engine, plus a comm target "zcalc.arrays" that computes on numpy arrays.
//
//   zcalc-ipengine [--profile-dir D] [--cluster-id C] [--file F] [--id N | --mpi]
//                  [--wait S] [--reregister] [--max-missed-heartbeats N]
//                  [--direct-interface tcp://IP | --no-direct]
//
// ipcluster launches it through engine_cmd (it appends --profile-dir and --cluster-id):
//   c.EngineLauncher.engine_cmd = ['/path/to/zcalc-ipengine']
// SIGINT/SIGTERM unregister the engine and exit 0; a shutdown_request exits 0; a lost
// controller exits 3 (or registers again with --reregister); a bad start exits 1 or 2.
//
// The comm target: a client sends comm_open(target_name="zcalc.arrays") and then comm_msg,
// either carrying data {op, dtype, shape[, factor][, dtype_b, shape_b]} and the arrays as raw
// buffers (C order, little-endian; buffer 0 = a, buffer 1 = b). The engine answers each with
// a comm_msg on iopub: data {status, op, dtype, shape[, value]} and the result array as a
// raw buffer. Ops: sum (value = the sum, no buffer), scale (a * factor, "<f8"), matmul
// (a @ b, 2-D "<f8"), echo (the received buffer sent back without a copy). On bad input:
// data {status: "error", evalue}.
//
// The direct path (docs/IPYPARALLEL-CLIENT.md, "The direct path"): unless --no-direct, the
// engine binds a zsession::ipp::direct_server (of the client library) on
// <direct-interface>:* (default tcp://127.0.0.1), signed with the cluster key, and advertises
// it in kernel_info_reply as "zsession": {"version": 1, "direct": url}. It answers the array
// ops of the Python helper: push (keeps the array under its name, a view pinning the received
// frame), pull (expr = a pushed name), echo, info. The arrays live beside the calc language
// (calc code does not see them). The comm target "zsession.array" serves the same ops and
// arrays through the controller. In a CurveZMQ cluster (curve_serverkey in the connection
// file) the endpoint is a CurveZMQ server with a key pair of this engine's own, whose public
// key kernel_info advertises beside it as "curve_serverkey".
#include <atomic>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <numeric>
#include <optional>
#include <stdexcept>
#include <string>

#include "../kernel/calc.hpp"
#include "zsession/ipp/client_arrays.hpp"
#include "zsession/ipp/engine.hpp"
#include "zsession/large_messages.hpp"

namespace {

using namespace zsession;
using namespace zsession::ipp;

/// calc::interpreter behind the engine's interpreter interface.
class calc_interpreter final : public ipp::interpreter {
  public:
    execute_outcome execute(std::string_view code, int, output_sink& out) override {
        const calc::result r = calc_.run(code);
        using k = calc::output::kind;
        for (const auto& o : r.outputs) {
            switch (o.what) {
                case k::stdout_text:
                    out.stream("stdout", o.text);
                    break;
                case k::stderr_text:
                    out.stream("stderr", o.text);
                    break;
                case k::display:
                    out.display({{"text/plain", o.text}, {"text/html", o.html}});
                    break;
                case k::clear:
                    out.clear_output(false);
                    break;
                case k::page:
                    out.stream("stdout", o.text);
                    break;
            }
        }
        execute_outcome x;
        x.ok = r.ok;
        if (r.value) x.value = mime_bundle{{"text/plain", *r.value}};
        x.ename = r.ename;
        x.evalue = r.evalue;
        x.traceback = r.traceback;
        return x;
    }
    std::optional<completion> complete(std::string_view code, std::size_t cursor) override {
        const auto [begin, end] = calc::identifier_at(code, cursor);
        return completion{calc_.complete(code.substr(begin, cursor - begin)), begin, end};
    }
    std::optional<mime_bundle> inspect(std::string_view code, std::size_t cursor) override {
        const auto [begin, end] = calc::identifier_at(code, cursor);
        if (auto doc = calc_.inspect(code.substr(begin, end - begin))) {
            return mime_bundle{{"text/plain", *doc}};
        }
        return std::nullopt;
    }
    std::string is_complete(std::string_view code) override {
        static constexpr const char* names[] = {"complete", "incomplete", "invalid"};
        return names[static_cast<int>(calc_.is_complete(code))];
    }
    void clear() override { calc_ = calc::interpreter(); }
    language_info info() const override {
        language_info li;
        li.name = "calc";
        li.mimetype = "text/x-calc";
        li.file_extension = ".calc";
        li.implementation = "zcalc-ipengine";
        li.banner = "zcalc-ipengine: the calc language on an ipyparallel engine (zsession)";
        return li;
    }

  private:
    calc::interpreter calc_;
};

// -- the arrays comm ------------------------------------------------------------------------

struct array_request {
    std::string op;
    std::string dtype = "<f8";
    std::vector<std::int64_t> shape;
    double factor = 1.0;
    std::string dtype_b = "<f8";
    std::vector<std::int64_t> shape_b;
    MSGPACK_DEFINE_MAP(op, dtype, shape, factor, dtype_b, shape_b)
};

struct array_reply {
    std::string status = "ok";
    std::string op, dtype = "<f8";
    std::vector<std::int64_t> shape;
    std::optional<double> value;
    std::string evalue;
    MSGPACK_DEFINE_MAP(status, op, dtype, shape, value, evalue)
};

std::size_t itemsize(const std::string& dtype) {
    static const std::map<std::string, std::size_t> sizes = {
        {"<f8", 8}, {"<f4", 4}, {"<i8", 8}, {"<i4", 4}, {"<u8", 8},
        {"<u4", 4}, {"|u1", 1}, {"|i1", 1}, {"<i2", 2}, {"<u2", 2}};
    const auto it = sizes.find(dtype);
    if (it == sizes.end()) throw std::invalid_argument("unsupported dtype " + dtype);
    return it->second;
}

std::size_t elements(const std::vector<std::int64_t>& shape) {
    std::size_t n = 1;
    for (const auto d : shape) {
        if (d < 0 || (d > 0 && n > SIZE_MAX / static_cast<std::size_t>(d))) {
            throw std::invalid_argument("bad shape");
        }
        n *= static_cast<std::size_t>(d);
    }
    return n;
}

/// The array's bytes checked against dtype and shape.
bytes_view checked(std::span<const buffer> bufs, std::size_t i, const std::string& dtype,
                   const std::vector<std::int64_t>& shape) {
    if (bufs.size() <= i) throw std::invalid_argument("missing array buffer " + std::to_string(i));
    if (elements(shape) * itemsize(dtype) != bufs[i].size()) {
        throw std::invalid_argument("buffer " + std::to_string(i) + " has " +
                                    std::to_string(bufs[i].size()) +
                                    " bytes, not what dtype and shape say");
    }
    return bufs[i].view();
}

/// Element j of an array as double. memcpy: received frames need not be aligned.
template <class T>
double at(const std::byte* p, std::size_t j) {
    T v;
    std::memcpy(&v, p + j * sizeof(T), sizeof(T));
    return static_cast<double>(v);
}

double element(const std::string& dtype, const std::byte* p, std::size_t j) {
    if (dtype == "<f8") return at<double>(p, j);
    if (dtype == "<f4") return at<float>(p, j);
    if (dtype == "<i8") return at<std::int64_t>(p, j);
    if (dtype == "<i4") return at<std::int32_t>(p, j);
    if (dtype == "<i2") return at<std::int16_t>(p, j);
    if (dtype == "|i1") return at<std::int8_t>(p, j);
    if (dtype == "<u8") return at<std::uint64_t>(p, j);
    if (dtype == "<u4") return at<std::uint32_t>(p, j);
    if (dtype == "<u2") return at<std::uint16_t>(p, j);
    return at<std::uint8_t>(p, j);  // "|u1"; itemsize() rejected anything else
}

/// Reads the elements as doubles; `<f8` that happens to be aligned is used in place.
std::vector<double> to_doubles(const std::string& dtype, bytes_view b) {
    const std::size_t n = b.size() / itemsize(dtype);
    std::vector<double> out(n);
    if (dtype == "<f8") {
        // Not for an empty array: both pointers may be null, and memcpy's must not be.
        if (n != 0) std::memcpy(out.data(), b.data(), n * sizeof(double));
        return out;
    }
    for (std::size_t j = 0; j < n; ++j) out[j] = element(dtype, b.data(), j);
    return out;
}

double sum(const std::string& dtype, bytes_view b) {
    const std::size_t n = b.size() / itemsize(dtype);
    if (dtype == "<f8" && reinterpret_cast<std::uintptr_t>(b.data()) % alignof(double) == 0) {
        const auto* d = reinterpret_cast<const double*>(b.data());  // zero-copy view
        return std::accumulate(d, d + n, 0.0);
    }
    double s = 0;
    for (std::size_t j = 0; j < n; ++j) s += element(dtype, b.data(), j);
    return s;
}

class arrays_handler final : public comm_handler {
  public:
    void on_msg(comm& c, const comm_message& m) override { compute(c, m); }

    static void compute(comm& c, const comm_message& m) {
        array_reply out;
        std::vector<buffer> result;
        try {
            const auto req = m.data_as<array_request>();
            out.op = req.op;
            if (req.op == "sum") {
                out.value = sum(req.dtype, checked(m.buffers, 0, req.dtype, req.shape));
                out.shape = {};
            } else if (req.op == "scale") {
                auto a = to_doubles(req.dtype, checked(m.buffers, 0, req.dtype, req.shape));
                for (double& x : a) x *= req.factor;
                out.shape = req.shape;
                result.push_back(buffer::take(std::move(a)));
            } else if (req.op == "matmul") {
                result.push_back(matmul(req, m, out));
            } else if (req.op == "echo") {
                checked(m.buffers, 0, req.dtype, req.shape);
                out.dtype = req.dtype;
                out.shape = req.shape;
                result.push_back(m.buffers[0]);  // shares the received frame: no copy
            } else {
                throw std::invalid_argument("unknown op '" + req.op +
                                            "' (sum, scale, matmul, echo)");
            }
        } catch (const std::exception& e) {
            out.status = "error";
            out.evalue = e.what();
            result.clear();
        }
        c.send(out, std::move(result));
    }

    static buffer matmul(const array_request& req, const comm_message& m, array_reply& out) {
        if (req.shape.size() != 2 || req.shape_b.size() != 2 || req.shape[1] != req.shape_b[0]) {
            throw std::invalid_argument("matmul needs shapes (m, k) and (k, n)");
        }
        const auto a = to_doubles(req.dtype, checked(m.buffers, 0, req.dtype, req.shape));
        const auto b = to_doubles(req.dtype_b, checked(m.buffers, 1, req.dtype_b, req.shape_b));
        const auto rows = static_cast<std::size_t>(req.shape[0]);
        const auto inner = static_cast<std::size_t>(req.shape[1]);
        const auto cols = static_cast<std::size_t>(req.shape_b[1]);
        std::vector<double> c(rows * cols, 0.0);
        for (std::size_t i = 0; i < rows; ++i) {
            for (std::size_t k = 0; k < inner; ++k) {
                const double aik = a[i * inner + k];
                for (std::size_t j = 0; j < cols; ++j) c[i * cols + j] += aik * b[k * cols + j];
            }
        }
        out.shape = {req.shape[0], req.shape_b[1]};
        return buffer::take(std::move(c));
    }
};

// -- the direct path ------------------------------------------------------------------------

/// The arrays pushed over the direct path, and the answers to its ops. Called on the
/// direct_server's thread; the mutex only guards against the endpoint being set late.
class direct_arrays {
  public:
    void set_endpoint(std::string ep, std::string curve_serverkey) {
        std::lock_guard lock(mu_);
        endpoint_ = std::move(ep);
        curve_serverkey_ = std::move(curve_serverkey);
    }
    ipp::array_reply operator()(const ipp::array_request& r) {
        std::lock_guard lock(mu_);
        using reply = ipp::array_reply;
        if (r.op == "push") {
            if (r.name.empty() || !r.array) return error("ValueError", "push needs name and array");
            arrays_.insert_or_assign(r.name, *r.array);  // pins the received frame: no copy
            return reply{.status = "ok", .nbytes = r.array->nbytes()};
        }
        if (r.op == "pull") {
            const auto it = arrays_.find(r.expr);
            if (it == arrays_.end()) {
                return error("NameError", "name '" + r.expr + "' is not a pushed array");
            }
            return reply{.status = "ok", .nbytes = it->second.nbytes(), .array = it->second};
        }
        if (r.op == "echo") {
            if (!r.array) return error("ValueError", "echo needs an array");
            return reply{.status = "ok", .nbytes = r.array->nbytes(), .array = *r.array};
        }
        if (r.op == "info") {
            return reply{.status = "ok", .direct = endpoint_, .curve_serverkey = curve_serverkey_};
        }
        return error("ValueError", "unknown op '" + r.op + "' (push, pull, echo, info)");
    }

  private:
    static ipp::array_reply error(std::string ename, std::string evalue) {
        return ipp::array_reply{
            .status = "error", .ename = std::move(ename), .evalue = std::move(evalue)};
    }
    std::mutex mu_;
    std::string endpoint_, curve_serverkey_;
    std::map<std::string, ndarray_view> arrays_;
};

/// The `zsession.array` comm's maps (docs/IPYPARALLEL-CLIENT.md, "Arrays without pickle").
struct zs_wire_request {
    std::string op, name, expr, dtype;
    std::vector<std::uint64_t> shape;
    std::string order = "C";
    MSGPACK_DEFINE_MAP(op, name, expr, dtype, shape, order)
};
struct zs_wire_reply {
    std::string status = "ok", op, ename, evalue, dtype, order = "C", direct, curve_serverkey;
    std::vector<std::uint64_t> shape;
    std::uint64_t nbytes = 0;
    MSGPACK_DEFINE_MAP(status, op, ename, evalue, dtype, order, direct, curve_serverkey, shape,
                       nbytes)
};

/// The `zsession.array` comm target: the same ops and arrays as the direct path, through the
/// controller (a comm_msg on iopub per request, the array as its one buffer).
class zsession_array_handler final : public comm_handler {
  public:
    explicit zsession_array_handler(std::shared_ptr<direct_arrays> a) : arrays_(std::move(a)) {}
    void on_msg(comm& c, const comm_message& m) override { answer(c, m, *arrays_); }

    static void answer(comm& c, const comm_message& m, direct_arrays& arrays) {
        zs_wire_reply out;
        std::vector<buffer> bufs;
        try {
            const auto w = m.data_as<zs_wire_request>();
            out.op = w.op;
            ipp::array_request r{.op = w.op, .name = w.name, .expr = w.expr};
            if (!w.dtype.empty()) {
                if (m.buffers.size() != 1) throw std::invalid_argument("an array needs 1 buffer");
                r.array = ndarray_view(dtype::parse(w.dtype),
                                       std::vector<std::size_t>(w.shape.begin(), w.shape.end()),
                                       m.buffers[0], array_order_from_string(w.order));
            }
            const auto rep = arrays(r);
            out.status = rep.status;
            out.ename = rep.ename;
            out.evalue = rep.evalue;
            out.direct = rep.direct;
            out.curve_serverkey = rep.curve_serverkey;
            out.nbytes = rep.nbytes;
            if (rep.array) {
                out.dtype = rep.array->type().str();
                out.shape.assign(rep.array->shape().begin(), rep.array->shape().end());
                out.order = std::string(to_string(rep.array->order()));
                bufs.push_back(rep.array->bytes());
            }
        } catch (const std::exception& e) {
            out.status = "error";
            out.ename = "ValueError";
            out.evalue = e.what();
            bufs.clear();
        }
        c.send(out, std::move(bufs));
    }

  private:
    std::shared_ptr<direct_arrays> arrays_;
};

// tests/fuzz/engine_target.hpp includes this file, without main, for its interpreter and
// comm targets.
#ifndef ZCALC_IPENGINE_NO_MAIN

/// The direct server's session: the engine's key, scheme and limits, JSON packer.
session_options direct_session_options(const engine_options& o) {
    session_options so;
    so.key = o.connection.key;
    so.signature_scheme = o.connection.signature_scheme;
    so.username = "zsession-ipengine";
    so.packer = packer_kind::json;
    so.limits = o.limits;
    so.copy_threshold = o.copy_threshold;
    return so;
}

std::atomic<engine*> running{nullptr};

extern "C" void on_signal(int) {
    if (engine* e = running.load()) e->stop();
}

#endif  // ZCALC_IPENGINE_NO_MAIN

}  // namespace

#ifndef ZCALC_IPENGINE_NO_MAIN
int main(int argc, char** argv) {
    // Large arrays arrive on the direct path and the comm: received frames reuse heap
    // blocks instead of a fresh mmap (and 8192 page faults per 32 MiB) each. First, before
    // any thread allocates (include/zsession/large_messages.hpp).
    (void)tune_malloc_for_large_messages();
    engine_args args;
    try {
        args = parse_engine_args(argc, argv);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "zcalc-ipengine: %s\n", e.what());
        return 2;
    }
    std::optional<std::string> direct_interface = "tcp://127.0.0.1";
    for (std::size_t i = 0; i < args.unknown.size(); ++i) {
        const std::string& a = args.unknown[i];
        if (a == "--help" || a == "-h") {
            std::printf(
                "usage: zcalc-ipengine [--profile-dir D] [--cluster-id C] [--file F]\n"
                "       [--id N | --mpi] [--wait S] [--reregister] [--max-missed-heartbeats N]\n"
                "       [--direct-interface tcp://IP | --no-direct]\n");
            return 0;
        }
        if (a == "--no-direct") {
            direct_interface.reset();
        } else if (a.rfind("--direct-interface=", 0) == 0) {
            direct_interface = a.substr(std::string_view("--direct-interface=").size());
        } else if (a == "--direct-interface" && i + 1 < args.unknown.size()) {
            direct_interface = args.unknown[++i];
        } else {
            std::fprintf(stderr, "zcalc-ipengine: ignoring argument %s\n", a.c_str());
        }
    }
    try {
        engine_options o;
        const std::string path = engine_file_path(args);
        o.connection = read_engine_connection(path, args.wait);
        o.requested_id = args.mpi ? mpi_rank_from_env() : args.id;
        o.lost_policy = args.reregister ? on_controller_lost::reregister : on_controller_lost::exit;
        o.max_missed_heartbeats = args.max_missed_heartbeats;
        // The direct endpoint first, so kernel_info can advertise it from the start.
        std::unique_ptr<direct_server> direct;
        auto arrays = std::make_shared<direct_arrays>();
        if (direct_interface) {
            // A curve cluster (its messages unsigned): the endpoint is a CurveZMQ server
            // with a key pair of this engine's own, advertised through the controller.
            std::optional<curve_keypair> curve;
            if (o.connection.curve_serverkey) curve = make_curve_keypair();
            direct = std::make_unique<direct_server>(
                direct_session_options(o),
                [arrays](const ipp::array_request& r) { return (*arrays)(r); },
                *direct_interface + ":*", curve);
            arrays->set_endpoint(direct->endpoint(), direct->curve_public_key());
            o.direct_endpoint = direct->endpoint();
            o.direct_curve_serverkey = direct->curve_public_key();
        }
        engine e(o, std::make_unique<calc_interpreter>());
        e.register_comm_target("zcalc.arrays", [](comm& c, const comm_message& open) {
            // An open that already carries an op is answered at once.
            if (open.data.type == msgpack::type::MAP &&
                open.data_as<std::map<std::string, msgpack::object>>().count("op") != 0) {
                arrays_handler::compute(c, open);
            }
            return std::make_unique<arrays_handler>();
        });
        e.register_comm_target(std::string(array_comm_target),
                               [arrays](comm& c, const comm_message& open) {
                                   // An open that carries an op is answered at once.
                                   if (open.data.type == msgpack::type::MAP) {
                                       zsession_array_handler::answer(c, open, *arrays);
                                   }
                                   return std::make_unique<zsession_array_handler>(arrays);
                               });
        running = &e;
        std::signal(SIGINT, on_signal);
        std::signal(SIGTERM, on_signal);
        const run_result r = e.run();
        running = nullptr;
        return r == run_result::controller_lost ? 3 : 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "zcalc-ipengine: %s\n", e.what());
        return 1;
    }
}
#endif  // ZCALC_IPENGINE_NO_MAIN
