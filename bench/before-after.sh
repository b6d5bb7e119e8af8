#!/usr/bin/env bash
# Issue #18's hot paths, Berth before (BASE, default the merge base with main, built in a scratch copy) and after (this
# tree) in one run, both daemons up side by side, with Docker (Debian's dockerd) and Podman as peers when installed:
#   run --rm --network none busybox true (docker CLI and berth CLI); pull of a ~200 MB image (4 random-data layers)
#   from a loopback `berth registry serve`, next to `skopeo copy` into a dir; `berth ps` start.
# Every row is a median of RUNS (7) interleaved rounds after WARMUP (2) (bench/interleave.ts): each round runs each
# engine once, so load from other work falls on all alike. The load average is recorded.
# Usage: bench/before-after.sh [--peers]   (env: RUNS, WARMUP, BASE, PULL_RUNS)
# --peers starts dockerd (--iptables=false --ip-masq=false --bridge=none, own data root under /var/tmp, own socket) and
# uses podman (--network none, own root; explicit nofile/nproc limits: its defaults raise them, which needs
# CAP_SYS_RESOURCE, absent in some sandboxes); both are stopped and what they made is removed afterwards.
# Runs its own berthds (own data roots, sockets, bridges); leaves nothing behind.
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/.."
export RUNS=${RUNS:-7} WARMUP=${WARMUP:-2}
PULL_RUNS=${PULL_RUNS:-5}
BASE=${BASE:-$(git merge-base HEAD main)}
PEERS=""; [ "${1:-}" = --peers ] && PEERS=1
W=$(mktemp -d /var/tmp/berth-bench-ba.XXXXXX)
XB=$(mktemp -d /run/bba-XXXXXX); XA=$(mktemp -d /run/bba-XXXXXX)
SB="unix://$XB/berth.sock"; SA="unix://$XA/berth.sock"
REG=127.0.0.1:35071
DR=$W/docker; DS="unix://$W/docker.sock"
PODMAN=(podman --root "$W/podman/root" --runroot "$W/podman/run" --tmpdir "$W/podman/tmp" --cgroup-manager cgroupfs --events-backend file)
PIDS=()
cleanup() {
  set +e
  for s in "$SA" "$SB"; do ids=$(DOCKER_HOST=$s bin/berth ps -aq 2>/dev/null); [ -n "$ids" ] && DOCKER_HOST=$s bin/berth rm -f $ids >/dev/null 2>&1; done
  if [ -n "$PEERS" ]; then
    ids=$(DOCKER_HOST=$DS docker ps -aq 2>/dev/null); [ -n "$ids" ] && DOCKER_HOST=$DS docker rm -f $ids >/dev/null 2>&1
    "${PODMAN[@]}" rm -af >/dev/null 2>&1; "${PODMAN[@]}" rmi -af >/dev/null 2>&1
  fi
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  [ -n "$PEERS" ] && { pkill -f "containerd.*$W/docker" 2>/dev/null; umount -R "$DR" 2>/dev/null; umount -R "$W/podman" 2>/dev/null; }
  # the cgroup parents dockerd and podman made (only those that were not there before)
  for d in $NEW_CGROUPS; do find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null; done
  for p in $NEW_PATHS; do rm -rf "$p"; done # podman's network locks and run dir
  rm -rf "$W" "$XA" "$XB"
}
trap cleanup EXIT
ratio() { node -e 'const [a,b]=process.argv.slice(1).map(Number); console.log(a&&b ? (a/b).toFixed(2) : "n/a")' "${1:-0}" "${2:-0}"; }
med() { node -e 'const r=JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"))[process.argv[2]]; const v=r && r[process.argv[3] || "median"]; console.log(typeof v === "number" ? v.toFixed(4) : "")' "$1" "$2" "${3:-}"; }

# the code before the change, built beside this tree (node_modules and the native addon shared)
mkdir -p "$W/before"
git archive "$BASE" | tar -x -C "$W/before"
ln -s "$PWD/node_modules" "$W/before/node_modules"
mkdir -p "$W/before/native/build/Release" && cp native/build/Release/berth_native.node "$W/before/native/build/Release/"
(cd "$W/before" && npx tsc -p .) >/dev/null

start_berthd() { # tree exec-root data-root bridge-number
  "$1/bin/berthd" --data-root "$3" --exec-root "$2" --bridge "bba$4" --bip "10.247.$4.0/24" --bridge-prefix "bba$4" \
    --registries-loopback-only >"$3.log" 2>&1 &
  PIDS+=($!)
  LAST_BERTHD=$! # bin/berthd execs all the way: this is berthd's own pid
  for _ in $(seq 100); do DOCKER_HOST="unix://$2/berth.sock" bin/berth version >/dev/null 2>&1 && return; sleep 0.1; done
  echo "bench: berthd from $1 did not start" >&2; tail -5 "$3.log" >&2; exit 1
}
start_berthd "$W/before" "$XB" "$W/data-before" 1; PB=$LAST_BERTHD
start_berthd "$PWD" "$XA" "$W/data-after" 2; PA=$LAST_BERTHD
scripts/busybox-rootfs.sh "$W/bb.tar" >/dev/null
for s in "$SB" "$SA"; do DOCKER_HOST=$s bin/berth import --change 'CMD ["sh"]' "$W/bb.tar" busybox:latest >/dev/null; done

