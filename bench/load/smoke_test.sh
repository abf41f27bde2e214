#!/usr/bin/env bash
# Smoke test of enroll-load (ctest EnrollLoadSmoke, label integration): starts a fresh
# `enrolld demo` in a temporary folder, runs every enrollment scenario with --count 20
# --threads 2 and every certificate checked, and fails unless each reports 20 completed and 0
# errors; then open-txns (20 left open, the held certConfs sent afterwards must all be
# answered with pkiConf) and rejects (200 refused as expected). A check that the tool works end
# to end, never a timing. Bounded: the demo gets 60 s to come up, each run 120 s; the demo is
# stopped on every exit.
#
# Usage: smoke_test.sh ENROLLD_BIN ENROLL_LOAD_BIN
set -euo pipefail

enrolld=${1:?usage: smoke_test.sh ENROLLD_BIN ENROLL_LOAD_BIN}
load=${2:?usage: smoke_test.sh ENROLLD_BIN ENROLL_LOAD_BIN}
work=$(mktemp -d "${TMPDIR:-/tmp}/enroll-load-smoke.XXXXXX")
demo_pid=""

# shellcheck source=bench/stop_pid.sh
source "$(dirname "$0")/../stop_pid.sh"
cleanup() {
  stop_pid "$demo_pid"
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$enrolld" demo --dir "$work/demo" --http-port 0 > "$work/demo.log" 2>&1 &
demo_pid=$!
for _ in $(seq 1 600); do
  [[ -f "$work/demo/endpoints.env" ]] && break
  if ! kill -0 "$demo_pid" 2>/dev/null; then
    echo "enrolld demo exited before writing endpoints.env:" >&2
    cat "$work/demo.log" >&2
    exit 1
  fi
  sleep 0.1
done
if [[ ! -f "$work/demo/endpoints.env" ]]; then
  echo "enrolld demo did not write endpoints.env within 60 s:" >&2
  cat "$work/demo.log" >&2
  exit 1
fi

failed=0
run() {
  local name=$1
  shift
  local out="$work/$name.json" err="$work/$name.txt" rc=0
  timeout 120 "$load" --endpoints "$work/demo/endpoints.env" --server-pid "$demo_pid" \
    --count 20 --threads 2 --verify-every 1 "$@" > "$out" 2> "$err" || rc=$?
  # The JSON line: nlohmann::json writes keys sorted, without blanks.
  if [[ $rc -eq 0 ]] && grep -q '"completed":20,' "$out" && grep -q '"errors":0,' "$out" &&
     grep -q '"verified":20,' "$out"; then
    echo "ok   $name: $(grep -o '"tx_per_s":[0-9.]*' "$out")"
  else
    echo "FAIL $name (exit $rc)"
    cat "$err" "$out"
    failed=1
  fi
}

run ir-mac --scenario ir-mac
run ir-sig --scenario ir-sig
run kur --scenario kur
run p10cr --scenario p10cr
run est-keepalive --scenario est-keepalive
run est-handshake --scenario est-handshake
run est-keepalive-cert --scenario est-keepalive --est-auth cert
run open-txns --scenario open-txns

# open-txns: also every held certConf sent afterwards answered with pkiConf (still open).
probed=$(grep -o '"probed":[0-9]*' "$work/open-txns.json" | cut -d: -f2 || true)
confirmed=$(grep -o '"confirmed":[0-9]*' "$work/open-txns.json" | cut -d: -f2 || true)
if [[ -n "$probed" && "$probed" -gt 0 && "$confirmed" == "$probed" ]]; then
  echo "ok   open-txns: $confirmed of $probed held certConfs confirmed afterwards"
else
  echo "FAIL open-txns: held certConfs confirmed afterwards: ${confirmed:-?} of ${probed:-?}"
  failed=1
fi

# rejects: nothing is issued, so nothing to verify; 200 requests, each refused as expected.
rc=0
timeout 120 "$load" --endpoints "$work/demo/endpoints.env" --server-pid "$demo_pid" --scenario rejects \
  --count 200 --threads 2 > "$work/rejects.json" 2> "$work/rejects.txt" || rc=$?
if [[ $rc -eq 0 ]] && grep -q '"completed":200,' "$work/rejects.json" && grep -q '"errors":0,' "$work/rejects.json"; then
  echo "ok   rejects: $(grep -o '"rejected_as":{[^}]*}' "$work/rejects.json")"
else
  echo "FAIL rejects (exit $rc)"
  cat "$work/rejects.txt" "$work/rejects.json"
  failed=1
fi

if [[ $failed -ne 0 ]]; then
  echo "--- demo log (tail) ---"
  tail -50 "$work/demo.log"
fi
exit $failed
