#!/usr/bin/env bash
# make bench: measures the built binary (bin/backend) as separate processes on this machine
# and writes docs/BENCHMARKS.md. Paths compared:
#   direct  load tool -> target (plain TCP, no tunnel)
#   fwd     load tool -> entry =TLS=> hop =TLS=> exit -> target (bench/fwd: two TLS 1.3 hops)
#   tls     load tool -> client =wss=> relay <=wss= server -> target (Sentinel, TLS relay)
#   ws      load tool -> client =ws=> relay (behind_proxy) <=ws= server -> target
# Measurements: throughput (1 and 4 streams, verified bytes, median of 3), new connection over
# a warm session (p50/p99), cold session setup, idle cost per session and stream, MySQL through
# the tunnel (mysqlslap), 50 ms RTT (scripts/bench-wan.sh), Go microbenchmarks and a CPU
# profile of the in-process tunnel (bench/tunnel_bench_test.go).
#
# Environment:
#   BENCH_QUICK=1        short runs for iterating (about 3 minutes); the report says so
#   BENCH_SECONDS=10     seconds per throughput run
#   BENCH_PORT_BASE=23100  first of the 127.0.0.1 ports used
#   BENCH_OUT=docs/BENCHMARKS.md
#   BENCH_SKIP="wan mysql"  phases to skip (tp rr cold mysql idle micro profile wan)
#   BENCH_PATHS="tls ws"  paths for the throughput and latency phases (default: all four)
#   BENCH_BIN=bin/backend  the binary under test
#   BENCH_RESULTS=FILE   also copy the raw results (JSON lines) to FILE
#   BENCH_ROLE_ENV="GOMAXPROCS=1"  extra environment for every relay, server and client process
#   KEEP=1               keep the work directory (logs, results.jsonl, profiles)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/sbin:/sbin"

QUICK=${BENCH_QUICK:-0}
if [ "$QUICK" = 1 ]; then
  TP_SECONDS=${BENCH_SECONDS:-2}; TP_RUNS=1; RR_N=300; PP_N=1000; COLD_RUNS=3
  IDLE_SIZES=${BENCH_IDLE_SIZES:-"200 1000"}; SLAP_QUERIES=4000; SLAP_RUNS=1
  MICRO_TIME=100ms; PROFILE_TIME=2s
else
  TP_SECONDS=${BENCH_SECONDS:-10}; TP_RUNS=3; RR_N=2000; PP_N=10000; COLD_RUNS=10
  IDLE_SIZES=${BENCH_IDLE_SIZES:-"1000 10000"}; SLAP_QUERIES=40000; SLAP_RUNS=3
  MICRO_TIME=1s; PROFILE_TIME=8s
fi
BASE=${BENCH_PORT_BASE:-23100}
OUT=${BENCH_OUT:-docs/BENCHMARKS.md}
SKIP=" ${BENCH_SKIP:-} "
BIN=${BENCH_BIN:-bin/backend}
SB=bin/sentinel-bench

