#!/usr/bin/env bash
# The 50 ms RTT phase of make bench (called by scripts/bench.sh, which sets WORK, RESULTS, BIN,
# SB, TP_SECONDS, TP_RUNS). Two network namespaces joined by an emulated WAN link:
#
#   namespace A (laptop side)                       namespace B (private network)
#   load tool -> client -> relay 10.77.0.1  ==WAN==  server -> target 10.77.0.2
#   load tool --------------------------------WAN==> target 10.77.0.2   (direct, same link)
#
# The link is a veth pair with `tc netem delay 25ms` on each end when the kernel has netem;
# otherwise (this kernel: CONFIG_NET_SCH_NETEM is not set) two TUN devices joined by
# `sentinel-bench wan`, a userspace delay line adding 25 ms each way. Both tunnel and direct
# TCP cross the same link once per direction, so the ratio isolates the tunnel.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/sbin:/sbin"
: "${WORK:?}" "${RESULTS:?}" "${BIN:?}" "${SB:?}" "${TP_SECONDS:=10}" "${TP_RUNS:=3}"
DELAY_MS=${BENCH_WAN_DELAY_MS:-25}
MTU=${BENCH_WAN_MTU:-9000}
NS_A=sbench-a-$$ NS_B=sbench-b-$$
IP_A=10.77.0.1 IP_B=10.77.0.2
TUN_A=sbw$$a TUN_B=sbw$$b
PORT_RELAY=8443 PORT_TARGET=9000 PORT_CLIENT=48080

unavailable() { # records why the phase cannot run, and stops
  echo "bench-wan: $*" >&2
  "$SB" record -out "$RESULTS" -wan-skip "$*"
  exit 0
}
command -v ip >/dev/null || unavailable "iproute2 (ip) is not installed"
pids=()
cleanup() {
  set +e
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
  ip netns del "$NS_A" 2>/dev/null
  ip netns del "$NS_B" 2>/dev/null
}
trap cleanup EXIT
ip netns add "$NS_A" 2>"$WORK/wan-netns.log" || unavailable "cannot create network namespaces: $(head -c 200 "$WORK/wan-netns.log")"
ip netns add "$NS_B"
ip -n "$NS_A" link set lo up
ip -n "$NS_B" link set lo up
ina() { ip netns exec "$NS_A" "$@"; }
inb() { ip netns exec "$NS_B" "$@"; }

if inb tc qdisc add dev lo root netem delay 1ms 2>/dev/null; then
  inb tc qdisc del dev lo root
  method="veth + tc netem delay ${DELAY_MS}ms on each end"
  ip link add sbv$$a netns "$NS_A" type veth peer name sbv$$b netns "$NS_B"
  ip -n "$NS_A" addr add "$IP_A/24" dev sbv$$a
  ip -n "$NS_B" addr add "$IP_B/24" dev sbv$$b
  for side in "$NS_A sbv$$a" "$NS_B sbv$$b"; do
    set -- $side
    ip -n "$1" link set "$2" up
    ip netns exec "$1" tc qdisc add dev "$2" root netem delay "${DELAY_MS}ms" limit 100000
  done
else
  [ -c /dev/net/tun ] || unavailable "no netem qdisc in this kernel and no /dev/net/tun for the userspace delay line"
  method="TUN delay line (sentinel-bench wan), ${DELAY_MS} ms each way, MTU $MTU: this kernel has no netem qdisc"
  "$SB" wan -a "$TUN_A" -b "$TUN_B" -delay "${DELAY_MS}ms" >"$WORK/wan-line.out" 2>"$WORK/wan-line.log" &
  pids+=($!)
  for _ in $(seq 1 50); do grep -q ready "$WORK/wan-line.out" 2>/dev/null && break; sleep 0.1; done
  grep -q ready "$WORK/wan-line.out" || unavailable "delay line did not start: $(head -c 200 "$WORK/wan-line.log")"
  ip link set "$TUN_A" netns "$NS_A"
  ip link set "$TUN_B" netns "$NS_B"
  ip -n "$NS_A" addr add "$IP_A/24" dev "$TUN_A"
  ip -n "$NS_B" addr add "$IP_B/24" dev "$TUN_B"
  ip -n "$NS_A" link set "$TUN_A" mtu "$MTU" up
  ip -n "$NS_B" link set "$TUN_B" mtu "$MTU" up
fi

# A CA of its own: the relay's address is 10.77.0.1 here.
ca=$WORK/wan-ca
q() { "$@" >/dev/null; }
q "$BIN" ca init --dir "$ca" --name "Bench WAN Root CA"
q "$BIN" ca issue relay --dir "$ca" --name wan-relay --addr "$IP_A" --port "$PORT_RELAY" --out "$WORK/wan-relay"
q "$BIN" ca issue server --dir "$ca" --name wan-server --relay wan-relay --resource "target=$IP_B/32:$PORT_TARGET" --out "$WORK/wan-server"
q "$BIN" ca issue client --dir "$ca" --name wan-client --server wan-server --relay wan-relay \
  --target "$IP_B:$PORT_TARGET" --port "$PORT_CLIENT" --out "$WORK/wan-client"

# Started with `ip netns exec` directly (not through a shell function), so $! is the process
# itself (ip execs it) and cleanup can stop it.
ip netns exec "$NS_B" "$SB" target -listen "$IP_B:$PORT_TARGET" >"$WORK/wan-target.log" 2>&1 &
pids+=($!)
ip netns exec "$NS_A" env SENTINEL_RELAY_LISTEN="$IP_A:$PORT_RELAY" SENTINEL_AUDIT_PATH="$WORK/wan-relay-audit.jsonl" \
  "$BIN" -c "$WORK/wan-relay/config.toml" >"$WORK/wan-relay.log" 2>&1 &
pids+=($!)
ip netns exec "$NS_B" env SENTINEL_AUDIT_PATH="$WORK/wan-server-audit.jsonl" \
  "$BIN" -c "$WORK/wan-server/config.toml" >"$WORK/wan-server.log" 2>&1 &
pids+=($!)
ip netns exec "$NS_A" env SENTINEL_AUDIT_PATH="$WORK/wan-client-audit.jsonl" \
  "$BIN" -c "$WORK/wan-client/config.toml" >"$WORK/wan-client.log" 2>&1 &
pids+=($!)
ina "$SB" wait -addr "$IP_B:$PORT_TARGET" -timeout 20s
ina "$SB" wait -addr "127.0.0.1:$PORT_CLIENT" -timeout 30s

"$SB" record -out "$RESULTS" -wan-method "$method" \
  -wan-sysctl "tcp_rmem=$(inb cat /proc/sys/net/ipv4/tcp_rmem | tr '\t' ' '); tcp_wmem=$(ina cat /proc/sys/net/ipv4/tcp_wmem | tr '\t' ' '); congestion=$(ina cat /proc/sys/net/ipv4/tcp_congestion_control)"
ina "$SB" rtt -addr "$IP_B:$PORT_TARGET" -label wan -out "$RESULTS"
ina "$SB" tp -addr "$IP_B:$PORT_TARGET" -label wan-direct -streams 1 -seconds "$TP_SECONDS" -runs "$TP_RUNS" -out "$RESULTS"
ina "$SB" tp -addr "127.0.0.1:$PORT_CLIENT" -label wan-tls -streams 1 -seconds "$TP_SECONDS" -runs "$TP_RUNS" -out "$RESULTS"
