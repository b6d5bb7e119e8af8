#!/usr/bin/env bash
# Compose, `berth compose` against berthd next to Debian's docker-compose 1.29 against Docker (docker.io started on its
# own socket, data root and bridge), the example project examples/webapp (Flask built from its Dockerfile, PostgreSQL
# with a named volume and a pg_isready health check, web depending on db being healthy), same run: medians of RUNS
# after WARMUP, and ratios.
# docker-compose 1.29 has no --wait, and it refuses the top-level `name:`: both sides get the same file without it
# and `-p benchweb`; its `up -d` returns once web is started after db turned healthy, which is what `--wait` waits for
# here (web has no health check), so `berth compose up -d --wait` is timed against `docker-compose up -d`.
# Usage: bench/compose.sh [--write]   (--write puts the table into docs/benchmarks.md, newest first)
# Leaves nothing behind: own berthd, own dockerd (its own bridge, no iptables), both projects downed with -v.
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/.."
RUNS=${RUNS:-5} WARMUP=${WARMUP:-1}
W=$(mktemp -d /var/tmp/berth-bench-compose.XXXXXX)
XR=$(mktemp -d /run/bbc-XXXXXX)
BERTH="$PWD/bin/berth"
b() { DOCKER_HOST=$BERTH_SOCK $BERTH "$@"; }
DPID="" PEER=""
DP_ROOT=/var/tmp/berth-bench-compose-docker DP_RUN=/run/bbcd DP_NS=berthbenchcompose DP_BRIDGE=bbcdock0 DP_BIP=10.251.40.1/24
source bench/docker-peer.sh
source bench/lib.sh
APP=$W/webapp
bc() { echo "env DOCKER_HOST=$BERTH_SOCK WEB_PORT=35051 $BERTH compose -p benchweb -f $APP/compose.yaml $*"; }
dc() { echo "env DOCKER_HOST=$PEER WEB_PORT=35052 docker-compose -p benchweb -f $APP/compose.yaml $*"; }
cleanup() {
  set +e
  [ -n "${BERTH_SOCK:-}" ] && $(bc down -v --rmi local) >/dev/null 2>&1
  [ -n "$PEER" ] && $(dc down -v --rmi local) >/dev/null 2>&1
  [ -n "$DPID" ] && kill "$DPID" 2>/dev/null && wait "$DPID" 2>/dev/null
  docker_peer_stop
  rm -rf "$W" "$XR"
}
trap cleanup EXIT

berthd_start bbcmp0 10.251.39.0/24 bbcmp
DOCKER_HOST=$BERTH_SOCK scripts/base-images.sh python postgres >/dev/null
docker_peer_start || { echo "bench/compose.sh: needs Debian's dockerd (docker.io) as the peer" >&2; exit 1; }
PEER=$DP_SOCK
b save python:3.11-slim postgres:15 | DOCKER_HOST=$PEER /usr/bin/docker load >/dev/null
cp -r examples/webapp "$APP"
sed -i '/^name:/d' "$APP/compose.yaml"

ROWS=()
pair "cold \`up -d --wait\`: web image built, database initialised (after \`down -v --rmi local\`)" \
  "$(bc up -d --wait)" "$(dc up -d)" "$(bc down -v --rmi local)" "$(dc down -v --rmi local)"
pair "warm \`up -d --wait\`: image and database volume there, containers made and started (after \`down\`)" \
  "$(bc up -d --wait)" "$(dc up -d)" "$(bc down)" "$(dc down)"
pair "\`up -d --wait\` again, nothing changed (nothing recreated)" "$(bc up -d --wait)" "$(dc up -d)"
pair "\`down\` of the running project (containers and network)" \
  "$(bc down)" "$(dc down)" "$(bc up -d --wait)" "$(dc up -d)"

{
  echo "## $(date -u +%Y-%m-%d) compose: \`berth compose\` vs docker-compose $(docker-compose version --short) against Docker (bench/compose.sh)"
  echo
  echo "$(nproc) cores, kernel $(uname -r). The examples/webapp project (web built from its Dockerfile, postgres:15 with a"
  echo "named volume and a pg_isready health check every 1 s, web \`depends_on\` db healthy), the same file on both"
  echo "sides. Peer: Debian's docker-compose against Docker $(DOCKER_HOST=$PEER /usr/bin/docker version -f '{{.Server.Version}}')"
  echo "(its own socket, data root and bridge). docker-compose 1.29 has no \`--wait\`; its \`up -d\` returns once web is"
  echo "started after db is healthy, which is what \`--wait\` waits for here (web has no health check). Seconds are medians"
  echo "of $RUNS runs after $WARMUP warm-up (hyperfine, each run after the row's preparation); ratio = Berth / peer,"
  echo "lower is better; load = 1-minute load average at the start and end of the row."
  echo
  echo "| measure | berth compose | docker-compose + Docker | ratio | load |"
  echo "|---|---|---|---|---|"
  printf '%s\n' "${ROWS[@]}"
  echo
} | tee "$W/table.md"
if [ "${1:-}" = "--write" ]; then bench_write "$W/table.md"; fi
