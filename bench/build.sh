#!/usr/bin/env bash
# Builds, Berth next to Docker's BuildKit builder (Debian's docker.io started on its own socket, data root and bridge,
# its 20.10 CLI with DOCKER_BUILDKIT=1), the same Dockerfiles, same run: medians of RUNS after WARMUP, and ratios.
#  1. A Python app's rebuild after a requirements change, with and without RUN --mount=type=cache,target=/root/.cache/pip.
#     No PyPI here: the requirements are NPKG generated pure-Python sdists in the context, installed with
#     `pip install --no-index --find-links`; pip keeps the wheels it builds from them in its cache, which is the work a
#     cache mount saves (building wheels from sdists, as for any package without a wheel for the platform).
#     Each timed build adds one new package to requirements.txt, so the pip step runs every time.
#  2. A multi-stage build of NSTAGE independent stages that each sleep SLEEP seconds, --no-cache: stage parallelism.
# Usage: bench/build.sh [--write]   (--write puts the table into docs/benchmarks.md, newest first)
# Leaves nothing behind: own berthd, own dockerd (its own bridge, no iptables), all removed at the end.
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/.."
RUNS=${RUNS:-5} WARMUP=${WARMUP:-1} NPKG=${NPKG:-12} NSTAGE=${NSTAGE:-4} SLEEP=${SLEEP:-2}
W=$(mktemp -d /var/tmp/berth-bench-build.XXXXXX)
XR=$(mktemp -d /run/bbb-XXXXXX)
BERTH="$PWD/bin/berth"
b() { DOCKER_HOST=$BERTH_SOCK $BERTH "$@"; }
DPID=""
DP_ROOT=/var/tmp/berth-bench-build-docker DP_RUN=/run/bbbd DP_NS=berthbenchbuild DP_BRIDGE=bbbdock0 DP_BIP=10.251.38.1/24
source bench/docker-peer.sh
source bench/lib.sh
cleanup() {
  set +e
  [ -n "$DPID" ] && kill "$DPID" 2>/dev/null && wait "$DPID" 2>/dev/null
  docker_peer_stop
  umount -R "$W/data" 2>/dev/null
  rm -rf "$W" "$XR"
}
trap cleanup EXIT

berthd_start bbbc0 10.251.37.0/24 bbbc
DOCKER_HOST=$BERTH_SOCK scripts/base-images.sh python >/dev/null
scripts/busybox-rootfs.sh "$W/bb.tar" >/dev/null
b import --change 'CMD ["sh"]' "$W/bb.tar" busybox:latest >/dev/null
docker_peer_start || { echo "bench/build.sh: needs Debian's dockerd (docker.io) as the peer" >&2; exit 1; }
PEER=$DP_SOCK
b save python:3.11-slim busybox:latest | DOCKER_HOST=$PEER /usr/bin/docker load >/dev/null

# --- the Python app: NPKG requirements and one new package per timed build, as sdists in the context ---
APP=$W/app
mkdir -p "$APP/dist"
python3 - "$APP/dist" "$NPKG" "$((4 * (RUNS + WARMUP + 1)))" <<'PY'
import io, sys, tarfile
dist, npkg, nextra = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def sdist(name):
    root = f"{name}-1.0"
    files = {
        "setup.py": f"from setuptools import setup\nsetup(name={name!r}, version='1.0', packages=[{name!r}])\n",
        f"{name}/__init__.py": "".join(f"def f{i}(x):\n    return x + {i}\n" for i in range(200)),
        "PKG-INFO": f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n",
    }
    with tarfile.open(f"{dist}/{root}.tar.gz", "w:gz") as t:
        for path, text in files.items():
            data = text.encode(); info = tarfile.TarInfo(f"{root}/{path}"); info.size = len(data)
            t.addfile(info, io.BytesIO(data))
for i in range(npkg): sdist(f"benchreq{i}")
for i in range(nextra): sdist(f"benchextra{i}")
PY
for i in $(seq 0 $((NPKG - 1))); do echo "benchreq$i"; done >"$W/base-requirements.txt"
cp "$W/base-requirements.txt" "$APP/requirements.txt"
PIP='pip install --no-index --find-links /dist --no-build-isolation -r requirements.txt'
printf 'FROM python:3.11-slim\nWORKDIR /app\nCOPY dist /dist\nCOPY requirements.txt .\nRUN %s\n' "$PIP" >"$APP/Dockerfile.plain"
printf 'FROM python:3.11-slim\nWORKDIR /app\nCOPY dist /dist\nCOPY requirements.txt .\nRUN --mount=type=cache,target=/root/.cache/pip %s\n' \
  "$PIP" >"$APP/Dockerfile.cachemount"
