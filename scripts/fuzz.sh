#!/usr/bin/env bash
# Builds a libFuzzer target with clang (ASan + UBSan) and fuzzes a request handler.
#   ./scripts/fuzz.sh [SECONDS] [TARGET]    (default 60 seconds; TARGET cmp (default) or est)
# New inputs go to build-fuzz/corpus/TARGET; copy the ones that found a crash into
# tests/fuzz/corpus/TARGET/ so that every test run replays them (cmp_fuzz_corpus_replay,
# est_fuzz_corpus_replay).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
target="${2:-cmp}"
case "$target" in
  cmp | est) ;;
  *)
    echo "usage: $0 [SECONDS] [cmp|est]" >&2
    exit 2
    ;;
esac
./scripts/install-deps.sh
CC=clang CXX=clang++ cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug -DENROLLD_FUZZ=ON -DENROLLD_SANITIZE=ON \
  -DENROLLD_BENCH=OFF > /dev/null
cmake --build build-fuzz -j2 --target "${target}_request_fuzzer"
mkdir -p "build-fuzz/corpus/$target" build-fuzz/crashes
prefix="build-fuzz/crashes/"
if [ "$target" = est ]; then
  prefix="build-fuzz/crashes/est-"
  # Full unwinding on every malloc (src/common/sanitizer_defaults.cpp) costs EST, which allocates
  # much per request, most of its speed; reports of a crash still unwind fully.
  export ASAN_OPTIONS="${ASAN_OPTIONS:-fast_unwind_on_malloc=1}"
fi
./build-fuzz/tests/fuzz/"${target}_request_fuzzer" -max_total_time="$seconds" -max_len=8192 -timeout=10 \
  -artifact_prefix="$prefix" "build-fuzz/corpus/$target" "tests/fuzz/corpus/$target"
