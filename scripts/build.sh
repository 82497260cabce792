#!/usr/bin/env bash
# Configures (once) and builds one build directory: scripts/build.sh DIR [meson options...]
set -euo pipefail
dir=$1
shift
cd "$(dirname "$0")/.."
if [ ! -f "$dir/build.ninja" ]; then
  meson setup "$dir" "$@" >/dev/null
else
  meson configure "$dir" "$@" >/dev/null 2>&1 || meson setup --wipe "$dir" "$@" >/dev/null
fi
ninja -C "$dir" >/dev/null
