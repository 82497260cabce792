#include "calc.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <numbers>
#include <stdexcept>
#include <thread>

namespace calc {

namespace {

/// A language error: becomes the result's ename/evalue, with the line it happened on.
struct calc_error {
    std::string ename, evalue;
    int line;
};

struct token {
    enum kind_t { number, name, string, op, end_of_statement, end } kind;
    std::string text;  ///< name, string contents, or the operator character
    double value = 0;
    int line = 1;
};

bool is_name_char(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
}

/// Splits code into tokens. Newlines end statements, except inside parentheses.
class lexer {
  public:
    explicit lexer(std::string_view code) : code_(code) {}

    std::vector<token> run() {
        std::vector<token> out;
        int depth = 0;
        while (pos_ < code_.size()) {
            const char c = code_[pos_];
            if (c == '\n') {
                ++pos_;
                if (depth <= 0) out.push_back({token::end_of_statement, "\n", 0, line_});
                ++line_;
            } else if (c == ' ' || c == '\t' || c == '\r') {
                ++pos_;
            } else if (c == '#') {
                while (pos_ < code_.size() && code_[pos_] != '\n') ++pos_;
            } else if (std::isdigit(static_cast<unsigned char>(c)) || c == '.') {
                out.push_back(number_token());
            } else if (is_name_char(c)) {
                const std::size_t start = pos_;
                while (pos_ < code_.size() && is_name_char(code_[pos_])) ++pos_;
                out.push_back(
                    {token::name, std::string(code_.substr(start, pos_ - start)), 0, line_});
            } else if (c == '"') {
                out.push_back(string_token());
            } else if (std::string_view("+-*/%^(),=;").find(c) != std::string_view::npos) {
                ++pos_;
                depth += c == '(' ? 1 : c == ')' ? -1 : 0;
                out.push_back(
                    {c == ';' ? token::end_of_statement : token::op, std::string(1, c), 0, line_});
            } else {
                throw calc_error{"SyntaxError", "invalid character '" + std::string(1, c) + "'",
                                 line_};
            }
        }
        open_parens = depth;
        out.push_back({token::end, "", 0, line_});
        return out;
    }

    int open_parens = 0;  ///< after run(): '(' not closed (negative when too many ')')

  private:
    token number_token() {
        const std::string rest(code_.substr(pos_, std::min<std::size_t>(code_.size() - pos_, 64)));
        char* end = nullptr;
        const double v = std::strtod(rest.c_str(), &end);
        if (end == rest.c_str()) throw calc_error{"SyntaxError", "invalid number", line_};
        pos_ += static_cast<std::size_t>(end - rest.c_str());
        if (pos_ < code_.size() && is_name_char(code_[pos_])) {
            throw calc_error{"SyntaxError", "invalid number", line_};
        }
        return {token::number, "", v, line_};
    }

    token string_token() {
        std::string text;
        for (++pos_; pos_ < code_.size(); ++pos_) {
            const char c = code_[pos_];
            if (c == '"') {
                ++pos_;
                return {token::string, text, 0, line_};
            }
            if (c == '\n') break;
            if (c == '\\' && pos_ + 1 < code_.size()) {
                const char e = code_[++pos_];
                text += e == 'n' ? '\n' : e == 't' ? '\t' : e;
            } else {
                text += c;
            }
        }
        throw calc_error{"SyntaxError", "unterminated string", line_};
    }

