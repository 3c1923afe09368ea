#!/usr/bin/env bash
# Measures a node's start-up time (cold: empty data dir; warm: second start on the same data) from
# launch to the first 200 on /health, its shutdown time on SIGTERM, and the idle node's memory.
# Usage: cluster-node/bench/startup.sh   (builds first through ./cloister; uses ports 18080/18558)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DATA="$(mktemp -d)"
LOG="$DATA/node.log"
export CLOISTER_DATA_DIR="$DATA/data" CLOISTER_HTTP_PORT=18080 CLOISTER_MANAGEMENT_PORT=18558 \
  CLOISTER_REMOTE_PORT=0
"$ROOT/cloister" build  # so that no build is timed

run() {
  local label="$1"
  local t0 t1
  t0=$(date +%s%N)
  "$ROOT/cloister" up >>"$LOG" 2>&1 &
  PID=$!
  for _ in $(seq 1 1200); do
    if curl -sf "http://127.0.0.1:$CLOISTER_HTTP_PORT/health" >/dev/null; then break; fi
    if ! kill -0 "$PID" 2>/dev/null; then echo "node died; see $LOG" >&2; exit 1; fi
    sleep 0.05
  done
  t1=$(date +%s%N)
  echo "$label start-up to /health 200: $(( (t1 - t0) / 1000000 )) ms"
}

stop() {
  local t0 t1
  t0=$(date +%s%N)
  kill -TERM "$PID"
  while kill -0 "$PID" 2>/dev/null; do sleep 0.05; done
  t1=$(date +%s%N)
  echo "shutdown on SIGTERM: $(( (t1 - t0) / 1000000 )) ms"
}

run cold
stop
run warm
sleep "${IDLE_SECONDS:-30}"
pss_kb() { # proportional set size: shared pages counted once across processes
  local total=0 p
  for p in "$@"; do
    total=$(( total + $(awk '/^Pss:/ {print $2}' "/proc/$p/smaps_rollup" 2>/dev/null || echo 0) ))
  done
  echo "$total"
}
echo "idle node after ${IDLE_SECONDS:-30}s: JVM RSS $(( $(ps -o rss= -p "$PID") / 1024 )) MiB"
jcmd "$PID" GC.heap_info 2>/dev/null | grep -E 'garbage-first heap|used' | head -2 || true
PGPID=$(head -1 "$CLOISTER_DATA_DIR/postgres/postmaster.pid" 2>/dev/null || echo)
if [[ -n "$PGPID" ]]; then
  # shellcheck disable=SC2046
  echo "embedded PostgreSQL, all its processes: PSS $(( $(pss_kb "$PGPID" $(ps --no-headers -o pid --ppid "$PGPID")) / 1024 )) MiB"
fi
stop
rm -rf "$DATA"
