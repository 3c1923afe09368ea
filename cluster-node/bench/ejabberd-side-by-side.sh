#!/usr/bin/env bash
# The chat peer and Cloister on the same workloads, one after the other on this machine (issue 16):
#   1. ejabberd (Debian) with the peer's own driver (shared/bench/ejabberd/XmppBench.java):
#      post-to-delivery latency to MEMBERS members of one MUC room (POSTS posts, default 200, one
#      every INTERVAL_MS, default 50),
#      then for each size in IDLE, memory per idle connection (erlang:memory after GC of every
#      process, before and after) and the time to open them;
#   2. Cloister's GatewayBenchmark with the same sizes (node heap after GC, time and node CPU to
#      open; fan-out to MEMBERS members of one channel), its curve drawn to PNG if set.
# Needs root (apt-get, the ejabberd user), ulimit -n 20000, and the modules installed
# (mvn -B install -DskipTests first; Maven fetches the exec plugin on the first run). Stops ejabberd
# (by its own ejabberdctl) when done.
#
#   IDLE="1000 5000 10000" MEMBERS=1000 PNG=docs/gateway-idle-curve.png cluster-node/bench/ejabberd-side-by-side.sh
#   IDLE="" MEMBERS=10000 POSTS=60 INTERVAL_MS=500 cluster-node/bench/ejabberd-side-by-side.sh
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PEER=${PEER_DIR:-$ROOT/../shared/bench/ejabberd}
IDLE=${IDLE-1000 5000 10000}
MEMBERS=${MEMBERS:-1000}
POSTS=${POSTS:-200}
INTERVAL_MS=${INTERVAL_MS:-50}
PNG=${PNG:-}
WORK=$(mktemp -d)
export ERL_EPMD_ADDRESS=127.0.0.1

if ! command -v ejabberdctl >/dev/null; then
  apt-get update -qq && apt-get install -y -qq ejabberd >/dev/null
fi
cp "$PEER/ejabberd.yml" "$PEER/ejabberdctl.cfg" /etc/ejabberd/
# The room must take every member asked for.
sed -i "s/max_users: 5000/max_users: $((MEMBERS + 100))/" /etc/ejabberd/ejabberd.yml
(cd /var/lib/ejabberd && setpriv --reuid ejabberd --regid ejabberd --init-groups \
  env HOME=/var/lib/ejabberd ERL_EPMD_ADDRESS=127.0.0.1 sh -c 'ulimit -n 20000; ejabberdctl start')
stop_peer() { ejabberdctl stop >/dev/null 2>&1 || true; }
trap stop_peer EXIT
for _ in $(seq 1 60); do
  ejabberdctl status >/dev/null 2>&1 && break
  sleep 1
done
BEAM=$(pgrep -u ejabberd -f 'beam.smp.*ejabberd' | head -1)
javac -d "$WORK" "$PEER/XmppBench.java"
MAX_IDLE=0
for n in $IDLE; do [ "$n" -gt "$MAX_IDLE" ] && MAX_IDLE=$n; done
echo "== ejabberd $(dpkg-query -W -f='${Version}' ejabberd), beam pid $BEAM, load $(cut -d' ' -f1-3 /proc/loadavg)"
java -cp "$WORK" XmppBench reg m 0 "$MEMBERS" 8
java -cp "$WORK" XmppBench reg i 0 "$MAX_IDLE" 8
curl -s -X POST http://127.0.0.1:5280/api/register \
  -d '{"user":"sender","host":"localhost","password":"pw"}' >/dev/null || true
java -cp "$WORK" XmppBench fanout "$MEMBERS" "$POSTS" "$INTERVAL_MS" "$BEAM" "room$(date +%s)" mam

erlang_total() { # KiB of erlang:memory() total after a GC of every process
  "$PEER/egc.sh" | sed -n 's/.*{total,\([0-9]*\)}.*/\1/p'
}
for n in $IDLE; do
  before=$(erlang_total)
  mkfifo "$WORK/in$n"
  java -Xss256k -cp "$WORK" XmppBench idle "$n" "$BEAM" < "$WORK/in$n" > "$WORK/idle$n.log" 2>&1 &
  exec 9> "$WORK/in$n" # holds the driver's stdin open until the measurement is taken
  for _ in $(seq 1 600); do
    grep -q '^READY' "$WORK/idle$n.log" && break
    sleep 1
  done
  after=$(erlang_total)
  grep '^idle:' "$WORK/idle$n.log"
  echo "ejabberd idle $n: erlang:memory after GC $before -> $after KiB:" \
    "$(awk -v a="$after" -v b="$before" -v n="$n" 'BEGIN { printf "%.1f", (a - b) / n }') KiB per connection"
  exec 9>&-
  wait
  sleep 5
done
stop_peer
trap - EXIT

echo "== Cloister, load $(cut -d' ' -f1-3 /proc/loadavg)"
cd "$ROOT"
mvn -B -q -pl cluster-node exec:java -Dexec.classpathScope=test \
  -Dexec.mainClass=dev.cloister.node.bench.GatewayBenchmark \
  -Dbench.idle="$(echo ${IDLE:-0} | tr ' ' ',')" -Dbench.members="$MEMBERS" \
  -Dbench.posts="$POSTS" -Dbench.intervalMs="$INTERVAL_MS" \
  ${PNG:+-Dbench.png="$PNG"} 2>&1 | grep -v ' INFO \| WARN \|^\s*at \|^$'
rm -rf "$WORK"