PEER_NOTE="no peers (run with --peers)"
NEW_CGROUPS=""; NEW_PATHS=""
if [ -n "$PEERS" ]; then
  NEW_CGROUPS=$(for c in /sys/fs/cgroup/*/; do for n in docker libpod_parent; do [ -d "$c$n" ] || echo "$c$n"; done; done)
  NEW_PATHS=$(for p in /etc/containers/networks /run/containers /etc/cni/net.d/cni.lock; do [ -e "$p" ] || echo "$p"; done)
  mkdir -p "$DR"
  dockerd --data-root "$DR/data" --exec-root "$DR/exec" --pidfile "$DR/docker.pid" -H "$DS" --iptables=false --ip-masq=false \
    --bridge=none --containerd-namespace berthba --containerd-plugins-namespace berthba-plugins >"$DR.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 200); do DOCKER_HOST=$DS docker version >/dev/null 2>&1 && break; sleep 0.1; done
  DOCKER_HOST=$DS docker import --change 'CMD ["sh"]' "$W/bb.tar" busybox:latest >/dev/null
  "${PODMAN[@]}" import --change 'CMD ["sh"]' "$W/bb.tar" localhost/busybox:latest >/dev/null
  PEER_NOTE="Docker $(DOCKER_HOST=$DS docker version -f '{{.Server.Version}}') (dockerd --iptables=false --bridge=none, own root); Podman $("${PODMAN[@]}" version -f '{{.Client.Version}}') (crun, conmon, cgroupfs, own root)"
fi

# crun refuses hybrid cgroups: podman (no daemon to do it once, as berthd does) runs in a private mount namespace
# without the cgroup2 mount, like everything in these rounds (the CLIs are only clients of their sockets)
interleave() { unshare -m --propagation slave bash -c 'umount -l /sys/fs/cgroup/unified 2>/dev/null; exec node dist/bench/interleave.js "$1"' _ "$1"; }
spec() { node -e 'console.log(JSON.stringify(JSON.parse(process.argv[1])))' "$1"; }
load0=$(cut -d' ' -f1-3 /proc/loadavg)

# --- run --rm --network none busybox true ---
RUN='"run","--rm","--network","none","busybox","true"'
PRUN='"run","--ulimit","nofile=1024:1024","--ulimit","nproc=1024:1024","--rm","--network","none","localhost/busybox","true"'
cat >"$W/run.json" <<EOF
[{"name":"dcli-before","cmd":["env","DOCKER_HOST=$SB","docker",$RUN],"cpuOf":$PB},
 {"name":"dcli-after","cmd":["env","DOCKER_HOST=$SA","docker",$RUN],"cpuOf":$PA},
 {"name":"berth-before","cmd":["env","DOCKER_HOST=$SB","$W/before/bin/berth",$RUN]},
 {"name":"berth-after","cmd":["env","DOCKER_HOST=$SA","$PWD/bin/berth",$RUN]}
 $([ -n "$PEERS" ] && echo ",{\"name\":\"docker\",\"cmd\":[\"env\",\"DOCKER_HOST=$DS\",\"docker\",$RUN]},{\"name\":\"podman\",\"cmd\":[$(printf '"%s",' "${PODMAN[@]}")$PRUN]}")]
EOF
interleave "$W/run.json" >"$W/run.out"

# --- berth ps start (each CLI against its own daemon) ---
cat >"$W/ps.json" <<EOF
[{"name":"ps-before","cmd":["env","DOCKER_HOST=$SB","$W/before/bin/berth","ps"]},
 {"name":"ps-after","cmd":["env","DOCKER_HOST=$SA","$PWD/bin/berth","ps"]},
 {"name":"dps-after","cmd":["env","DOCKER_HOST=$SA","docker","ps"]}
 $([ -n "$PEERS" ] && echo ",{\"name\":\"docker\",\"cmd\":[\"env\",\"DOCKER_HOST=$DS\",\"docker\",\"ps\"]},{\"name\":\"podman\",\"cmd\":[$(printf '"%s",' "${PODMAN[@]}")\"ps\"]}")]
EOF
RUNS=$((RUNS * 2)) interleave "$W/ps.json" >"$W/ps.out"

# --- pull ~200 MB (4 layers of 50 MB random data) from a loopback registry ---
bin/berth registry serve --addr $REG --root "$W/registry" >"$W/registry.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 50); do curl -sf http://$REG/v2/ >/dev/null && break; sleep 0.1; done
mkdir -p "$W/ctx"
for i in 1 2 3 4; do head -c 50000000 /dev/urandom >"$W/ctx/r$i"; done
printf 'FROM busybox\nCOPY r1 /r1\nCOPY r2 /r2\nCOPY r3 /r3\nCOPY r4 /r4\n' >"$W/ctx/Dockerfile"
DOCKER_HOST=$SA docker build -q -t $REG/big:1 "$W/ctx" >/dev/null
DOCKER_HOST=$SA docker push -q $REG/big:1 >/dev/null
DOCKER_HOST=$SA docker rmi $REG/big:1 >/dev/null
size_mb=$(curl -sf -H 'Accept: application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json' http://$REG/v2/big/manifests/1 |
  node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(Math.round(JSON.parse(s).layers.reduce((a,l)=>a+l.size,0)/1e6)))')
PULL='"pull","-q","'$REG'/big:1"'
cat >"$W/pull.json" <<EOF
[{"name":"pull-before","cmd":["env","DOCKER_HOST=$SB","docker",$PULL],"prepare":"DOCKER_HOST=$SB docker rmi -f $REG/big:1","cpuOf":$PB},
 {"name":"pull-after","cmd":["env","DOCKER_HOST=$SA","docker",$PULL],"prepare":"DOCKER_HOST=$SA docker rmi -f $REG/big:1","cpuOf":$PA},
 {"name":"skopeo","cmd":["skopeo","copy","-q","--src-tls-verify=false","docker://$REG/big:1","dir:$W/skopeo"],"prepare":"rm -rf $W/skopeo"}
 $([ -n "$PEERS" ] && echo ",{\"name\":\"docker\",\"cmd\":[\"env\",\"DOCKER_HOST=$DS\",\"docker\",$PULL],\"prepare\":\"DOCKER_HOST=$DS docker rmi -f $REG/big:1\"},{\"name\":\"podman\",\"cmd\":[$(printf '"%s",' "${PODMAN[@]}")\"pull\",\"-q\",\"--tls-verify=false\",\"$REG/big:1\"],\"prepare\":\"$(printf '%s ' "${PODMAN[@]}")rmi -f $REG/big:1\"}")]
EOF
RUNS=$PULL_RUNS WARMUP=1 interleave "$W/pull.json" >"$W/pull.out"
load1=$(cut -d' ' -f1-3 /proc/loadavg)

for f in run ps pull; do echo "raw $f: $(cat "$W/$f.out")" >&2; done
r() { med "$W/$1.out" "$2" "${3:-}"; }
row() { # label before after [peer-name-in-file file]
  local b=$2 a=$3 d="" p=""
  [ -n "$PEERS" ] && { d=$(r "$4" docker); p=$(r "$4" podman); }
  echo "| $1 | $b | $a | $(ratio "$a" "$b") | ${d:-n/a} | $(ratio "$a" "$d") | ${p:-n/a} | $(ratio "$a" "$p") |"
}
echo "### $(date -u '+%Y-%m-%d %H:%M') before/after (bench/before-after.sh), $(nproc) cores, load average $load0 at the start, $load1 at the end"
echo
echo "Before = $(git rev-parse --short "$BASE"), after = $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src || echo ' + uncommitted changes'). Peers: $PEER_NOTE."
echo "Seconds, medians of $RUNS interleaved rounds after $WARMUP warm-up rounds ($PULL_RUNS after 1 for pulls; $((RUNS * 2)) for ps)."
echo
echo "| measure | before | after | after/before | Docker | after/Docker | Podman | after/Podman |"
echo "|---|---|---|---|---|---|---|---|"
row "run --rm --network none busybox true, docker CLI → berthd" "$(r run dcli-before)" "$(r run dcli-after)" run
row "same, berth CLI" "$(r run berth-before)" "$(r run berth-after)" run
row "berth ps (CLI start + one request; peers: their own ps)" "$(r ps ps-before)" "$(r ps ps-after)" ps
row "pull $size_mb MB (4 layers) from a loopback registry (docker CLI → berthd)" "$(r pull pull-before)" "$(r pull pull-after)" pull
echo "| same, skopeo copy to a dir | | $(r pull skopeo) | after/skopeo $(ratio "$(r pull pull-after)" "$(r pull skopeo)") | | | | |"
echo "| berthd CPU seconds per run --rm (its threads + waited children; conmon's not counted) | $(r run dcli-before cpuMedian) | $(r run dcli-after cpuMedian) | $(ratio "$(r run dcli-after cpuMedian)" "$(r run dcli-before cpuMedian)") | | | | |"
echo "| berthd CPU seconds per pull (threads + tar, sync) | $(r pull pull-before cpuMedian) | $(r pull pull-after cpuMedian) | $(ratio "$(r pull pull-after cpuMedian)" "$(r pull pull-before cpuMedian)") | | | | |"
