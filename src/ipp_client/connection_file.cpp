// The client connection file (ipcontroller-client.json) reader.
#include "zsession/ipp/client.hpp"

#include <rapidjson/document.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "zsession/error.hpp"

namespace zsession::ipp {

namespace {

std::string string_field(const rapidjson::Document& d, const char* key, std::string fallback) {
    auto it = d.FindMember(key);
    if (it == d.MemberEnd() || !it->value.IsString()) return fallback;
    return {it->value.GetString(), it->value.GetStringLength()};
}

/// A port field: a number, or (broadcast in the engine file) a list whose first is used.
int port_field(const rapidjson::Document& d, const char* key, const std::string& path) {
    auto it = d.FindMember(key);
    if (it != d.MemberEnd()) {
        const auto& v = it->value;
        if (v.IsInt()) return v.GetInt();
        if (v.IsArray() && !v.Empty() && v[0].IsInt()) return v[0].GetInt();
    }
    throw usage_error(path + ": no port \"" + key + "\" (is this the client file?)");
}

}  // namespace

std::string client_connection_info::url(int port) const {
    return interface + ":" + std::to_string(port);
}

client_connection_info client_connection_info::from_file(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw usage_error("cannot read connection file " + path);
    std::ostringstream text;
    text << in.rdbuf();
    rapidjson::Document d;
    d.Parse(text.str().c_str());
    if (d.HasParseError() || !d.IsObject()) {
        throw decode_error(path + " is not a JSON object");
    }
    client_connection_info info;
    info.interface = string_field(d, "interface", info.interface);
    info.key = string_field(d, "key", "");
    info.signature_scheme = string_field(d, "signature_scheme", info.signature_scheme);
    info.pack = string_field(d, "pack", info.pack);
    info.task_scheme = string_field(d, "task_scheme", "");
    info.location = string_field(d, "location", "");
    info.curve_serverkey = string_field(d, "curve_serverkey", "");
    info.registration = port_field(d, "registration", path);
    info.control = port_field(d, "control", path);
    info.mux = port_field(d, "mux", path);
    info.task = port_field(d, "task", path);
    info.iopub = port_field(d, "iopub", path);
    info.notification = port_field(d, "notification", path);
    info.broadcast = port_field(d, "broadcast", path);
    return info;
}

std::string client_connection_info::file_in_profile(const std::string& profile_dir,
                                                    const std::string& cluster_id) {
    std::string name = cluster_id.empty() ? "ipcontroller-client.json"
                                          : "ipcontroller-" + cluster_id + "-client.json";
    return (std::filesystem::path(profile_dir) / "security" / name).string();
}

client_connection_info client_connection_info::from_profile(const std::string& profile_dir,
                                                            const std::string& cluster_id,
                                                            std::chrono::milliseconds wait) {
    const auto path = file_in_profile(profile_dir, cluster_id);
    const auto deadline = std::chrono::steady_clock::now() + wait;
    while (!std::filesystem::exists(path) && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    // The controller writes the file in one go, but a reader may see it empty for an instant.
    for (;;) {
        try {
            return from_file(path);
        } catch (const decode_error&) {
            if (std::chrono::steady_clock::now() >= deadline) throw;
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
    }
}

}  // namespace zsession::ipp
