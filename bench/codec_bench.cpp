// bench/codec_bench.cpp - encode and decode without sockets, per buffer size, with the
// session's default copy_threshold. The encode baseline builds the same frames from
// pre-built bytes (raw cppzmq); decode has no raw counterpart (a raw user keeps the frames),
// so its baseline_ratio is null.
//
// Every message is made as a user makes one (fresh header: new msg_id and date, which the
// replay history needs anyway) and timed individually; median and p99 per message.
#include <chrono>

#include "common.hpp"

namespace {

using clock_type = std::chrono::steady_clock;

double micros_since(clock_type::time_point t0) {
    return std::chrono::duration<double, std::micro>(clock_type::now() - t0).count();
}

struct timings {
    std::vector<double> session_encode, raw_encode, session_decode;
};

// One batch of `n` messages: encode each (session, then raw from bytes), keep the session's
// frames, then decode them all.
void batch(const zsession::session& s, const bench::payload& pl, const bench::raw_message& raw,
           std::size_t n, timings& t) {
    const auto mode = zsession::choose_send_mode(pl.size(), s.options().copy_threshold);
    std::vector<zsession::frames> encoded(n);
    zsession::frames scratch;
    for (std::size_t i = 0; i < n; ++i) {
        auto t0 = clock_type::now();
        zsession::message m = s.make_message("data");
        m.set_content(bench::request_content(), nullptr);  // static storage
        m.buffers.push_back(pl.next());
        s.encode_into(m, encoded[i]);
        t.session_encode.push_back(micros_since(t0));

        t0 = clock_type::now();
        const zsession::buffer b = pl.next();
        raw.build_into(scratch, &b, mode);
        t.raw_encode.push_back(micros_since(t0));
        scratch.clear();
    }
    for (auto& f : encoded) {
        const auto t0 = clock_type::now();
        const zsession::message m = s.decode(std::move(f));
        t.session_decode.push_back(micros_since(t0));
    }
}

void emit(const bench::options& o, const char* mode, const char* impl, std::size_t bytes,
          std::vector<double>& samples, std::optional<double> raw_median) {
    const auto p = bench::summarize(samples);
    auto r = bench::rate_record("codec", "none", mode, impl, bytes, 1e6 / p.median);
    r.median_us = p.median;
    r.p99_us = p.p99;
    if (raw_median) r.baseline_ratio = p.median / *raw_median;
    r.messages = samples.size();
    bench::emit(o, r);
}

}  // namespace

int main(int argc, char** argv) {
    const bench::options o = bench::start(argc, argv, false);
    const std::size_t max_bytes = o.max_bytes_or(64 << 10, 64 << 20);
    const unsigned repeats = o.repeats_or(2, 10);
    const std::size_t per_batch = o.by_mode(50, 500);
    const zsession::session s = bench::make_session(zsession::default_copy_threshold, o.packer);
    for (std::size_t bytes : zsession::log_sizes(64, max_bytes, 1)) {
        const bench::payload pl(bytes);
        zsession::message sample = s.make_message("data");
        sample.set_content(bench::request_content(), nullptr);
        const bench::raw_message raw(s, sample);
        timings t;
        for (unsigned r = 0; r < repeats; ++r) batch(s, pl, raw, per_batch, t);
        const auto raw_p = bench::summarize(t.raw_encode);
        emit(o, "encode", "raw", bytes, t.raw_encode, std::nullopt);
        emit(o, "encode", "session", bytes, t.session_encode, raw_p.median);
        emit(o, "decode", "session", bytes, t.session_decode, std::nullopt);
    }
    return 0;
}
