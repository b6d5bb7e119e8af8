#!/usr/bin/env bash
# `logs --tail 100` on a ~1 GB log (issue #18): Berth before (BASE, default the merge base with main, built in a scratch
# copy) and after (this tree), medians of RUNS (5) runs, as a ratio; berthd's peak RSS alongside. Docker is the peer
# when an engine answers at unix:///var/run/docker.sock (this script never installs or starts one).
# Usage: bench/logs-tail.sh   (env: RUNS, BASE, LOG_MB). Runs its own berthd (own data root, socket, bridge); leaves nothing.
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/.."
RUNS=${RUNS:-5}
LOG_MB=${LOG_MB:-1024}
BASE=${BASE:-$(git merge-base HEAD main)}
W=$(mktemp -d /var/tmp/berth-bench-logs.XXXXXX)
XR=$(mktemp -d /run/bbl-XXXXXX)
SOCK="unix://$XR/berth.sock"
PEER_SOCK=unix:///var/run/docker.sock
PEER_CTR=berth-bench-logs-tail
DPID=""
PEER=""
b() { DOCKER_HOST=$SOCK bin/berth "$@"; }
cleanup() {
  set +e
  stop_daemon
  [ -n "$PEER" ] && DOCKER_HOST=$PEER_SOCK docker rm -f $PEER_CTR >/dev/null 2>&1
  rm -rf "$W" "$XR"
}
trap cleanup EXIT

# berthd from tree $1 on the shared data root
start_daemon() {
  "$1/bin/berthd" --data-root "$W/data" --exec-root "$XR" --bridge bblogs0 --bip 10.248.7.0/24 --bridge-prefix bblogs \
    --registries-loopback-only >>"$W/berthd.log" 2>&1 &
  DPID=$!
  for _ in $(seq 100); do b version >/dev/null 2>&1 && return; sleep 0.1; done
  echo "bench: berthd from $1 did not start" >&2; tail -5 "$W/berthd.log" >&2; exit 1
}
stop_daemon() {
  if [ -n "$DPID" ]; then kill "$DPID" 2>/dev/null || true; wait "$DPID" 2>/dev/null || true; fi
  DPID=""
}
# berthd's peak RSS, or why there is none (the daemon died during the runs)
peak_kb() {
  local kb; kb=$(awk '/^VmHWM:/{print $2}' "/proc/$DPID/status" 2>/dev/null || true)
  [ -n "$kb" ] && echo "$kb" && return
  echo "berthd died: $(grep -m1 -o 'heap out of memory\|Killed\|RangeError[^"]*' "$W/berthd.log" || echo 'see its log')"
}

# median seconds of a command (hyperfine), or "" when it fails
median() {
  hyperfine -N --runs "$RUNS" --warmup 1 --export-json "$W/h.json" "$1" >"$W/h.out" 2>&1 || { tail -3 "$W/h.out" >&2; echo ""; return; }
  node -e 'console.log(require(process.argv[1]).results[0].median.toFixed(4))' "$W/h.json"
}
ratio() { [ -n "$1" ] && [ -n "$2" ] && node -e 'console.log((+process.argv[1]/+process.argv[2]).toFixed(3))' "$1" "$2" || echo "n/a"; }

# the code before the change, built beside this tree (node_modules and the native addon shared)
mkdir -p "$W/before"
git archive "$BASE" | tar -x -C "$W/before"
ln -s "$PWD/node_modules" "$W/before/node_modules"
mkdir -p "$W/before/native/build/Release" && cp native/build/Release/berth_native.node "$W/before/native/build/Release/"
(cd "$W/before" && npx tsc -p .) >/dev/null

