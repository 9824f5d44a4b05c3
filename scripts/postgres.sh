#!/usr/bin/env bash
# Starts a throwaway PostgreSQL on 127.0.0.1:PORT with its data in DIR (trust authentication,
# loopback only, fsync off: for tests), waits until it answers, and prints its pid. The
# superuser is "sentinel", the database "sentinel": postgres://sentinel@127.0.0.1:PORT/sentinel.
# Stop it with: kill -INT "$(head -1 DIR/data/postmaster.pid)" (fast shutdown; SIGTERM waits for
# every client to disconnect).
# Usage: scripts/postgres.sh [--foreground] DIR PORT [POSTGRES_OPTION ...]
#   --foreground  exec postgres in place of this script (its pid is this script's pid) once the
#                 data directory and database exist: for a caller that owns the process, polls
#                 readiness itself and stops it with SIGINT (pkg/ca's tests do).
# PostgreSQL refuses to run as root: as root, DIR is handed to the postgres user (Debian's
# package creates it) and the server runs as that user. DIR's parents must be traversable.
# Extra options go to postgres after the defaults, so they override them. A DIR that already
# holds a data directory is reused as is.
set -euo pipefail
# initdb and postgres live in /usr/lib/postgresql/<version>/bin on Debian, off the PATH.
for d in /usr/lib/postgresql/*/bin; do [ -d "$d" ] && PATH="$PATH:$d"; done
foreground=0
if [ "${1:-}" = --foreground ]; then
  foreground=1
  shift
fi
[ $# -ge 2 ] || { echo "usage: scripts/postgres.sh [--foreground] DIR PORT [POSTGRES_OPTION ...]" >&2; exit 2; }
dir=$1 port=$2
shift 2
command -v initdb >/dev/null && command -v postgres >/dev/null \
  || { echo "postgres.sh: initdb/postgres not found (scripts/deps.sh postgres)" >&2; exit 1; }
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
as=()
if [ "$(id -u)" -eq 0 ]; then
  id postgres >/dev/null 2>&1 || { echo "postgres.sh: running as root needs a postgres user" >&2; exit 1; }
  chown postgres "$dir"
  # setpriv execs in place (no child to forward signals to), so --foreground's pid is postgres.
  as=(setpriv --reuid=postgres --regid=postgres --clear-groups)
fi
if [ ! -f "$dir/data/PG_VERSION" ]; then
  "${as[@]}" "$(command -v initdb)" -D "$dir/data" -U sentinel --auth=trust -E UTF8 --no-instructions >"$dir/initdb.log" 2>&1 \
    || { echo "postgres.sh: initdb failed, see $dir/initdb.log" >&2; exit 1; }
  # The database the tests use, made in single-user mode so nothing listens before it exists.
  echo "CREATE DATABASE sentinel;" | "${as[@]}" "$(command -v postgres)" --single -D "$dir/data" postgres >"$dir/createdb.log" 2>&1 \
    || { echo "postgres.sh: create database failed, see $dir/createdb.log" >&2; exit 1; }
fi
args=(-D "$dir/data" -p "$port" -c listen_addresses=127.0.0.1 -c unix_socket_directories="$dir"
  -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200
  -c logging_collector=off "$@")
if [ "$foreground" = 1 ]; then
  exec "${as[@]}" "$(command -v postgres)" "${args[@]}"
fi
"${as[@]}" "$(command -v postgres)" "${args[@]}" >"$dir/postgres.log" 2>&1 &
for _ in $(seq 1 150); do
  if pg_isready -q -h 127.0.0.1 -p "$port" -d sentinel -U sentinel 2>/dev/null; then
    head -1 "$dir/data/postmaster.pid"
    exit 0
  fi
  sleep 0.2
done
echo "postgres.sh: PostgreSQL did not answer on 127.0.0.1:$port within 30 s, see $dir/postgres.log" >&2
exit 1