skip() { [[ "$SKIP" == *" $1 "* ]]; }
step() { printf '\n\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { echo "bench: $*" >&2; exit 1; }

# Ports, all on 127.0.0.1.
P_TARGET=$BASE           P_DB=$((BASE + 1))
P_ENTRY=$((BASE + 2))    P_HOP=$((BASE + 3))     P_EXIT=$((BASE + 4))
P_RTLS=$((BASE + 5))     P_RWS=$((BASE + 6))
P_CTLS=$((BASE + 7))     P_CWS=$((BASE + 8))     P_CDB=$((BASE + 9))
P_COLD_TLS=$((BASE + 10)) P_COLD_WS=$((BASE + 11)) P_IDLE=$((BASE + 12)) P_IDLE_WS=$((BASE + 13))
P_DB_ENTRY=$((BASE + 14)) P_DB_HOP=$((BASE + 15)) P_DB_EXIT=$((BASE + 16))
M_RTLS=$((BASE + 20))    M_RWS=$((BASE + 21))    M_SRV=$((BASE + 22))
M_CTLS=$((BASE + 23))    M_CWS=$((BASE + 24))    M_CDB=$((BASE + 25))
for port in $(seq "$BASE" $((BASE + 25))); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    die "port $port on 127.0.0.1 is in use; set BENCH_PORT_BASE"
  fi
done

# Idle sessions need two descriptors each at the relay: raise the soft limit to the hard one.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
NOFILE=$(ulimit -n)

step "dependencies and build"
deps=(mysqlslap iproute2)
skip mysql || deps=(mariadb "${deps[@]}")
scripts/deps.sh "${deps[@]}"
[ -x "$BIN" ] || make release
go build -o "$SB" ./bench/cmd/sentinel-bench

work=$(mktemp -d /tmp/sentinel-bench.XXXXXX)
results=$work/results.jsonl
: >"$results"
declare -A PID
cleanup() {
  set +e
  [ -n "${WAN_CLEANUP:-}" ] && $WAN_CLEANUP
  for name in "${!PID[@]}"; do kill "${PID[$name]}" 2>/dev/null; done
  for name in "${!PID[@]}"; do wait "${PID[$name]}" 2>/dev/null; done
  [ -f "$work/db/mariadb.pid" ] && kill "$(cat "$work/db/mariadb.pid")" 2>/dev/null
  if [ "${KEEP:-0}" = 1 ]; then echo "bench: kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT

$SB record -out "$results" -machine -quick="$QUICK" -role-env "${BENCH_ROLE_ENV:-}" -nofile "$NOFILE" -version "$(git describe --tags --always --dirty 2>/dev/null || echo dev)"

# start NAME CMD...: runs CMD in the background, logging to $work/NAME.log.
start() {
  local name=$1; shift
  "$@" >"$work/$name.log" 2>&1 &
  PID[$name]=$!
}
stop() {
  local name=$1
  [ -n "${PID[$name]:-}" ] || return 0
  kill "${PID[$name]}" 2>/dev/null || true
  wait "${PID[$name]}" 2>/dev/null || true
  unset "PID[$name]"
}
# role NAME BUNDLE [ENV=VALUE ...]: runs bin/backend with the bundle's config.
role() {
  local name=$1 bundle=$2; shift 2
  start "$name" env SENTINEL_AUDIT_PATH="$work/$name-audit.jsonl" "$@" ${BENCH_ROLE_ENV:-} "$BIN" -c "$work/$bundle/config.toml"
}
# metric URL NAME: the value of an unlabelled metric, or 0.
metric() { "$SB" metric -url "$1" -name "$2" 2>/dev/null || echo 0; }
wait_metric() { # URL NAME MIN TIMEOUT_S
  local i
  for i in $(seq 1 $(($4 * 10))); do
    awk -v v="$(metric "$1" "$2")" -v m="$3" 'BEGIN { exit !(v >= m) }' && return 0
    sleep 0.1
  done
  die "$2 at $1 did not reach $3 within $4 s"
}

step "CA, bundles, target, forwarder, relays, server, clients (work dir $work)"
ca=$work/ca
q() { "$@" >/dev/null; }
q $BIN ca init --dir "$ca" --name "Bench Root CA"
q $BIN ca issue relay --dir "$ca" --name relay-tls --addr 127.0.0.1 --port "$P_RTLS" --out "$work/relay-tls"
q $BIN ca issue relay --dir "$ca" --name relay-ws --addr ws://127.0.0.1 --port "$P_RWS" --out "$work/relay-ws"
q $BIN ca issue server --dir "$ca" --name server1 --relay relay-tls --relay relay-ws \
  --resource "target=127.0.0.1/32:$P_TARGET" --resource "mariadb=127.0.0.1/32:$P_DB" --out "$work/server1"
client() { # NAME RELAY TARGET_PORT LISTEN_PORT
  q $BIN ca issue client --dir "$ca" --name "$1" --server server1 --relay "$2" \
    --target "127.0.0.1:$3" --port "$4" --out "$work/$1"
}
client tp-tls relay-tls "$P_TARGET" "$P_CTLS"
client tp-ws relay-ws "$P_TARGET" "$P_CWS"
client db-tls relay-tls "$P_DB" "$P_CDB"
client cold-tls relay-tls "$P_TARGET" "$P_COLD_TLS"
client cold-ws relay-ws "$P_TARGET" "$P_COLD_WS"
client idle-tls relay-tls "$P_TARGET" "$P_IDLE"
client idle-ws relay-ws "$P_TARGET" "$P_IDLE_WS"
q $SB pki -out "$work/fwd"

# Limits raised for the idle runs: one client certificate holds every session.
# The profiler is on for the idle phase's heap profiles; it costs nothing until asked.
RELAY_ENV=(SENTINEL_RELAY_MAX_SESSIONS_PER_CERT=100000 SENTINEL_RELAY_MAX_PENDING_OPENS=4096 SENTINEL_METRICS_PPROF=true)
SERVER_ENV=(SENTINEL_SERVER_MAX_SESSIONS_PER_CERT=100000 SENTINEL_METRICS_PPROF=true)
start_relays() {
  role relay-tls relay-tls "${RELAY_ENV[@]}" SENTINEL_RELAY_LISTEN="127.0.0.1:$P_RTLS" SENTINEL_METRICS_LISTEN="127.0.0.1:$M_RTLS"
  role relay-ws relay-ws "${RELAY_ENV[@]}" SENTINEL_RELAY_LISTEN="127.0.0.1:$P_RWS" SENTINEL_METRICS_LISTEN="127.0.0.1:$M_RWS"
}
start_server() {
  role server1 server1 "${SERVER_ENV[@]}" SENTINEL_METRICS_LISTEN="127.0.0.1:$M_SRV"
  wait_metric "http://127.0.0.1:$M_SRV/metrics" sentinel_server_relays_connected 2 30
}

start target "$SB" target -listen "127.0.0.1:$P_TARGET"
start fwd-exit "$SB" fwd -role exit -listen "127.0.0.1:$P_EXIT" -next "127.0.0.1:$P_TARGET" -pki "$work/fwd"
start fwd-hop "$SB" fwd -role hop -listen "127.0.0.1:$P_HOP" -next "127.0.0.1:$P_EXIT" -pki "$work/fwd"
start fwd-entry "$SB" fwd -role entry -listen "127.0.0.1:$P_ENTRY" -next "127.0.0.1:$P_HOP" -pki "$work/fwd"
start_relays
start_server
role client-tls tp-tls SENTINEL_METRICS_LISTEN="127.0.0.1:$M_CTLS"
role client-ws tp-ws SENTINEL_METRICS_LISTEN="127.0.0.1:$M_CWS"
for p in $P_TARGET $P_ENTRY $P_CTLS $P_CWS; do $SB wait -addr "127.0.0.1:$p"; done

declare -A ADDR=([direct]=127.0.0.1:$P_TARGET [fwd]=127.0.0.1:$P_ENTRY [tls]=127.0.0.1:$P_CTLS [ws]=127.0.0.1:$P_CWS)
pids_of() { # the processes that carry a path, for CPU accounting
  case $1 in
    direct) echo "target=${PID[target]}" ;;
    fwd) echo "target=${PID[target]},entry=${PID[fwd-entry]},hop=${PID[fwd-hop]},exit=${PID[fwd-exit]}" ;;
    tls) echo "target=${PID[target]},client=${PID[client-tls]},relay=${PID[relay-tls]},server=${PID[server1]}" ;;
    ws) echo "target=${PID[target]},client=${PID[client-ws]},relay=${PID[relay-ws]},server=${PID[server1]}" ;;
  esac
}
PATHS=(${BENCH_PATHS:-direct fwd tls ws})

