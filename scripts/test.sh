#!/usr/bin/env bash
# The whole test suite, from nothing: installs packages, builds, and runs `meson test` in
#   build/       release build: unit, socket, interop, kernel, benchmark smoke tests
#   build-asan/  AddressSanitizer + UndefinedBehaviorSanitizer over the same tests
#   build-tsan/  ThreadSanitizer over the thread-safety tests
#   format       clang-format --dry-run --Werror over the tree's C++ files (counts as one test)
# Ends with one line "N passed, N failed" counted from meson's results and the format check.
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh || { echo "0 passed, 1 failed"; exit 1; }

status=0
run_suite() {  # run_suite DIR [meson options...]
  local dir=$1
  shift
  echo "== $dir: build"
  if ! scripts/build.sh "$dir" "$@"; then
    echo "== $dir: BUILD FAILED"
    build_failures=$((build_failures + 1))
    status=1
    return
  fi
  echo "== $dir: meson test"
  rm -f "$dir/meson-logs/testlog.json"
  meson test -C "$dir" --print-errorlogs --num-processes 2 || status=1
}

build_failures=0
echo "== format: clang-format --dry-run --Werror"
if git ls-files '*.cpp' '*.hpp' '*.h' | xargs clang-format --dry-run --Werror; then
  format_failures=0
else
  echo "== format: FAILED (run clang-format -i on the files above)"
  format_failures=1
  status=1
fi
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
run_suite build
run_suite build-asan -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debugoptimized
run_suite build-tsan -Db_sanitize=thread -Db_lundef=false -Dbuildtype=debugoptimized \
  -Dtsan_only=true

summary=$(/usr/bin/python3 - "$build_failures" "$format_failures" build build-asan build-tsan <<'PY'
import json, os, sys
passed = failed = 0
failed += int(sys.argv[1])  # builds that failed
passed, failed = passed + (sys.argv[2] == "0"), failed + (sys.argv[2] != "0")  # format
for d in sys.argv[3:]:
    log = os.path.join(d, "meson-logs", "testlog.json")
    if not os.path.exists(log):
        continue
    for line in open(log):
        r = json.loads(line)["result"]
        if r in ("OK", "EXPECTEDFAIL"):
            passed += 1
        elif r != "SKIP":
            failed += 1
print(f"{passed} passed, {failed} failed")
PY
)
[ "${summary#* passed, }" = "0 failed" ] || status=1
echo "$summary"
exit $status
