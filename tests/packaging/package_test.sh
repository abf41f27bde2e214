#!/usr/bin/env bash
# The packages as an operator gets them (ctest label "packaging"; see CMakeLists.txt here).
#   package_test.sh build    SOURCE_DIR BUILD_DIR   scripts/package.sh on this build
#   package_test.sh lintian  SOURCE_DIR BUILD_DIR   lintian: no errors, no warnings
#   package_test.sh rpm      SOURCE_DIR BUILD_DIR   rpm -qpl / -qpc / -qpR list what they must
#   package_test.sh install  SOURCE_DIR BUILD_DIR   apt-get install ./enrolld_*.deb into a clean
#       Debian 12 root (debootstrap), then there: the installed programs, the user and folders,
#       the config check, systemd-analyze verify of the unit, and the README's first run (a CA
#       in SoftHSM, enrolld started, an openssl cmp enrollment from outside the root); then the
#       root booted with systemd (systemd-nspawn) runs enrolld.service: notify, sandbox, an
#       enrollment, reload, stop.
set -euo pipefail
step="$1" source_dir="$2" build_dir="$3"
version="$(grep -oP 'set\(CPACK_PACKAGE_VERSION "\K[^"]+' "$build_dir/CPackConfig.cmake")"
deb="$source_dir/dist/enrolld_${version}_amd64.deb"
rpm="$source_dir/dist/enrolld-${version}.x86_64.rpm"
# The load tool ships when the build has it (ENROLLD_BENCH).
load_tool=()
if [ -x "$build_dir/bench/enroll-load" ]; then load_tool=(enroll-load); fi

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

check_build() {
  "$source_dir/scripts/package.sh" "$build_dir"
  [ -s "$deb" ] || fail "$deb was not made"
  [ -s "$rpm" ] || fail "$rpm was not made"
}

check_lintian() {
  # Root is what CI runs as; lintian only warns about it.
  lintian --fail-on error,warning --tag-display-limit 0 "$deb" 2>&1 | grep -v 'running with root privileges' || true
  lintian --fail-on error,warning "$deb" > /dev/null 2>&1 || fail "lintian reports errors or warnings (above)"
  echo "lintian: no errors, no warnings"
}

expect_listed() {
  local what="$1" listing="$2"
  shift 2
  for item in "$@"; do
    grep -qxF -- "$item" <<< "$listing" || fail "$what lacks $item; it lists:"$'\n'"$listing"
  done
}

check_rpm() {
  local files config requires
  files="$(rpm -qpl "$rpm")"
  if ((${#load_tool[@]})); then expect_listed "rpm -qpl" "$files" /usr/bin/enroll-load /usr/share/man/man1/enroll-load.1.gz; fi
  expect_listed "rpm -qpl" "$files" /usr/bin/enrolld /usr/bin/enrollctl \
    /etc/enrolld/enrolld.conf /usr/lib/systemd/system/enrolld.service /usr/lib/sysusers.d/enrolld.conf \
    /usr/lib/tmpfiles.d/enrolld.conf /usr/share/man/man8/enrolld.8.gz /usr/share/man/man8/enrollctl.8.gz \
    /usr/share/doc/enrolld/examples/profiles.example.toml
  # Only our own files: no system folder is claimed, no build-id links.
  if grep -qxE '/etc|/usr/bin|/usr/lib|/usr/lib/systemd(/system)?|/usr/share/man(/man[18])?|/usr/lib/\.build-id.*' \
    <<< "$files"; then
    fail "the RPM claims a system folder: $files"
  fi
  config="$(rpm -qpc "$rpm")"
  expect_listed "rpm -qpc (config files)" "$config" /etc/enrolld/enrolld.conf
  requires="$(rpm -qpR "$rpm")"
  expect_listed "rpm -qpR" "$requires" 'libssl.so.3()(64bit)' 'librocksdb.so.7.8()(64bit)' \
    'libmicrohttpd.so.12()(64bit)' 'libp11.so.3()(64bit)'
  rpm -qp --scripts "$rpm" | grep -q 'systemd-sysusers enrolld.conf' || fail "the RPM's %post makes no user"
  echo "rpm: $(wc -l <<< "$files") files, config and requirements as expected"
}

# --- install: a clean Debian 12 root.
root=""
pids=()
container_init=""
cleanup() {
  stop_pids
  if [ -n "$root" ]; then
    umount "$root/proc" 2>/dev/null || true
    rm -rf "$root"
  fi
}

in_root() { chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 "$@"; }
as_enrolld() { in_root runuser -u enrolld -- "$@"; }

# A minbase root made once per build folder and kept pristine: each run installs into a copy.
pristine_root() {
  local pristine="$build_dir/packaging-root"
  if [ ! -f "$pristine/.complete" ]; then
    rm -rf "$pristine"
    timeout 900 debootstrap --variant=minbase bookworm "$pristine" http://deb.debian.org/debian > "$build_dir/debootstrap.log" 2>&1 ||
      { tail -20 "$build_dir/debootstrap.log" >&2; fail "debootstrap failed"; }
    touch "$pristine/.complete"
  fi
  echo "$pristine"
}

check_install() {
  [ "$(id -u)" = 0 ] || fail "the install test needs root (debootstrap, chroot); CI runs as root"
  local pristine
  pristine="$(pristine_root)"
  root="$(mktemp -d "$build_dir/packaging-install.XXXXXX")"
  trap cleanup EXIT
  cp -a "$pristine/." "$root/"
  cp /etc/resolv.conf "$root/etc/resolv.conf"
  mount -t proc proc "$root/proc" 2>/dev/null || true
  cp "$deb" "$root/tmp/"

  echo "== apt-get install ./$(basename "$deb") in a clean Debian 12 root"
  in_root apt-get update -qq
  in_root sh -c "cd /tmp && DEBIAN_FRONTEND=noninteractive apt-get install -y -q ./$(basename "$deb")" > "$root.apt.log" 2>&1 ||
    { tail -30 "$root.apt.log" >&2; fail "apt-get install failed"; }
  rm -f "$root.apt.log"

  echo "== the installed programs"
  in_root enrolld --version | grep -qx "enrolld $version" || fail "enrolld --version"
  in_root enrollctl --help | grep -q "status" || fail "enrollctl --help"
  if ((${#load_tool[@]})); then in_root enroll-load --help > /dev/null || fail "enroll-load --help"; fi
  in_root enrolld --config /etc/enrolld/enrolld.conf --check-config | grep -q ": OK" || fail "the config check"
  [ "$(in_root stat -c '%U:%G %a' /etc/enrolld/enrolld.conf)" = "root:enrolld 640" ] || fail "config permissions"
  [ "$(in_root stat -c '%U:%G %a' /var/lib/enrolld)" = "enrolld:enrolld 750" ] || fail "state folder"
  in_root id -nG enrolld | grep -qw softhsm || fail "enrolld is not in the softhsm group"
  in_root test ! -e /var/lib/enrolld/db || fail "installing made a store"
  in_root sh -c 'ls /var/lib/softhsm/tokens | grep -q .' && fail "installing made a token"

  echo "== systemd-analyze verify (systemd and man-db added to the root)"
  in_root sh -c "DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends systemd man-db" \
    > /dev/null 2>&1 || fail "installing systemd into the root"
  in_root systemd-analyze verify /usr/lib/systemd/system/enrolld.service || fail "systemd-analyze verify"
  in_root man -w enrolld enrollctl "${load_tool[@]}" > /dev/null || fail "man pages"

  first_run
  under_systemd
}

# The first-run steps of /etc/enrolld/enrolld.conf, as written there, then an enrollment.
first_run() {
  echo "== first run: the steps in /etc/enrolld/enrolld.conf"
  local steps
  steps="$(sed -n '/^# FIRST RUN/,/^#   4\./p' "$root/etc/enrolld/enrolld.conf" | sed -n 's/^#        //p' |
    sed -e ':a' -e '/\\$/N; s/\\\n//; ta')"
  [ "$(grep -c '^sudo -u enrolld' <<< "$steps")" = 3 ] || fail "the first-run steps changed: $steps"
  while IFS= read -r command; do
    command="${command//sudo -u enrolld /runuser -u enrolld -- }"
    echo "+ $command"
    in_root bash -c "$command" || fail "first-run step failed: $command"
  done < <(sed -n '/^sudo -u enrolld/p' <<< "$steps")

  local http_port admin_port secret
  secret="$(openssl rand -hex 16)"
  # What an operator edits: ports (free ones here: this machine runs other tests) and one MAC
  # credential.
  sed -i -e "s/^# http_port = 8080/http_port = 0/" -e "s/^# port = 8081/port = 0/" "$root/etc/enrolld/enrolld.conf"
  printf '\n[[cmp.credential]]\nreference = "first-device"\nsecret = "%s"\n' "$secret" >> "$root/etc/enrolld/enrolld.conf"
  as_enrolld enrolld --config /etc/enrolld/enrolld.conf --check-config > /dev/null || fail "the edited config"

  # chroot execs enrolld (no runuser in between), so $! is enrolld's own pid.
  local uid gid softhsm
  uid="$(in_root id -u enrolld)" gid="$(in_root id -g enrolld)" softhsm="$(in_root getent group softhsm | cut -d: -f3)"
  chroot --userspec="$uid:$gid" --groups="$gid,$softhsm" "$root" /usr/bin/env -i PATH=/usr/bin:/bin LANG=C.UTF-8 \
    enrolld --config /etc/enrolld/enrolld.conf > "$root.enrolld.log" 2>&1 &
  pids+=($!)
  local serving=""
  for _ in $(seq 100); do
    serving="$(grep -o 'enrolld serving: .*' "$root.enrolld.log" || true)"
    [ -n "$serving" ] && break
    sleep 0.2
  done
  http_port="$(sed -n 's/.* http=127.0.0.1:\([0-9]*\).*/\1/p' <<< "$serving")"
  admin_port="$(sed -n 's/.* admin=127.0.0.1:\([0-9]*\).*/\1/p' <<< "$serving")"
  [ -n "$http_port" ] && [ -n "$admin_port" ] || { cat "$root.enrolld.log" >&2; fail "enrolld did not start serving"; }
  curl -sf "http://127.0.0.1:$admin_port/readyz" > /dev/null || { cat "$root.enrolld.log" >&2; fail "enrolld is not ready"; }

  local work
  work="$(mktemp -d)"
  openssl ecparam -genkey -name prime256v1 -out "$work/device.key" 2> /dev/null
  openssl cmp -cmd ir -server "127.0.0.1:$http_port/.well-known/cmp" -ref first-device -secret "pass:$secret" \
    -newkey "$work/device.key" -subject /CN=first-device -certout "$work/device.pem" ||
    { cat "$root.enrolld.log" >&2; fail "openssl cmp ir against the installed enrolld"; }
  openssl verify -CAfile "$root/var/lib/enrolld/ca/root.pem" -untrusted "$root/var/lib/enrolld/ca/issuing.pem" \
    "$work/device.pem" || fail "the issued certificate does not verify"
  as_enrolld enrollctl --admin-url "http://127.0.0.1:$admin_port" status | tee "$work/status" | grep -q "Example Issuing CA" || fail "enrollctl status"
  rm -rf "$work" "$root.enrolld.log"
  echo "first run: a CA in SoftHSM, enrolld serving, a device enrolled"
  stop_pids
}

stop_pids() {
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  pids=()
}

# Runs a command inside the booted container, as its PID 1 sees the system.
in_container() { nsenter -t "$container_init" -a -- /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin "$@"; }

# The same appliance as the unit runs it: the root booted with systemd (systemd-nspawn, the
# host's network), enrolld.service enabled. Type=notify must report it started, the sandbox must
# let it sign in SoftHSM and write its store, reload must re-read the config, stop must stop it.
under_systemd() {
  echo "== enrolld.service under systemd (systemd-nspawn --boot)"
  in_root sh -c "DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends systemd-sysv dbus" \
    > /dev/null 2>&1 || fail "installing systemd-sysv into the root"
  in_root systemctl enable enrolld.service > /dev/null 2>&1 || fail "systemctl enable enrolld"
  umount "$root/proc" 2>/dev/null || true  # the container mounts its own
  timeout 300 systemd-nspawn -q --register=no --keep-unit -D "$root" --boot > "$root.boot.log" 2>&1 &
  local nspawn=$!
  pids+=("$nspawn")
  container_init=""
  local state=""
  for _ in $(seq 300); do
    if [ -z "$container_init" ]; then
      local child
      child="$(pgrep -P "$nspawn" | head -1 || true)"
      [ -n "$child" ] && container_init="$(pgrep -P "$child" -x systemd | head -1 || true)"
    fi
    if [ -n "$container_init" ]; then
      state="$(in_container systemctl is-active enrolld.service 2>/dev/null || true)"
      [ "$state" = active ] || [ "$state" = failed ] && break
    fi
    sleep 0.2
  done
  [ -n "$container_init" ] || { cat "$root.boot.log" >&2; fail "the root did not boot with systemd-nspawn"; }
  [ "$state" = active ] ||
    { in_container journalctl -u enrolld --no-pager >&2 || true; fail "enrolld.service is $state, not active"; }

  local show serving http_port secret work
  show="$(in_container systemctl show enrolld.service -p User -p ProtectSystem -p NoNewPrivileges -p Type)"
  for expected in User=enrolld ProtectSystem=strict NoNewPrivileges=yes Type=notify; do
    grep -qx "$expected" <<< "$show" || fail "the unit runs without $expected: $show"
  done
  serving="$(in_container journalctl -u enrolld -o cat --no-pager | grep 'enrolld serving: ' | tail -1)"
  http_port="$(sed -n 's/.* http=127.0.0.1:\([0-9]*\).*/\1/p' <<< "$serving")"
  [ -n "$http_port" ] || fail "no serving line in the journal: $serving"
  secret="$(sed -n 's/^secret = "\(.*\)"$/\1/p' "$root/etc/enrolld/enrolld.conf" | tail -1)"
  work="$(mktemp -d)"
  openssl ecparam -genkey -name prime256v1 -out "$work/device.key" 2> /dev/null
  openssl cmp -cmd ir -server "127.0.0.1:$http_port/.well-known/cmp" -ref first-device -secret "pass:$secret" \
    -newkey "$work/device.key" -subject /CN=under-systemd -certout "$work/device.pem" 2> "$work/cmp.log" ||
    { cat "$work/cmp.log" >&2; in_container journalctl -u enrolld --no-pager >&2; fail "openssl cmp under systemd"; }
  openssl verify -CAfile "$root/var/lib/enrolld/ca/root.pem" -untrusted "$root/var/lib/enrolld/ca/issuing.pem" \
    "$work/device.pem" > /dev/null || fail "the certificate issued under systemd does not verify"
  rm -rf "$work"

  in_container systemctl reload enrolld.service || fail "systemctl reload enrolld"
  in_container systemctl show enrolld.service -p StatusText | grep -q "configuration reloaded" ||
    fail "after a reload the unit's status is: $(in_container systemctl show enrolld.service -p StatusText)"
  in_container journalctl -u enrolld -o cat --no-pager | grep -q "reload ok" || fail "no 'reload ok' in the journal"
  in_container systemctl stop enrolld.service || fail "systemctl stop enrolld"
  [ "$(in_container systemctl is-active enrolld.service || true)" = inactive ] || fail "enrolld did not stop"
  in_container journalctl -u enrolld -o cat --no-pager | grep -q "enrolld stopped" || fail "no clean stop in the journal"
  in_container systemctl poweroff > /dev/null 2>&1 || true
  stop_pids
  rm -f "$root.boot.log"
  echo "under systemd: started (notify), sandboxed, enrolled a device, reloaded, stopped"
}

case "$step" in
  build) check_build ;;
  lintian) check_lintian ;;
  rpm) check_rpm ;;
  install) check_install ;;
  *) fail "unknown step $step" ;;
esac
