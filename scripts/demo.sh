#!/usr/bin/env bash
# The main job: installs packages, builds, and runs C++ engines in a real ipyparallel cluster
# (Debian's ipcontroller, zcalc-ipengine started by ipyparallel's launcher and by hand, one
# Python ipengine), driven by ipyparallel.Client: examples/ipengine/cluster_demo.py.
# `scripts/demo.sh --toy` runs the older self-contained controller/engine demo instead.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
scripts/build.sh build
if [ "${1:-}" = "--toy" ]; then
  shift
  exec build/examples/demo "$@"
fi
exec /usr/bin/python3 examples/ipengine/cluster_demo.py build/examples/zcalc-ipengine "$@"
