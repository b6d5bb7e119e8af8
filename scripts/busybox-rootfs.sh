#!/usr/bin/env bash
# Usage: busybox-rootfs.sh OUT.tar [ARCH]
# A minimal, deterministic busybox root filesystem tarball from Debian's busybox-static: bin/busybox plus a RELATIVE
# symlink per applet (`busybox --install -s` would write absolute host paths), /etc/passwd and /etc/group with root
# and nobody (65534), and the usual empty dirs. Same input binary -> same bytes (sorted, mtime 0, numeric owner 0).
# With ARCH (a Debian architecture such as arm64) other than the host's, the binary comes from Debian's
# busybox-static:ARCH package (apt-get download: scripts/setup.sh adds arm64 to apt's architectures) and its applet
# list from running it, which needs qemu-user-static's binfmt_misc handler.
set -euo pipefail
out="$(readlink -f "${1:?usage: $0 OUT.tar [ARCH]}")"
arch="${2:-$(dpkg --print-architecture)}"

umask 022
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
bb=/bin/busybox
if [ "$arch" != "$(dpkg --print-architecture)" ]; then
  (cd "$work" && apt-get download -qq "busybox-static:$arch" 2>/dev/null) ||
    { echo "$0: cannot download busybox-static:$arch (dpkg --add-architecture $arch && apt-get update; see scripts/setup.sh)" >&2; exit 1; }
  dpkg-deb --fsys-tarfile "$work"/busybox-static_*.deb | tar -xO ./bin/busybox > "$work/busybox"
  chmod 0755 "$work/busybox"
  bb="$work/busybox"
fi
[ -x "$bb" ] || { echo "$0: $bb missing (apt-get install busybox-static)" >&2; exit 1; }
if [ "$bb" = /bin/busybox ] && ldd "$bb" >/dev/null 2>&1; then echo "$0: $bb is dynamically linked; need busybox-static" >&2; exit 1; fi
root="$work/rootfs"
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,dev,proc,sys,tmp,root,home,var/tmp,run}
chmod 1777 "$root/tmp" "$root/var/tmp"
chmod 700 "$root/root"
install -m 0755 "$bb" "$root/bin/busybox"

"$bb" --list-full | sort -u | while read -r applet; do
  [ "$applet" = bin/busybox ] && continue
  mkdir -p "$root/$(dirname "$applet")"
  ln -sfr "$root/bin/busybox" "$root/$applet"
done

cat >"$root/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
PASSWD
cat >"$root/etc/group" <<'GROUP'
root:x:0:
nobody:x:65534:
GROUP
chmod 644 "$root/etc/passwd" "$root/etc/group"

tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner --format=gnu -cf "$out" -C "$root" .
