#!/usr/bin/env bash
# The README's first quick-start command: set everything up, then run the developer story non-interactively:
# base images from Debian packages, PostgreSQL with a named volume on a user network, build the example Flask app,
# run it with the code bind-mounted and port 5000 published, show the page on localhost, stop.
set -euo pipefail
here="$(dirname "$(readlink -f "$0")")"
"$here/setup.sh"
"$here/base-images.sh" python postgres busybox
cd "$here/../examples/webapp"
step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }

berth rm -f demo-app demo-db >/dev/null 2>&1 || true
berth network inspect demo-net >/dev/null 2>&1 || step berth network create demo-net
step berth run -d --name demo-db --network demo-net -e POSTGRES_PASSWORD=secret -e POSTGRES_DB=notes \
  -v demo-dbdata:/var/lib/postgresql/data postgres:15
step berth build -t mywebapp:v1 .
step berth run -d --name demo-app -v "$PWD":/app -p 5000:5000 --network demo-net \
  -e DATABASE_URL=postgresql://postgres:secret@demo-db:5432/notes mywebapp:v1
printf '\nwaiting for http://localhost:5000/ '
for _ in $(seq 120); do curl -sf -o /dev/null http://localhost:5000/ && break; printf .; sleep 0.5; done
echo
step curl -s -o /dev/null -w '%{http_code}\n' -X POST --data-urlencode "text=hello from the quick start, $(date)" http://localhost:5000/notes
step curl -s http://localhost:5000/
step berth ps
step berth stop demo-app demo-db
step berth rm demo-app demo-db
echo
echo "Done. The notes stay in the volume demo-dbdata; examples/webapp/README.md walks through the whole story"
echo "(live edits with run -it -v, push to berth registry serve, pull)."
