#!/usr/bin/python3
"""Checks what libzsession.so exports (src/zsession.map, docs/ABI.md).

Usage: abi_test.py LIBRARY SOURCE_ROOT   (LIBRARY: the built libzsession.so.X.Y.Z)

- Every exported symbol belongs to namespace zsession (the function or object itself, or
  the type info, vtable or guard variable of something in it): no std::, msgpack-c or
  RapidJSON instantiation, nothing of zsession::detail but what the headers need.
- Every zsession::detail function that a public header declares and the library defines
  is exported: templates in the headers call it from the user's code. This is what fails
  when a new one is added to include/zsession/ but not to src/zsession.map.
- Everything else the library defines in zsession::detail is not exported.
Prints the number of exported symbols.
"""

import glob
import os
import re
import subprocess
import sys

SPECIAL = ("typeinfo for ", "typeinfo name for ", "vtable for ", "VTT for ",
           "guard variable for ")


def defined_symbols(*paths, dynamic):
    """Demangled (type, name) of the symbols defined in `paths`."""
    cmd = ["nm", "-C", "--defined-only"] + (["-D"] if dynamic else []) + list(paths)
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    symbols = []
    for line in out.splitlines():
        parts = line.split(" ", 2)
        if len(parts) == 3 and len(parts[1]) == 1:
            symbols.append((parts[1], parts[2]))
    return symbols


def subject(name):
    """The entity a symbol is about: "typeinfo for zsession::x" -> "zsession::x"."""
    for prefix in SPECIAL:
        if name.startswith(prefix):
            return name[len(prefix):]
    return name


def public_detail_names(source_root):
    """Names followed by "(" inside the namespace detail blocks of the public headers."""
    names = set()
    for path in glob.glob(os.path.join(source_root, "include", "zsession", "*.hpp*")):
        with open(path, encoding="utf-8") as f:
            text = f.read()
        for block in re.findall(r"namespace detail \{(.*?)\}  // namespace detail", text, re.S):
            names.update(re.findall(r"\b([A-Za-z_]\w*)\s*\(", block))
    return names


def detail_function(name):
    """"f" for a non-template zsession::detail::f(...) (or a member of detail::f), else None."""
    m = re.match(r"zsession::detail::([A-Za-z_]\w*)(?:\[abi:\w+\])*(?:\(|::)", name)
    return m.group(1) if m else None


def main():
    library, source_root = sys.argv[1], sys.argv[2]
    exported = [name for _, name in defined_symbols(library, dynamic=True)]
    objects = glob.glob(library + ".p/*.o")
    if not objects:
        sys.exit(f"no object files next to {library}")
    # Strong definitions only: weak ones are inline or template code every user compiles.
    defined = [name for kind, name in defined_symbols(*objects, dynamic=False) if kind in "TDBR"]

    public_detail = public_detail_names(source_root)
    errors = []
    for name in exported:
        entity = subject(name)
        if not entity.startswith("zsession::"):
            errors.append(f"exported, not zsession's: {name}")
        elif entity.startswith("zsession::detail::") and name == entity and \
                detail_function(entity) not in public_detail:
            errors.append(f"exported, internal: {name}")
    exported_set = set(exported)
    needed = sorted({n for n in defined if detail_function(n) in public_detail})
    for name in needed:
        if name not in exported_set:
            errors.append(f"declared in a public header but not exported (src/zsession.map): {name}")
    hidden = sorted({n for n in defined if n.startswith("zsession::detail::")} - exported_set)

    print(f"{len(exported)} exported symbols ({len(needed)} zsession::detail functions the "
          f"headers call: {', '.join(sorted({detail_function(n) for n in needed}))}); "
          f"{len(hidden)} zsession::detail symbols hidden")
    if not hidden:
        errors.append("no zsession::detail symbol is hidden: was the version script applied?")
    for e in errors:
        print(e)
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
