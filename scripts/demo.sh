#!/usr/bin/env bash
# make demo: the whole product on one machine. Mints a CA and three bundles, starts a relay, a
# server and a client, and a throwaway MariaDB that only the server can reach, then runs a
# query with the stock mysql client through 127.0.0.1:$CLIENT_PORT, and stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."

RELAY_PORT=${RELAY_PORT:-18443}
DB_PORT=${DB_PORT:-13306}
CLIENT_PORT=${CLIENT_PORT:-48080}
BIN=${BIN:-bin/backend}

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

for port in "$RELAY_PORT" "$DB_PORT" "$CLIENT_PORT"; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "demo: port $port on 127.0.0.1 is in use; set RELAY_PORT, DB_PORT or CLIENT_PORT" >&2
    exit 1
  fi
done

step "installing MariaDB if missing"
scripts/deps.sh mariadb

work=$(mktemp -d /tmp/sentinel-demo.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  [ -f "$work/db/mariadb.pid" ] && kill "$(cat "$work/db/mariadb.pid")" 2>/dev/null || true
  if [ "${KEEP:-0}" = 1 ]; then echo "demo: kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

step "starting a throwaway MariaDB on 127.0.0.1:$DB_PORT (the private service)"
scripts/mariadb.sh "$work/db" "$DB_PORT" >/dev/null
mariadb --no-defaults -h127.0.0.1 -P"$DB_PORT" -uroot -e "
  CREATE DATABASE demo;
  CREATE TABLE demo.secrets (id INT PRIMARY KEY, what VARCHAR(64));
  INSERT INTO demo.secrets VALUES (1, 'reached through Sentinel'), (2, 'behind the firewall');"

step "minting a CA and the relay, server and client bundles"
$BIN ca init --dir "$work/ca" --name "Demo Root CA"
$BIN ca issue relay  --dir "$work/ca" --name relay1 --addr 127.0.0.1 --port "$RELAY_PORT" --out "$work/relay1"
$BIN ca issue server --dir "$work/ca" --name server1 --relay relay1 \
  --resource "mariadb=127.0.0.1/32:$DB_PORT" --out "$work/server1"
$BIN ca issue client --dir "$work/ca" --name alice --server server1 \
  --target "127.0.0.1:$DB_PORT" --port "$CLIENT_PORT" --user alice@example.com --out "$work/alice"
$BIN ca list --dir "$work/ca"

step "starting relay, server and client (logs in $work/*.log)"
SENTINEL_RELAY_LISTEN="127.0.0.1:$RELAY_PORT" SENTINEL_AUDIT_PATH="$work/relay-audit.jsonl" \
  $BIN -c "$work/relay1/config.toml" >"$work/relay.log" 2>&1 & pids+=($!)
SENTINEL_AUDIT_PATH="$work/server-audit.jsonl" \
  $BIN -c "$work/server1/config.toml" >"$work/server.log" 2>&1 & pids+=($!)
SENTINEL_AUDIT_PATH="$work/client-audit.jsonl" \
  $BIN -c "$work/alice/config.toml" >"$work/client.log" 2>&1 & pids+=($!)

query="SELECT id, what, @@version AS server_version FROM demo.secrets ORDER BY id"
step "mysql -h127.0.0.1 -P$CLIENT_PORT -e \"$query\""
for i in $(seq 1 100); do
  if out=$(mariadb --no-defaults -h127.0.0.1 -P"$CLIENT_PORT" -uroot --connect-timeout=5 -t -e "$query" 2>&1); then
    echo "$out"
    break
  fi
  if [ "$i" = 100 ]; then
    echo "demo: the query did not get through: $out" >&2
    tail -n 20 "$work"/*.log >&2
    exit 1
  fi
  sleep 0.2
done

step "the same session in the relay's and the server's audit trail"
session=$(grep -o '"event":"session.open"[^}]*' "$work/server-audit.jsonl" | grep -o '"session":"[0-9a-f]*"' | tail -1 | cut -d'"' -f4)
echo "session $session:"
grep -h "\"$session\"" "$work/relay-audit.jsonl" "$work/server-audit.jsonl" | cut -c1-220
echo
echo "demo: done: the query above crossed client -> relay -> server -> MariaDB, end-to-end encrypted."
