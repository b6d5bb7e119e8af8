#!/usr/bin/env bash
# One table, Berth next to Docker (Debian's docker.io, started here on its own socket and data root when installed,
# stopped and cleaned afterwards) and next to the bare crun floor, same machine, same run: medians and ratios.
# Usage: bench/run.sh [--write]   (--write also puts the table into docs/benchmarks.md)
# Runs its own berthd (own data root, socket, bridge, subnet); leaves nothing behind.
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/.."
RUNS=${RUNS:-10}
W=$(mktemp -d /var/tmp/berth-bench.XXXXXX)
XR=$(mktemp -d /run/bb-XXXXXX)
BERTH="$PWD/bin/berth"
b() { DOCKER_HOST=$BERTH_SOCK $BERTH "$@"; }
DPID=""
source bench/docker-peer.sh
source bench/lib.sh
cleanup() {
  set +e
  ids=$(b ps -aq 2>/dev/null); [ -n "$ids" ] && b rm -f $ids >/dev/null 2>&1
  [ -n "${REG_PID:-}" ] && kill "$REG_PID" 2>/dev/null
  [ -n "$DPID" ] && kill "$DPID" 2>/dev/null && wait "$DPID" 2>/dev/null
  docker_peer_stop
  rm -rf "$W" "$XR"
}
trap cleanup EXIT

berthd_start bbench0 10.249.0.0/24 bbench
scripts/busybox-rootfs.sh "$W/bb.tar" >/dev/null
b import --change 'CMD ["sh"]' "$W/bb.tar" busybox:latest >/dev/null

PEER=""
if docker_peer_start; then
  PEER=$DP_SOCK
  b save busybox | DOCKER_HOST=$PEER docker load >/dev/null
fi
d() { DOCKER_HOST=$PEER docker "$@"; }

ROWS=()
row() { ROWS+=("| $1 | $2 | ${3:-n/a} | $(ratio "$2" "${3:-}") | $4 |"); }
# wall seconds of a command; on failure its output goes to stderr and the value is empty (the row shows n/a)
seconds() {
  local t0 rc=0; t0=$(date +%s.%N)
  "$@" >"$W/cmd.out" 2>&1 || rc=$?
  if [ $rc -ne 0 ]; then echo "bench: '$*' failed ($rc):" >&2; tail -5 "$W/cmd.out" >&2; echo ""; return 0; fi
  echo "$(date +%s.%N) - $t0" | bc
}

