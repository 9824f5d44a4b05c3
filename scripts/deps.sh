#!/usr/bin/env bash
# Installs what the demo and the end-to-end tests need, only when it is missing:
#   mariadb  -> MariaDB server and client (mariadbd, mariadb-install-db, mariadb)
#   nginx    -> nginx (a TLS-terminating proxy in front of a behind_proxy relay)
#   mysqlslap -> MariaDB's load client (make bench)
#   iproute2 -> ip and tc, for the network namespaces of make bench's 50 ms RTT phase
#   postgres -> PostgreSQL server (initdb, postgres, pg_isready): pkg/ca's PostgreSQL inventory tests
# Usage: scripts/deps.sh mariadb [nginx ...]
set -euo pipefail

# Daemons live in /usr/sbin, which is not on a regular user's PATH on Debian.
have() { PATH="$PATH:/usr/sbin:/sbin" command -v "$1" >/dev/null; }

need=()
for dep in "$@"; do
  case "$dep" in
    mariadb) have mariadbd && have mariadb-install-db && have mariadb || need+=(mariadb-server mariadb-client) ;;
    nginx)   have nginx || need+=(nginx-light) ;;
    mysqlslap) have mysqlslap || need+=(mariadb-client) ;;
    iproute2)  have ip && have tc || need+=(iproute2) ;;
    postgres)  { have initdb || compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null; } || need+=(postgresql) ;;
    *) echo "deps.sh: unknown dependency $dep" >&2; exit 2 ;;
  esac
done
[ ${#need[@]} -eq 0 ] && exit 0

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "deps.sh: need root (or sudo) to install ${need[*]}" >&2; exit 1; }
  sudo="sudo"
fi
echo "deps.sh: installing ${need[*]} ..." >&2
export DEBIAN_FRONTEND=noninteractive
# Services must not start on install: tests run their own throwaway instances.
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
  $sudo chmod +x /usr/sbin/policy-rc.d
  trap '$sudo rm -f /usr/sbin/policy-rc.d' EXIT
fi
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
