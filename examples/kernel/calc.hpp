// examples/kernel/calc.hpp - "calc", the example kernel's language: an arithmetic calculator
// with variables. Pure C++, no messaging: the kernel (kernel.cpp) maps its results to Jupyter
// messages.
//
// Statements, separated by newlines or ';':
//   x = expr                   assignment
//   print(a, "text", ...)      one line on stdout; eprint(...) writes it on stderr
//   display(expr)              a display_data (text/plain and text/html)
//   clear()                    a clear_output
//   help()                     the language help, shown in the pager
//   expr                       an expression; the last one's value is the execute result
// Expressions: numbers, names, + - * / % ^ (power), unary -, parentheses, and the functions
// listed by calc::builtins(). Constants pi and e. Errors: SyntaxError, NameError,
// ZeroDivisionError, TypeError (wrong argument count), each with a traceback.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace calc {

/// Something a program asks the front end to show, in order.
struct output {
    enum class kind { stdout_text, stderr_text, display, clear, page };
    kind what;
    std::string text;  ///< stream text, display/page plain text
    std::string html;  ///< display only
};

/// What running a program produced. On error, `outputs` holds what ran before it.
struct result {
    std::vector<output> outputs;
    std::optional<std::string> value;  ///< text of the last expression statement, if any
    bool ok = true;
    std::string ename, evalue;
    std::vector<std::string> traceback;
};

/// Jupyter's is_complete statuses.
enum class completeness { complete, incomplete, invalid };

/// Builtin functions and statement keywords, with one line of documentation each.
const std::map<std::string, std::string>& builtins();

/// Longest variable name an assignment may make, in bytes.
inline constexpr std::size_t max_name_bytes = 256;
/// Most variables an interpreter holds (builtins' constants included); assigning a new one
/// beyond it is a MemoryError.
inline constexpr std::size_t max_variables = 10000;

/// The language's state: its variables, at most max_variables of at most max_name_bytes each.
/// Not thread-safe; one kernel thread uses it.
class interpreter {
  public:
    interpreter();
    /// Runs `code`. Never throws for bad code (errors are in the result); may throw
    /// std::bad_alloc.
    result run(std::string_view code);
    /// Whether `code` is a complete program, needs more lines, or can never be valid.
    completeness is_complete(std::string_view code) const;
    /// Names (builtins and variables) starting with `prefix`, sorted.
    std::vector<std::string> complete(std::string_view prefix) const;
    /// Documentation of a builtin or the value of a variable; empty when `name` is unknown.
    std::optional<std::string> inspect(std::string_view name) const;

  private:
    std::map<std::string, double, std::less<>> vars_;
};

/// Formats a number as the language prints it ("42", "0.1", "inf").
std::string format_number(double v);

/// The identifier (letters, digits, '_') around byte offset `pos` of `code`: [begin, end).
std::pair<std::size_t, std::size_t> identifier_at(std::string_view code, std::size_t pos);

}  // namespace calc
