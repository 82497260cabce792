#!/usr/bin/env bash
# The main job: installs packages, builds, and runs the controller/engine demo.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
scripts/build.sh build
exec build/examples/demo "$@"
