#include "zsession/format.hpp"

#include <charconv>
#include <cstdio>
#include <ostream>
#include <span>
#include <string_view>

namespace zsession {

namespace {

/// Appends JSON-like text to out_ until it holds more than `max` characters (0: no limit),
/// then stops descending: the caller cuts the text at `max`.
class object_writer {
  public:
    object_writer(std::string& out, std::size_t max) : out_(out), max_(max) {}

    void write(const msgpack::object& o) {
        if (full()) return;
        switch (o.type) {
            case msgpack::type::NIL:
                out_ += "null";
                break;
            case msgpack::type::BOOLEAN:
                out_ += o.via.boolean ? "true" : "false";
                break;
            case msgpack::type::POSITIVE_INTEGER:
                number(o.via.u64);
                break;
            case msgpack::type::NEGATIVE_INTEGER:
                number(o.via.i64);
                break;
            case msgpack::type::FLOAT32:
            case msgpack::type::FLOAT64:
                number(o.via.f64);
                break;
            case msgpack::type::STR:
                quoted(out_, {o.via.str.ptr, o.via.str.size});
                break;
            case msgpack::type::BIN:
                out_ += "<bin " + std::to_string(o.via.bin.size) + " B>";
                break;
            case msgpack::type::EXT:
                out_ += "<ext " + std::to_string(int(o.via.ext.type())) + ", " +
                        std::to_string(o.via.ext.size) + " B>";
                break;
            case msgpack::type::ARRAY:
                array(o);
                break;
            case msgpack::type::MAP:
                map(o);
                break;
        }
    }

    /// `s` quoted, with ", \ and control characters escaped as in JSON.
    static void quoted(std::string& out, std::string_view s) {
        out += '"';
        for (char c : s) {
            if (c == '"' || c == '\\') {
                out += '\\';
                out += c;
            } else if (c == '\n') {
                out += "\\n";
            } else if (c == '\t') {
                out += "\\t";
            } else if (static_cast<unsigned char>(c) < 0x20) {
                char esc[8];
                std::snprintf(esc, sizeof esc, "\\u%04x", static_cast<unsigned>(c));
                out += esc;
            } else {
                out += c;
            }
        }
        out += '"';
    }

  private:
    bool full() const noexcept { return max_ != 0 && out_.size() > max_; }

    template <class N>
    void number(N v) {
        char text[32];
        auto [end, ec] = std::to_chars(text, text + sizeof text, v);
        out_.append(text, ec == std::errc() ? end : text);
    }
    void array(const msgpack::object& o) {
        out_ += '[';
        const char* sep = "";
        for (const auto& item : std::span(o.via.array.ptr, o.via.array.size)) {
            if (full()) return;
            out_ += sep;
            write(item);
            sep = ", ";
        }
        out_ += ']';
    }
    void map(const msgpack::object& o) {
        out_ += '{';
        const char* sep = "";
        for (const auto& kv : std::span(o.via.map.ptr, o.via.map.size)) {
            if (full()) return;
            out_ += sep;
            write(kv.key);
            out_ += ": ";
            write(kv.val);
            sep = ", ";
        }
        out_ += '}';
    }

    std::string& out_;
    std::size_t max_;
};

void field(std::string& out, const char* name, const std::string& value, const char* sep) {
    out += sep;
    out += name;
    out += ": ";
    object_writer::quoted(out, value);
}

/// Lowercase hex of at most `max` bytes of `b`, then "..(N B)" when b is longer.
void short_hex(std::string& out, bytes_view b, std::size_t max) {
    static constexpr char digits[] = "0123456789abcdef";
    const std::size_t shown = b.size() < max ? b.size() : max;
    for (std::byte x : b.as_span().first(shown)) {
        out += digits[std::to_integer<unsigned>(x) >> 4];
        out += digits[std::to_integer<unsigned>(x) & 0xf];
    }
    if (shown < b.size()) out += "..(" + std::to_string(b.size()) + " B)";
}

}  // namespace

std::string to_string(const msgpack::object& o, std::size_t max_chars) {
    std::string out;
    object_writer(out, max_chars).write(o);
    if (max_chars != 0 && out.size() > max_chars) {
        out.resize(max_chars);
        out += "...";
    }
    return out;
}

std::string to_string(const header& h) {
    if (h.empty()) return "{}";
    std::string out = "{";
    field(out, "msg_id", h.msg_id, "");
    field(out, "msg_type", h.msg_type, ", ");
    field(out, "username", h.username, ", ");
    field(out, "session", h.session, ", ");
    field(out, "date", h.date, ", ");
    field(out, "version", h.version, ", ");
    out += '}';
    return out;
}

std::string to_string(const message& m, const format_options& opts) {
    std::string out = "message{identities: [";
    const char* sep = "";
    for (const buffer& id : m.identities) {
        out += sep;
        short_hex(out, id.view(), opts.max_identity_bytes);
        sep = ", ";
    }
    out += "], header: " + to_string(m.header) + ", parent: ";
    if (m.parent_header.empty()) {
        out += "none";
    } else {
        object_writer::quoted(out, m.parent_header.msg_id);
    }
    // A nil map is sent as {}, so it is shown as {}.
    auto value = [&](const msgpack::object& o) {
        return o.type == msgpack::type::NIL ? std::string("{}")
                                            : to_string(o, opts.max_value_chars);
    };
    out += ", metadata: " + value(m.metadata()) + ", content: " + value(m.content());
    out += ", buffers: " + std::to_string(m.buffers.size()) + " [";
    sep = "";
    for (const buffer& b : m.buffers) {
        out += sep + std::to_string(b.size()) + " B";
        sep = ", ";
    }
    out += "]}";
    return out;
}

std::ostream& operator<<(std::ostream& os, const header& h) {
    return os << to_string(h);
}

std::ostream& operator<<(std::ostream& os, const message& m) {
    return os << to_string(m);
}

}  // namespace zsession