    std::string_view code_;
    std::size_t pos_ = 0;
    int line_ = 1;
};

using function = std::function<double(const std::vector<double>&)>;

struct builtin_function {
    std::size_t min_args, max_args;
    function f;
};

const std::map<std::string, builtin_function, std::less<>>& functions() {
    static const auto* table = [] {
        auto* t = new std::map<std::string, builtin_function, std::less<>>;
        auto unary = [](double (*f)(double)) {
            return builtin_function{1, 1, [f](const std::vector<double>& a) { return f(a[0]); }};
        };
        (*t)["sqrt"] = unary(std::sqrt);
        (*t)["abs"] = unary(std::fabs);
        (*t)["sin"] = unary(std::sin);
        (*t)["cos"] = unary(std::cos);
        (*t)["tan"] = unary(std::tan);
        (*t)["exp"] = unary(std::exp);
        (*t)["log"] = unary(std::log);
        (*t)["floor"] = unary(std::floor);
        (*t)["ceil"] = unary(std::ceil);
        (*t)["round"] = unary(std::round);
        (*t)["min"] = {1, 1000,
                       [](const auto& a) { return *std::min_element(a.begin(), a.end()); }};
        (*t)["max"] = {1, 1000,
                       [](const auto& a) { return *std::max_element(a.begin(), a.end()); }};
        // Blocks the interpreter's thread: long tasks for the cluster's heartbeat and retry
        // tests. Clamped to [0, 1 day]; returns the seconds slept.
        (*t)["sleep"] = {1, 1, [](const auto& a) {
                             const double s =
                                 std::isnan(a[0]) ? 0.0 : std::clamp(a[0], 0.0, 86400.0);
                             std::this_thread::sleep_for(std::chrono::duration<double>(s));
                             return s;
                         }};
        return t;
    }();
    return *table;
}

constexpr int max_depth = 200;  // nested parentheses / unary signs: keeps the stack small

/// Recursive-descent parser that evaluates as it parses. With `dry`, nothing is evaluated
/// and nothing is output: it only checks the syntax.
class parser {
  public:
    parser(std::vector<token> tokens, std::map<std::string, double, std::less<>>& vars, result& out,
           bool dry)
        : t_(std::move(tokens)), vars_(vars), out_(out), dry_(dry) {}

    void program() {
        while (peek().kind != token::end) {
            if (peek().kind == token::end_of_statement) {
                ++i_;
                continue;
            }
            out_.value.reset();
            statement();
            if (peek().kind != token::end && peek().kind != token::end_of_statement) {
                fail("SyntaxError", "unexpected '" + describe(peek()) + "'");
            }
        }
    }

  private:
    static std::string describe(const token& t) {
        if (t.kind == token::number) return "number";
        if (t.kind == token::string) return "string";
        return t.text;
    }
    const token& peek(std::size_t ahead = 0) const {
        return t_[std::min(i_ + ahead, t_.size() - 1)];
    }
    bool is_op(const token& t, char c) const { return t.kind == token::op && t.text[0] == c; }
    [[noreturn]] void fail(std::string ename, std::string evalue) const {
        throw calc_error{std::move(ename), std::move(evalue), peek().line};
    }
    void expect(char c) {
        if (!is_op(peek(), c)) {
            fail("SyntaxError",
                 "expected '" + std::string(1, c) + "', got '" +
                     (peek().kind == token::end ? "end of input" : describe(peek())) + "'");
        }
        ++i_;
    }

    void statement() {
        const token& first = peek();
        if (first.kind == token::name && is_op(peek(1), '=')) {
            i_ += 2;
            // Bounded state: a client may not make the kernel keep a 15 MiB name, or millions
            // of variables (each run also copies them for its dry run).
            if (first.text.size() > max_name_bytes) {
                fail("NameError",
                     "variable names are limited to " + std::to_string(max_name_bytes) + " bytes");
            }
            const double v = expr(0);
            if (!dry_ && vars_.size() >= max_variables && !vars_.contains(first.text)) {
                fail("MemoryError",
                     "too many variables (the limit is " + std::to_string(max_variables) + ")");
            }
            if (!dry_) vars_[first.text] = v;
            return;
        }
        if (first.kind == token::name && is_op(peek(1), '(') && command(first.text)) return;
        const double v = expr(0);
        if (!dry_) out_.value = format_number(v);
    }

