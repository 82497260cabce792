#!/usr/bin/env bash
# Coverage-guided fuzzing of session::decode with libFuzzer (clang), ASan and UBSan.
#   scripts/fuzz.sh [seconds=60]
# Crashes are written to build-fuzz/crash-*; the corpus grows in build-fuzz/corpus/.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
command -v clang++ >/dev/null || {
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q clang libclang-rt-14-dev >/dev/null
}
mkdir -p build-fuzz/corpus
clang++ -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -DMSGPACK_NO_BOOST \
  -Iinclude -Isrc -Itests/fuzz src/*.cpp tests/fuzz/decode_fuzz.cpp \
  $(pkg-config --cflags --libs libzmq liblz4 libcrypto) -o build-fuzz/decode_fuzz
cd build-fuzz
./decode_fuzz -max_total_time="$seconds" -max_len=4096 -print_final_stats=1 corpus
