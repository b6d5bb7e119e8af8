#!/usr/bin/env bash
# Set up Berth on a Debian 12 machine (as root): system packages, npm dependencies, build, `berth`/`berthd` on PATH.
# Idempotent: a second run only checks.
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/.."

# crun/runc/conmon run containers; busybox-static makes the test image; tini is --init; attr/tar/zstd for layers;
# g++/make/python3 build the small native addon; hyperfine drives bench/.
# netavark/aardvark-dns/iptables wire networks; skopeo is a second registry client for the registry tests;
# hyperfine, ab (apache2-utils), curl and bc drive bench/; mmdebstrap makes base images (berth image bootstrap);
# python3-docker (docker-py) and python3-pytest run the docker-py compatibility tests (test/py); docker-compose (1.29)
# runs the compose compatibility tests.
# systemd gives systemd-socket-activate and systemd-analyze (service tests; berth system install on systemd hosts);
# openssh-server and openssh-client serve and reach ssh:// hosts in the remote-access tests.
# uidmap (setuid newuidmap/newgidmap) and slirp4netns let non-root users run rootless berthd (docs/rootless.md);
# passt (pasta) is the other user-mode network, measured against slirp4netns by bench/rootless.sh.
# qemu-user-static runs other architectures' programs (berth build --platform linux/arm64) through binfmt_misc.
PACKAGES=(crun runc conmon busybox-static tini iproute2 iptables netavark aardvark-dns attr tar gzip zstd g++ make python3
  hyperfine procps skopeo apache2-utils curl bc pigz docker-registry openssl mmdebstrap python3-docker python3-pytest
  systemd openssh-server openssh-client tmux docker-compose uidmap slirp4netns passt qemu-user-static)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Docker's default seccomp profile, as Debian ships it inside the docker source package (installing that package
# would pull ~260 packages, so only the one file is taken out of the downloaded .deb).
SECCOMP=/usr/local/share/berth/seccomp/docker-default.json
if [ ! -s "$SECCOMP" ]; then
  t=$(mktemp -d)
  (cd "$t" && { apt-get download -qq golang-github-docker-docker-dev 2>/dev/null || { apt-get update -qq && apt-get download -qq golang-github-docker-docker-dev; }; })
  mkdir -p "${SECCOMP%/*}"
  dpkg-deb --fsys-tarfile "$t"/*.deb | tar -xO ./usr/share/gocode/src/github.com/docker/docker/profiles/seccomp/default.json > "$SECCOMP.tmp"
  mv "$SECCOMP.tmp" "$SECCOMP"
  rm -rf "$t"
fi

# qemu's binfmt_misc handlers, registered as Debian ships them (flag F: the kernel opens the interpreter now, so it
# works inside containers' root filesystems). systemd-binfmt does this at boot where systemd runs; here it is done by
# hand, since machines without systemd (containers, some VMs) leave binfmt_misc unmounted.
mountpoint -q /proc/sys/fs/binfmt_misc || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
for conf in /usr/lib/binfmt.d/qemu-*.conf; do
  [ -e "/proc/sys/fs/binfmt_misc/$(basename "$conf" .conf)" ] || cat "$conf" > /proc/sys/fs/binfmt_misc/register
done
# arm64 in apt's architectures: the multi-platform tests make an arm64 busybox image from busybox-static:arm64.
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
  dpkg --add-architecture arm64
  apt-get update -qq
fi

# The socket group (docker's `docker`): its members use Berth without sudo, and so have root on this host.
getent group berth >/dev/null || groupadd --system berth
# slirp4netns (rootless networking) opens /dev/net/tun: Debian's udev rules make it 0666; machines without udev
# (containers, some VMs) leave the kernel's 0600.
[ -c /dev/net/tun ] && chmod 0666 /dev/net/tun

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
npm run --silent build

chmod +x dist/src/cli/main.js dist/src/daemon/main.js bin/berth bin/berthd
ln -sf "$PWD/bin/berth" /usr/local/bin/berth
ln -sf "$PWD/bin/berthd" /usr/local/bin/berthd
echo "setup: berth $(berth --version 2>/dev/null | head -1 || echo built)"
