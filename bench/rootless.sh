#!/usr/bin/env bash
# Rootless Berth measured side by side, one run, as a throw-away user with its own subuid/subgid range (#16).
#   net:     the two user-mode networks standalone (slirp4netns vs pasta): an unprivileged user namespace + netns per
#            tool, TCP throughput out to a sink on the host's loopback through the tool's gateway mapping, and in
#            through its port forwarding (slirp4netns API add_hostfwd vs pasta -t), with the tool's CPU time per GiB;
#            rootful Berth's path (veth/bridge + its own -p publishing, no user-mode forwarder) for reference.
#   engines: `run --rm busybox true`, a build with RUN and -p throughput: rootless Berth next to rootful Berth and
#            next to rootless Podman (Debian's podman 4.3, when installed) as the same user. To install it without
#            starting any service: printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d; apt-get install podman.
# Every iteration runs each contender once, in turn, so the load of a shared machine hits all alike; the first
# iteration is a warm-up. Rows: medians of RUNS iterations, with the 1-minute load average at each measurement.
# Traffic: loopback and namespaces made here only. Leaves nothing behind (user, processes, podman storage, daemons).
# Usage (as root): bench/rootless.sh [net|engines|all] [--write]   (--write puts the tables into docs/benchmarks.md)
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/.."
WHAT=${1:-all}
WRITE=${2:-}
RUNS=${RUNS:-5}
MIB=${MIB:-256}
PY=/usr/bin/python3
TCPB="$PWD/bench/tcpbench.py"
W=$(mktemp -d /var/tmp/berth-rlbench.XXXXXX)
chmod 755 "$W"
XR=$(mktemp -d /run/brlb-XXXXXX)
RSOCK="unix://$XR/berth.sock"
BERTH="$PWD/bin/berth"

# --- the throw-away user: home and runtime dir of its own, a subuid/subgid range above every range in use ---
U=brlb$$
useradd -M -d "$W/home" -s /bin/sh -K SUB_UID_COUNT=0 -K SUB_GID_COUNT=0 "$U"
UID_=$(id -u "$U"); GID_=$(id -g "$U")
SUB=$(cat /etc/subuid /etc/subgid | awk -F: 'BEGIN{t=1000000} {if ($2+$3>t) t=$2+$3} END{print t + 65536}')
usermod --add-subuids "$SUB-$((SUB + 65535))" --add-subgids "$SUB-$((SUB + 65535))" "$U"
UR=/run/user/$UID_
mkdir -p "$W/home" "$UR" "$W/u"
chown "$U:" "$W/home" "$UR" "$W/u"
chmod 700 "$UR"
# as the user: a command prefix (not a function), so $! of a background "${AS[@]}" is the program itself
AS=(setpriv --reuid="$UID_" --regid="$GID_" --clear-groups env -i HOME="$W/home" USER="$U" XDG_RUNTIME_DIR="$UR"
  PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin)
as() { "${AS[@]}" "$@"; }
rb() { as "$BERTH" "$@"; }                 # rootless Berth (the CLI finds the user's socket)
b() { DOCKER_HOST=$RSOCK "$BERTH" "$@"; }  # rootful Berth
p() { as podman "$@"; }
PODMAN=$(command -v podman >/dev/null && echo yes || true)

PIDS=()
bg() { "$@" & PIDS+=($!); }
cleanup() {
  set +e
  ids=$(rb ps -aq 2>/dev/null); [ -n "$ids" ] && rb rm -f $ids >/dev/null 2>&1
  ids=$(b ps -aq 2>/dev/null); [ -n "$ids" ] && b rm -f $ids >/dev/null 2>&1
  if [ -n "$PODMAN" ]; then p rm -af -t 0 >/dev/null 2>&1; p system reset -f >/dev/null 2>&1; fi
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null; done
  # whatever the user still runs was started here (podman's pause process, conmons)
  for _ in $(seq 20); do
    left=$(pgrep -u "$UID_") || break
    kill -9 $left 2>/dev/null; sleep 0.1
  done
  usermod --del-subuids "$SUB-$((SUB + 65535))" --del-subgids "$SUB-$((SUB + 65535))" "$U"
  userdel "$U"
  rm -rf "$W" "$XR" "$UR"
}
trap cleanup EXIT

