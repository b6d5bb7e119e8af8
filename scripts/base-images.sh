#!/usr/bin/env bash
# Usage: base-images.sh [RECIPE...]   (default: every recipe under images/, then busybox)
# Makes the base images of images/<recipe>/ that the running berthd (DOCKER_HOST, or the default socket) lacks.
# A recipe is images/<recipe>/bootstrap.args: `berth image bootstrap` arguments, one per line, run in that directory.
# The root filesystem tar is cached as /var/cache/berth/images/<recipe>-<hash>.tar, the hash covering the recipe's
# files and the host's apt sources, so only a changed recipe runs mmdebstrap again; a cached one imports in seconds.
# busybox comes from Debian's busybox-static (scripts/busybox-image.sh).
set -euo pipefail
repo="$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)"
CACHE="${BERTH_IMAGE_CACHE:-/var/cache/berth/images}"
berth() { "$repo/bin/berth" "$@"; }
# A fixed creation time: the same cached root filesystem imports as the same image ID every time.
export SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-1700000000}"
have() { berth image inspect --format '{{.Id}}' "$1" >/dev/null 2>&1; }

recipes=("$@")
if [ ${#recipes[@]} -eq 0 ]; then
  for d in "$repo"/images/*/bootstrap.args; do recipes+=("$(basename "$(dirname "$d")")"); done
  recipes+=(busybox)
fi

for r in "${recipes[@]}"; do
  if [ "$r" = busybox ]; then
    have busybox:latest || "$repo/scripts/busybox-image.sh"
    continue
  fi
  dir="$repo/images/$r"
  [ -f "$dir/bootstrap.args" ] || { echo "base-images: no recipe images/$r/bootstrap.args" >&2; exit 1; }
  args=()
  while IFS= read -r line; do
    [[ -z "$line" || "$line" == \#* ]] || args+=("$line")
  done <"$dir/bootstrap.args"
  tags=()
  for a in "${args[@]}"; do [[ "$a" == --tag=* ]] && tags+=("${a#--tag=}"); done
  missing=0
  for t in "${tags[@]}"; do have "$t" || missing=1; done
  if [ "$missing" = 0 ] && [ ${#tags[@]} -gt 0 ]; then echo "$r: ${tags[*]} present"; continue; fi

  hash=$( { (cd "$dir" && find . -type f -print0 | sort -z | xargs -0 sha256sum);
    cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null || true; } |
    sha256sum | cut -c1-16)
  tar="$CACHE/$r-$hash.tar"
  if [ -f "$tar" ]; then echo "$r: cached $tar"; else echo "$r: mmdebstrap (about half a minute)..."; fi
  start=$(date +%s.%N)
  log="$(mktemp)"
  if ! (cd "$dir" && berth image bootstrap --quiet --rootfs-cache "$tar" "${args[@]}" >/dev/null 2>"$log"); then
    cat "$log" >&2; rm -f "$log"; echo "base-images: $r failed" >&2; exit 1
  fi
  rm -f "$log"
  # older tars of this recipe are stale: the recipe changed
  find "$CACHE" -maxdepth 1 -name "$r-*.tar" ! -name "$r-$hash.tar" -delete
  printf '%s: %s ready in %.1f s (%s MB rootfs)\n' "$r" "${tags[*]}" "$(echo "$(date +%s.%N) - $start" | bc)" "$(( $(stat -c %s "$tar") / 1000000 ))"
done
