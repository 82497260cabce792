// bench/json_libs_bench.cpp - how the JSON packer's library was chosen: the three well-kept
// JSON libraries Debian ships, each parsing and writing back a typical Jupyter header
// (~200 bytes) and a small execute_request content, as a DOM. simdjson has no writer for
// values it did not parse, so its figure is parse + minify of its own DOM.
#include <chrono>
#include <cstdio>
#include <string>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <simdjson.h>
#include <nlohmann/json.hpp>

namespace {

const std::string header =
    R"J({"msg_id":"6f1c1c8e-6d1f-4a57-9d3e-8d3c5b1f2a44","msg_type":"execute_request",)J"
    R"J("username":"zsession","session":"0b8a7f0e-2c51-4f63-9a4b-5b2a9e3d7c11",)J"
    R"J("date":"2026-11-22T01:16:00.123456Z","version":"5.3"})J";
const std::string content =
    R"J({"code":"x = 1 + 2\nprint(x)","silent":false,"store_history":true,)J"
    R"J("user_expressions":{},"allow_stdin":true,"stop_on_error":true})J";

template <class F>
double ns_per_message(F f, int n) {
    std::size_t sink = 0;
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < n; ++i) sink += f(header) + f(content);
    const auto t1 = std::chrono::steady_clock::now();
    if (sink == 42) std::puts("");
    return std::chrono::duration<double, std::nano>(t1 - t0).count() / n;
}

}  // namespace

int main(int argc, char**) {
    const int n = argc > 1 ? 200 : 200'000;  // any argument: smoke run
    auto nlohmann_rt = [](const std::string& t) { return nlohmann::json::parse(t).dump().size(); };
    auto rapidjson_rt = [](const std::string& t) {
        rapidjson::Document d;
        d.Parse(t.data(), t.size());
        rapidjson::StringBuffer b;
        rapidjson::Writer<rapidjson::StringBuffer> w(b);
        d.Accept(w);
        return b.GetSize();
    };
    simdjson::dom::parser parser;
    auto simdjson_rt = [&](const std::string& t) {
        const simdjson::padded_string padded(t);
        simdjson::dom::element e = parser.parse(padded);
        return simdjson::to_string(e).size();
    };
    std::printf("library,ns_per_message\n");
    std::printf("nlohmann_json,%.0f\n", ns_per_message(nlohmann_rt, n));
    std::printf("rapidjson,%.0f\n", ns_per_message(rapidjson_rt, n));
    std::printf("simdjson,%.0f\n", ns_per_message(simdjson_rt, n));
    return 0;
}
