#!/ usr / bin / python3
"""Misuse that would dangle must not compile: a resolver, map_view or typed span over a
temporary. Each case is a tiny TU compiled with the build's compiler (-fsyntax-only) twice:
the misuse, which must fail with an error naming a deleted function, and its correct twin
(the same code over a named object), which must compile, so the failure is the deletion and
not a typo in the test.

Usage: compile_fail_test.py SOURCE_ROOT BUILD_INCLUDE_DIR COMPILER [ARGS...]
"""

import os
import subprocess
import sys
import tempfile

PRELUDE = r"""
#include "zsession/ndarray.hpp"
#include "zsession/placeholder.hpp"
using namespace zsession;
struct fake_session {  // anything with options(), as a session
    session_options o;
    const session_options& options() const { return o; }
};
message make();
registry reg();
session_options opts();
fake_session sess();
void use(...);
struct plain_point { double x, y; };  // no msgpack adaptor
struct mapped_point { double x, y; MSGPACK_DEFINE_MAP(x, y) };
"""

#name : (misuse, correct twin)
CASES = {
    "resolver over a temporary message (registry form)": (
        "registry r; resolver res(make(), r); use(&res);",
        "registry r; message m = make(); resolver res(m, r); use(&res);"),
    "resolver over a temporary registry": (
        "message m; resolver res(m, reg()); use(&res);",
        "message m; registry r = reg(); resolver res(m, r); use(&res);"),
    "resolver over a temporary message (options form)": (
        "session_options o; resolver res(o, make()); use(&res);",
        "session_options o; message m = make(); resolver res(o, m); use(&res);"),
    "resolver over temporary options": (
        "message m; resolver res(opts(), m); use(&res);",
        "message m; session_options o = opts(); resolver res(o, m); use(&res);"),
    "resolver over a temporary message (session form)": (
        "fake_session s; resolver res(s, make()); use(&res);",
        "fake_session s; message m = make(); resolver res(s, m); use(&res);"),
    "resolver over a temporary session": (
        "message m; resolver res(sess(), m); use(&res);",
        "message m; fake_session s = sess(); resolver res(s, m); use(&res);"),
    "content_map() of a temporary message": (
        "auto v = make().content_map(); use(&v);",
        "message m = make(); auto v = m.content_map(); use(&v);"),
    "metadata_map() of a temporary message": (
        "auto v = make().metadata_map(); use(&v);",
        "message m = make(); auto v = m.metadata_map(); use(&v);"),
    "values<T>() of a temporary ndarray_view": (
        "auto v = ndarray_view().values<double>(); use(&v);",
        "ndarray_view a; auto v = a.values<double>(); use(&v);"),
    "values<T>() of a temporary buffer": (
        "auto v = buffer().values<double>(); use(&v);",
        "buffer b; auto v = b.values<double>(); use(&v);"),
    "inline_or_offloaded<T> of a struct without a msgpack adaptor": (
        "inline_or_offloaded<plain_point> v; use(&v);",
        "inline_or_offloaded<mapped_point> v; use(&v);"),
}
# What the compiler must say for a case; "deleted" (a deleted function) when not listed.
EXPECTED = {
    "inline_or_offloaded<T> of a struct without a msgpack adaptor":
        "inline_or_offloaded<T> needs a msgpack adaptor for T",
}


def compile_ok(cmd, body, work):
    path = os.path.join(work, "case.cpp")
    with open(path, "w", encoding="utf-8") as f:
        f.write(PRELUDE + "void run() { " + body + " }\n")
    r = subprocess.run(cmd + [path], capture_output=True, text=True)
    return r.returncode == 0, r.stderr


def main():
    source_root, build_include = sys.argv[1], sys.argv[2]
    compiler = sys.argv[3:]
    cmd = compiler + ["-std=c++20", "-fsyntax-only", "-DMSGPACK_NO_BOOST", "-I" + os.path.join(source_root, "include"),
                      "-I" + build_include]
    failures = []
    with tempfile.TemporaryDirectory() as work:
#All correct twins in one TU(one compile), each in its own block.
        twins = " ".join("{ " + twin + " }" for _, twin in CASES.values())
        ok, err = compile_ok(cmd, twins, work)
        if not ok:
            sys.exit(f"the correct twins do not compile:\n{err}")
        for name, (misuse, _) in CASES.items():
            ok, err = compile_ok(cmd, misuse, work)
            if ok:
                failures.append(f"{name}: compiles, must not")
            elif EXPECTED.get(name, "deleted") not in err:
                failures.append(f"{name}: fails, but not with "
                                f"'{EXPECTED.get(name, 'deleted')}':\n{err}")
            else:
                print(f"ok: {name} does not compile ({EXPECTED.get(name, 'deleted')})")
    if failures:
        print("\n".join(failures))
        sys.exit(1)


if __name__ == "__main__":
    main()