# hyperfine's --prepare: requirements.txt = the base list + one package not installed before
echo 0 >"$W/extra"
cat >"$W/change.sh" <<SH
n=\$(cat $W/extra); echo \$((n + 1)) >$W/extra
{ cat $W/base-requirements.txt; echo benchextra\$n; } >$APP/requirements.txt
SH

berth_build() { echo "env DOCKER_HOST=$BERTH_SOCK $BERTH build -q -f $APP/$1 -t benchpy $APP"; }
docker_build() { echo "env DOCKER_HOST=$PEER DOCKER_BUILDKIT=1 /usr/bin/docker build -q -f $APP/$1 -t benchpy $APP"; }

ROWS=()
for f in plain cachemount; do
  # the first build of each (not timed) puts the base layers in place; the cache mount's first fill is the warm-up
  DOCKER_HOST=$BERTH_SOCK $BERTH build -q -f "$APP/Dockerfile.$f" -t benchpy "$APP" >/dev/null
  DOCKER_HOST=$PEER DOCKER_BUILDKIT=1 /usr/bin/docker build -q -f "$APP/Dockerfile.$f" -t benchpy "$APP" >/dev/null
done
echo 0 >"$W/extra"
pair "rebuild after a requirements change, pip without a cache mount ($NPKG + 1 sdists)" \
  "$(berth_build Dockerfile.plain)" "$(docker_build Dockerfile.plain)" "bash $W/change.sh"
plain_b=$PAIR_B plain_d=$PAIR_D
pair "same, \`RUN --mount=type=cache,target=/root/.cache/pip\` (1 sdist built, $NPKG wheels from the cache)" \
  "$(berth_build Dockerfile.cachemount)" "$(docker_build Dockerfile.cachemount)" "bash $W/change.sh"
ROWS+=("| cache mount / no cache mount, each engine's own | $(ratio "$PAIR_B" "$plain_b") | $(ratio "$PAIR_D" "$plain_d") | | |")

# --- independent stages ---
MS=$W/stages
mkdir -p "$MS"
{ for i in $(seq "$NSTAGE"); do printf 'FROM busybox AS s%d\nRUN sleep %s && echo %d > /out%d\n' "$i" "$SLEEP" "$i" "$i"; done
  echo "FROM busybox"
  for i in $(seq "$NSTAGE"); do printf 'COPY --from=s%d /out%d /\n' "$i" "$i"; done; } >"$MS/Dockerfile"
pair "multi-stage: $NSTAGE independent stages of \`RUN sleep $SLEEP\`, --no-cache (one after another: ≥ $((NSTAGE * SLEEP)) s, in parallel: ≥ $SLEEP s)" \
  "env DOCKER_HOST=$BERTH_SOCK $BERTH build -q --no-cache -t benchstages $MS" \
  "env DOCKER_HOST=$PEER DOCKER_BUILDKIT=1 /usr/bin/docker build -q --no-cache -t benchstages $MS"

{
  echo "## $(date -u +%Y-%m-%d) builds: Berth vs Docker's BuildKit (bench/build.sh)"
  echo
  echo "$(nproc) cores, kernel $(uname -r). Peer: Docker $(DOCKER_HOST=$PEER /usr/bin/docker version -f '{{.Server.Version}}') with BuildKit"
  echo "(\`DOCKER_BUILDKIT=1\`, its own socket, data root and bridge); Berth through \`berth build\`. Same Dockerfiles, same"
  echo "context, one run; seconds are medians of $RUNS builds after $WARMUP warm-up (hyperfine). Ratio = Berth / Docker,"
  echo "lower is better; load = 1-minute load average at the start and end of the row. The Python rows: python:3.11-slim"
  echo "from images/python, the requirements $NPKG generated pure-Python sdists installed with \`pip install --no-index"
  echo "--find-links\`; before each timed build one new package is added to requirements.txt, so the pip step reruns."
  echo
  echo "| measure | Berth | Docker BuildKit | ratio | load |"
  echo "|---|---|---|---|---|"
  printf '%s\n' "${ROWS[@]}"
  echo
} | tee "$W/table.md"
if [ "${1:-}" = "--write" ]; then bench_write "$W/table.md"; fi
