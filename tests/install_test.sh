#!/usr/bin/env bash
# Installs the build into a temporary DESTDIR, then builds examples/minimal.cpp against the
# installed headers and zsession.pc alone (pkg-config), and runs it.
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
c++ "$source_root/examples/minimal.cpp" $flags -o "$dest/minimal"
lib=$(dirname "$(find "$dest" -name 'libzsession.so' | head -n 1)")
out=$(LD_LIBRARY_PATH="$lib" "$dest/minimal")
echo "$out"
grep -q "apply_reply in reply to apply_request: sum=1572864" <<<"$out"