    /// print/eprint/display/clear/help statements; false when `name` is none of them.
    bool command(const std::string& name) {
        using k = output::kind;
        if (name == "print" || name == "eprint") {
            i_ += 2;
            std::string line;
            while (!is_op(peek(), ')')) {
                if (!line.empty()) line += ' ';
                if (peek().kind == token::string) {
                    line += t_[i_++].text;
                } else {
                    line += format_number(expr(0));
                }
                if (!is_op(peek(), ')')) expect(',');
            }
            expect(')');
            emit({name == "print" ? k::stdout_text : k::stderr_text, line + "\n", ""});
        } else if (name == "display") {
            i_ += 2;
            const std::string v = format_number(expr(0));
            expect(')');
            emit({k::display, v, "<code>" + v + "</code>"});
        } else if (name == "clear" || name == "help") {
            i_ += 2;
            expect(')');
            emit({name == "clear" ? k::clear : k::page, name == "help" ? help_text() : "", ""});
        } else {
            return false;
        }
        return true;
    }

    void emit(output o) {
        if (!dry_) out_.outputs.push_back(std::move(o));
    }

    static std::string help_text() {
        std::string s = "calc: an arithmetic calculator with variables.\n\n";
        for (const auto& [name, doc] : builtins()) s += "  " + doc + "\n";
        return s;
    }

    double expr(int depth) {
        double v = term(depth);
        while (is_op(peek(), '+') || is_op(peek(), '-')) {
            const char op = t_[i_++].text[0];
            const double r = term(depth);
            v = op == '+' ? v + r : v - r;
        }
        return v;
    }

    double term(int depth) {
        double v = unary(depth);
        while (is_op(peek(), '*') || is_op(peek(), '/') || is_op(peek(), '%')) {
            const char op = t_[i_++].text[0];
            const double r = unary(depth);
            if (op != '*' && r == 0 && !dry_) fail("ZeroDivisionError", "division by zero");
            v = op == '*' ? v * r : op == '/' ? v / r : std::fmod(v, r);
        }
        return v;
    }

    double unary(int depth) {
        if (depth > max_depth) fail("SyntaxError", "expression nested too deeply");
        if (is_op(peek(), '-') || is_op(peek(), '+')) {
            const bool minus = t_[i_++].text[0] == '-';
            const double v = unary(depth + 1);
            return minus ? -v : v;
        }
        const double base = atom(depth);
        if (!is_op(peek(), '^')) return base;
        ++i_;
        return std::pow(base, unary(depth + 1));
    }

    double atom(int depth) {
        const token& t = peek();
        if (t.kind == token::number) return ++i_, t.value;
        if (is_op(t, '(')) {
            ++i_;
            const double v = expr(depth + 1);
            expect(')');
            return v;
        }
        if (t.kind != token::name) {
            fail("SyntaxError", t.kind == token::end ? "unexpected end of input"
                                                     : "unexpected '" + describe(t) + "'");
        }
        ++i_;
        if (is_op(peek(), '(')) return call(t, depth);
        if (dry_) return 0;
        const auto it = vars_.find(t.text);
        if (it == vars_.end()) fail("NameError", "name '" + t.text + "' is not defined");
        return it->second;
    }

    double call(const token& name, int depth) {
        ++i_;  // '('
        std::vector<double> args;
        while (!is_op(peek(), ')')) {
            args.push_back(expr(depth + 1));
            if (!is_op(peek(), ')')) expect(',');
        }
        expect(')');
        if (dry_) return 0;
        const auto f = functions().find(name.text);
        if (f == functions().end())
            fail("NameError", "function '" + name.text + "' is not defined");
        if (args.size() < f->second.min_args || args.size() > f->second.max_args) {
            fail("TypeError", name.text + "() takes " + std::to_string(f->second.min_args) +
                                  (f->second.max_args > f->second.min_args ? " or more" : "") +
                                  " argument(s), got " + std::to_string(args.size()));
        }
        return f->second.f(args);
    }

