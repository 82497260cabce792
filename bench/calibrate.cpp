// bench/calibrate.cpp - zsession-calibrate: measures the copy/zero-copy crossover on this
// machine for each transport and prints the copy_threshold a session should use there.
//
//   zsession-calibrate [--transports inproc,ipc,tcp] [--quick] [--json] [--pin]
//
// Prints, per transport, the measured messages/s of both modes at each size and the
// threshold picked by zsession::pick_crossover. The same call from a program:
//   options.copy_threshold = zsession::calibrate_copy_threshold(ctx, "tcp");
#include "common.hpp"

int main(int argc, char** argv) {
    const bench::options o = bench::start(argc, argv, false);
    zmq::context_t ctx;
    zsession::calibrate_options co;
    if (o.max_bytes) co.max_bytes = o.max_bytes;
    if (o.repeats) co.repeats = o.repeats;
    if (o.quick) {
        co.max_bytes = 2048;
        co.steps_per_octave = 1;
        co.repeats = 1;
        co.time_per_point = std::chrono::milliseconds(5);
    }
    for (const auto& t : o.transports) {
        bench::progress(o, "calibrating " + t + " ...");
        const auto points = zsession::measure_copy_crossover(ctx, t, co);
        for (const auto& p : points) {
            bench::progress(
                o, "  " + bench::human_bytes(p.bytes) + ": copy " +
                       std::to_string(static_cast<long>(p.copy_msgs_per_s)) + " msg/s, zero-copy " +
                       std::to_string(static_cast<long>(p.zero_copy_msgs_per_s)) + " msg/s");
        }
        bench::record r{"calibrate", t, "threshold", "session"};
        r.bytes = zsession::pick_crossover(points);
        if (!o.json) {
            std::printf("%s: copy_threshold = %zu  (%s)\n", t.c_str(), r.bytes,
                        bench::human_bytes(r.bytes).c_str());
        } else {
            bench::emit(o, r);
        }
    }
    return 0;
}
