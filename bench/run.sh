#!/usr/bin/env bash
# bench/run.sh: the benchmark figures of issue 7 in one run on one machine, with their ratios.
#
#   1. the crypto floor: `openssl speed` (ECDSA P-256 sign/verify, X25519) and the micro
#      benchmarks (SoftHSM signing through the signer, PBM KDF at 500 iterations, synced store
#      commit) → the least CPU each scenario's server side must spend (arithmetic printed);
#   2. enroll-load against a fresh `enrolld demo` (--server-pid: server CPU per transaction, peak
#      RSS) for every scenario, and ir-mac with 1 and 2 server threads;
#   3. the same ir-mac load against OpenSSL's own mock server (`openssl cmp -port`, implicit
#      confirmation granted, a canned certificate), the peer;
#   4. a markdown table of tx/s, p50/p99, server and client CPU per transaction and the ratios
#      to the floor and to the peer, written to bench/results/<date>.md (and printed).
#
# Usage: bench/run.sh [--build DIR] [--duration S] [--warmup S] [--threads N] [--out FILE]
#                     [--no-build] [--quick]
# Needs: a Release build (made here unless --no-build), openssl, python3, timeout.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build="$root/build-bench"
duration=10
warmup=2
threads=4
out=""
do_build=1
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build) build=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --warmup) warmup=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --no-build) do_build=0; shift ;;
    --quick) duration=3; warmup=1; shift ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
[[ -n "$out" ]] || out="$root/bench/results/$(date +%F).md"

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
: > "$results"
log() { echo "== $*" >&2; }

# 1. The floor ---------------------------------------------------------------------------------
log "openssl speed (ECDSA P-256, X25519)"
openssl speed -mr -seconds 2 ecdsap256 ecdhx25519 2>/dev/null | grep '^+F' > "$work/speed.txt" || true
if [[ -x "$micro" ]]; then
  log "micro benchmarks (SoftHSM sign, PBM KDF, store commit, in-process ir)"
  # A failing micro benchmark means the floor is unknown: the run stops, saying why.
  rc=0
  timeout 600 "$micro" --benchmark_filter='^(BM_HsmSign/p256|BM_SoftwareSignP256|BM_PbmKdf/500|BM_StoreCommit|BM_CmpIrEndToEnd)' \
    --benchmark_min_time=1 --benchmark_out="$work/micro.json" --benchmark_out_format=json \
    > "$work/micro.txt" 2> "$work/micro.err" || rc=$?
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
start_demo() {
  rm -f "$work/demo/endpoints.env"
  "$enrolld" demo --dir "$work/demo" --http-port 0 >> "$work/demo.log" 2>&1 &
  demo_pid=$!
  for _ in $(seq 1 600); do
    [[ -f "$work/demo/endpoints.env" ]] && return 0
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

# 4. The table ---------------------------------------------------------------------------------
mkdir -p "$(dirname "$out")"
{
  echo "- date: $(date -u +%FT%TZ); commit: $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$root" diff --quiet 2>/dev/null || echo ' (with uncommitted changes)')"
  echo "- machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(uname -sr)"
  echo "- load average at the start: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "- $(openssl version); enroll-load: $threads client threads, ${warmup} s warmup, ${duration} s measured per row"
} > "$work/machine.txt"
python3 - "$work/speed.txt" "$work/micro.json" "$results" "$work/machine.txt" "$threads" > "$out" <<'PY'
import json, sys

speed_file, micro_file, results_file, machine_file, threads = sys.argv[1:6]

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

floors = {
    # ir, MAC, implicit confirm: PBM key derived once (reused for the reply), POP verified,
    # certificate signed in the HSM, one synced commit.
    "ir-mac": [(1, "PBM KDF(500)", t_pbm), (1, "ECDSA verify (POP)", t_verify), (1, "HSM sign", t_hsm),
               (1, "commit", t_commit_cpu)],
    # ir signed + certConf: request, POP and certConf signatures verified; certificate, ip and
    # pkiConf signed in the HSM; two commits (issue, confirm).
    "ir-sig": [(3, "ECDSA verify", t_verify), (3, "HSM sign", t_hsm), (2, "commit", t_commit_cpu)],
    "kur": [(3, "ECDSA verify", t_verify), (3, "HSM sign", t_hsm), (2, "commit", t_commit_cpu)],
    # p10cr, MAC, certConf: two PBM keys (request, certConf), the CSR signature, one HSM
    # signature, two commits.
    "p10cr": [(2, "PBM KDF(500)", t_pbm), (1, "ECDSA verify (CSR)", t_verify), (1, "HSM sign", t_hsm),
              (2, "commit", t_commit_cpu)],
    # EST on a kept-alive TLS connection: the CSR signature, one HSM signature, one commit (the
    # TLS client certificate was checked once per connection; HTTP Basic's password hash is not
    # in the floor).
    "est-keepalive": [(1, "ECDSA verify (CSR)", t_verify), (1, "HSM sign", t_hsm), (1, "commit", t_commit_cpu)],
    # EST with a full handshake each time (TLS 1.3, X25519, the demo's ECDSA P-256 server key):
    # + key share made and used, the server's signature and the client certificate's check.
    "est-handshake": [(2, "X25519", t_ecdh), (1, "ECDSA sign (TLS)", t_sign), (2, "ECDSA verify", t_verify),
                      (1, "HSM sign", t_hsm), (1, "commit", t_commit_cpu)],
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
           f"{fmt(t_commit_group)} ms per commit with 4 writers (group commit)")
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
print("\n".join(out))
PY
cat "$out"
echo "written to $out" >&2
