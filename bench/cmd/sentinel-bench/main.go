// Command sentinel-bench is the load tool of `make bench` (scripts/bench.sh): the target,
// the baseline TLS forwarder, the WAN delay line, and the measurements, each a subcommand.
// Measurements append one JSON object per line to -out; `report` turns them into
// docs/BENCHMARKS.md.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"sort"
	"syscall"
)

type command struct {
	help string
	run  func(ctx context.Context, args []string) error
}

var commands = map[string]command{
	"target": {"serve the load protocol (sink, source, 32-byte answers)", cmdTarget},
	"fwd":    {"run one part of the baseline TLS forwarder (entry, hop, exit)", cmdFwd},
	"pki":    {"mint the forwarder's throwaway CA and certificate", cmdPKI},
	"wan":    {"run the TUN delay line between two devices", cmdWAN},
	"wait":   {"wait until a 32-byte round trip through an address works", cmdWait},
	"tp":     {"measure throughput (verified), median of runs", cmdThroughput},
	"rr":     {"measure new connection + 32-byte round trip latency", cmdRoundTrips},
	"pp":     {"measure 32-byte round trips on one standing connection", cmdPingPong},
	"rtt":    {"measure the TCP connect time (one round trip) to an address", cmdRTT},
	"cold":   {"measure client process start to first byte through the tunnel", cmdCold},
	"idle":   {"hold many idle sessions and streams; measure relay and server cost", cmdIdle},
	"mysql":  {"run mysqlslap against a port and record queries per second", cmdMySQL},
	"role":   {"run a role like backend -c, with pprof endpoints", cmdRole},
	"metric": {"print one metric of a /metrics URL", cmdMetric},
	"sample": {"print RSS and metrics of a process", cmdSample},
	"report": {"write docs/BENCHMARKS.md from the results", cmdReport},
	"record": {"record the machine, microbenchmarks, profile or notes into the results", cmdRecord},
}

func main() {
	if len(os.Args) < 2 || commands[os.Args[1]].run == nil {
		fmt.Fprintln(os.Stderr, "usage: sentinel-bench COMMAND [flags]")
		names := make([]string, 0, len(commands))
		for n := range commands {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			fmt.Fprintf(os.Stderr, "  %-7s %s\n", n, commands[n].help)
		}
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := commands[os.Args[1]].run(ctx, os.Args[2:]); err != nil {
		fmt.Fprintf(os.Stderr, "sentinel-bench %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

// emit appends v as one JSON line to path (stdout when path is "" or "-") and echoes a
// short form to stderr.
func emit(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	b = append(b, '\n')
	if path == "" || path == "-" {
		_, err = os.Stdout.Write(b)
		return err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = f.Write(b)
	os.Stderr.Write(b)
	return err
}
