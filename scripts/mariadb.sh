#!/usr/bin/env bash
# Starts a throwaway MariaDB on 127.0.0.1:PORT with its data in DIR, waits until it answers,
# and prints its pid. Stop it with: kill "$(cat DIR/mariadb.pid)".
# Usage: scripts/mariadb.sh DIR PORT
set -euo pipefail
dir=$1 port=$2
mkdir -p "$dir"
user_opt=()
[ "$(id -u)" -eq 0 ] && user_opt=(--user=root)
mariadb-install-db --no-defaults --datadir="$dir/data" "${user_opt[@]}" \
  --auth-root-authentication-method=normal --skip-test-db >"$dir/install.log" 2>&1 \
  || { echo "mariadb.sh: mariadb-install-db failed, see $dir/install.log" >&2; exit 1; }
mariadbd --no-defaults --datadir="$dir/data" "${user_opt[@]}" --socket="$dir/mariadb.sock" \
  --port="$port" --bind-address=127.0.0.1 --skip-name-resolve --pid-file="$dir/mariadb.pid" \
  --log-error="$dir/error.log" --max-allowed-packet=64M >/dev/null 2>&1 &
for _ in $(seq 1 150); do
  if mariadb --no-defaults -h127.0.0.1 -P"$port" -uroot -e 'SELECT 1' >/dev/null 2>&1; then
    cat "$dir/mariadb.pid"
    exit 0
  fi
  sleep 0.2
done
echo "mariadb.sh: MariaDB did not answer on 127.0.0.1:$port within 30 s, see $dir/error.log" >&2
exit 1
