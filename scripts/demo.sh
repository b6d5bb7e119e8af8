#!/usr/bin/env bash
# The README's first quick-start command: set up, make an image, run a container from it, show its output.
set -euo pipefail
here="$(dirname "$(readlink -f "$0")")"
"$here/setup.sh"
"$here/busybox-image.sh"
echo '$ berth run --rm busybox echo "hello from a Berth container"'
berth run --rm busybox echo "hello from a Berth container"
echo '$ berth run --rm busybox sh -c '"'"'echo "I am $(id -un) on $(hostname), kernel $(uname -r)"'"'"
berth run --rm busybox sh -c 'echo "I am $(id -un) on $(hostname), kernel $(uname -r)"'
echo '$ berth images'
berth images
