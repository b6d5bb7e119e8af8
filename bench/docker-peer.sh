# Sourced by bench/run.sh: Debian's dockerd (docker.io) as the side-by-side peer, on its own socket and data root.
# Never a dependency of Berth: used only when installed. docker_peer_stop removes its bridge and iptables changes.
DP_ROOT=/var/tmp/berth-bench-docker
DP_RUN=/run/bbd
DP_SOCK="unix://$DP_RUN/docker.sock"

docker_peer_start() {
  command -v dockerd >/dev/null || return 1
  mkdir -p "$DP_ROOT" "$DP_RUN"
  DP_FORWARD_POLICY=$(iptables -S FORWARD | awk '/^-P FORWARD/{print $3}')
  dockerd --data-root "$DP_ROOT/data" --exec-root "$DP_RUN/exec" --pidfile "$DP_RUN/docker.pid" -H "$DP_SOCK" \
    --containerd-namespace berthbench --containerd-plugins-namespace berthbench-plugins >"$DP_ROOT/dockerd.log" 2>&1 &
  DP_PID=$!
  for _ in $(seq 200); do DOCKER_HOST=$DP_SOCK docker version >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "dockerd did not start; see $DP_ROOT/dockerd.log" >&2
  return 1
}

docker_peer_stop() {
  [ -n "${DP_PID:-}" ] || return 0
  ids=$(DOCKER_HOST=$DP_SOCK docker ps -aq 2>/dev/null); [ -n "$ids" ] && DOCKER_HOST=$DP_SOCK docker rm -f $ids >/dev/null 2>&1
  kill "$DP_PID" 2>/dev/null; wait "$DP_PID" 2>/dev/null
  pkill -f "containerd.*$DP_RUN" 2>/dev/null
  # Docker leaves its bridge, chains and a DROP policy behind: put the host back as it was.
  ip link del docker0 2>/dev/null
  for t in filter nat; do
    iptables -t $t -S | grep -E -- '-j DOCKER(-[A-Z0-9-]+)?( |$)' | grep '^-A' | sed 's/^-A/-D/' | while read -r r; do eval iptables -t $t $r; done
    iptables -t $t -S | grep -E -- 'docker0|172\.17\.0\.0/16' | grep '^-A' | sed 's/^-A/-D/' | while read -r r; do eval iptables -t $t $r; done
    for c in $(iptables -t $t -S | awk '/^-N DOCKER/{print $2}'); do iptables -t $t -F "$c"; done
    for c in $(iptables -t $t -S | awk '/^-N DOCKER/{print $2}'); do iptables -t $t -X "$c"; done
  done
  [ -n "${DP_FORWARD_POLICY:-}" ] && iptables -P FORWARD "$DP_FORWARD_POLICY"
  umount -R "$DP_ROOT/data" 2>/dev/null
  rm -rf "$DP_ROOT" "$DP_RUN"
  DP_PID=
}
