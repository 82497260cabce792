// bench/steps_bench.cpp - the codec work of one latency_bench round trip, step by step, on one
// thread and without sockets: make the request, encode it, decode it, make_reply, encode the
// reply, decode it, release the four messages. Per-step medians (µs), one record per step and
// one for the total, so that the round trip's CPU can be attributed (docs/PERFORMANCE.md,
// "Small-message round trip"). No raw baseline: raw cppzmq does none of these steps.
#include <algorithm>
#include <array>
#include <chrono>
#include <map>

#include "common.hpp"

namespace {

using clock_type = std::chrono::steady_clock;

struct reply_content {  // latency_bench's reply
    std::string status = "ok";
    int execution_count = 1;
    std::map<std::string, std::string> user_expressions;
    MSGPACK_DEFINE_MAP(status, execution_count, user_expressions)
};

constexpr std::array<const char*, 8> step_names = {
    "make", "encode", "decode", "make_reply", "encode_reply", "decode_reply", "release", "total"};

}  // namespace

int main(int argc, char** argv) {
    const bench::options o = bench::start(argc, argv, true);
    // Two sessions with the same key, as the two peers of latency_bench.
    const zsession::session a = bench::make_session(zsession::default_copy_threshold, o.packer);
    const zsession::session b = bench::make_session(zsession::default_copy_threshold, o.packer);
    msgpack::zone zone;
    const msgpack::object reply_obj(reply_content{}, zone);
    const std::size_t n = std::size_t{o.repeats_or(1, 10)} * o.by_mode(200u, 5000u);
    std::array<std::vector<double>, step_names.size()> samples;
    for (auto& v : samples) v.reserve(n);
    zsession::frames f;
    const auto us = [](clock_type::time_point t0, clock_type::time_point t1) {
        return std::chrono::duration<double, std::micro>(t1 - t0).count();
    };
    for (std::size_t i = 0; i < n; ++i) {
        std::array<clock_type::time_point, step_names.size()> t;
        t[0] = clock_type::now();
        zsession::message req = a.make_message("execute_request");
        req.set_content(bench::request_content(), nullptr);  // static storage
        t[1] = clock_type::now();
        f.clear();
        a.encode_into(req, f);
        t[2] = clock_type::now();
        zsession::message got = b.decode(std::move(f));
        t[3] = clock_type::now();
        zsession::message rep = b.make_reply(got, "execute_reply");
        rep.set_content(reply_obj, nullptr);  // reply_obj outlives every message
        t[4] = clock_type::now();
        f.clear();
        b.encode_into(rep, f);
        t[5] = clock_type::now();
        zsession::message back = a.decode(std::move(f));
        t[6] = clock_type::now();
        req = zsession::message();
        got = zsession::message();
        rep = zsession::message();
        back = zsession::message();
        const auto end = clock_type::now();
        for (std::size_t k = 0; k + 1 < step_names.size(); ++k) {
            samples[k].push_back(us(t[k], k + 2 < step_names.size() ? t[k + 1] : end));
        }
        samples.back().push_back(us(t[0], end));
    }
    for (std::size_t k = 0; k < step_names.size(); ++k) {
        const auto p = bench::summarize(samples[k]);
        bench::record r{"steps", "none", step_names[k], "session"};
        r.median_us = p.median;
        r.p99_us = p.p99;
        r.messages = n;
        bench::emit(o, r);
    }
}
