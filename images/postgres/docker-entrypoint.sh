#!/usr/bin/env bash
# The postgres image's entrypoint, after the official image's: on an empty PGDATA, initdb with POSTGRES_USER
# (default postgres) and POSTGRES_PASSWORD, create POSTGRES_DB (default: the user's name), run
# /docker-entrypoint-initdb.d/*.sh|*.sql, listen on all addresses with scram-sha-256 passwords for the network; then
# exec postgres in the foreground as the postgres user (PID 1 gets SIGINT: fast shutdown).
set -Eeuo pipefail

# `docker run postgres -c x=y` runs postgres with those options
if [ "${1:0:1}" = '-' ]; then set -- postgres "$@"; fi

if [ "$1" != postgres ]; then exec "$@"; fi

: "${PGDATA:=/var/lib/postgresql/data}"
export PGDATA

if [ "$(id -u)" = 0 ]; then
	# a fresh volume is root's: hand it to postgres, then run this script again as postgres
	install -d -m 0700 "$PGDATA" && find "$PGDATA" \! -user postgres -exec chown postgres:postgres '{}' +
	install -d -m 2777 /var/run/postgresql && chown postgres:postgres /var/run/postgresql
	exec setpriv --reuid=postgres --regid=postgres --init-groups "$BASH_SOURCE" "$@"
fi

if [ ! -s "$PGDATA/PG_VERSION" ]; then
	: "${POSTGRES_USER:=postgres}" "${POSTGRES_DB:=$POSTGRES_USER}" "${POSTGRES_HOST_AUTH_METHOD:=scram-sha-256}"
	if [ -z "${POSTGRES_PASSWORD:-}" ] && [ "$POSTGRES_HOST_AUTH_METHOD" != trust ]; then
		cat >&2 <<-'EOF'
			Error: Database is uninitialized and superuser password is not specified.
			       You must specify POSTGRES_PASSWORD to a non-empty value for the superuser. For example,
			       "-e POSTGRES_PASSWORD=password" on "berth run".
			       (or POSTGRES_HOST_AUTH_METHOD=trust to allow all connections without a password: not recommended)
		EOF
		exit 1
	fi
	pwfile=$(mktemp) && printf '%s\n' "${POSTGRES_PASSWORD:-}" > "$pwfile"
	pw=()
	if [ -n "${POSTGRES_PASSWORD:-}" ]; then pw=(--pwfile="$pwfile"); fi
	# shellcheck disable=SC2086 # POSTGRES_INITDB_ARGS is a list of options, as in the official image
	initdb --username="$POSTGRES_USER" "${pw[@]}" --auth-local=trust --auth-host="$POSTGRES_HOST_AUTH_METHOD" \
		${POSTGRES_INITDB_ARGS:-} >/dev/null
	rm -f "$pwfile"
	printf '\nhost all all all %s\n' "$POSTGRES_HOST_AUTH_METHOD" >> "$PGDATA/pg_hba.conf"
	printf "\nlisten_addresses = '*'\n" >> "$PGDATA/postgresql.conf"

	# a server for the set-up only, on the unix socket
	pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start >/dev/null
	psql=(psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$POSTGRES_USER" --dbname postgres -q)
	if [ "$POSTGRES_DB" != postgres ]; then
		"${psql[@]}" --set db="$POSTGRES_DB" <<<'CREATE DATABASE :"db";'
	fi
	for f in /docker-entrypoint-initdb.d/*; do
		case "$f" in
			*.sh) echo "$0: running $f"; . "$f" ;;
			*.sql) echo "$0: running $f"; "${psql[@]}" --dbname "$POSTGRES_DB" -f "$f" ;;
			*.sql.gz) echo "$0: running $f"; gunzip -c "$f" | "${psql[@]}" --dbname "$POSTGRES_DB" ;;
			*) [ -e "$f" ] && echo "$0: ignoring $f" ;;
		esac
	done
	pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
	echo 'PostgreSQL init process complete; ready for start up.'
fi

exec "$@"
