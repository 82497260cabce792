#include "zsession/ipp/connection.hpp"

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <thread>

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>

namespace zsession::ipp {

namespace {

int parse_int(const std::string& name, const std::string& value) {
    std::size_t used = 0;
    int v = 0;
    try {
        v = std::stoi(value, &used);
    } catch (const std::exception&) {
        used = 0;
    }
    if (used == 0 || used != value.size()) {
        throw std::invalid_argument("--" + name + " needs an integer, got '" + value + "'");
    }
    return v;
}

double parse_seconds(const std::string& name, const std::string& value) {
    std::size_t used = 0;
    double v = -1;
    try {
        v = std::stod(value, &used);
    } catch (const std::exception&) {
        used = 0;
    }
    if (used == 0 || used != value.size() || !(v >= 0) || v > 86400) {
        throw std::invalid_argument("--" + name + " needs seconds in [0, 86400], got '" + value +
                                    "'");
    }
    return v;
}

}  // namespace

engine_args parse_engine_args(int argc, const char* const* argv) {
    engine_args a;
    for (int i = 1; i < argc; ++i) {
        std::string arg = argv[i];
        if (arg.rfind("--", 0) != 0) {
            a.unknown.push_back(arg);
            continue;
        }
        std::string name = arg.substr(2), value;
        bool has_value = false;
        if (const auto eq = name.find('='); eq != std::string::npos) {
            value = name.substr(eq + 1);
            name.resize(eq);
            has_value = true;
        }
        // Dashes and underscores are the same to traitlets (--cluster-id, --cluster_id).
        for (char& c : name) c = c == '_' ? '-' : c;
        auto take = [&]() -> std::string {
            if (has_value) return value;
            if (i + 1 >= argc) throw std::invalid_argument("--" + name + " needs a value");
            return argv[++i];
        };
        if (name == "profile-dir") {
            a.profile_dir = take();
        } else if (name == "profile") {
            a.profile = take();
        } else if (name == "cluster-id") {
            a.cluster_id = take();
        } else if (name == "file") {
            a.file = take();
        } else if (name == "id") {
            a.id = parse_int(name, take());
        } else if (name == "wait") {
            a.wait = std::chrono::milliseconds(
                static_cast<long long>(parse_seconds(name, take()) * 1000));
        } else if (name == "max-missed-heartbeats") {
            a.max_missed_heartbeats = parse_int(name, take());
            if (a.max_missed_heartbeats < 1) {
                throw std::invalid_argument("--max-missed-heartbeats must be >= 1");
            }
        } else if (name == "mpi") {
            a.mpi = true;
        } else if (name == "reregister") {
            a.reregister = true;
        } else {
            a.unknown.push_back(arg);
        }
    }
    return a;
}

std::optional<int> mpi_rank_from_env() {
    for (const char* var :
         {"PMI_RANK", "PMIX_RANK", "OMPI_COMM_WORLD_RANK", "MV2_COMM_WORLD_RANK", "SLURM_PROCID"}) {
        if (const char* v = std::getenv(var); v && *v) {
            char* end = nullptr;
            const long r = std::strtol(v, &end, 10);
            if (*end == '\0' && r >= 0 && r < (1L << 30)) return static_cast<int>(r);
        }
    }
    return std::nullopt;
}

std::string engine_file_path(const engine_args& args) {
    if (args.file) return *args.file;
    std::string profile_dir;
    if (args.profile_dir) {
        profile_dir = *args.profile_dir;
    } else {
        std::string ipython_dir;
        if (const char* d = std::getenv("IPYTHONDIR"); d && *d) {
            ipython_dir = d;
        } else {
            const char* home = std::getenv("HOME");
            ipython_dir = std::string(home ? home : ".") + "/.ipython";
        }
        profile_dir = ipython_dir + "/profile_" + args.profile;
    }
    std::string name = "ipcontroller";
    if (!args.cluster_id.empty()) name += "-" + args.cluster_id;
    return profile_dir + "/security/" + name + "-engine.json";
}

engine_connection parse_engine_connection(std::string_view json) {
    rapidjson::Document d;
    d.Parse(json.data(), json.size());
    if (d.HasParseError() || !d.IsObject()) {
        throw std::runtime_error(std::string("not a JSON object: ") +
                                 rapidjson::GetParseError_En(d.GetParseError()));
    }
    engine_connection c;
    auto str = [&](const char* name, std::string& field) {
        if (d.HasMember(name) && d[name].IsString()) field = d[name].GetString();
    };
    auto port = [&](const char* name, int& field) {
        if (!d.HasMember(name) || !d[name].IsInt() || d[name].GetInt() <= 0 ||
            d[name].GetInt() > 65535) {
            throw std::runtime_error(std::string("no valid port '") + name + "'");
        }
        field = d[name].GetInt();
    };
    str("interface", c.interface);
    str("key", c.key);
    str("signature_scheme", c.signature_scheme);
    str("pack", c.pack);
    str("unpack", c.unpack);
    str("location", c.location);
    port("registration", c.registration);
    port("control", c.control);
    port("mux", c.mux);
    port("task", c.task);
    port("iopub", c.iopub);
    port("hb_ping", c.hb_ping);
    port("hb_pong", c.hb_pong);
    if (!d.HasMember("broadcast") || !d["broadcast"].IsArray() || d["broadcast"].Empty()) {
        throw std::runtime_error("no 'broadcast' port list");
    }
    for (const auto& p : d["broadcast"].GetArray()) {
        if (!p.IsInt() || p.GetInt() <= 0 || p.GetInt() > 65535) {
            throw std::runtime_error("a 'broadcast' port is not a valid port");
        }
        c.broadcast.push_back(p.GetInt());
    }
    if (d.HasMember("curve_serverkey") && d["curve_serverkey"].IsString() &&
        d["curve_serverkey"].GetStringLength() > 0) {
        c.curve_serverkey = d["curve_serverkey"].GetString();
        if (c.curve_serverkey->size() != 40) {
            throw std::runtime_error("curve_serverkey is not a 40-character Z85 key");
        }
    }
    // The session speaks JSON (ipyparallel's default); a pickle or msgpack cluster would
    // need its packer in every Python process too.
    if (c.pack != "json" || c.unpack != "json") {
        throw std::runtime_error("pack/unpack '" + c.pack + "'/'" + c.unpack +
                                 "': C++ engines speak the json packer only");
    }
    return c;
}

engine_connection read_engine_connection(const std::string& path, std::chrono::milliseconds wait) {
    const auto deadline = std::chrono::steady_clock::now() + wait;
    std::string last_error = "does not exist";
    for (;;) {
        std::ifstream in(path);
        if (in) {
            const std::string text{std::istreambuf_iterator<char>(in), {}};
            try {
                return parse_engine_connection(text);
            } catch (const std::runtime_error& e) {
                // The controller may be writing it: retry until the deadline.
                last_error = e.what();
            }
        }
        if (std::chrono::steady_clock::now() >= deadline) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    throw std::runtime_error("engine connection file " + path + ": " + last_error + " (waited " +
                             std::to_string(wait.count()) + " ms)");
}

}  // namespace zsession::ipp
