#!/usr/bin/env bash
# bench/run.sh: the benchmark figures of issue 7 in one run on one machine, with their ratios.
#
#   1. the crypto floor: `openssl speed` (ECDSA P-256 sign/verify, X25519) and the micro
#      benchmarks (all of them, listed in the report; the floor takes SoftHSM signing through
#      the signer, PBM KDF at 500 iterations, synced store commit) → the least CPU each
#      scenario's server side must spend (arithmetic printed);
#   2. enroll-load against a fresh `enrolld demo` (--server-pid: server CPU per transaction, peak
#      RSS) for every scenario, and ir-mac with 1 and 2 server threads;
#   3. the same ir-mac load against OpenSSL's own mock server (`openssl cmp -port`, implicit
#      confirmation granted, a canned certificate), the peer;
#   4. the server's memory, each on a fresh demo of its own: open-txns (N transactions left
#      waiting for certConf, VmRSS before and after, then --hold S more seconds with them open)
#      and rejects (N refused requests, VmRSS every N/10);
#   5. markdown tables of tx/s, p50/p99, server and client CPU per transaction and the ratios
#      to the floor and to the peer, and of the memory figures, written to
#      bench/results/<date>.md (and printed).
#
# Usage: bench/run.sh [--build DIR] [--duration S] [--warmup S] [--threads N] [--out FILE]
#                     [--open-txns N] [--rejects N] [--hold S] [--no-build] [--quick]
#   --quick: 1 s warmup, 3 s per row, open-txns 1000, rejects 10000, no hold, shorter micro runs
#   defaults: open-txns 10000, rejects 100000, hold 35 s (past one deadline sweep, every 30 s)
# Needs: a Release build (made here unless --no-build), openssl, python3, timeout.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build="$root/build-bench"
duration=10
warmup=2
threads=4
out=""
do_build=1
open_txns=10000
rejects=100000
hold=35
micro_min_time=1
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build) build=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --warmup) warmup=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --open-txns) open_txns=$2; shift 2 ;;
    --rejects) rejects=$2; shift 2 ;;
    --hold) hold=$2; shift 2 ;;
    --no-build) do_build=0; shift ;;
    --quick) duration=3; warmup=1; open_txns=1000; rejects=10000; hold=0; micro_min_time=0.2; shift ;;
    -h|--help) sed -n '2,26p' "$0"; exit 0 ;;
    *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
# Without --out: today's file, or the first of today-2, today-3, ... that is free (never overwrites).
if [[ -z "$out" ]]; then
  out="$root/bench/results/$(date +%F).md"
  for n in $(seq 2 99); do
    [[ -e "$out" ]] || break
    out="$root/bench/results/$(date +%F)-$n.md"
  done
  [[ ! -e "$out" ]] || { echo "every results name for today is taken; give --out" >&2; exit 2; }
fi

if [[ $do_build -eq 1 ]]; then
  if [[ ! -f "$build/CMakeCache.txt" ]]; then
    cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release > /dev/null
  fi
  cmake --build "$build" -j2 --target enrolld enroll-load enrolld_micro_bench > /dev/null
fi
enrolld="$build/src/app/enrolld"
load="$build/bench/enroll-load"
micro="$build/bench/enrolld_micro_bench"
for f in "$enrolld" "$load"; do
  [[ -x "$f" ]] || { echo "missing $f (build it, or drop --no-build)" >&2; exit 1; }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/enrolld-bench.XXXXXX")
