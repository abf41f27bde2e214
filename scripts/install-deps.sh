#!/usr/bin/env bash
# Installs the Debian 12 packages that building, the demo and the tests need.
# Idempotent and non-interactive: installs only what is missing.
set -euo pipefail

packages=(
  # build
  build-essential cmake ninja-build pkg-config clang-format git
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
  # the LDAP publisher (libldap) and its tests: a real OpenLDAP slapd, started by the tests on a
  # free port with their own throwaway config, checked with ldapsearch
  slapd ldap-utils libldap-dev
  # sd_notify (libsystemd): READY, RELOADING and STOPPING under systemd's Type=notify
  libsystemd-dev
  # packages (scripts/package.sh): CPack's RPM generator runs rpmbuild; man pages from --help;
  # the packaging tests check with lintian, install the .deb into a debootstrap root and boot
  # that root with systemd-nspawn to run enrolld.service under a real systemd
  rpm help2man lintian debootstrap systemd-container
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
# slapd's postinst would otherwise make a system directory (dc=<host domain>, a random admin
# password) and start a system slapd on port 389 that nothing here uses: ask it for no
# configuration, so a fresh machine gets the binaries only. Set only when slapd is being
# installed now, so an existing system slapd's answers stay as they are.
if [[ " ${missing[*]} " == *" slapd "* ]]; then
  echo "slapd slapd/no_configuration boolean true" | $sudo debconf-set-selections
fi
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
