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
# Library objects are cached in build-fuzz/obj (FUZZ_OBJ_DIR); binaries, crashes (crash-*) and
# each target's corpus (corpus-TARGET/, json and placeholder seeded from the golden vectors)
# are in FUZZ_DIR (build-fuzz). UBSan suppressions and their rationale: tests/fuzz/ubsan.supp.
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
out=${FUZZ_DIR:-build-fuzz}         # binaries and corpora
obj_dir=${FUZZ_OBJ_DIR:-build-fuzz/obj}  # library objects, shared by every FUZZ_DIR
mkdir -p "$out" "$obj_dir"
flags=(-std=c++20 -O1 -g -fsanitize=address,undefined -DMSGPACK_NO_BOOST -Iinclude -Isrc
  -Itests/fuzz $(pkg-config --cflags libzmq liblz4 libcrypto))
# An object is rebuilt when its source or any header's content changed (not on mtime alone).
headers=$(cat src/*.hpp include/zsession/*.hpp | sha1sum)
objs=()
for src in src/*.cpp; do
  obj="$obj_dir/$(basename "$src" .cpp).o"
  hash="$(sha1sum < "$src") $headers"
  if [ ! -f "$obj" ] || [ "$(cat "$obj.hash" 2>/dev/null)" != "$hash" ]; then
    clang++ "${flags[@]}" -fsanitize=fuzzer-no-link -c "$src" -o "$obj"
    echo "$hash" > "$obj.hash"
  fi
  objs+=("$obj")
done
libs=$(pkg-config --libs libzmq liblz4 libcrypto)
for t in "${targets[@]}"; do
  clang++ "${flags[@]}" -fsanitize=fuzzer "${objs[@]}" "tests/fuzz/${t}_fuzz.cpp" $libs \
    -o "$out/${t}_fuzz"
  mkdir -p "$out/corpus-$t"
done
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}:suppressions=$PWD/tests/fuzz/ubsan.supp"
if [ ! -f "$out/seeds.done" ]; then
  clang++ "${flags[@]}" "${objs[@]}" tests/fuzz/write_seeds.cpp $libs -o "$out/write_seeds"
  mkdir -p "$out/corpus-json" "$out/corpus-placeholder"
  "$out/write_seeds" "$out/corpus-json" "$out/corpus-placeholder" && touch "$out/seeds.done"
fi
for t in "${targets[@]}"; do
  echo "== $t"
  (cd "$out" && "./${t}_fuzz" "${limit[@]}" -max_len=4096 -print_final_stats=1 "corpus-$t")
done
