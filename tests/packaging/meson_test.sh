#!/usr/bin/env bash
# Builds tests/packaging/meson_consumer, an outside meson project, with zsession as its
# subproject (this source tree linked to subprojects/zsession, found through the wrap), and
# runs its test. zsession must build only its library there: none of its tests, benchmarks
# or examples may become targets or tests of the consumer. Also configures zsession on its
# own with -Dtests=false -Dexamples=false -Dbenchmarks=false and checks the same.
# The consumer builds unoptimized (buildtype plain): the cheapest compile of the library, and
# nothing checked here depends on optimization.
set -euo pipefail
source_root=$(cd "$1" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
proj=$work/proj
cp -r "$source_root/tests/packaging/meson_consumer" "$proj"
cp "$source_root/tests/packaging/consumer.cpp" "$proj/"
ln -s "$source_root" "$proj/subprojects/zsession"

# Fails (exit 1) when the configured build dir $1 has a target or test of zsession other than
# its libraries (zsession and the ipyparallel engine and client libraries); prints what it
# found.
check_only_library() {
  meson introspect "$1" --targets --tests --benchmarks | /usr/bin/python3 -c '
import json, sys
info = json.load(sys.stdin)
names = sorted({t["name"] for t in info["targets"]})
tests = sorted(t["name"] for t in info["tests"]) + sorted(b["name"] for b in info["benchmarks"])
print("targets:", names)
print("tests:", tests)
allowed_targets = set(sys.argv[1].split(","))
allowed_tests = set(filter(None, sys.argv[2].split(",")))
extra = [n for n in names if n not in allowed_targets] + [t for t in tests if t not in allowed_tests]
if extra:
    sys.exit("zsession added targets or tests: " + ", ".join(extra))
' "$2" "$3"
}

meson setup "$work/build" "$proj" --buildtype=plain --wrap-mode=nodownload --force-fallback-for=zsession \
  >"$work/setup.log" 2>&1 || { cat "$work/setup.log"; exit 1; }
grep -q "Subproject zsession finished" "$work/setup.log" ||
  { cat "$work/setup.log"; echo "zsession was not used as a subproject"; exit 1; }
check_only_library "$work/build" zsession,zsession_ipp,zsession_ipp_client,zsession_ipp_comm_source,consumer consumer
meson compile -C "$work/build" >"$work/compile.log" 2>&1 || { cat "$work/compile.log"; exit 1; }
meson test -C "$work/build" --print-errorlogs

# Standalone, with each part turned off by its option.
meson setup "$work/off" "$source_root" -Dtests=false -Dexamples=false -Dbenchmarks=false \
  >"$work/off.log" 2>&1 || { cat "$work/off.log"; exit 1; }
check_only_library "$work/off" zsession,zsession_ipp,zsession_ipp_client,zsession_ipp_comm_source ""
echo "meson consumer ok"
