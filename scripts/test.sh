#!/usr/bin/env bash
# The README's second quick-start command (and CI's): set up, then run every test with Node's test runner.
# The hostile corpus and the load suite run in their short form here (BERTH_HOSTILE_FULL=1, BERTH_LOAD_SECONDS=60: long).
set -euo pipefail
here="$(dirname "$(readlink -f "$0")")"
"$here/setup.sh"
cd "$here/.."
exec node --test --test-concurrency=2 --test-timeout=600000 dist/test/unit/ dist/test/integration/ dist/test/fault/ dist/test/hostile/ dist/test/load/
