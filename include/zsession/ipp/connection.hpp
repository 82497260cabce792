// zsession/ipp/connection.hpp - where an ipyparallel engine finds its controller: the engine
// connection file (`<profile>/security/ipcontroller[-<cluster_id>]-engine.json`) and the
// command-line arguments ipcluster's launchers pass to an engine.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace zsession::ipp {

/// What an engine connection file says. Ports are the controller's; the engine connects.
struct engine_connection {
    std::string interface = "tcp://127.0.0.1";  ///< "tcp://<ip>" (no port)
    int registration = 0, control = 0, mux = 0, task = 0, iopub = 0, hb_ping = 0, hb_pong = 0;
    std::vector<int> broadcast;  ///< one port per leaf scheduler; use broadcast[id % size]
    std::string key;             ///< HMAC key; "" when CurveZMQ secures the traffic
    std::string signature_scheme = "hmac-sha256";
    std::string pack = "json", unpack = "json";
    /// Z85 public key of the controller when the cluster runs CurveZMQ (IPP_ENABLE_CURVE=1).
    std::optional<std::string> curve_serverkey;
    std::string location;

    /// "tcp://<ip>:<port>".
    std::string endpoint(int port) const { return interface + ":" + std::to_string(port); }
};

/// The arguments an engine understands, as ipcluster's launchers pass them
/// (`engine_cmd + ['--profile-dir', D, '--cluster-id', C] + engine_args`).
struct engine_args {
    std::optional<std::string> profile_dir;  ///< --profile-dir D
    std::string profile = "default";         ///< --profile P (when no --profile-dir)
    std::string cluster_id;                  ///< --cluster-id C ("" is the default cluster)
    std::optional<std::string> file;         ///< --file F: the engine connection file itself
    std::optional<int> id;                   ///< --id N: requested engine id (MPI rank)
    bool mpi = false;  ///< --mpi: request id = the MPI rank from the environment
    /// --wait S: how long to wait for the connection file (ipengine waits 10 s).
    std::chrono::milliseconds wait{10'000};
    bool reregister = false;           ///< --reregister: re-register when the controller is lost
    int max_missed_heartbeats = 50;    ///< --max-missed-heartbeats N (ipengine: 50)
    std::vector<std::string> unknown;  ///< arguments not understood (logged, ignored)
};

/// Parses `argv[1..argc)`. Accepts `--name value` and `--name=value`; `--help` is left in
/// unknown. Throws std::invalid_argument for a missing or malformed value.
engine_args parse_engine_args(int argc, const char* const* argv);

/// The rank from the environment of an MPI launcher (PMI_RANK, PMIX_RANK,
/// OMPI_COMM_WORLD_RANK, MV2_COMM_WORLD_RANK), or empty.
std::optional<int> mpi_rank_from_env();

/// Path of the engine connection file the arguments name: --file, else
/// `<profile_dir>/security/ipcontroller[-<cluster_id>]-engine.json`, where the profile dir
/// defaults to `$IPYTHONDIR/profile_<profile>` ($IPYTHONDIR defaulting to ~/.ipython).
std::string engine_file_path(const engine_args& args);

/// Reads the engine connection file at `path`, waiting up to `wait` for it to appear and to
/// hold a complete JSON object (the controller may still be writing it).
/// Throws std::runtime_error naming the path and what is wrong (missing after the wait, not
/// JSON, a port missing or not an integer, a packer other than JSON).
engine_connection read_engine_connection(const std::string& path,
                                         std::chrono::milliseconds wait = std::chrono::seconds(10));

/// Parses the text of an engine connection file. Throws std::runtime_error as above.
engine_connection parse_engine_connection(std::string_view json);

}  // namespace zsession::ipp