demo_pid=""
mock_pid=""
# shellcheck source=bench/stop_pid.sh
source "$root/bench/stop_pid.sh"
cleanup() {
  stop_pid "$demo_pid"
  stop_pid "$mock_pid"
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

results="$work/results.jsonl"
memory="$work/memory.jsonl"
: > "$results"
: > "$memory"
log() { echo "== $*" >&2; }

# 1. The floor ---------------------------------------------------------------------------------
log "openssl speed (ECDSA P-256, X25519)"
openssl speed -mr -seconds 2 ecdsap256 ecdhx25519 2>/dev/null | grep '^+F' > "$work/speed.txt" || true
if [[ -x "$micro" ]]; then
  log "micro benchmarks (SoftHSM sign, PBM KDF, store writes, in-process ir, CRL, OCSP, EST CSR)"
  # A failing micro benchmark means the floor is unknown: the run stops, saying why.
  rc=0
  timeout 900 "$micro" --benchmark_min_time="$micro_min_time" --benchmark_out="$work/micro.json" \
    --benchmark_out_format=json > "$work/micro.txt" 2> "$work/micro.err" || rc=$?
  if [[ $rc -ne 0 ]]; then
    echo "enrolld_micro_bench exited with $rc:" >&2
    tail -5 "$work/micro.err" >&2
    exit 1
  fi
else
  echo "no $micro: the floor lacks the SoftHSM and store figures" >&2
  echo '{}' > "$work/micro.json"
fi

# 2. enrolld demo ------------------------------------------------------------------------------
start_demo() {  # [DIR]: the demo in DIR (made there if new), default $work/demo
  local dir=${1:-$work/demo}
  rm -f "$dir/endpoints.env"
  "$enrolld" demo --dir "$dir" --http-port 0 >> "$work/demo.log" 2>&1 &
  demo_pid=$!
  for _ in $(seq 1 600); do
    [[ -f "$dir/endpoints.env" ]] && return 0
    kill -0 "$demo_pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "enrolld demo did not come up:" >&2
  tail -30 "$work/demo.log" >&2
  exit 1
}

run_load() {  # LABEL PID ARGS...: one enroll-load run, its JSON line appended to results
  local label=$1 pid=$2
  shift 2
  local line
  log "enroll-load $label $*"
  line=$(timeout $((duration + warmup + 120)) "$load" --label "$label" --server-pid "$pid" \
    --warmup "$warmup" --duration "$duration" "$@" 2> "$work/last.err") || true
  cat "$work/last.err" >&2
  if [[ -n "$line" ]]; then
    echo "$line" >> "$results"
  else
    echo "enroll-load gave no result for $label" >&2
  fi
}

start_demo
ep="$work/demo/endpoints.env"
for scenario in ir-mac ir-sig kur p10cr; do
  run_load enrolld "$demo_pid" --endpoints "$ep" --scenario "$scenario" --threads "$threads"
done
run_load enrolld "$demo_pid" --endpoints "$ep" --scenario est-keepalive --est-auth cert --threads "$threads"
run_load enrolld-basic "$demo_pid" --endpoints "$ep" --scenario est-keepalive --est-auth basic --threads "$threads"
run_load enrolld "$demo_pid" --endpoints "$ep" --scenario est-handshake --est-auth cert --threads "$threads"
# Half of the measured maximum, for the latency target (p99 at half load): one client thread.
run_load enrolld-1client "$demo_pid" --endpoints "$ep" --scenario ir-mac --threads 1

# Server threads: the same ir-mac load with [server] threads = 1.
stop_pid "$demo_pid"
demo_pid=""
sed -i 's/^threads = .*/threads = 1/' "$work/demo/enrolld.toml"
start_demo
run_load enrolld-1thread "$demo_pid" --endpoints "$ep" --scenario ir-mac --threads "$threads"
stop_pid "$demo_pid"
demo_pid=""

# 3. OpenSSL's mock server ---------------------------------------------------------------------
# Any certificate will do as the canned answer: the demo's device certificate.
a_cert=$(grep '^CMP_CLIENT_CERT=' "$ep" | cut -d= -f2-)
openssl cmp -port 0 -srv_ref bench -srv_secret pass:bench-secret-0123 -rsp_cert "$a_cert" \
  -grant_implicitconf > "$work/mock.log" 2>&1 &
mock_pid=$!
mock_port=""
for _ in $(seq 1 100); do
  mock_port=$(grep -o 'ACCEPT [^ ]*' "$work/mock.log" 2>/dev/null | sed 's/.*://' || true)
  [[ -n "$mock_port" ]] && break
  sleep 0.1
done
if [[ -n "$mock_port" ]]; then
  # The mock holds one transaction at a time and closes the connection after it.
  run_load openssl-mock "$mock_pid" --url "http://127.0.0.1:$mock_port/" --ref bench --secret bench-secret-0123 \
    --scenario ir-mac --accept-any-cert --threads "$threads"
else
  echo "openssl cmp -port did not start:" >&2
  cat "$work/mock.log" >&2
fi
stop_pid "$mock_pid"
mock_pid=""

# 4. Server memory -----------------------------------------------------------------------------
# Each on a fresh demo: what the server holds comes from this scenario alone, and the
# transactions left open expire (and their certificates are revoked) after the run, not into
# another one's.
run_count() {  # LABEL PID COUNT ARGS...: one count-bound enroll-load run, appended to memory
  local label=$1 pid=$2 count=$3
  shift 3
  local line
  log "enroll-load $label --count $count $*"
  line=$(timeout 1800 "$load" --label "$label" --server-pid "$pid" --warmup "$warmup" --count "$count" "$@" \
    2> "$work/last.err") || true
  cat "$work/last.err" >&2
  if [[ -n "$line" ]]; then
    echo "$line" >> "$memory"
  else
    echo "enroll-load gave no result for $label" >&2
  fi
}
start_demo "$work/demo-open"
# The certConf deadline of the demo: the open transactions must outlive the measurement.
confirm_wait=$(sed -n 's/^confirm_wait_seconds *= *\([0-9]*\).*/\1/p' "$work/demo-open/enrolld.toml" | head -1)
run_count enrolld "$demo_pid" "$open_txns" --endpoints "$work/demo-open/endpoints.env" --scenario open-txns \
  --threads "$threads" --hold "$hold"
stop_pid "$demo_pid"
demo_pid=""
start_demo "$work/demo-rejects"
run_count enrolld "$demo_pid" "$rejects" --endpoints "$work/demo-rejects/endpoints.env" --scenario rejects \
  --threads "$threads"
stop_pid "$demo_pid"
demo_pid=""

# 5. The tables --------------------------------------------------------------------------------
mkdir -p "$(dirname "$out")"
{
  echo "- date: $(date -u +%FT%TZ); commit: $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$root" diff --quiet 2>/dev/null || echo ' (with uncommitted changes)')"
  echo "- machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(uname -sr)"
  echo "- load average at the start: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "- $(openssl version); enroll-load: $threads client threads, ${warmup} s warmup, ${duration} s measured per row"
} > "$work/machine.txt"
python3 - "$work/speed.txt" "$work/micro.json" "$results" "$work/machine.txt" "$threads" "$memory" \
  "${confirm_wait:-}" "$hold" > "$out" <<'PY'
