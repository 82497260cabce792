// zsession-ipp: list the engines of an ipyparallel cluster, run code on them, print outputs.
//
//   zsession-ipp [--profile DIR | --file CLIENT_JSON] [--cluster-id ID] [--timeout SECONDS]
//                [--progress] COMMAND ...
//   engines                               the registered engines: id and uuid
//   exec [--targets 0,2|all] [--balanced | --broadcast] CODE
//   run  [--targets ...] [--balanced | --broadcast] FILE
//   abort ID | shutdown ID|all
//   watch                                 engine registrations/deaths until --timeout
//   queue [--targets 0,2|all]             the hub's queue status: per engine queued mux
//                                         requests, tasks and completed, and unassigned tasks
//   results MSG_ID...                     the hub's record of each request: pending, or
//                                         completed with its status, engine and outputs
//                                         (records need a controller with a database)
//
// Exit status: 0 when every request succeeded, 1 when one failed, 2 for usage or
// connection errors (a wrong key shows as "did not answer").
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "zsession/ipp/client.hpp"

using namespace zsession::ipp;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

namespace {

struct options {
    std::string profile, file, cluster_id;
    double timeout = 60;
    bool progress = isatty(2);
    std::string targets = "all";
    bool balanced = false, broadcast = false;
    std::vector<std::string> args;  // command and its operands
};

[[noreturn]] void usage(const std::string& why) {
    std::cerr << "zsession-ipp: " << why << "\n"
              << "usage: zsession-ipp [--profile DIR | --file CLIENT_JSON] [--cluster-id ID]\n"
              << "         [--timeout S] [--progress] COMMAND\n"
              << "  engines | exec [--targets 0,1|all] [--balanced|--broadcast] CODE\n"
              << "  run [--targets ...] [--balanced|--broadcast] FILE\n"
              << "  abort ID | shutdown ID|all | watch\n"
              << "  queue [--targets 0,1|all] | results MSG_ID...\n";
    std::exit(2);
}

options parse(int argc, char** argv) {
    options o;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) usage(a + " needs a value");
            return argv[++i];
        };
        if (a == "--profile")
            o.profile = value();
        else if (a == "--file")
            o.file = value();
        else if (a == "--cluster-id")
            o.cluster_id = value();
        else if (a == "--timeout")
            o.timeout = std::stod(value());
        else if (a == "--progress")
            o.progress = true;
        else if (a == "--no-progress")
            o.progress = false;
        else if (a == "--targets")
            o.targets = value();
        else if (a == "--balanced")
            o.balanced = true;
        else if (a == "--broadcast")
            o.broadcast = true;
        else if (a == "-h" || a == "--help")
            usage("help");
        else
            o.args.push_back(a);
    }
    if (o.args.empty()) usage("no command");
    return o;
}

std::string default_profile() {
    if (const char* d = std::getenv("IPYTHONDIR")) return std::string(d) + "/profile_default";
    const char* home = std::getenv("HOME");
    return std::string(home ? home : ".") + "/.ipython/profile_default";
}

std::vector<int> target_ids(const std::string& spec) {
    std::vector<int> ids;
    if (spec == "all") return ids;  // empty = all
    std::stringstream s(spec);
    for (std::string part; std::getline(s, part, ',');) ids.push_back(std::stoi(part));
    return ids;
}

std::string prefix_lines(const std::string& prefix, const std::string& text) {
    std::string out;
    std::size_t start = 0;
    while (start < text.size()) {
        auto end = text.find('\n', start);
        if (end == std::string::npos) end = text.size() - 1;
        out += prefix + text.substr(start, end - start + 1);
        if (out.back() != '\n') out += '\n';
        start = end + 1;
    }
    return out;
}

/// Prints one result's outputs, prefixed by its engine. Returns false when it failed.
bool print_result(const result& r) {
    const std::string tag = "[engine " + std::to_string(r.engine_id) + "] ";
    for (const auto& o : r.outputs) {
        if (o.msg_type == "stream") {
            (o.name == "stderr" ? std::cerr : std::cout) << prefix_lines(tag, o.text);
        } else if (o.msg_type == "execute_result" || o.msg_type == "display_data") {
            std::cout << prefix_lines(tag + (o.msg_type == "execute_result" ? "Out: " : ""),
                                      o.text + "\n");
        }
    }
    if (r.ok()) return true;
    std::cerr << tag << r.status << ": " << r.ename << ": " << r.evalue << "\n";
    return false;
}