if ! skip tp; then
  step "throughput: ${TP_SECONDS}s runs, median of $TP_RUNS, bytes verified"
  for path in "${PATHS[@]}"; do
    for streams in 1 4; do
      $SB tp -addr "${ADDR[$path]}" -label "$path" -streams "$streams" -seconds "$TP_SECONDS" \
        -runs "$TP_RUNS" -pids "$(pids_of "$path")" -out "$results"
    done
  done
fi

if ! skip rr; then
  step "new connection + 32-byte round trip: $RR_N sequential connections per path"
  for path in "${PATHS[@]}"; do
    $SB rr -addr "${ADDR[$path]}" -label "$path" -n "$RR_N" -out "$results"
  done
  step "32-byte round trips on one standing connection (the shape of a query)"
  for path in "${PATHS[@]}"; do
    $SB pp -addr "${ADDR[$path]}" -label "$path" -n "$PP_N" -pids "$(pids_of "$path")" -out "$results"
  done
fi

if ! skip cold; then
  step "cold session: client process start to first byte, $COLD_RUNS starts per path"
  $SB cold -bin "$BIN" -config "$work/cold-tls/config.toml" -addr "127.0.0.1:$P_COLD_TLS" -runs "$COLD_RUNS" -label tls -out "$results"
  $SB cold -bin "$BIN" -config "$work/cold-ws/config.toml" -addr "127.0.0.1:$P_COLD_WS" -runs "$COLD_RUNS" -label ws -out "$results"
fi

if ! skip mysql; then
  step "MySQL: mysqlslap direct, through the TLS-relay tunnel and through the two-hop TLS forwarder"
  scripts/mariadb.sh "$work/db" "$P_DB" --max-connections=500 >/dev/null
  mariadb --no-defaults -h127.0.0.1 -P"$P_DB" -uroot -e "CREATE DATABASE IF NOT EXISTS bench"
  role client-db db-tls SENTINEL_METRICS_LISTEN="127.0.0.1:$M_CDB"
  start db-exit "$SB" fwd -role exit -listen "127.0.0.1:$P_DB_EXIT" -next "127.0.0.1:$P_DB" -pki "$work/fwd"
  start db-hop "$SB" fwd -role hop -listen "127.0.0.1:$P_DB_HOP" -next "127.0.0.1:$P_DB_EXIT" -pki "$work/fwd"
  start db-entry "$SB" fwd -role entry -listen "127.0.0.1:$P_DB_ENTRY" -next "127.0.0.1:$P_DB_HOP" -pki "$work/fwd"
  for i in $(seq 1 100); do
    mariadb --no-defaults -h127.0.0.1 -P"$P_CDB" -uroot --connect-timeout=5 -e 'SELECT 1' >/dev/null 2>&1 && break
    [ "$i" = 100 ] && die "MariaDB not reachable through the tunnel"
    sleep 0.2
  done
  # read: mysqlslap's generated table (100 rows) scanned by every query; select1: the
  # smallest query there is, so the tunnel's own cost per round trip.
  for workload in read select1; do
    queries=$SLAP_QUERIES
    [ "$workload" = read ] && queries=$((SLAP_QUERIES / 4))
    for conc in 8 32; do
      for side in "direct $P_DB" "tls $P_CDB" "fwd $P_DB_ENTRY"; do
        set -- $side
        $SB mysql -port "$2" -workload "$workload" -concurrency "$conc" -queries "$queries" -runs "$SLAP_RUNS" -label "$1" -out "$results"
      done
    done
  done
  for name in client-db db-entry db-hop db-exit; do stop "$name"; done
  kill "$(cat "$work/db/mariadb.pid")" 2>/dev/null || true
