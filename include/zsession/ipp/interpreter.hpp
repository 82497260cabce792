// zsession/ipp/interpreter.hpp - the language an ipyparallel C++ engine runs: users implement
// `interpreter` (execute, and optionally complete, inspect, is_complete, clear), the way xeus
// users implement xinterpreter. The engine (engine.hpp) turns its results into Jupyter
// messages: execute_input, stream, display_data, execute_result and error on iopub, and the
// execute_reply with the metadata ipyparallel's schedulers read.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace zsession::ipp {

/// MIME type -> text ("text/plain" -> "42").
using mime_bundle = std::map<std::string, std::string>;

/// Where an execution's outputs go while it runs. Each call publishes one iopub message at
/// once (parent = the execute_request), so a client sees output of a long execution as it
/// happens. Only valid during the execute() call it was passed to, and only on its thread.
class output_sink {
  public:
    virtual ~output_sink() = default;
    /// A stream message; `name` is "stdout" or "stderr".
    virtual void stream(std::string_view name, std::string_view text) = 0;
    /// A display_data message.
    virtual void display(const mime_bundle& data) = 0;
    /// A clear_output message.
    virtual void clear_output(bool wait) = 0;
};

/// What one execution produced. On error the engine sends an `error` on iopub and an
/// execute_reply with status "error"; ipyparallel's client raises RemoteError from it.
struct execute_outcome {
    bool ok = true;
    std::optional<mime_bundle> value;  ///< the execute_result, if any
    std::string ename, evalue;         ///< error name and message (ok == false)
    std::vector<std::string> traceback;
};

/// language_info of kernel_info_reply, plus the implementation's name and banner.
struct language_info {
    std::string name = "unknown", version = "1.0", mimetype = "text/plain";
    std::string file_extension = ".txt";
    std::string implementation = "zsession-ipengine", implementation_version = "0.1.0";
    std::string banner;
};

struct completion {
    std::vector<std::string> matches;
    std::size_t cursor_start = 0, cursor_end = 0;  ///< byte offsets into the code
};

/// An engine's language. The engine calls every member from its shell thread, except
/// clear(), which the control thread calls; the engine serializes the two (a clear waits for
/// a running execute), so an implementation needs no locking of its own.
/// An exception escaping execute() becomes an error reply (ename = "CppException"); the
/// engine keeps serving.
class interpreter {
  public:
    virtual ~interpreter() = default;

    /// Runs `code`. `execution_count` is the number the front end shows; 0 when silent.
    virtual execute_outcome execute(std::string_view code, int execution_count,
                                    output_sink& out) = 0;

    /// Completions at byte offset `cursor`; empty optional = not supported.
    virtual std::optional<completion> complete(std::string_view code, std::size_t cursor) {
        (void)code;
        (void)cursor;
        return std::nullopt;
    }
    /// Documentation of what is at byte offset `cursor`; empty optional = nothing found.
    virtual std::optional<mime_bundle> inspect(std::string_view code, std::size_t cursor) {
        (void)code;
        (void)cursor;
        return std::nullopt;
    }
    /// "complete", "incomplete", "invalid" or "unknown" (the default).
    virtual std::string is_complete(std::string_view code) {
        (void)code;
        return "unknown";
    }
    /// clear_request: forget the namespace (ipyparallel's Client.clear()).
    virtual void clear() {}

    /// Called once, when the engine is constructed.
    virtual language_info info() const { return {}; }
};

}  // namespace zsession::ipp