import json, sys

speed_file, micro_file, results_file, machine_file, threads, memory_file, confirm_wait, hold = sys.argv[1:9]

# openssl speed -mr: +F4:i:bits:sign/s:verify/s (ECDSA), +F5:i:bits:ops/s:time (ECDH; X25519 is 253 bits)
ecdsa_sign = ecdsa_verify = ecdh = None
for line in open(speed_file):
    f = line.strip().split(":")
    if f[0] == "+F4" and f[2] == "256":
        ecdsa_sign, ecdsa_verify = float(f[3]), float(f[4])
    if f[0] == "+F5" and f[2] == "253":
        ecdh = float(f[3])

micro = {}
try:
    for b in json.load(open(micro_file)).get("benchmarks", []):
        micro[b["name"]] = b
except (ValueError, OSError):
    pass

def micro_ms(prefix, field="cpu_time"):
    # Google Benchmark names runs e.g. BM_HsmSign/p256/real_time/threads:1.
    for name, b in micro.items():
        if name.replace("/real_time", "").startswith(prefix):
            unit = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}[b.get("time_unit", "ns")]
            return b[field] * unit
    return None

def ms(rate):
    return 1000.0 / rate if rate else None

t_verify = ms(ecdsa_verify)
t_sign = ms(ecdsa_sign)
t_ecdh = ms(ecdh)
t_hsm = micro_ms("BM_HsmSign/p256/threads:1")
t_pbm = micro_ms("BM_PbmKdf/500")
t_commit_cpu = micro_ms("BM_StoreCommit/threads:1")
t_commit_wall = micro_ms("BM_StoreCommit/threads:1", "real_time")
t_commit_group = micro_ms("BM_StoreCommit/threads:4", "real_time")
t_rocksdb_group = micro_ms("BM_RocksDbGroupCommit/threads:4", "real_time")
t_ir_inproc = micro_ms("BM_CmpIrEndToEnd")

