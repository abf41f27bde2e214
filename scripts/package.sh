#!/usr/bin/env bash
# Builds the appliance's packages from one build:
#   dist/enrolld_<version>_amd64.deb and dist/enrolld-<version>.x86_64.rpm
# (CPack's DEB and RPM generators over one install tree; packaging/CMakeLists.txt says what is
# in them). Without an argument it configures and builds build-package (Release); with one it
# packages that already configured build folder (the test suite packages its own build).
set -euo pipefail
cd "$(dirname "$0")/.."

build_dir="${1:-}"
if [ -z "$build_dir" ]; then
  ./scripts/install-deps.sh
  build_dir=build-package
  cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release > /dev/null
fi
if [ ! -f "$build_dir/CPackConfig.cmake" ]; then
  echo "package.sh: $build_dir is not a configured enrolld build" >&2
  exit 2
fi
cmake --build "$build_dir" -j2

version="$(grep -oP 'set\(CPACK_PACKAGE_VERSION "\K[^"]+' "$build_dir/CPackConfig.cmake")"
mkdir -p dist
rm -f "dist/enrolld_${version}_amd64.deb" "dist/enrolld-${version}.x86_64.rpm"
(cd "$build_dir" && cpack -G "DEB;RPM" > cpack.log 2>&1) || { cat "$build_dir/cpack.log" >&2; exit 1; }
for package in "dist/enrolld_${version}_amd64.deb" "dist/enrolld-${version}.x86_64.rpm"; do
  [ -f "$package" ] || { echo "package.sh: $package was not made" >&2; cat "$build_dir/cpack.log" >&2; exit 1; }
  echo "$package"
done
