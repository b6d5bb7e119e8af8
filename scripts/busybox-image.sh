#!/usr/bin/env bash
# Make busybox:latest in the running berthd from Debian's busybox-static (no registry needed).
set -euo pipefail
here="$(dirname "$(readlink -f "$0")")"
tar_file="$(mktemp /tmp/busybox-rootfs.XXXXXX.tar)"
trap 'rm -f "$tar_file"' EXIT
"$here/busybox-rootfs.sh" "$tar_file"
berth import --change 'CMD ["sh"]' "$tar_file" busybox:latest >/dev/null
echo "busybox:latest ready"
