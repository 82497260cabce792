#!/usr/bin/python3
"""Compiles every ```cpp block of README.md with -Wall -Wextra -Werror at -std=c++20 and
-std=c++23, against the installed library (a DESTDIR install, flags from zsession.pc alone),
and links the result: documented usage must build warning-free in a user's strict build.

Usage: readme_snippets_test.py BUILD_ROOT SOURCE_ROOT

Each block becomes one function in its own namespace. Its top-level declarations (struct,
class, enum, using, template: from a line starting with one of them to the next line
"};") stay at namespace scope; its statements form the function body, followed by
"(void)name;" for each local it declares (a real program goes on to use them). The names a
block uses without declaring (sockets, the session of an earlier block, a log function) are
defined once in the prelude below. The generated file is printed when a compile fails.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile

PRELUDE = r"""// Generated from README.md by tests/packaging/readme_snippets_test.py.
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "zsession/zsession.hpp"

// What the README's excerpts use without declaring it: a program has these around them.
zmq::context_t context;
zmq::socket_t client(context, zmq::socket_type::dealer);
zmq::socket_t server(context, zmq::socket_type::router);
zmq::socket_t shell(context, zmq::socket_type::router);
zmq::socket_t tx(context, zmq::socket_type::pair);
zmq::socket_t rx(context, zmq::socket_type::pair);
const zsession::session s({});
const std::vector<std::uint16_t> pixels(480 * 640);
void handle(const zsession::message&) {}
void log(const char* format, ...) { (void)format; }
"""

DECL_START = re.compile(r"^(struct|class|enum|union|using|template|namespace)\b")
# "type name = ...", "type name(...)", "type name{...}" at the start of a statement.
LOCAL_DECL = re.compile(
    r"^\s*(?:const\s+)?[A-Za-z_][\w:]*(?:<[^;=]*>)?(?:\s*[*&]+\s*|\s+)(?:const\s+)?"
    r"\**([A-Za-z_]\w*)\s*(?:=|\(|\{)")
KEYWORDS = {"return", "if", "else", "for", "while", "switch", "case", "do", "throw", "delete",
            "new", "co_return", "co_await", "goto"}


def cpp_blocks(markdown):
    """The ```cpp fenced blocks of `markdown`, each as (first line number, text)."""
    blocks, current, start = [], None, 0
    for number, line in enumerate(markdown.splitlines(), 1):
        if current is None and line.strip() in ("```cpp", "```c++"):
            current, start = [], number + 1
        elif current is not None and line.strip() == "```":
            blocks.append((start, current))
            current = None
        elif current is not None:
            current.append(line)
    return blocks


def translate(index, start, lines):
    """One block as a namespace holding its declarations and a function of its statements."""
    decls, body, locals_, in_decl = [], [], [], False
    for offset, line in enumerate(lines):
        where = f'#line {start + offset} "README.md"'
        if in_decl or DECL_START.match(line):
            decls += [where, line]
            if in_decl:  # a multi-line declaration ends at its closing "}" in column 0
                in_decl = not line.startswith("}")
            else:  # "template <...>" alone, or an opening "{" not closed on this line
                in_decl = line.startswith("template") and "{" not in line or (
                    line.count("{") > line.count("}"))
            continue
        body += [where, "    " + line]
        m = LOCAL_DECL.match(line)
        if m and not line.startswith((" ", "\t")) and m.group(1) not in KEYWORDS and \
                line.split()[0] not in KEYWORDS:
            locals_.append(m.group(1))
    uses = [f"    (void){name};" for name in locals_]
    return "\n".join([f"namespace readme_snippet_{index} {{", *decls,
                      f"void run() {{", *body, *uses, "}", "}  // namespace", ""])


def installed_flags(build_root, dest):
    """DESTDIR-installs the build and returns pkg-config's flags for it."""
    env = dict(os.environ, DESTDIR=dest)
    subprocess.run(["meson", "install", "-C", build_root, "--no-rebuild", "--quiet"],
                   check=True, env=env)
    pcs = [os.path.join(d, f) for d, _, fs in os.walk(dest) for f in fs if f == "zsession.pc"]
    if not pcs:
        sys.exit("zsession.pc was not installed")
    env = dict(os.environ, PKG_CONFIG_PATH=os.path.dirname(pcs[0]), PKG_CONFIG_SYSROOT_DIR=dest)
    out = subprocess.run(["pkg-config", "--cflags", "--libs", "zsession"], check=True,
                         env=env, capture_output=True, text=True).stdout
    return out.split()


def main():
    build_root, source_root = sys.argv[1], sys.argv[2]
    with open(os.path.join(source_root, "README.md"), encoding="utf-8") as f:
        blocks = cpp_blocks(f.read())
    if not blocks:
        sys.exit("README.md has no ```cpp block")
    work = tempfile.mkdtemp()
    try:
        flags = installed_flags(build_root, os.path.join(work, "dest"))
        print("pkg-config:", " ".join(flags))
        source = PRELUDE + "\n".join(translate(i, s, b) for i, (s, b) in enumerate(blocks))
        source += "\nint main() { return 0; }\n"
        path = os.path.join(work, "readme_snippets.cpp")
        with open(path, "w", encoding="utf-8") as f:
            f.write(source)
        for std in ("c++20", "c++23"):
            cmd = ["c++", f"-std={std}", "-Wall", "-Wextra", "-Werror", path, *flags,
                   "-o", os.path.join(work, "snippets-" + std)]
            result = subprocess.run(cmd, capture_output=True, text=True)
            if result.returncode != 0:
                print(source)
                print(" ".join(cmd))
                print(result.stderr)
                sys.exit(f"README snippets do not build warning-free at -std={std}")
            print(f"{len(blocks)} README blocks: no warning at -std={std} -Wall -Wextra -Werror")
    finally:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