load() { cut -d' ' -f1 /proc/loadavg; }
med() { $PY -c 'import statistics,sys; v=[float(x) for x in sys.argv[1:] if x]; print(f"{statistics.median(v):.3f}" if v else "")' "$@"; }
range() { $PY -c 'import sys; v=[float(x) for x in sys.argv[1:]]; print(f"{min(v):.1f}-{max(v):.1f}")' "$@"; }
ratio() { $PY -c 'import sys; a,b=sys.argv[1:3]; print(f"{float(a)/float(b):.2f}" if a and b else "n/a")' "${1:-}" "${2:-}"; }
secs() { local t0; t0=$(date +%s.%N); "$@" >"$W/cmd.out" 2>&1 || { echo "bench: '$*' failed:" >&2; tail -3 "$W/cmd.out" >&2; echo ""; return 0; }; echo "$(date +%s.%N) - $t0" | bc; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# `send` through a path, recording MiB/s (and, with a pid, that process's CPU seconds per GiB) into arrays $2_t/$2_c
measure() { # measure NAME PID|- CMD...
  local name=$1 pid=$2 c0 c1 t; shift 2
  [ "$pid" != - ] && c0=$(cpu_ticks "$pid")
  t=$("$@" 2>"$W/send.err") || { echo "bench: $name: $(tail -1 "$W/send.err")" >&2; t=""; }
  eval "${name}_t+=(\"$t\")"; eval "${name}_l+=(\"$(load)\")"
  if [ "$pid" != - ]; then c1=$(cpu_ticks "$pid"); eval "${name}_c+=(\"$(echo "scale=3; ($c1 - $c0) / $(getconf CLK_TCK) * 1024 / $MIB" | bc)\")"; fi
}
wait_port() { for _ in $(seq 100); do "$@" 2>/dev/null && return 0; sleep 0.1; done; return 1; }
send() { $PY "$TCPB" send "$1" "$2" "$MIB"; }

# --- rootful Berth (own data root, socket, bridge and subnet) ---
bin/berthd --data-root "$W/rootful" --exec-root "$XR" --bridge brlb0 --bip 10.246.91.0/24 --bridge-prefix brlb \
  --registries-loopback-only >"$W/berthd.log" 2>&1 &
PIDS+=($!)
wait_port b version >/dev/null
scripts/busybox-rootfs.sh "$W/bb.tar" >/dev/null
chmod 644 "$W/bb.tar"
b import --change 'CMD ["sh"]' "$W/bb.tar" busybox:latest >/dev/null
GW_ROOTFUL=10.246.91.1
TABLES=()

net_bench() {
  command -v pasta >/dev/null || { echo "bench: pasta missing (apt-get install passt; scripts/setup.sh)" >&2; exit 1; }
  # slirp4netns and pasta, each joined to its own user+net namespace (a sleeping process as the user)
  bg "${AS[@]}" unshare --user --map-root-user --net sleep 3600; NS_S=$!
  bg "${AS[@]}" unshare --user --map-root-user --net sleep 3600; NS_P=$!
  sleep 0.3
  # host loopback reachable as 10.0.2.2: the gateway mapping measured (berthd itself runs with --disable-host-loopback)
  bg "${AS[@]}" slirp4netns --configure --mtu=65520 --api-socket "$W/u/slirp.sock" "$NS_S" tap0; SLIRP=$!
  bg "${AS[@]}" pasta -f -q --config-net -t 127.0.0.1/39202 -u none -T none -U none "$NS_P"; PASTA=$!
  ins() { "${AS[@]}" nsenter -t "$1" -U -n --preserve-credentials "${@:2}"; }
  wait_port test -S "$W/u/slirp.sock"
  wait_port ins "$NS_S" ip -4 addr show tap0 | grep -q 10.0.2.100
  # pasta copies the host's addresses and routes; its gateway address is the host's loopback
  wait_port sh -c "[ -n \"\$(setpriv --reuid=$UID_ --regid=$GID_ --clear-groups nsenter -t $NS_P -U -n --preserve-credentials ip -4 route show default)\" ]"
  GW_PASTA=$(ins "$NS_P" ip -4 route show default | awk '{print $3; exit}')
  bg $PY "$TCPB" sink 39200 127.0.0.1
  bg "${AS[@]}" nsenter -t "$NS_S" -U -n --preserve-credentials $PY "$TCPB" sink 39201
  bg "${AS[@]}" nsenter -t "$NS_P" -U -n --preserve-credentials $PY "$TCPB" sink 39202
  echo '{"execute":"add_hostfwd","arguments":{"proto":"tcp","host_addr":"127.0.0.1","host_port":39201,"guest_port":39201}}' |
    as $PY -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(sys.stdin.buffer.read()); s.shutdown(1); r=s.recv(999); sys.exit(b"return" not in r)' "$W/u/slirp.sock"
  # rootful: a Berth container on the bridge, -p published by Berth; the same sink/sender run in its netns
  b run -d --name rlb-net -p 127.0.0.1:39203:39203 busybox sleep 3600 >/dev/null
  CPID=$(b inspect -f '{{.State.Pid}}' rlb-net)
  bg $PY "$TCPB" sink 39204 "$GW_ROOTFUL"
  bg nsenter -t "$CPID" -n $PY "$TCPB" sink 39203
  wait_port sh -c "ss -ltn | grep -q 39204"
  for i in $(seq 0 "$RUNS"); do
    [ "$i" = 0 ] && pfx=warm_ || pfx=""
    measure "${pfx}s_out" "$SLIRP" ins "$NS_S" $PY "$TCPB" send 10.0.2.2 39200 "$MIB"
    measure "${pfx}p_out" "$PASTA" ins "$NS_P" $PY "$TCPB" send "$GW_PASTA" 39200 "$MIB"
    measure "${pfx}r_out" - nsenter -t "$CPID" -n $PY "$TCPB" send "$GW_ROOTFUL" 39204 "$MIB"
    measure "${pfx}s_in" "$SLIRP" send 127.0.0.1 39201
    measure "${pfx}p_in" "$PASTA" send 127.0.0.1 39202
    measure "${pfx}r_in" - send 127.0.0.1 39203
  done
  b rm -f rlb-net >/dev/null
  local so po ro si pi ri
  so=$(med "${s_out_t[@]}"); po=$(med "${p_out_t[@]}"); ro=$(med "${r_out_t[@]}")
  si=$(med "${s_in_t[@]}"); pi=$(med "${p_in_t[@]}"); ri=$(med "${r_in_t[@]}")
  TABLES+=("User-mode networks standalone (bench/rootless.sh net): MiB/s of one TCP stream of $MIB MiB (bench/tcpbench.py at both ends),
CPU = the forwarder's user+system seconds per GiB moved; medians of $RUNS after a warm-up, interleaved; load = 1-minute load average at the measurements.

| path | slirp4netns MiB/s | pasta MiB/s | pasta / slirp4netns | rootful Berth MiB/s | slirp4netns CPU s/GiB | pasta CPU s/GiB | load |
|---|---|---|---|---|---|---|---|
| out: netns → host loopback via the gateway mapping | $so | $po | $(ratio "$po" "$so") | $ro (veth → bridge address) | $(med "${s_out_c[@]}") | $(med "${p_out_c[@]}") | $(range "${s_out_l[@]}" "${p_out_l[@]}" "${r_out_l[@]}") |
| in: host 127.0.0.1 → port forward → netns | $si | $pi | $(ratio "$pi" "$si") | $ri (-p, netavark DNAT) | $(med "${s_in_c[@]}") | $(med "${p_in_c[@]}") | $(range "${s_in_l[@]}" "${p_in_l[@]}" "${r_in_l[@]}") |
")
}

engines_bench() {
  bg "${AS[@]}" "$PWD/bin/berthd" --registries-loopback-only >"$W/rootless.log" 2>&1
  # wait for its socket: a CLI command before that would start a second daemon
  wait_port test -S "$UR/berth/berth.sock" || { cat "$W/rootless.log" >&2; exit 1; }
  rb import --change 'CMD ["sh"]' "$W/bb.tar" busybox:latest >/dev/null
  if [ -n "$PODMAN" ]; then
    # this host's hybrid cgroups: crun refuses them (Berth hides the cgroup2 mount from it), runc takes them
    # (rootless on cgroup v1 it makes no cgroups, as Berth, which refuses limits there)
    mkdir -p "$W/home/.config/containers"
    printf '[engine]\nruntime = "runc"\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n' \
      >"$W/home/.config/containers/containers.conf"
    chown -R "$U:" "$W/home/.config"
    p import --change 'CMD ["sh"]' "$W/bb.tar" busybox:latest >/dev/null
  fi
  mkdir -p "$W/ctx" && printf 'FROM busybox\nRUN echo built > /built && ls /bin | wc -l > /applets\n' >"$W/ctx/Dockerfile"
  chmod -R a+rX "$W/ctx"
  rb run -d --name rlb-p -p 39301:80 busybox sleep 3600 >/dev/null
  b run -d --name rlb-p -p 39302:80 busybox sleep 3600 >/dev/null
  # rootless Berth's links before ROOTLESS_MTU: 1500, as rootful
  rb network create -o com.docker.network.driver.mtu=1500 rlb-1500 >/dev/null
  rb run -d --name rlb-p1500 --network rlb-1500 -p 39304:80 busybox sleep 3600 >/dev/null
  local pids=("$(rb inspect -f '{{.State.Pid}}' rlb-p)" "$(b inspect -f '{{.State.Pid}}' rlb-p)" "$(rb inspect -f '{{.State.Pid}}' rlb-p1500)")
  if [ -n "$PODMAN" ]; then
    p run -d --name rlb-p -p 39303:80 busybox sleep 3600 >/dev/null
    pids+=("$(p inspect -f '{{.State.Pid}}' rlb-p)")
  fi
  for pid in "${pids[@]}"; do bg nsenter -t "$pid" -n $PY "$TCPB" sink 80; done
  sleep 1
  for i in $(seq 0 "$RUNS"); do
    [ "$i" = 0 ] && pfx=warm_ || pfx=""
    eval "${pfx}rl_run+=(\"$(secs rb run --rm busybox true)\")"; eval "${pfx}rl_run_l+=($(load))"
    eval "${pfx}rf_run+=(\"$(secs b run --rm busybox true)\")"; eval "${pfx}rf_run_l+=($(load))"
    [ -n "$PODMAN" ] && { eval "${pfx}pm_run+=(\"$(secs p run --rm busybox true)\")"; eval "${pfx}pm_run_l+=($(load))"; }
    eval "${pfx}rl_build+=(\"$(secs rb build --no-cache -q -t rlb-built "$W/ctx")\")"; eval "${pfx}rl_build_l+=($(load))"
    eval "${pfx}rf_build+=(\"$(secs b build --no-cache -q -t rlb-built "$W/ctx")\")"; eval "${pfx}rf_build_l+=($(load))"
    [ -n "$PODMAN" ] && { eval "${pfx}pm_build+=(\"$(secs p build --no-cache -q -t rlb-built "$W/ctx")\")"; eval "${pfx}pm_build_l+=($(load))"; }
    measure "${pfx}rl_p" - send 127.0.0.1 39301
    measure "${pfx}rf_p" - send 127.0.0.1 39302
    [ -n "$PODMAN" ] && measure "${pfx}pm_p" - send 127.0.0.1 39303
    measure "${pfx}rl1500_p" - send 127.0.0.1 39304
  done
  local r
  row() { # row LABEL UNIT rootless rootful podman loads...
    local label=$1 rl=$3 rf=$4 pm=$5; shift 5
    echo "| $label | $rl | $rf | $(ratio "$rl" "$rf") | ${pm:-n/a} | $(ratio "$rl" "$pm") | $(range "$@") |"
  }
  r=$(row 'run --rm busybox true (s)' s "$(med "${rl_run[@]}")" "$(med "${rf_run[@]}")" "$(med "${pm_run[@]:-}")" "${rl_run_l[@]}" "${rf_run_l[@]}" ${pm_run_l[@]:-})
  r+=$'\n'$(row 'build --no-cache, FROM busybox + one RUN (s)' s "$(med "${rl_build[@]}")" "$(med "${rf_build[@]}")" "$(med "${pm_build[@]:-}")" "${rl_build_l[@]}" "${rf_build_l[@]}" ${pm_build_l[@]:-})
  r+=$'\n'$(row "-p throughput, host 127.0.0.1 → container, MiB/s of $MIB MiB (higher is better)" MiB/s "$(med "${rl_p_t[@]}")" "$(med "${rf_p_t[@]}")" "$(med "${pm_p_t[@]:-}")" "${rl_p_l[@]}" "${rf_p_l[@]}" ${pm_p_l[@]:-})
  r+=$'\n'$(row "same, rootless Berth on a network with a 1500-byte link MTU (before ROOTLESS_MTU)" MiB/s "$(med "${rl1500_p_t[@]}")" "$(med "${rf_p_t[@]}")" "$(med "${pm_p_t[@]:-}")" "${rl1500_p_l[@]}")
  TABLES+=("Engines (bench/rootless.sh engines): rootless Berth (user namespace, slirp4netns + its API port forwards) as a throw-away user
with a subuid range, rootful Berth, rootless Podman $(p --version 2>/dev/null | awk '{print $3}') as the same user (its defaults: slirp4netns per container, rootlessport);
medians of $RUNS after a warm-up, interleaved; load = range of the 1-minute load average at the measurements.

| measure | rootless Berth | rootful Berth | rootless / rootful | rootless Podman | Berth / Podman | load |
|---|---|---|---|---|---|---|
$r
")
}

case $WHAT in
  net) net_bench ;;
  engines) engines_bench ;;
  all) net_bench; engines_bench ;;
  *) echo "usage: $0 [net|engines|all] [--write]" >&2; exit 2 ;;
esac

OUT="## $(date -u +%F) rootless (bench/rootless.sh $WHAT) on $(nproc) cores, kernel $(uname -r)
"
for t in "${TABLES[@]}"; do OUT+=$'\n'"$t"; done
printf '%s\n' "$OUT"
if [ "$WRITE" = --write ]; then
  $PY - "$OUT" docs/benchmarks.md <<'EOF'
import sys
out, f = sys.argv[1], sys.argv[2]
s = open(f).read()
head, sep, rest = s.partition("\n## ")
open(f, "w").write(head + "\n" + out + "\n" + sep.lstrip("\n") + rest if sep else s + "\n" + out)
EOF
fi