# --- the floor: bare crun on the same rootfs, in the private mount namespace berthd uses on hybrid hosts ---
mkdir -p "$W/floor/rootfs" && tar -xf "$W/bb.tar" -C "$W/floor/rootfs"
(cd "$W/floor" && crun spec && node -e '
  const f="config.json", s=JSON.parse(require("fs").readFileSync(f)); s.process.terminal=false; s.process.args=["/bin/true"];
  s.root.readonly=false; require("fs").writeFileSync(f, JSON.stringify(s));')
unshare -m --propagation slave bash -c "umount -l /sys/fs/cgroup/unified 2>/dev/null; hyperfine -N --runs $RUNS --warmup 2 \
  --export-json $W/floor.json 'crun run --bundle $W/floor floorbench'" >/dev/null 2>&1
floor=$(node -e 'console.log(require(process.argv[1]).results[0].median.toFixed(4))' "$W/floor.json")

# --- run --rm ---
berth_none=$(DOCKER_HOST=$BERTH_SOCK median "$BERTH run --rm --network none busybox true")
dcli_none=$(DOCKER_HOST=$BERTH_SOCK median "docker run --rm --network none busybox true")
peer_none=$([ -n "$PEER" ] && DOCKER_HOST=$PEER median "docker run --rm --network none busybox true" || true)
row "run --rm --network none busybox true, berth CLI" "$berth_none" "$peer_none" "≤ 0.35 × Docker"
row "same, docker CLI → berthd" "$dcli_none" "$peer_none" "≤ 0.35 × Docker"
row "same vs the crun floor (crun run)" "$berth_none" "$floor" "≤ 4 × crun"
berth_bridge=$(DOCKER_HOST=$BERTH_SOCK median "docker run --rm busybox true")
peer_bridge=$([ -n "$PEER" ] && DOCKER_HOST=$PEER median "docker run --rm busybox true" || true)
row "run --rm busybox true, default bridge (docker CLI)" "$berth_bridge" "$peer_bridge" "≤ 0.35 × Docker"
berth_p=$(DOCKER_HOST=$BERTH_SOCK median "docker run --rm -p 38080:80 busybox true")
peer_p=$([ -n "$PEER" ] && DOCKER_HOST=$PEER median "docker run --rm -p 38081:80 busybox true" || true)
row "run --rm -p 38080:80 busybox true (docker CLI)" "$berth_p" "$peer_p" ""
berth_ps=$(DOCKER_HOST=$BERTH_SOCK median "docker ps")
peer_ps=$([ -n "$PEER" ] && DOCKER_HOST=$PEER median "docker ps" || true)
row "docker ps round trip" "$berth_ps" "$peer_ps" ""
row "berth CLI start (berth --version)" "$(median "$BERTH --version")" "$(median 'node -e 0')" "vs node -e 0"

# --- published port throughput: loopback -> -p -> httpd, next to straight to the container ---
mkdir -p "$W/www" && head -c 16384 /dev/urandom > "$W/www/f"
rps() { for _ in $(seq 50); do curl -sf -o /dev/null "$1" && break; sleep 0.1; done; ab -q -n 3000 -c 8 "$1" 2>/dev/null | awk '/Requests per second/{print $4}'; }
b run -d --name benchweb -p 38082:80 -v "$W/www:/www:ro" busybox httpd -f -p 80 -h /www >/dev/null
cip=$(b inspect -f '{{.NetworkSettings.IPAddress}}' benchweb)
rps_direct=$(rps "http://$cip:80/f"); rps_pub=$(rps "http://127.0.0.1:38082/f")
b rm -f benchweb >/dev/null
row "published port req/s (ab -c 8, 16 KiB) vs straight to the container" "$rps_pub" "$rps_direct" "≥ 0.8"
if [ -n "$PEER" ]; then
  d run -d --name benchweb -p 38083:80 -v "$W/www:/www:ro" busybox httpd -f -p 80 -h /www >/dev/null
  rps_docker=$(rps "http://127.0.0.1:38083/f"); d rm -f benchweb >/dev/null
  row "published port req/s, Berth vs Docker (docker-proxy)" "$rps_pub" "$rps_docker" "≥ 1 (higher is better)"
fi

# --- 20 detached containers, PSS per container, idle daemon memory ---
berth_20=$(seconds bash -c "for i in \$(seq 20); do DOCKER_HOST=$BERTH_SOCK docker run -d --network none busybox sleep 600; done")
pss() { for p in "$@"; do awk '/^Pss:/{print $2}' /proc/$p/smaps_rollup; done | awk '{s+=$1;n++} END{if(n) printf "%.0f", s/n}'; }
berth_pss=$(pss $(pgrep -f "conmon.*$XR" | head -20))
b rm -f $(b ps -q) >/dev/null
if [ -n "$PEER" ]; then
  peer_20=$(seconds bash -c "for i in \$(seq 20); do DOCKER_HOST=$PEER docker run -d --network none busybox sleep 600; done")
  peer_pss=$(pss $(pgrep -f "containerd-shim.*berthbench" | head -20))
  d rm -f $(d ps -q) >/dev/null
fi
row "20 × run -d one after another (s, docker CLI)" "$berth_20" "${peer_20:-}" "≤ 0.35 × Docker"
row "PSS per running container, kB (conmon vs containerd-shim)" "$berth_pss" "${peer_pss:-}" "≤ 0.35 × shim"
sleep 2
rss() { for p in "$@"; do awk '/^VmRSS:/{print $2}' /proc/$p/status; done | awk '{s+=$1} END{print s}'; }
berth_rss=$(rss $DPID)
peer_rss=$([ -n "$PEER" ] && rss "$DP_PID" $(pgrep -f "containerd --config.*$DP_RUN|containerd.*$DP_RUN" || true) || true)
row "idle daemon RSS, kB (berthd vs dockerd + containerd)" "$berth_rss" "$peer_rss" "≤ 0.5 × Docker"

# --- interactive: keystroke round trip and time to the first prompt (own daemons, see bench/keystroke.ts) ---
KEYS=300 RUNS=5 DOCKER_PEER_SOCK=${PEER#unix://} node dist/bench/keystroke.js > "$W/keys.txt" 2>&1 || true

# --- build the seed app (python base needed; skipped with a note otherwise) ---
PY=${BENCH_PY_IMAGE:-python:3.11-slim}  # what examples/webapp/Dockerfile builds FROM
BUILD_NOTE=""
if b image inspect "$PY" >/dev/null 2>&1 || { [ -x scripts/base-images.sh ] && DOCKER_HOST=$BERTH_SOCK scripts/base-images.sh python >/dev/null 2>&1; }; then
  cp -r examples/webapp "$W/app"
  sed -i "s#^FROM .*#FROM $PY#" "$W/app/Dockerfile"
  [ -n "$PEER" ] && b save "$PY" | d load >/dev/null
  for eng in berth docker; do
    host=$BERTH_SOCK; [ $eng = docker ] && host=$PEER
    [ -n "$host" ] || continue
    export DOCKER_HOST=$host
    cold=$(seconds docker build --no-cache -q -t benchapp "$W/app")
    cached=$(seconds docker build -q -t benchapp "$W/app")
    echo "# $(date +%s%N)" >> "$W/app/app.py"
    onefile=$(seconds docker build -q -t benchapp "$W/app")
    eval "${eng}_cold=$cold ${eng}_cached=$cached ${eng}_onefile=$onefile"
  done
  unset DOCKER_HOST
  row "cold build of the seed app (s)" "$berth_cold" "${docker_cold:-}" "≤ 0.7 × Docker"
  row "cached build (s)" "$berth_cached" "${docker_cached:-}" "≤ 0.5 × Docker"
  row "one-file-change build (s)" "$berth_onefile" "${docker_onefile:-}" "≤ 0.7 × Docker"
else
  BUILD_NOTE="(build rows skipped: no $PY image; make it with scripts/base-images.sh)"
fi

# --- push and pull of a 200 MB image through a registry on loopback (berth registry serve) ---
$BERTH registry serve --addr 127.0.0.1:35000 --root "$W/registry" >"$W/registry.log" 2>&1 &
REG_PID=$!
for _ in $(seq 50); do curl -sf http://127.0.0.1:35000/v2/ >/dev/null && break; sleep 0.1; done
mkdir -p "$W/big" && head -c 200000000 /dev/urandom > "$W/big/blob" && tar -cf "$W/big.tar" -C "$W/big" blob
b import "$W/big.tar" 127.0.0.1:35000/big:berth >/dev/null
berth_push=$(seconds env DOCKER_HOST=$BERTH_SOCK docker push 127.0.0.1:35000/big:berth)
b rmi 127.0.0.1:35000/big:berth >/dev/null
berth_pull=$(seconds env DOCKER_HOST=$BERTH_SOCK docker pull 127.0.0.1:35000/big:berth)
skopeo_copy=$(seconds skopeo copy --src-tls-verify=false docker://127.0.0.1:35000/big:berth "oci:$W/skopeo-oci:big")
if [ -n "$PEER" ]; then
  if b save 127.0.0.1:35000/big:berth | d load >"$W/load.out" 2>&1; then
    d tag 127.0.0.1:35000/big:berth 127.0.0.1:35000/big:docker && d rmi 127.0.0.1:35000/big:berth >/dev/null
  else
    echo "bench: loading the 200 MB image into Docker failed:" >&2; cat "$W/load.out" >&2
  fi
  docker_push=$(seconds env DOCKER_HOST=$PEER docker push 127.0.0.1:35000/big:docker)
  d rmi 127.0.0.1:35000/big:docker >/dev/null
  docker_pull=$(seconds env DOCKER_HOST=$PEER docker pull 127.0.0.1:35000/big:docker)
fi
row "push 200 MB to a local registry (s)" "$berth_push" "${docker_push:-}" "≤ 0.5 × Docker"
row "pull 200 MB from a local registry (s)" "$berth_pull" "${docker_pull:-}" "≤ 0.5 × Docker"
row "pull 200 MB vs skopeo copy to an OCI dir (s)" "$berth_pull" "$skopeo_copy" "≤ 1 × skopeo"

{
  echo "## $(date -u +%Y-%m-%d) on $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, kernel $(uname -r), load $(cut -d' ' -f1 /proc/loadavg)"
  echo
  peer_name="no dockerd installed: Docker columns empty"
  [ -n "$PEER" ] && peer_name="Docker $(d version -f '{{.Server.Version}}' 2>/dev/null) (Debian's docker.io, own socket and data root)"
  echo "Peer: $peer_name; the floor is bare \`crun run\`. Ratio = Berth / peer (lower is better unless noted)."
  echo "Seconds are medians of $RUNS runs (hyperfine) unless a row says otherwise; a loaded machine inflates both sides."
  echo
  echo "| measure | Berth | peer | ratio | target |"
  echo "|---|---|---|---|---|"
  printf '%s\n' "${ROWS[@]}"
  echo
  [ -n "$BUILD_NOTE" ] && echo "$BUILD_NOTE" && echo
  echo "Interactive (bench/keystroke.ts):"
  echo
  cat "$W/keys.txt"
} | tee "$W/table.md"
if [ "${1:-}" = "--write" ]; then bench_write "$W/table.md"; fi
