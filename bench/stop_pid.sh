# Sourced by bench/run.sh and bench/load/smoke_test.sh.
# stop_pid PID: SIGTERM, up to 10 s for the process to end, then SIGKILL; nothing for an empty PID.
stop_pid() {
  local pid=$1
  [[ -n "$pid" ]] || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
