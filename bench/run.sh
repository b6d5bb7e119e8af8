#!/usr/bin/env bash
# Side-by-side benchmarks: Berth vs the bare crun floor, and vs Docker when a dockerd is installed.
# Prints a markdown table with ratios. Runs its own berthd (own data root and socket); leaves nothing behind.
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/.."
RUNS=${RUNS:-15}
W=$(mktemp -d /var/tmp/berth-bench.XXXXXX)
XR=$(mktemp -d /run/bb-XXXXXX)
SOCK="$XR/berth.sock"
BERTH="node $PWD/dist/src/cli/main.js"
export DOCKER_HOST="unix://$SOCK"
DPID=""
cleanup() {
  set +e
  ids=$($BERTH ps -aq 2>/dev/null); [ -n "$ids" ] && $BERTH rm -f $ids >/dev/null 2>&1
  [ -n "$DPID" ] && kill "$DPID" 2>/dev/null && wait "$DPID" 2>/dev/null
  [ -n "${DOCKERD_PID:-}" ] && kill "$DOCKERD_PID" 2>/dev/null && wait "$DOCKERD_PID" 2>/dev/null
  rm -rf "$W" "$XR"
}
trap cleanup EXIT

bin/berthd --data-root "$W/data" --exec-root "$XR" --log-level debug >"$W/berthd.log" 2>&1 &
DPID=$!
for _ in $(seq 100); do $BERTH version >/dev/null 2>&1 && break; sleep 0.1; done
scripts/busybox-rootfs.sh "$W/bb.tar" >/dev/null
$BERTH import --change 'CMD ["sh"]' "$W/bb.tar" busybox:latest >/dev/null

median() { hyperfine -N --runs "$RUNS" --warmup 2 --export-json "$W/h.json" "$@" >/dev/null 2>&1; node -e 'const r=require(process.argv[1]).results; console.log(r.map(x=>x.median.toFixed(4)).join(" "))' "$W/h.json"; }