/// Waits for every future, printing each result as it completes and, with progress, a
/// status line on stderr about once a second.
int wait_all(std::vector<future> futures, const options& o) {
    const auto start = clock_type::now();
    const auto deadline = start + std::chrono::duration<double>(o.timeout);
    std::vector<bool> printed(futures.size(), false);
    std::size_t done = 0;
    bool failed = false;
    auto last_progress = start;
    while (done < futures.size()) {
        for (std::size_t i = 0; i < futures.size(); ++i) {
            if (printed[i] || !futures[i].wait_for(20ms)) continue;
            printed[i] = true;
            ++done;
            failed |= !print_result(futures[i].get(0ms));
        }
        const auto now = clock_type::now();
        if (o.progress && now - last_progress >= 1s && done < futures.size()) {
            last_progress = now;
            std::cerr << "zsession-ipp: " << done << "/" << futures.size() << " done, "
                      << std::chrono::duration_cast<std::chrono::seconds>(now - start).count()
                      << " s\n";
        }
        if (now > deadline && done < futures.size()) {
            std::cerr << "zsession-ipp: " << futures.size() - done << " request(s) timed out after "
                      << o.timeout << " s\n";
            return 1;
        }
    }
    return failed ? 1 : 0;
}

int run_code(client& c, const std::string& code, const options& o) {
    const auto ids = target_ids(o.targets);
    std::vector<future> futures;
    if (o.balanced) {
        futures.push_back(c.execute_balanced(code, {.targets = ids}));
    } else if (o.broadcast) {
        futures = c.broadcast(code, ids);
    } else {
        futures = c.execute(ids, code);
    }
    if (futures.empty()) {
        std::cerr << "zsession-ipp: no engines\n";
        return 1;
    }
    return wait_all(std::move(futures), o);
}

int run(const options& o) {
    const auto info = o.file.empty()
                          ? client_connection_info::from_profile(
                                o.profile.empty() ? default_profile() : o.profile, o.cluster_id)
                          : client_connection_info::from_file(o.file);
    client c(info);
    const std::string& cmd = o.args[0];
    if (cmd == "engines") {
        for (const auto& e : c.engines()) std::cout << e.id << "\t" << e.uuid << "\n";
        return 0;
    }
    if ((cmd == "exec" || cmd == "run") && o.args.size() == 2) {
        std::string code = o.args[1];
        if (cmd == "run") {
            std::ifstream in(code);
            if (!in) usage("cannot read " + code);
            std::ostringstream text;
            text << in.rdbuf();
            code = text.str();
        }
        return run_code(c, code, o);
    }
    if ((cmd == "abort" || cmd == "shutdown") && o.args.size() == 2) {
        std::vector<future> futures;
        if (o.args[1] == "all") {
            for (const auto& e : c.engines()) {
                futures.push_back(cmd == "abort" ? c.abort(e.id) : c.shutdown(e.id));
            }
        } else {
            const int id = std::stoi(o.args[1]);
            futures.push_back(cmd == "abort" ? c.abort(id) : c.shutdown(id));
        }
        return wait_all(std::move(futures), o);
    }
    if (cmd == "queue" && o.args.size() == 1) {
        const auto q = c.queue_status(target_ids(o.targets),
                                      std::chrono::duration_cast<std::chrono::milliseconds>(
                                          std::chrono::duration<double>(o.timeout)));
        std::cout << "engine\tqueue\ttasks\tcompleted\n";
        for (const auto& e : q.engines) {
            std::cout << e.engine_id << "\t" << e.queue << "\t" << e.tasks << "\t" << e.completed
                      << "\n";
        }
        std::cout << "unassigned\t" << q.unassigned << "\n";
        return 0;
    }
    if (cmd == "results" && o.args.size() >= 2) {
        const std::vector<std::string> ids(o.args.begin() + 1, o.args.end());
        const auto r = c.results(ids, false,
                                 std::chrono::duration_cast<std::chrono::milliseconds>(
                                     std::chrono::duration<double>(o.timeout)));
        for (const auto& id : r.pending) std::cout << id << "\tpending\n";
        bool failed = false;
        for (const auto& rec : r.records) {
            std::cout << rec.msg_id << "\t" << rec.status << "\t" << rec.engine_uuid << "\n"
                      << prefix_lines("  stdout: ", rec.stdout_text)
                      << prefix_lines("  stderr: ", rec.stderr_text);
            failed |= rec.status != "ok";
        }
        return failed ? 1 : 0;
    }
    if (cmd == "watch") {
        c.on_engine_event([](const engine_event& e) {
            const char* what = e.what == engine_event::kind::registered     ? "registered"
                               : e.what == engine_event::kind::unregistered ? "unregistered"
                                                                            : "hub shutdown";
            std::cout << what << "\t" << e.engine.id << "\t" << e.engine.uuid << std::endl;
        });
        std::this_thread::sleep_for(std::chrono::duration<double>(o.timeout));
        c.on_engine_event(nullptr);
        return 0;
    }
    usage("unknown command or wrong operands: " + cmd);
}

}  // namespace

int main(int argc, char** argv) {
    const auto o = parse(argc, argv);
    try {
        return run(o);
    } catch (const timeout_error& e) {
        std::cerr << "zsession-ipp: " << e.what() << "\n";
    } catch (const remote_error& e) {
        std::cerr << "zsession-ipp: the hub answered " << e.what() << "\n";
        return 1;
    } catch (const std::exception& e) {
        std::cerr << "zsession-ipp: " << e.what() << "\n";
    }
    return 2;
}
