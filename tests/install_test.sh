#!/usr/bin/env bash
# Installs the build into a temporary DESTDIR, then builds examples/minimal.cpp against the
# installed headers and zsession.pc alone (pkg-config), and runs it. zsession.pc must not set
# the standard: a C++23 consumer stays C++23 (tests/packaging/std23.cpp), and a C++17 one is
# stopped by zsession's own #error.
set -euo pipefail
build_root=$1
source_root=$2
dest=$(mktemp -d)
trap 'rm -rf "$dest"' EXIT
DESTDIR="$dest" meson install -C "$build_root" --no-rebuild --quiet
pc=$(find "$dest" -name zsession.pc | head -n 1)
[ -n "$pc" ] || { echo "zsession.pc was not installed"; exit 1; }
export PKG_CONFIG_PATH=$(dirname "$pc") PKG_CONFIG_SYSROOT_DIR="$dest"
flags=$(pkg-config --cflags --libs zsession)
echo "pkg-config: $flags"
if grep -q -- '-std=' <<<"$flags"; then echo "zsession.pc sets the standard"; exit 1; fi
c++ -std=c++20 "$source_root/examples/minimal.cpp" $flags -o "$dest/minimal"
c++ -std=c++23 "$source_root/tests/packaging/std23.cpp" $flags -o "$dest/std23"
if c++ -std=c++17 -fsyntax-only "$source_root/tests/packaging/std23.cpp" $flags 2>"$dest/17.log"; then
  echo "a C++17 build was not refused"; exit 1
fi
grep -q "zsession needs C++20" "$dest/17.log"
lib=$(dirname "$(find "$dest" -name 'libzsession.so' | head -n 1)")
out=$(LD_LIBRARY_PATH="$lib" "$dest/minimal")
echo "$out"
grep -q "apply_reply in reply to apply_request: sum=1572864" <<<"$out"
LD_LIBRARY_PATH="$lib" "$dest/std23"