fi

if ! skip idle; then
  step "idle cost: sessions at the relay, streams at the server (fd limit $NOFILE)"
  stop client-tls; stop client-ws
  # 10,000 sessions need 20,000 descriptors at the relay (client and server legs) plus a few.
  max_sessions=$(( (NOFILE - 200) / 2 / 100 * 100 ))
  idle_run() { # LABEL BUNDLE RELAY_NAME METRICS_PORT N
    local label=$1 bundle=$2 relay=$3 mport=$4 n=$5 note=""
    if [ "$n" -gt "$max_sessions" ]; then
      note="asked for $n sessions; the relay's descriptor limit ($NOFILE, hard) allows $max_sessions"
      n=$max_sessions
    fi
    # Fresh relay and server for each run, so one run's heap does not flatter the next.
    stop relay-tls; stop relay-ws; stop server1
    start_relays; start_server
    $SB idle -bundle "$work/$bundle" -n "$n" -label "$label" -note "$note" \
      -relay-pid "${PID[$relay]}" -relay-metrics "http://127.0.0.1:$mport/metrics" \
      -server-pid "${PID[server1]}" -server-metrics "http://127.0.0.1:$M_SRV/metrics" -out "$results" \
      -relay-heap "$work/relay-heap-$label-$n.pprof" ||
      echo "bench: idle run ($label, $n sessions) failed; recorded in the report" >&2
  }
  for n in $IDLE_SIZES; do
    idle_run tls idle-tls relay-tls "$M_RTLS" "$n"
  done
  idle_run ws idle-ws relay-ws "$M_RWS" "${IDLE_SIZES%% *}"
fi

# Everything after this point runs without the tunnel processes.
for name in client-tls client-ws relay-tls relay-ws server1 fwd-entry fwd-hop fwd-exit target; do stop "$name"; done

if ! skip micro; then
  step "microbenchmarks (go test -bench, -benchtime=$MICRO_TIME)"
  go test -run '^$' -bench . -benchtime="$MICRO_TIME" -benchmem \
    ./pkg/wsconn ./pkg/pipe ./pkg/tunnel ./pkg/token 2>&1 | tee "$work/micro.txt" | grep -E '^(Benchmark|ok|FAIL)' >&2
  $SB record -out "$results" -micro "$work/micro.txt"
fi

if ! skip profile; then
  step "CPU profile of the in-process tunnel (relay, server, client in one process)"
  go test -run '^$' -bench 'BenchmarkTunnelThroughput/tls' -benchtime="$PROFILE_TIME" \
    -cpuprofile "$work/cpu.pprof" -o "$work/bench.test" ./bench/ 2>&1 | grep -E '^(Benchmark|ok|FAIL)' | tee "$work/profile-bench.txt" >&2
  go tool pprof -top -nodecount=25 "$work/bench.test" "$work/cpu.pprof" 2>/dev/null >"$work/profile-top.txt"
  go tool pprof -top -cum -nodecount=40 "$work/bench.test" "$work/cpu.pprof" 2>/dev/null >"$work/profile-cum.txt"
  $SB record -out "$results" -profile "$work/profile-top.txt" -profile-cum "$work/profile-cum.txt" -profile-bench "$work/profile-bench.txt"
fi

if ! skip wan; then
  step "50 ms RTT between two network namespaces"
  WORK=$work RESULTS=$results BIN=$BIN SB=$SB TP_SECONDS=$TP_SECONDS TP_RUNS=$TP_RUNS scripts/bench-wan.sh ||
    echo "bench: the WAN phase failed; see $work/wan-*.log" >&2
fi

step "report"
$SB record -out "$results" -end
$SB report -in "$results" -out "$OUT"
[ -n "${BENCH_RESULTS:-}" ] && cp "$results" "$BENCH_RESULTS"
echo "bench: wrote $OUT" >&2
