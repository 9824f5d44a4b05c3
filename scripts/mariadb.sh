#!/usr/bin/env bash
# Starts a throwaway MariaDB on 127.0.0.1:PORT with its data in DIR, waits until it answers,
# and prints its pid. Stop it with: kill "$(cat DIR/mariadb.pid)".
# Usage: scripts/mariadb.sh [--foreground] DIR PORT [MARIADBD_OPTION ...]
#   --foreground  exec mariadbd in place of this script (its pid is this script's pid) and do
#                 not wait: for a caller that owns the process, polls readiness itself and
#                 stops it with SIGTERM (test/system does).
# Extra options go to mariadbd after the defaults, so they override them. A DIR that already
# holds a data directory is reused as is.
set -euo pipefail
PATH="$PATH:/usr/sbin:/sbin" # mariadbd is in /usr/sbin, off a regular user's PATH on Debian
foreground=0
if [ "${1:-}" = --foreground ]; then
  foreground=1
  shift
fi
[ $# -ge 2 ] || { echo "usage: scripts/mariadb.sh [--foreground] DIR PORT [MARIADBD_OPTION ...]" >&2; exit 2; }
dir=$1 port=$2
shift 2
mkdir -p "$dir"
user_opt=()
[ "$(id -u)" -eq 0 ] && user_opt=(--user=root)
if [ ! -d "$dir/data/mysql" ]; then
  mariadb-install-db --no-defaults --datadir="$dir/data" "${user_opt[@]}" \
    --auth-root-authentication-method=normal --skip-test-db >"$dir/install.log" 2>&1 \
    || { echo "mariadb.sh: mariadb-install-db failed, see $dir/install.log" >&2; exit 1; }
fi
args=(--no-defaults --datadir="$dir/data" "${user_opt[@]}" --socket="$dir/mariadb.sock"
  --port="$port" --bind-address=127.0.0.1 --skip-name-resolve --pid-file="$dir/mariadb.pid"
  --log-error="$dir/error.log" --max-allowed-packet=64M "$@")
if [ "$foreground" = 1 ]; then
  exec mariadbd "${args[@]}"
fi
mariadbd "${args[@]}" >/dev/null 2>&1 &
for _ in $(seq 1 150); do
  if mariadb --no-defaults -h127.0.0.1 -P"$port" -uroot -e 'SELECT 1' >/dev/null 2>&1; then
    cat "$dir/mariadb.pid"
    exit 0
  fi
  sleep 0.2
done
echo "mariadb.sh: MariaDB did not answer on 127.0.0.1:$port within 30 s, see $dir/error.log" >&2
exit 1
