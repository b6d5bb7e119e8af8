#!/usr/bin/env bash
# The README's second quick-start command (and CI's): set up, then run every test with Node's test runner.
set -euo pipefail
here="$(dirname "$(readlink -f "$0")")"
"$here/setup.sh"
cd "$here/.."
exec node --test --test-concurrency=2 --test-timeout=300000 dist/test/unit/ dist/test/integration/
