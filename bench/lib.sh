# Sourced by the bench scripts: a private berthd and the medians and ratios of their tables.
# The caller sets W (work directory) and XR (berthd's exec root, under /run) and cleans both up.

# berthd_start BRIDGE SUBNET PREFIX: a berthd of its own (data root under $W, socket in $XR); sets DPID and BERTH_SOCK.
berthd_start() {
  export BERTH_SOCK="unix://$XR/berth.sock"
  bin/berthd --data-root "$W/data" --exec-root "$XR" --bridge "$1" --bip "$2" --bridge-prefix "$3" \
    --registries-loopback-only --log-level debug >"$W/berthd.log" 2>&1 &
  DPID=$!
  for _ in $(seq 100); do DOCKER_HOST=$BERTH_SOCK bin/berth version >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "berthd did not start; see $W/berthd.log" >&2
  return 1
}

# median COMMAND [HYPERFINE OPTIONS...]: median seconds of RUNS runs after WARMUP (default 2), or "" when it fails
median() {
  local cmd=$1; shift
  hyperfine -N --runs "$RUNS" --warmup "${WARMUP:-2}" --export-json "$W/h.json" "$@" "$cmd" >"$W/h.out" 2>&1 ||
    { echo "bench: '$cmd' failed:" >&2; tail -5 "$W/h.out" >&2; echo ""; return; }
  node -e 'console.log(require(process.argv[1]).results[0].median.toFixed(4))' "$W/h.json"
}

ratio() { [ -n "$1" ] && [ -n "$2" ] && node -e 'console.log((+process.argv[1]/+process.argv[2]).toFixed(2))' "$1" "$2" || echo "n/a"; }

# pair MEASURE BERTH_CMD DOCKER_CMD [BERTH_PREPARE [DOCKER_PREPARE]]: one table row of both medians (each command after
# its own hyperfine --prepare, if given), their ratio and the 1-minute load average at the start and end of the row.
# Appends to ROWS; PAIR_B and PAIR_D are the two medians.
pair() {
  local what=$1 l0 bp=() dp=()
  [ -n "${4:-}" ] && bp=(--prepare "$4")
  [ -n "${5:-${4:-}}" ] && dp=(--prepare "${5:-$4}")
  l0=$(cut -d' ' -f1 /proc/loadavg)
  PAIR_B=$(median "$2" "${bp[@]}") PAIR_D=$(median "$3" "${dp[@]}")
  ROWS+=("| $what | $PAIR_B | $PAIR_D | $(ratio "$PAIR_B" "$PAIR_D") | $l0-$(cut -d' ' -f1 /proc/loadavg) |")
  echo "${ROWS[-1]}" >&2
}

# bench_write TABLE_FILE: put a table into docs/benchmarks.md under its header, above the older ones (newest first)
bench_write() {
  { sed '/^## /,$d' docs/benchmarks.md; cat "$1"; sed -n '/^## /,$p' docs/benchmarks.md; } >"$W/bench.md"
  mv "$W/bench.md" docs/benchmarks.md
}
