#!/usr/bin/env bash
# The README's first quick-start command: set everything up, then run the developer story non-interactively:
# base images from Debian packages, then `berth compose up` of examples/webapp/compose.yaml (PostgreSQL with a named
# volume and a health check, the example Flask app built and run with the code bind-mounted and port 5000 published),
# show the page on localhost, and `berth compose down -v`.
set -euo pipefail
here="$(dirname "$(readlink -f "$0")")"
"$here/setup.sh"
"$here/base-images.sh" python postgres busybox
cd "$here/../examples/webapp"
step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }

# the whole app as one compose project (examples/webapp/compose.yaml): PostgreSQL healthy first, then the app
step berth compose up -d --build --wait
printf '\nwaiting for http://localhost:5000/ '
for _ in $(seq 120); do curl -sf -o /dev/null http://localhost:5000/ && break; printf .; sleep 0.5; done
echo
step curl -s -o /dev/null -w '%{http_code}\n' -X POST --data-urlencode "text=hello from the quick start, $(date)" http://localhost:5000/notes
step curl -s http://localhost:5000/
step berth compose ps
step berth compose down -v
echo
echo "Done. examples/webapp/README.md walks through the whole story (live edits with run -it -v, push to berth"
echo "registry serve, pull); \`berth compose up -d\` in examples/webapp brings the app back."
