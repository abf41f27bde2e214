#!/usr/bin/env bash
# Installs the Debian 12 packages that building, the demo and the tests need.
# Idempotent and non-interactive: installs only what is missing.
set -euo pipefail

packages=(
  # build
  build-essential cmake pkg-config clang-format git
  # the libFuzzer build (scripts/fuzz.sh)
  clang libclang-rt-14-dev
  # libraries (README.md says why each one)
  libssl-dev libmicrohttpd-dev libgnutls28-dev libboost-dev librocksdb-dev libp11-dev libp11-kit-dev
  libtomlplusplus-dev libspdlog-dev libfmt-dev libcli11-dev libexpected-dev nlohmann-json3-dev
  libcurl4-openssl-dev
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev
  # the demo's HSM and the real clients the tests drive
  softhsm2 openssl curl
  # strongSwan's EST client (pki --est, --estca); its openssl plugin does the ECDSA
  strongswan-pki libstrongswan-standard-plugins
)

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done
if ((${#missing[@]} == 0)); then
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
echo "install-deps: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