def fmt(v, digits=3):
    return "n/a" if v is None else f"{v:.{digits}f}"

# The crypto-only floor of each scenario's server side: what it cannot avoid.
def floor(terms):
    parts, total = [], 0.0
    for count, name, value in terms:
        if count == 0:
            continue
        if value is None:
            return None, " + ".join(p for p in parts) + f" + {count}×{name} (not measured)"
        parts.append(f"{count}×{name} {value:.3f}")
        total += count * value
    return total, " + ".join(parts) + f" = {total:.3f} ms"

# Every HSM signature is verified before it leaves (a faulty device must not put a bad one into
# the world): each "HSM sign" comes with its "HSM check", one ECDSA verification.
floors = {
    # ir, MAC, implicit confirm: PBM key derived once (reused for the reply), POP verified,
    # certificate signed in the HSM, one synced commit.
    "ir-mac": [(1, "PBM KDF(500)", t_pbm), (1, "ECDSA verify (POP)", t_verify), (1, "HSM sign", t_hsm),
               (1, "HSM check", t_verify), (1, "commit", t_commit_cpu)],
    # ir signed + certConf: request, POP and certConf signatures verified; certificate, ip and
    # pkiConf signed in the HSM; two commits (issue, confirm).
    "ir-sig": [(3, "ECDSA verify", t_verify), (3, "HSM sign", t_hsm), (3, "HSM check", t_verify),
               (2, "commit", t_commit_cpu)],
    "kur": [(3, "ECDSA verify", t_verify), (3, "HSM sign", t_hsm), (3, "HSM check", t_verify),
            (2, "commit", t_commit_cpu)],
    # p10cr, MAC, certConf: two PBM keys (request, certConf), the CSR signature, one HSM
    # signature, two commits.
    "p10cr": [(2, "PBM KDF(500)", t_pbm), (1, "ECDSA verify (CSR)", t_verify), (1, "HSM sign", t_hsm),
              (1, "HSM check", t_verify), (2, "commit", t_commit_cpu)],
    # EST on a kept-alive TLS connection: the CSR signature, one HSM signature, one commit (the
    # TLS client certificate was checked once per connection; HTTP Basic's password hash is not
    # in the floor).
    "est-keepalive": [(1, "ECDSA verify (CSR)", t_verify), (1, "HSM sign", t_hsm), (1, "HSM check", t_verify),
                      (1, "commit", t_commit_cpu)],
    # EST with a full handshake each time (TLS 1.3, X25519, the demo's ECDSA P-256 server key):
    # + key share made and used, the server's signature and the client certificate's check.
    "est-handshake": [(2, "X25519", t_ecdh), (1, "ECDSA sign (TLS)", t_sign), (2, "ECDSA verify", t_verify),
                      (1, "HSM sign", t_hsm), (1, "HSM check", t_verify), (1, "commit", t_commit_cpu)],
}

rows = [json.loads(l) for l in open(results_file) if l.strip()]

def server_ms(r):
    return r.get("server", {}).get("cpu_ms_per_tx")

mock = next((r for r in rows if r.get("label") == "openssl-mock"), None)
out = []
out.append("# Benchmark run\n")
out.append(open(machine_file).read())
out.append("\n## The floor (same run)\n")
out.append(f"- ECDSA P-256 (openssl speed): sign {fmt(t_sign)} ms, verify {fmt(t_verify)} ms; X25519 {fmt(t_ecdh)} ms")
out.append(f"- SoftHSM P-256 sign through the signer (micro, 1 thread, CPU): {fmt(t_hsm)} ms")
out.append(f"- PBM KDF, 500 iterations of SHA-256 (micro): {fmt(t_pbm)} ms")
out.append(f"- synced store commit (micro): CPU {fmt(t_commit_cpu)} ms, wall {fmt(t_commit_wall)} ms alone, "
           f"{fmt(t_commit_group)} ms per commit with 4 writers on one store (group commit); "
           f"RocksDB itself, 4 writers grouped: {fmt(t_rocksdb_group)} ms per record")
