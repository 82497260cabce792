// bench/common.hpp - what every benchmark shares: options, CPU pinning, statistics,
// JSON-lines records, and the raw-cppzmq baseline that moves a session message's frames
// without the session layer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <zmq.hpp>

#include "../src/loopback.hpp"
#include "zsession/zsession.hpp"

namespace bench {

/// Command-line options common to all benchmarks.
///   --json            one JSON object per line on stdout (progress goes to stderr)
///   --quick           the test suite's smoke run: tiny sizes and counts, a few seconds
///   --pin / --no-pin  run every thread (ours and libzmq's) on one CPU (see pin_process)
///   --cpu N           the CPU to pin to (default 0)
///   --transports a,b  subset of inproc,ipc,tcp
///   --max-bytes N     largest message size swept (throughput, codec)
///   --repeats N       interleaved repetitions per point
///   --packer P        msgpack (default) or json: the packer of every session the bench makes
struct options {
    bool json = false;
    bool quick = false;
    bool pin = false;
    int cpu = 0;
    std::vector<std::string> transports = {"inproc", "ipc", "tcp"};
    std::size_t max_bytes = 0;  ///< 0: the benchmark's own default for the mode
    unsigned repeats = 0;       ///< 0: the benchmark's own default for the mode
    zsession::packer_kind packer = zsession::packer_kind::msgpack;

    /// `quick_value` in the smoke run, `full_value` otherwise.
    template <class T>
    T by_mode(T quick_value, T full_value) const {
        return quick ? quick_value : full_value;
    }
    /// --max-bytes when given, otherwise the benchmark's default for the mode.
    std::size_t max_bytes_or(std::size_t quick_value, std::size_t full_value) const {
        return max_bytes ? max_bytes : by_mode(quick_value, full_value);
    }
    /// --repeats when given, otherwise the benchmark's default for the mode.
    unsigned repeats_or(unsigned quick_value, unsigned full_value) const {
        return repeats ? repeats : by_mode(quick_value, full_value);
    }
};

/// Parses argv; prints usage and exits on --help or an unknown option (status 2).
options parse_options(int argc, char** argv, std::string_view usage_extra, bool pin_default);

/// parse_options, then pin_process(cpu) when pinning is on. Call first in main, before the
/// zmq context exists (so that libzmq's I/O thread inherits the CPU).
options start(int argc, char** argv, bool pin_default, std::string_view usage_extra = "");

/// Restricts the calling thread to `cpu`; threads created afterwards (our peers and
/// libzmq's I/O threads, if the context is created afterwards) inherit it. Call first in
/// main. Throws std::system_error when the CPU is not available.
void pin_process(int cpu);

/// Median and 99th percentile (nearest rank) of `samples`, which is reordered. Zeros
/// when empty.
struct percentiles {
    double median = 0, p99 = 0;
};
percentiles summarize(std::vector<double>& samples);

/// One line of output. `impl` is "session" or "raw" ("jupyter_client" from the Python
/// sweep). baseline_ratio is the session figure divided by the raw figure of the same
/// point and run (throughput: msgs/s; latency: the median over adjacent block pairs of the
/// two kinds' block medians), null for raw records.
struct record {
    std::string bench, transport, mode, impl;
    std::size_t bytes = 0;
    std::optional<double> msgs_per_s{}, gb_per_s{}, median_us{}, p99_us{}, baseline_ratio{};
    std::uint64_t messages = 0;
    /// Heap allocations (malloc and friends, every thread) per message or round trip; only
    /// written when measured (latency_allocs).
    std::optional<double> allocs_per_msg{};
};

/// A rate record: `bytes` per message at `msgs_per_s`, and the GB/s (1e9 B/s) they make.
record rate_record(std::string bench, std::string transport, std::string mode, std::string impl,
                   std::size_t bytes, double msgs_per_s);

/// Prints `r`: a JSON line on stdout with --json (with "packer": "msgpack"|"json" and
/// "pinned" from `o`), else a human-readable line on stdout.
void emit(const options& o, const record& r);
/// Human-readable progress: stderr with --json (stdout stays pure JSON), else stdout.
void progress(const options& o, const std::string& line);

/// The signing key every benchmark session uses (signed, as Jupyter runs).
inline constexpr std::string_view key = "zsession-benchmark-key";

/// A session with the benchmark key, `copy_threshold` and `packer`.
zsession::session make_session(std::size_t copy_threshold,
                               zsession::packer_kind packer = zsession::packer_kind::msgpack);

/// "msgpack" or "json".
std::string_view packer_name(zsession::packer_kind packer);

/// The content of a typical small request: a map with about 100 bytes of packed content
/// (code, flags, an empty user_expressions map). Lives as long as the process.
const msgpack::object& request_content();

/// One zero-copy-capable buffer of `bytes` per message over a payload allocated once:
/// next() pins the payload anew for each message (a shared_ptr copy that libzmq releases
/// through the free callback when it is done), as a user sending a long-lived array does.
class payload {
  public:
    explicit payload(std::size_t bytes);
    zsession::buffer next() const { return zsession::buffer(bytes_, owner_); }
    std::size_t size() const noexcept { return bytes_.size(); }

  private:
    std::shared_ptr<const std::vector<std::byte>> owner_;
    zsession::bytes_view bytes_;
};

/// The raw-cppzmq floor for one session message: the same frames with the same bytes
/// (delimiter, signature, four packed maps; identities of `m` too), pre-built once, copied
/// into fresh zmq messages on every send, with no packing, signing or verifying.
class raw_message {
  public:
    /// Takes the frames of `s.encode(m)` except buffers.
    raw_message(const zsession::session& s, const zsession::message& m);
    /// Appends the frames to `out`, then `buf` (if any) copied or zero-copy with a
    /// per-message keepalive (a copy of buf's pin, released by libzmq's free callback), as
    /// a raw cppzmq user would.
    void build_into(zsession::frames& out, const zsession::buffer* buf,
                    zsession::send_mode mode) const;
    /// build_into, then sends the frames as one multipart message. Blocks.
    void send(zmq::socket_ref sock, const zsession::buffer* buf, zsession::send_mode mode) const;

  private:
    std::vector<std::string> parts_;
};

/// Receives one whole multipart message as raw frames; returns the number of frames.
std::size_t raw_recv(zmq::socket_ref sock);

/// Sends the raw stream's terminator: one frame (raw_recv returns 1 for it).
void raw_send_end(zmq::socket_ref sock);

/// "1.5 KiB"-style size text (binary units) for progress lines.
std::string human_bytes(std::size_t bytes);

}  // namespace bench
