#!/usr/bin/env bash
# Fetches Debian 13's openssl 3.5 client by package name (apt-get download against a private
# trixie source list), unpacks it with dpkg -x under DEST and writes DEST/openssl35, a wrapper
# that runs it through its own loader. Nothing is installed into the system.
# OpenSSL 3.5's `openssl cmp` has what Debian 12's 3.0 lacks (genm caCerts, certReqTemplate,
# rootCaKeyUpdate, crlStatusList, central key generation, profiles), so tests drive it as the
# second real client. Usage: fetch-openssl35.sh DEST   (idempotent)
set -euo pipefail
dest="$(mkdir -p "$1" && cd "$1" && pwd)"
wrapper="$dest/openssl35"
if [ -x "$wrapper" ] && "$wrapper" version >/dev/null 2>&1; then exit 0; fi

apt_dir="$dest/apt"
rm -rf "$apt_dir" "$dest/root"
mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$apt_dir/sources.list.d" "$apt_dir/debs" "$dest/root"
echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main" \
  > "$apt_dir/sources.list"
options=(-o "Dir::Etc::sourcelist=$apt_dir/sources.list" -o "Dir::Etc::sourceparts=$apt_dir/sources.list.d"
         -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache" -o Debug::NoLocking=1
         -o APT::Sandbox::User=root)
apt-get "${options[@]}" -qq update
(cd "$apt_dir/debs" && apt-get "${options[@]}" -qq download openssl libssl3t64 libc6 libzstd1 zlib1g)
for deb in "$apt_dir/debs"/*.deb; do dpkg -x "$deb" "$dest/root"; done

lib="$dest/root/usr/lib/x86_64-linux-gnu"
cat > "$wrapper" <<WRAP
#!/bin/sh
exec "$lib/ld-linux-x86-64.so.2" --library-path "$lib" "$dest/root/usr/bin/openssl" "\$@"
WRAP
chmod +x "$wrapper"
"$wrapper" version
