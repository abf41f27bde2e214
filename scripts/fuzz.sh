#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) and fuzzes the CMP request handler.
#   ./scripts/fuzz.sh [SECONDS]    (default 60)
# New inputs go to build-fuzz/corpus/cmp; copy the ones that found a crash into
# tests/fuzz/corpus/cmp/ so that every test run replays them (cmp_fuzz_corpus_replay).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
./scripts/install-deps.sh
CC=clang CXX=clang++ cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug -DENROLLD_FUZZ=ON -DENROLLD_SANITIZE=ON \
  -DENROLLD_BENCH=OFF > /dev/null
cmake --build build-fuzz -j2 --target cmp_request_fuzzer
mkdir -p build-fuzz/corpus/cmp build-fuzz/crashes
./build-fuzz/tests/fuzz/cmp_request_fuzzer -max_total_time="$seconds" -max_len=8192 -timeout=10 \
  -artifact_prefix=build-fuzz/crashes/ build-fuzz/corpus/cmp tests/fuzz/corpus/cmp
