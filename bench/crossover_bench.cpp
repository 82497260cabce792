// bench/crossover_bench.cpp - the size where sending a buffer zero-copy becomes cheaper than
// copying it, per transport, for the session (zsession::measure_copy_crossover, what
// calibrate_copy_threshold uses) and for raw cppzmq sending the same frames.
//
// Both measure a one-way stream with a fresh buffer per message (its keepalive released by
// libzmq), copy and zero-copy runs interleaved, fastest of `repeats` kept. Session and raw
// alternate size by size. Prints each point, then one "crossover" record per transport and
// implementation whose `bytes` is pick_crossover's threshold.
#include <algorithm>
#include <limits>

#include "common.hpp"

namespace {

using zsession::send_mode;

// One raw point: the same stream as the session's, with raw frames built from `raw`.
zsession::crossover_point raw_point(zmq::context_t& ctx, const std::string& transport,
                                    const bench::raw_message& raw, std::size_t bytes,
                                    const zsession::calibrate_options& co) {
    zsession::detail::loopback_pair pair(ctx, transport);
    auto stream = [&](send_mode mode, std::chrono::milliseconds d) {
        auto send_one = [&](zmq::socket_ref s) {
            const auto b = zsession::buffer::take(std::vector<std::byte>(bytes));
            raw.send(s, &b, mode);
        };
        auto recv_one = [](zmq::socket_ref s) { return bench::raw_recv(s) > 1; };
        return zsession::detail::measure_stream(pair, d, 1, co.max_messages, send_one,
                                                bench::raw_send_end, recv_one)
            .msgs_per_s();
    };
    stream(send_mode::copy, std::chrono::milliseconds(5));  // warm-up, not measured
    zsession::crossover_point p{bytes, 0, 0};
    for (unsigned r = 0; r < co.repeats; ++r) {
        for (int j = 0; j < 2; ++j) {
            const bool zero_copy = (j + r) % 2 == 1;
            const double rate =
                stream(zero_copy ? send_mode::zero_copy : send_mode::copy, co.time_per_point);
            double& best = zero_copy ? p.zero_copy_msgs_per_s : p.copy_msgs_per_s;
            best = std::max(best, rate);
        }
    }
    return p;
}

void emit_points(const bench::options& o, const std::string& transport, const char* impl,
                 const zsession::crossover_point& p, std::optional<double> copy_ratio,
                 std::optional<double> zero_copy_ratio) {
    for (int zc = 0; zc < 2; ++zc) {
        auto r = bench::rate_record("crossover", transport, zc ? "zero_copy" : "copy", impl,
                                    p.bytes, zc ? p.zero_copy_msgs_per_s : p.copy_msgs_per_s);
        r.baseline_ratio = zc ? zero_copy_ratio : copy_ratio;
        bench::emit(o, r);
    }
}

}  // namespace

int main(int argc, char** argv) {
    const bench::options o = bench::start(argc, argv, false);
    zmq::context_t ctx;
    zsession::calibrate_options co;
    co.max_bytes = o.max_bytes_or(4096, co.max_bytes);
    co.repeats = o.repeats_or(1, co.repeats);
    co.steps_per_octave = o.by_mode(1u, co.steps_per_octave);
    if (o.quick) co.time_per_point = std::chrono::milliseconds(5);
    const zsession::session s = bench::make_session(0, o.packer);
    zsession::message sample = s.make_message("calibrate");
    const bench::raw_message raw(s, sample);

    for (const auto& t : o.transports) {
        std::vector<zsession::crossover_point> ses, raws;
        for (std::size_t bytes :
             zsession::log_sizes(co.min_bytes, co.max_bytes, co.steps_per_octave)) {
            bench::progress(o, "crossover: " + t + " " + bench::human_bytes(bytes));
            zsession::calibrate_options one = co;
            one.min_bytes = one.max_bytes = bytes;
            ses.push_back(zsession::measure_copy_crossover(ctx, t, one).at(0));
            raws.push_back(raw_point(ctx, t, raw, bytes, co));
            const auto& a = ses.back();
            const auto& b = raws.back();
            emit_points(o, t, "raw", b, std::nullopt, std::nullopt);
            emit_points(o, t, "session", a, a.copy_msgs_per_s / b.copy_msgs_per_s,
                        a.zero_copy_msgs_per_s / b.zero_copy_msgs_per_s);
        }
        for (const auto* curve : {&raws, &ses}) {
            bench::record r{"crossover", t, "crossover", curve == &ses ? "session" : "raw"};
            r.bytes = zsession::pick_crossover(*curve);
            bench::emit(o, r);
        }
    }
    return 0;
}