out.append(f"- whole ir server side in process, no HTTP (micro BM_CmpIrEndToEnd, wall): {fmt(t_ir_inproc)} ms\n")
for name, terms in floors.items():
    value, text = floor(terms)
    out.append(f"- floor {name}: {text}")
out.append("\n## Load (enroll-load)\n")
out.append("| server | scenario | client threads | tx/s | p50 ms | p99 ms | server CPU ms/tx | floor ms | "
           "× floor | × mock CPU | client CPU ms/tx | server peak RSS MiB | errors |")
out.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
for r in rows:
    scenario = r["scenario"]
    value, _ = floor(floors.get(scenario, []))
    s = server_ms(r)
    ratio_floor = fmt(s / value, 1) if (s and value) else "n/a"
    ratio_mock = "n/a"
    if mock and scenario == "ir-mac" and r is not mock and s and server_ms(mock):
        ratio_mock = fmt(s / server_ms(mock), 2)
    rss = r.get("server", {}).get("peak_rss_kib")
    lat = r["latency_ms"]
    errors = r["errors"]
    if errors:
        errors = f"{errors} " + ", ".join(f"{k}×{v}" for k, v in r["errors_by_kind"].items())
    out.append(f"| {r.get('label', '')} | {scenario} | {r['threads']} | {r['tx_per_s']:.0f} | {lat['p50']:.2f} | "
               f"{lat['p99']:.2f} | {fmt(s)} | {fmt(value)} | {ratio_floor} | {ratio_mock} | "
               f"{r['client']['cpu_ms_per_tx']:.3f} | {fmt(rss / 1024 if rss else None, 1)} | {errors} |")
out.append("")
out.append("Server CPU is utime+stime of the server process over the measured window (/proc, 10 ms ticks) "
           "divided by completed transactions; client CPU is enroll-load's own (getrusage). Labels: "
           "enrolld = the demo with [server] threads = 2; enrolld-1thread = threads = 1; enrolld-1client = one "
           "client thread (about half the load, for p99); enrolld-basic = EST with HTTP Basic instead of the "
           "TLS client certificate; openssl-mock = `openssl cmp -port` with -grant_implicitconf (a canned "
           "certificate, nothing stored; enroll-load --accept-any-cert).")

ir = next((r for r in rows if r.get("label") == "enrolld" and r["scenario"] == "ir-mac"), None)
if ir and mock:
    out.append(f"\nir-mac at {ir['threads']} client threads: enrolld {ir['tx_per_s']:.0f} tx/s vs the mock's "
               f"{mock['tx_per_s']:.0f} tx/s (× {ir['tx_per_s'] / max(mock['tx_per_s'], 1e-9):.2f}); server CPU "
               f"{fmt(server_ms(ir))} vs {fmt(server_ms(mock))} ms/tx.")
    if server_ms(ir):
        out.append(f"Projected capacity from server CPU alone: {2 * 1000 / server_ms(ir):.0f} tx/s on 2 cores.")
out.append("\n## Micro benchmarks (same run)\n")
out.append("| benchmark | wall per op | CPU per op | items/s | per record | other |")
out.append("|---|---|---|---|---|---|")
def human(seconds):
    if seconds is None:
        return "n/a"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"
for name, b in micro.items():
    unit = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}[b.get("time_unit", "ns")]
    extra = ", ".join(f"{k}={b[k]:.0f}" for k in ("crl_bytes", "body_bytes") if k in b)
    items = f"{b['items_per_second']:.0f}" if "items_per_second" in b else ""
    out.append(f"| {name} | {human(b['real_time'] * unit)} | {human(b['cpu_time'] * unit)} | {items} | "
               f"{human(b.get('per_record')) if 'per_record' in b else ''} | {extra} |")
