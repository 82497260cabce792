#!/usr/bin/env bash
# Soak test: a million messages with buffers through a signed session pair, RSS sampled.
#   scripts/soak.sh [messages=1000000] [transport=tcp]
# Runs the release build (build/) and prints its RSS samples and the flat/growing verdict;
# then, when build-asan/ exists (scripts/build.sh build-asan -Db_sanitize=address,undefined
# -Db_lundef=false -Dbuildtype=debugoptimized), 100k messages under ASan with LeakSanitizer.
set -euo pipefail
cd "$(dirname "$0")/.."
messages=${1:-1000000}
transport=${2:-tcp}
scripts/build.sh build
/usr/bin/time -f "wall %e s, max RSS %M KiB" build/tests/soak --messages "$messages" --transport "$transport"
if [ -x build-asan/tests/soak ]; then
  ASAN_OPTIONS=detect_leaks=1 build-asan/tests/soak --messages 100000 --transport "$transport" \
    --no-flat-check
fi