# The floor: bare crun on the same rootfs (in the same private mount namespace berthd uses on hybrid-cgroup hosts).
mkdir -p "$W/floor/rootfs" && tar -xf "$W/bb.tar" -C "$W/floor/rootfs"
(cd "$W/floor" && crun spec && node -e '
  const f="config.json", s=JSON.parse(require("fs").readFileSync(f)); s.process.terminal=false; s.process.args=["/bin/true"];
  s.root.readonly=false; require("fs").writeFileSync(f, JSON.stringify(s));')
# hyperfine inside the private mount namespace (crun refuses hybrid cgroups otherwise; see docs/architecture.md).
unshare -m --propagation slave bash -c "umount -l /sys/fs/cgroup/unified 2>/dev/null; hyperfine -N --runs $RUNS --warmup 2 \
  --export-json $W/floor.json 'crun run --bundle $W/floor floorbench'" >/dev/null 2>&1
floor=$(node -e 'console.log(require(process.argv[1]).results[0].median.toFixed(4))' "$W/floor.json")

run_rm=$(median "$BERTH run --rm --network none busybox true")
run_bridge=$(median "$BERTH run --rm busybox true")
run_publish=$(median "$BERTH run --rm -p 38080:80 busybox true")
cli_start=$(median "$BERTH --version")
api_rt=$(median "$BERTH version")
docker_cli_rm=$(median "docker run --rm --network none busybox true")

# Where the daemon's time goes (median over the runs above, from berthd's debug timings).
phases=$(node -e '
  const lines=require("fs").readFileSync(process.argv[1],"utf8").split("\n");
  const by={}; for (const l of lines) { const m=/(start|exit) timing id=\S+(?: what=(\S+))? ms=(\d+)/.exec(l); if(!m) continue;
    const k=m[1]==="exit"?"exit cleanup":m[2]; (by[k]??=[]).push(+m[3]); }
  const med=a=>a.sort((x,y)=>x-y)[a.length>>1];
  console.log(Object.entries(by).map(([k,v])=>`${k}=${med(v)}ms`).join(", "));' "$W/berthd.log")

# Published-port throughput: loopback -> -p -> container httpd, next to straight to the container's address.
mkdir -p "$W/www" && head -c 16384 /dev/urandom > "$W/www/f"
$BERTH run -d --name benchweb -p 38081:80 -v "$W/www:/www:ro" busybox httpd -f -p 80 -h /www >/dev/null
cip=$($BERTH inspect -f '{{.NetworkSettings.IPAddress}}' benchweb)
for _ in $(seq 50); do curl -sf -o /dev/null "http://127.0.0.1:38081/f" && break; sleep 0.1; done
rps() { ab -q -n 3000 -c 8 "$1" 2>/dev/null | awk '/Requests per second/{print $4}'; }
rps_direct=$(rps "http://$cip:80/f")
rps_published=$(rps "http://127.0.0.1:38081/f")
$BERTH rm -f benchweb >/dev/null

# 20 detached containers, one after another, then PSS of their conmon monitors.
t0=$(date +%s.%N)
for i in $(seq 20); do $BERTH run -d --network none busybox sleep 600 >/dev/null; done
t1=$(date +%s.%N)
detached=$(echo "$t1 - $t0" | bc)
pss_kb=$(for p in $(pgrep -f "conmon.*$XR"); do awk '/^Pss:/{print $2}' /proc/$p/smaps_rollup; done | awk '{s+=$1;n++} END{printf "%.0f", s/n}')
$BERTH rm -f $($BERTH ps -q) >/dev/null
sleep 1
rss_kb=$(for p in $(pgrep -f "main.js --data-root $W/data"); do awk '/^VmRSS:/{print $2}' /proc/$p/status; done | awk '{s+=$1} END{print s}')

ratio() { node -e 'console.log((+process.argv[1]/+process.argv[2]).toFixed(2))' "$1" "$2"; }
echo "## Berth benchmarks ($(date -u +%Y-%m-%d), $(nproc) cores, $(uname -r), load $(cut -d' ' -f1 /proc/loadavg))"
echo
echo "| measure | Berth | floor / peer | ratio |"
echo "|---|---|---|---|"
echo "| run --rm --network none busybox true (median of $RUNS) | ${run_rm} s | crun run: ${floor} s | $(ratio "$run_rm" "$floor") × crun |"
echo "| same vs Docker 20.10 (0.20 s on this machine kind, from issue #2) | ${run_rm} s | 0.20 s | $(ratio "$run_rm" 0.20) × Docker |"
echo "| same through the docker CLI | ${docker_cli_rm} s | Docker 20.10: 0.20 s | $(ratio "$docker_cli_rm" 0.20) × Docker |"
echo "| run --rm busybox true, default bridge | ${run_bridge} s | Docker 20.10: 0.29 s | $(ratio "$run_bridge" 0.29) × Docker |"
echo "| run --rm -p 38080:80 busybox true | ${run_publish} s | Docker 20.10: 0.35 s | $(ratio "$run_publish" 0.35) × Docker |"
echo "| published port throughput (ab -c 8, 16 KiB) | ${rps_published} req/s | straight to the container: ${rps_direct} req/s | $(ratio "$rps_published" "$rps_direct") × direct |"
echo "| CLI start (berth --version) | ${cli_start} s | node -e 0: $(median 'node -e 0') s | |"
echo "| API round trip (berth version) | ${api_rt} s | | |"
echo "| 20 run -d one after another | ${detached} s | Docker 20.10: 4.6 s | $(ratio "$detached" 4.6) × Docker |"
echo "| PSS per running container (conmon) | ${pss_kb} kB | containerd-shim ≈ 7.6 MB | $(ratio "$pss_kb" 7782) × |"
echo "| idle berthd RSS (all its processes) | ${rss_kb} kB | dockerd+containerd ≈ 110 MB | $(ratio "$rss_kb" 112640) × |"
echo
echo "Daemon-side phases of a start (median): $phases"
