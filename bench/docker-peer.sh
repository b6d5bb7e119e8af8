# Sourced by the bench scripts: Debian's dockerd (docker.io) as the side-by-side peer, on its own socket and data root.
# Never a dependency of Berth: used only when installed. docker_peer_stop removes what it made.
# DP_BRIDGE (with DP_BIP, e.g. 10.251.38.1/24) gives it a bridge of its own with --iptables=false: it then never
# touches docker0 or the host's iptables, so it can run next to another dockerd. Without it, Docker makes docker0 and
# its chains, and docker_peer_stop takes them away again (bench/run.sh, on a machine of its own).
DP_ROOT=${DP_ROOT:-/var/tmp/berth-bench-docker}
DP_RUN=${DP_RUN:-/run/bbd}
DP_NS=${DP_NS:-berthbench}
DP_SOCK="unix://$DP_RUN/docker.sock"

docker_peer_start() {
  command -v dockerd >/dev/null || return 1
  mkdir -p "$DP_ROOT" "$DP_RUN"
  local net=()
  if [ -n "${DP_BRIDGE:-}" ]; then
    ip link add "$DP_BRIDGE" type bridge && ip addr add "$DP_BIP" dev "$DP_BRIDGE" && ip link set "$DP_BRIDGE" up
    net=(--bridge "$DP_BRIDGE" --iptables=false --ip-masq=false)
  else
    DP_FORWARD_POLICY=$(iptables -S FORWARD | awk '/^-P FORWARD/{print $3}')
  fi
  dockerd --data-root "$DP_ROOT/data" --exec-root "$DP_RUN/exec" --pidfile "$DP_RUN/docker.pid" -H "$DP_SOCK" \
    --containerd-namespace "$DP_NS" --containerd-plugins-namespace "$DP_NS-plugins" "${net[@]}" >"$DP_ROOT/dockerd.log" 2>&1 &
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
  if [ -n "${DP_BRIDGE:-}" ]; then
    ip link del "$DP_BRIDGE" 2>/dev/null
  else
    # Docker leaves its bridge, chains and a DROP policy behind: put the host back as it was.
    ip link del docker0 2>/dev/null
    for t in filter nat; do
      iptables -t $t -S | grep -E -- '-j DOCKER(-[A-Z0-9-]+)?( |$)' | grep '^-A' | sed 's/^-A/-D/' | while read -r r; do eval iptables -t $t $r; done
      iptables -t $t -S | grep -E -- 'docker0|172\.17\.0\.0/16' | grep '^-A' | sed 's/^-A/-D/' | while read -r r; do eval iptables -t $t $r; done
      for c in $(iptables -t $t -S | awk '/^-N DOCKER/{print $2}'); do iptables -t $t -F "$c"; done
      for c in $(iptables -t $t -S | awk '/^-N DOCKER/{print $2}'); do iptables -t $t -X "$c"; done
    done
    [ -n "${DP_FORWARD_POLICY:-}" ] && iptables -P FORWARD "$DP_FORWARD_POLICY"
  fi
  umount -R "$DP_ROOT/data" 2>/dev/null
  rm -rf "$DP_ROOT" "$DP_RUN"
  DP_PID=
}
