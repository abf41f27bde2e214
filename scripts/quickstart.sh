#!/usr/bin/env bash
# Installs what is missing, builds (Release), creates the demo instance if absent, and runs the
# appliance in the foreground, printing its endpoints. Stop it with Ctrl-C.
#   ENROLLD_DEMO_DIR   where the demo instance lives (default: var/demo in this checkout)
#   ENROLLD_HTTP_PORT  HTTP port (default: 0, a free port; endpoints.env names it)
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install-deps.sh
# Ninja for a new build folder (about a fifth faster than make here); one that exists keeps its own.
export CMAKE_GENERATOR="${CMAKE_GENERATOR:-Ninja}"
cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release -DENROLLD_TESTS=OFF > /dev/null
cmake --build build-release -j2

demo_dir="${ENROLLD_DEMO_DIR:-var/demo}"
mkdir -p "$demo_dir"
exec ./build-release/src/app/enrolld demo --dir "$demo_dir" --http-port "${ENROLLD_HTTP_PORT:-0}"
