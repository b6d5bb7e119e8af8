#!/usr/bin/env bash
# Remote transports next to the local unix socket: `ps` and `run --rm` through the berth CLI over ssh:// (a private
# OpenSSH server on 127.0.0.1 running `berth system dial-stdio`) and over TCP with mutual TLS, with ratios to the
# unix socket; the docker CLI over ssh to berthd too, and (when a dockerd answers on /var/run/docker.sock) the docker
# CLI over ssh to Docker next to its own unix socket. Medians of RUNS runs (hyperfine). Leaves nothing behind.
# Usage: bench/remote.sh
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/.."
RUNS=${RUNS:-10}
W=$(mktemp -d /var/tmp/berth-bench-remote.XXXXXX)
XR=$(mktemp -d /run/bbr-XXXXXX)
SOCK="unix://$XR/berth.sock"
BERTH="$PWD/bin/berth"
DPID=""; SPID=""; SPID2=""
cleanup() {
  set +e
  ids=$(DOCKER_HOST=$SOCK $BERTH ps -aq 2>/dev/null); [ -n "$ids" ] && DOCKER_HOST=$SOCK $BERTH rm -f $ids >/dev/null 2>&1
  [ -n "$SPID" ] && kill "$SPID" 2>/dev/null
  [ -n "$SPID2" ] && kill "$SPID2" 2>/dev/null
  [ -n "$DPID" ] && kill "$DPID" 2>/dev/null && wait "$DPID" 2>/dev/null
  rm -rf "$W" "$XR"
}
trap cleanup EXIT
port() { node -e 's=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
median() {
  hyperfine -N --runs "$RUNS" --warmup 2 --export-json "$W/h.json" "$1" >/dev/null 2>&1 || { echo ""; return; }
  node -e 'console.log(require(process.argv[1]).results[0].median.toFixed(4))' "$W/h.json"
}
ratio() { [ -n "$1" ] && [ -n "$2" ] && node -e 'console.log((+process.argv[1]/+process.argv[2]).toFixed(2))' "$1" "$2" || echo "n/a"; }

# certificates as Docker's TLS guide makes them
cd "$W"
openssl req -x509 -newkey rsa:2048 -nodes -keyout ca-key.pem -out ca.pem -days 1 -subj /CN=bench-ca 2>/dev/null
for n in server client; do
  openssl req -newkey rsa:2048 -nodes -keyout $n-key.pem -out $n.csr -subj /CN=$n 2>/dev/null
  [ $n = server ] && echo 'subjectAltName=IP:127.0.0.1' >$n.ext || echo 'extendedKeyUsage=clientAuth' >$n.ext
  openssl x509 -req -in $n.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 1 -out $n.pem -extfile $n.ext 2>/dev/null
done
mkdir client && cp ca.pem client/ && cp client.pem client/cert.pem && cp client-key.pem client/key.pem
cd - >/dev/null
TLS_PORT=$(port)
bin/berthd --data-root "$W/data" --exec-root "$XR" --bridge bbr0 --bip 10.248.0.0/24 --bridge-prefix bbr --registries-loopback-only \
  -H "$SOCK" -H "tcp://127.0.0.1:$TLS_PORT" --tlsverify --tlscacert "$W/ca.pem" --tlscert "$W/server.pem" --tlskey "$W/server-key.pem" \
  >"$W/berthd.log" 2>&1 &
DPID=$!
for _ in $(seq 100); do DOCKER_HOST=$SOCK $BERTH version >/dev/null 2>&1 && break; sleep 0.1; done
scripts/busybox-rootfs.sh "$W/bb.tar" >/dev/null
DOCKER_HOST=$SOCK $BERTH import --change 'CMD ["sh"]' "$W/bb.tar" busybox:latest >/dev/null

# sshd on loopback for root with a fresh key; its sessions reach this berthd
SSH_PORT=$(port)
mkdir -p /run/sshd "$W/bin" "$W/remote"
ssh-keygen -q -t ed25519 -N '' -f "$W/host_key"; ssh-keygen -q -t ed25519 -N '' -f "$W/client_key"
ln -s "$BERTH" "$W/remote/berth"; ln -s "$BERTH" "$W/remote/docker"
cat >"$W/sshd_config" <<CFG
Port $SSH_PORT
ListenAddress 127.0.0.1
HostKey $W/host_key
PidFile $W/sshd.pid
AuthorizedKeysFile $W/client_key.pub
PermitRootLogin prohibit-password
PasswordAuthentication no
UsePAM no
StrictModes no
AllowUsers root
SetEnv PATH=$W/remote:/usr/bin:/bin DOCKER_HOST=$SOCK
CFG
printf 'Host *\n  IdentityFile %s/client_key\n  IdentitiesOnly yes\n  UserKnownHostsFile %s/known_hosts\n  StrictHostKeyChecking accept-new\n  LogLevel ERROR\n' "$W" "$W" >"$W/ssh_config"
printf '#!/bin/sh\nexec /usr/bin/ssh -F %s/ssh_config "$@"\n' "$W" >"$W/bin/ssh"; chmod +x "$W/bin/ssh"
/usr/sbin/sshd -D -e -f "$W/sshd_config" 2>"$W/sshd.log" &
SPID=$!
export PATH="$W/bin:$PATH"
SSH_HOST="ssh://root@127.0.0.1:$SSH_PORT"
for _ in $(seq 50); do DOCKER_HOST=$SSH_HOST $BERTH version >/dev/null 2>&1 && break; sleep 0.1; done

echo "| measure | unix socket | TLS | ratio | ssh | ratio |"
echo "|---|---|---|---|---|---|"
for cmd in "ps" "run --rm --network none busybox true"; do
  u=$(DOCKER_HOST=$SOCK median "$BERTH $cmd")
  t=$(DOCKER_HOST="tcp://127.0.0.1:$TLS_PORT" DOCKER_TLS_VERIFY=1 DOCKER_CERT_PATH="$W/client" median "$BERTH $cmd")
  s=$(DOCKER_HOST=$SSH_HOST median "$BERTH $cmd")
  echo "| berth $cmd | $u | $t | $(ratio "$t" "$u") | $s | $(ratio "$s" "$u") |"
  u=$(DOCKER_HOST=$SOCK median "docker $cmd")
  t=$(DOCKER_HOST="tcp://127.0.0.1:$TLS_PORT" DOCKER_TLS_VERIFY=1 DOCKER_CERT_PATH="$W/client" median "docker $cmd")
  s=$(DOCKER_HOST=$SSH_HOST median "docker $cmd")
  echo "| docker CLI → berthd: $cmd | $u | $t | $(ratio "$t" "$u") | $s | $(ratio "$s" "$u") |"
done

# Docker's own ssh transport for the same comparison: a second sshd whose sessions see the real docker CLI and dockerd
DOCKERD=unix:///var/run/docker.sock
if DOCKER_HOST=$DOCKERD docker version >/dev/null 2>&1; then
  DOCKER_HOST=$DOCKERD docker image inspect busybox:latest >/dev/null 2>&1 || DOCKER_HOST=$DOCKERD docker import --change 'CMD ["sh"]' "$W/bb.tar" busybox:latest >/dev/null
  SSH_PORT2=$(port)
  mkdir -p "$W/remote-docker"; ln -s "$(command -v docker)" "$W/remote-docker/docker"
  sed -e "s/^Port .*/Port $SSH_PORT2/" -e "s|^PidFile .*|PidFile $W/sshd2.pid|" -e "s|^SetEnv .*|SetEnv PATH=$W/remote-docker:/usr/bin:/bin DOCKER_HOST=$DOCKERD|" \
    "$W/sshd_config" >"$W/sshd2_config"
  /usr/sbin/sshd -D -e -f "$W/sshd2_config" 2>"$W/sshd2.log" &
  SPID2=$!
  SSH_DOCKER="ssh://root@127.0.0.1:$SSH_PORT2"
  for _ in $(seq 50); do DOCKER_HOST=$SSH_DOCKER docker version >/dev/null 2>&1 && break; sleep 0.1; done
  for cmd in "ps" "run --rm --network none busybox true"; do
    u=$(DOCKER_HOST=$DOCKERD median "docker $cmd")
    s=$(DOCKER_HOST=$SSH_DOCKER median "docker $cmd")
    echo "| docker CLI → dockerd: $cmd | $u | | | $s | $(ratio "$s" "$u") |"
  done
fi
