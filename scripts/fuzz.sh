#!/usr/bin/env bash
# Coverage-guided fuzzing with libFuzzer (clang), ASan and UBSan. Targets (tests/fuzz/):
#   decode       session::decode over arbitrary frames, signed and unsigned
#   json         a JSON content frame: parse, numbers, re-encode, placeholders
#   placeholder  content (either packer) + buffers: every placeholder resolved, lz4 included
#
#   scripts/fuzz.sh [seconds=60] [target...]     run each target for `seconds`
#   scripts/fuzz.sh --runs N [target...]         run each target for N executions
#   scripts/fuzz.sh --smoke                      3 s each (the test suite's run); exits 77
#                                                (meson: skipped) when clang++ is missing
# Objects are cached in build-fuzz/obj; crashes go to build-fuzz/crash-*; each target's corpus
# grows in build-fuzz/corpus-TARGET/ (json and placeholder are seeded from the golden vectors).
set -euo pipefail
cd "$(dirname "$0")/.."
limit=(-max_total_time=60)
smoke=0
if [ "${1:-}" = "--smoke" ]; then
  smoke=1; limit=(-max_total_time=3); shift
elif [ "${1:-}" = "--runs" ]; then
  limit=(-runs="$2"); shift 2
elif [[ "${1:-}" =~ ^[0-9]+$ ]]; then
  limit=(-max_total_time="$1"); shift
fi
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(decode json placeholder)
if ! command -v clang++ >/dev/null; then
  [ $smoke = 1 ] && { echo "clang++ not found: libFuzzer smoke run skipped"; exit 77; }
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q clang libclang-rt-14-dev >/dev/null
fi
out=${FUZZ_DIR:-build-fuzz}
mkdir -p "$out/obj"
flags=(-std=c++20 -O1 -g -fsanitize=address,undefined -DMSGPACK_NO_BOOST -Iinclude -Isrc
  -Itests/fuzz $(pkg-config --cflags libzmq liblz4 libcrypto))
objs=()
for src in src/*.cpp; do
  obj="$out/obj/$(basename "$src" .cpp).o"
  if [ ! -f "$obj" ] || [ -n "$(find "$src" src/*.hpp include/zsession -newer "$obj" | head -1)" ]; then
    clang++ "${flags[@]}" -fsanitize=fuzzer-no-link -c "$src" -o "$obj"
  fi
  objs+=("$obj")
done
libs=$(pkg-config --libs libzmq liblz4 libcrypto)
for t in "${targets[@]}"; do
  clang++ "${flags[@]}" -fsanitize=fuzzer "${objs[@]}" "tests/fuzz/${t}_fuzz.cpp" $libs \
    -o "$out/${t}_fuzz"
  mkdir -p "$out/corpus-$t"
done
if [ ! -f "$out/seeds.done" ]; then
  clang++ "${flags[@]}" "${objs[@]}" tests/fuzz/write_seeds.cpp $libs -o "$out/write_seeds"
  mkdir -p "$out/corpus-json" "$out/corpus-placeholder"
  "$out/write_seeds" "$out/corpus-json" "$out/corpus-placeholder" && touch "$out/seeds.done"
fi
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}:suppressions=$PWD/tests/fuzz/ubsan.supp"
for t in "${targets[@]}"; do
  echo "== $t"
  (cd "$out" && "./${t}_fuzz" "${limit[@]}" -max_len=4096 -print_final_stats=1 "corpus-$t")
done