out.append("")
out.append("BM_HsmSign: `_one_session` takes every signature under one mutex (one PKCS#11 session in use, pool = 1); "
           "the others use libp11's session pool (up to 16 per slot). BM_StoreSyncedPut goes through "
           "RocksDbStore::commit (checks under its lock, the synced write outside it), BM_RocksDbGroupCommit writes "
           "the same record through RocksDB directly: concurrent synced writes share one fsync in both. per record = wall seconds per record over all threads.")

memory_rows = [json.loads(l) for l in open(memory_file) if l.strip()]
if memory_rows:
    out.append("\n## Server memory (VmRSS, fresh demo per row)\n")
    out.append("| scenario | requests | client threads | req/s | errors | RSS before MiB | RSS after MiB | growth MiB | "
               "KiB per request | VmRSS every N/10, MiB | held open afterwards, MiB | check |")
    out.append("|---|---|---|---|---|---|---|---|---|---|---|---|")
    mib = lambda k: k / 1024
    for r in memory_rows:
        s = r.get("server", {})
        before, after = s.get("rss_kib_before"), s.get("rss_kib_after")
        n = r["completed"] + r["errors"]
        growth = (after - before) if (before is not None and after is not None) else None
        per = f"{growth / n:.2f}" if (growth is not None and n) else "n/a"
        samples = " ".join(f"{mib(x['rss_kib']):.1f}" for x in s.get("rss_samples", []))
        held = (f"max {mib(s['rss_kib_hold_max']):.1f}, last {mib(s['rss_kib_hold_last']):.1f} "
                f"({len(s['rss_hold_samples_kib'])} s)") if "rss_kib_hold_max" in s else "-"
        errors = r["errors"]
        if errors:
            errors = f"{errors} " + ", ".join(f"{k}×{v}" for k, v in r["errors_by_kind"].items())
        if r["scenario"] == "open-txns":
            o = r.get("open_txns", {})
            peak_held = max(after or 0, s.get("rss_kib_hold_max", 0))
            target = ("target < 200 MiB: " + ("met" if peak_held < 200 * 1024 else "NOT met")) if n >= 10000 \
                else "target (< 200 MiB at 10,000) n/a"
            check = (f"{o.get('confirmed', 0)}/{o.get('probed', 0)} held certConfs answered pkiConf afterwards "
                     f"(still open); {target}")
        else:
            first_last = s.get("rss_samples_growth_kib")
            flat = first_last is not None and abs(first_last) <= max(1024, 0.01 * (before or 0))
            check = (f"first→last sample {mib(first_last):+.2f} MiB: " + ("flat" if flat else "GROWS")) \
                if first_last is not None else "no samples"
            if r.get("rejected_as"):
                check += "; refused as " + ", ".join(f"{k}×{v}" for k, v in r["rejected_as"].items())
        out.append(f"| {r['scenario']} | {n} | {r['threads']} | {r['tx_per_s']:.0f} | {errors} | "
                   f"{mib(before) if before else 0:.1f} | {mib(after) if after else 0:.1f} | "
                   f"{mib(growth) if growth is not None else 0:+.1f} | {per} | {samples} | {held} | {check} |")
    out.append("")
    opened = next((r for r in memory_rows if r["scenario"] == "open-txns"), None)
    note = ("VmRSS from /proc/PID/status (the peak RSS column above is VmHWM since start). Before = after the "
            "warmup (open-txns warms up with implicitly confirmed irs, which leave nothing open); after = when the "
            "last request was answered. open-txns: ir with MAC, no implicit confirmation, certConf never sent; "
            "afterwards the first and last three certConfs of each client thread are sent and must be answered "
            "with pkiConf. rejects: in turn an ir with a wrong secret, one with an unknown reference (CMP error "
            "messages), random bytes and half an ir (HTTP 400).")
    if opened and confirm_wait:
        span = opened["prepare_s"] + opened["window_s"] + float(hold or 0)
        note += (f" The demo's certConf deadline is {confirm_wait} s (confirm_wait_seconds); opening and holding "
                 f"took {span:.0f} s" + (", within it." if span < float(confirm_wait) else
                                          ": LONGER, the deadline sweep may have closed some."))
    out.append(note)

print("\n".join(out))
PY
cat "$out"
echo "written to $out" >&2
