// bench/throughput_bench.cpp - one-way stream of messages with one buffer, sizes swept from
// 64 B to 256 MiB (one step per doubling), over inproc, ipc and tcp, in three session modes
// (always copy, always zero-copy, the session's copy_threshold) and two raw cppzmq modes
// (copy, zero-copy) sending the same frames. Messages/s and GB/s (buffer bytes only).
//
// Each point runs the five configurations in turn, `repeats` times with a rotating order,
// on the same sockets, and keeps the fastest run of each (other load only slows a run).
// Every zero-copy message carries its own keepalive: a new pin of the payload that libzmq
// releases through the free callback, as a user sending a long-lived array does.
// Runs are bounded by bytes (~1 GiB), messages and time, so the full sweep takes minutes.
#include <algorithm>
#include <array>
#include <chrono>
#include <limits>

#include "common.hpp"

namespace {

using zsession::send_mode;

enum config { session_copy, session_zero_copy, session_threshold, raw_copy, raw_zero_copy };
constexpr std::array<const char*, 5> mode_names = {"copy", "zero_copy", "threshold", "copy",
                                                   "zero_copy"};

struct limits {
    std::chrono::milliseconds duration;
    std::uint64_t min_messages, max_messages, byte_budget;
};

struct point {
    const zsession::session* sessions[3];
    const bench::raw_message* raw;
    const bench::payload* pl;
};

double run_config(zsession::detail::loopback_pair& pair, const point& p, config c,
                  const limits& l) {
    const std::uint64_t by_bytes = l.byte_budget / std::max<std::size_t>(p.pl->size(), 1);
    const std::uint64_t max_messages = std::clamp(by_bytes, l.min_messages, l.max_messages);
    if (c >= raw_copy) {
        const send_mode mode = c == raw_copy ? send_mode::copy : send_mode::zero_copy;
        auto send_one = [&](zmq::socket_ref s) {
            const zsession::buffer b = p.pl->next();
            p.raw->send(s, &b, mode);
        };
        auto recv_one = [](zmq::socket_ref s) { return bench::raw_recv(s) > 1; };
        return zsession::detail::measure_stream(pair, l.duration, l.min_messages, max_messages,
                                                send_one, bench::raw_send_end, recv_one)
            .msgs_per_s();
    }
    const zsession::session& s = *p.sessions[c];
    auto send_one = [&](zmq::socket_ref sock) {
        zsession::message m = s.make_message("data");
        m.set_content(bench::request_content(), nullptr);  // static storage
        m.buffers.push_back(p.pl->next());
        s.send(sock, m);
    };
    auto send_end = [&](zmq::socket_ref sock) { s.send(sock, s.make_message("end")); };
    auto recv_one = [&](zmq::socket_ref sock) { return !s.recv(sock)->buffers.empty(); };
    return zsession::detail::measure_stream(pair, l.duration, l.min_messages, max_messages,
                                            send_one, send_end, recv_one)
        .msgs_per_s();
}

void run_point(const bench::options& o, zmq::context_t& ctx, const std::string& transport,
               std::size_t bytes, const limits& l, unsigned repeats) {
    static const zsession::session copying = bench::make_session(SIZE_MAX, o.packer);
    static const zsession::session sharing = bench::make_session(0, o.packer);
    static const zsession::session thresholded =
        bench::make_session(zsession::default_copy_threshold, o.packer);
    const bench::payload pl(bytes);
    zsession::message sample = thresholded.make_message("data");
    sample.set_content(bench::request_content(), nullptr);
    const bench::raw_message raw(thresholded, sample);
    const point p{{&copying, &sharing, &thresholded}, &raw, &pl};

    // Bound what is in flight: a few hundred MiB at most per direction.
    const int hwm = static_cast<int>(std::clamp<std::size_t>((64 << 20) / bytes, 2, 1000));
    zsession::detail::loopback_pair pair(ctx, transport, hwm);
    run_config(pair, p, raw_copy, {std::chrono::milliseconds(1), 1, 16, 1});  // connect, warm

    std::array<double, 5> best{};
    for (unsigned r = 0; r < repeats; ++r) {
        for (int i = 0; i < 5; ++i) {
            const auto c = static_cast<config>((i + r) % 5);
            best[c] = std::max(best[c], run_config(pair, p, c, l));
        }
    }
    const config threshold_raw =
        zsession::choose_send_mode(bytes, zsession::default_copy_threshold) == send_mode::copy
            ? raw_copy
            : raw_zero_copy;
    const std::array<config, 5> baseline = {raw_copy, raw_zero_copy, threshold_raw, raw_copy,
                                            raw_zero_copy};
    for (int c = 0; c < 5; ++c) {
        bench::record rec{"throughput", transport, mode_names[c],
                          c >= raw_copy ? "raw" : "session"};
        rec.bytes = bytes;
        rec.msgs_per_s = best[c];
        rec.gb_per_s = best[c] * bytes / 1e9;
        if (c < raw_copy) rec.baseline_ratio = best[c] / best[baseline[c]];
        bench::emit(o, rec);
    }
}

}  // namespace

int main(int argc, char** argv) {
    const bench::options o = bench::start(argc, argv, false);
    zmq::context_t ctx;
    const std::size_t max_bytes = o.max_bytes_or(64 << 10, 256 << 20);
    const unsigned repeats = o.repeats_or(1, 3);
    const limits l = o.quick ? limits{std::chrono::milliseconds(5), 2, 500, 4 << 20}
                             : limits{std::chrono::milliseconds(400), 4, 200'000, 1ull << 30};
    const std::size_t step = o.by_mode(4, 2);  // quick: every other doubling
    for (const auto& t : o.transports) {
        for (std::size_t bytes = 64; bytes <= max_bytes; bytes *= step) {
            bench::progress(o, "throughput: " + t + " " + bench::human_bytes(bytes));
            run_point(o, ctx, t, bytes, l, repeats);
        }
    }
    return 0;
}