    std::vector<token> t_;
    std::size_t i_ = 0;
    std::map<std::string, double, std::less<>>& vars_;
    result& out_;
    bool dry_;
};

std::string source_line(std::string_view code, int line) {
    std::size_t start = 0;
    for (int l = 1; l < line && start != std::string_view::npos; ++l) {
        start = code.find('\n', start);
        if (start != std::string_view::npos) ++start;
    }
    if (start == std::string_view::npos) return {};
    return std::string(code.substr(start, code.find('\n', start) - start));
}

}  // namespace

const std::map<std::string, std::string>& builtins() {
    static const std::map<std::string, std::string> docs = {
        {"sqrt", "sqrt(x): square root of x"},
        {"abs", "abs(x): absolute value of x"},
        {"sin", "sin(x): sine of x (radians)"},
        {"cos", "cos(x): cosine of x (radians)"},
        {"tan", "tan(x): tangent of x (radians)"},
        {"exp", "exp(x): e raised to x"},
        {"log", "log(x): natural logarithm of x"},
        {"floor", "floor(x): largest integer not above x"},
        {"ceil", "ceil(x): smallest integer not below x"},
        {"round", "round(x): x rounded half away from zero"},
        {"min", "min(a, b, ...): smallest argument"},
        {"max", "max(a, b, ...): largest argument"},
        {"sleep", "sleep(s): waits s seconds (at most a day), returns s"},
        {"print", "print(a, \"text\", ...): writes one line to stdout"},
        {"eprint", "eprint(a, \"text\", ...): writes one line to stderr"},
        {"display", "display(x): shows x as rich output (text/plain, text/html)"},
        {"clear", "clear(): clears the cell's output"},
        {"help", "help(): shows this help in the pager"},
    };
    return docs;
}

interpreter::interpreter() : vars_{{"pi", std::numbers::pi}, {"e", std::numbers::e}} {}

result interpreter::run(std::string_view code) {
    result r;
    try {
        // Parse the whole program first (no side effects), so a syntax error runs nothing.
        auto scratch = vars_;
        result ignored;
        parser(lexer(code).run(), scratch, ignored, true).program();
        parser(lexer(code).run(), vars_, r, false).program();
    } catch (const calc_error& e) {
        r.ok = false;
        r.value.reset();
        r.ename = e.ename;
        r.evalue = e.evalue;
        r.traceback = {"Traceback (most recent call last):",
                       "  line " + std::to_string(e.line) + ": " + source_line(code, e.line),
                       e.ename + ": " + e.evalue};
    }
    return r;
}

completeness interpreter::is_complete(std::string_view code) const {
    try {
        lexer lex(code);
        std::vector<token> tokens = lex.run();
        if (lex.open_parens < 0) return completeness::invalid;
        if (lex.open_parens > 0) return completeness::incomplete;
        // The last token that is not an end of statement: an operator still wanting its right
        // operand means more lines are coming.
        for (auto it = tokens.rbegin(); it != tokens.rend(); ++it) {
            if (it->kind == token::end || it->kind == token::end_of_statement) continue;
            if (it->kind == token::op &&
                std::string_view("+-*/%^,=").find(it->text[0]) != std::string_view::npos) {
                return completeness::incomplete;
            }
            break;
        }
        auto vars = vars_;
        result ignored;
        parser(std::move(tokens), vars, ignored, true).program();
        return completeness::complete;
    } catch (const calc_error&) {
        return completeness::invalid;
    }
}

std::vector<std::string> interpreter::complete(std::string_view prefix) const {
    std::vector<std::string> out;
    auto add = [&](const std::string& name) {
        if (name.starts_with(prefix)) out.push_back(name);
    };
    for (const auto& [name, doc] : builtins()) add(name);
    for (const auto& [name, value] : vars_) add(name);
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
}

std::optional<std::string> interpreter::inspect(std::string_view name) const {
    if (const auto b = builtins().find(std::string(name)); b != builtins().end()) return b->second;
    if (const auto v = vars_.find(name); v != vars_.end()) {
        return std::string(name) + " = " + format_number(v->second) + " (variable)";
    }
    return std::nullopt;
}

std::string format_number(double v) {
    char text[64];
    std::snprintf(text, sizeof text, "%.15g", v);
    return text;
}

std::pair<std::size_t, std::size_t> identifier_at(std::string_view code, std::size_t pos) {
    pos = std::min(pos, code.size());
    std::size_t begin = pos, end = pos;
    while (begin > 0 && is_name_char(code[begin - 1])) --begin;
    while (end < code.size() && is_name_char(code[end])) ++end;
    return {begin, end};
}

}  // namespace calc