# one exited container whose log is made here in conmon's k8s-file format: LOG_MB MiB of 122-byte lines, stdout and stderr in turn
start_daemon "$PWD"
scripts/busybox-rootfs.sh "$W/bb.tar" >/dev/null
b import --change 'CMD ["sh"]' "$W/bb.tar" busybox:latest >/dev/null
b run --name big busybox true >/dev/null
LOG="$W/data/containers/$(b inspect -f '{{.Id}}' big)/ctr.log"
line() { printf '2026-12-06T01:02:03.123456789+00:00 %s F %s\n' "$1" "$(printf '%076d' 0 | tr 0 "$2")"; }
{ line stdout a; line stderr b; } > "$W/pair"
PAIRS=$(( LOG_MB * 1048576 / $(wc -c < "$W/pair") ))
node -e '
  const fs = require("fs"), [pair, out, n] = [fs.readFileSync(process.argv[1]), process.argv[2], +process.argv[3]];
  const block = Buffer.concat(Array(4096).fill(pair)), fd = fs.openSync(out, "w");
  for (let i = 0; i < n; i += 4096) fs.writeSync(fd, i + 4096 <= n ? block : block.subarray(0, (n - i) * pair.length));
  fs.closeSync(fd);' "$W/pair" "$LOG" "$PAIRS"
size_mb=$(( $(stat -c %s "$LOG") / 1048576 ))
stop_daemon

start_daemon "$PWD" # afresh, so that its peak RSS is that of the reads

after=$(median "env DOCKER_HOST=$SOCK bin/berth logs --tail 100 big")
after_kb=$(peak_kb)
[ "$(b logs --tail 100 big 2>&1 | wc -l)" = 100 ] || { echo "bench: logs --tail 100 did not give 100 lines" >&2; exit 1; }
stop_daemon
: >"$W/berthd.log"
start_daemon "$W/before"
before=$(median "env DOCKER_HOST=$SOCK bin/berth logs --tail 100 big")
before_kb=$(peak_kb)
stop_daemon

peer_note="no Docker engine at $PEER_SOCK: Docker column empty"
peer=""
if DOCKER_HOST=$PEER_SOCK docker version -f '{{.Server.Version}}' >"$W/peer.ver" 2>/dev/null; then
  PEER=1
  d() { DOCKER_HOST=$PEER_SOCK docker "$@"; }
  d image inspect busybox:latest >/dev/null 2>&1 || d import --change 'CMD ["sh"]' "$W/bb.tar" busybox:latest >/dev/null
  d rm -f $PEER_CTR >/dev/null 2>&1 || true
  d run --name $PEER_CTR --log-driver json-file busybox true >/dev/null
  # the same lines in json-file's format, written into the container's own log file
  pl() { printf '{"log":"%s\\n","stream":"%s","time":"2026-12-06T01:02:03.123456789Z"}\n' "$(printf '%076d' 0 | tr 0 "$2")" "$1"; }
  { pl stdout a; pl stderr b; } > "$W/pair"
  node -e '
    const fs = require("fs"), [pair, out, n] = [fs.readFileSync(process.argv[1]), process.argv[2], +process.argv[3]];
    const block = Buffer.concat(Array(4096).fill(pair)), fd = fs.openSync(out, "w");
    for (let i = 0; i < n; i += 4096) fs.writeSync(fd, i + 4096 <= n ? block : block.subarray(0, (n - i) * pair.length));
    fs.closeSync(fd);' "$W/pair" "$(d inspect -f '{{.LogPath}}' $PEER_CTR)" "$PAIRS"
  peer=$(median "env DOCKER_HOST=$PEER_SOCK docker logs --tail 100 $PEER_CTR")
  peer_note="Docker $(cat "$W/peer.ver") at $PEER_SOCK, json-file log of the same lines"
fi

echo "## logs --tail 100 on a ${size_mb} MiB log ($((PAIRS * 2)) lines), $(date -u +%Y-%m-%d), $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg)"
echo
echo "Before = $(git rev-parse --short "$BASE"), after = $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src || echo ' + uncommitted changes'). Seconds are medians of $RUNS runs (hyperfine, berth CLI)."
echo "Peer: $peer_note."
echo
echo "| measure | value |"
echo "|---|---|"
echo "| Berth before (s) | ${before:-n/a (failed)} |"
echo "| Berth after (s) | ${after:-n/a} |"
echo "| after / before | $(ratio "$after" "$before") |"
echo "| berthd peak RSS before / after (kB) | ${before_kb:-n/a} / ${after_kb:-n/a} |"
echo "| Docker (s) | ${peer:-n/a} |"
echo "| Berth after / Docker | $(ratio "$after" "$peer") |"
