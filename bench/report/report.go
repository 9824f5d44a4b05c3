package report

import (
	"bufio"
	_ "embed"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Results is everything one `make bench` run recorded.
type Results struct {
	Machine  Record
	End      Record
	Micro    string
	Profile  Record
	WAN      Record
	TP       []Throughput
	RR       []Latency
	RTT      []RTT
	PP       []PingPong
	Cold     []Cold
	Idle     []Idle
	MySQL    []MySQL
	HasWAN   bool
	HasMicro bool
	HasProf  bool
}

// Load reads a results file.
func Load(path string) (*Results, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := &Results{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Bytes()
		if len(line) == 0 {
			continue
		}
		var k struct{ Kind string }
		if err := json.Unmarshal(line, &k); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, n, err)
		}
		var v any
		switch k.Kind {
		case "tp":
			v = appendTo(&r.TP)
		case "rr":
			v = appendTo(&r.RR)
		case "rtt":
			v = appendTo(&r.RTT)
		case "pp":
			v = appendTo(&r.PP)
		case "cold":
			v = appendTo(&r.Cold)
		case "idle":
			v = appendTo(&r.Idle)
		case "mysql":
			v = appendTo(&r.MySQL)
		case "machine":
			v = &r.Machine
		case "end":
			v = &r.End
		case "micro":
			var rec Record
			if err := json.Unmarshal(line, &rec); err != nil {
				return nil, err
			}
			r.Micro += rec.Text
			r.HasMicro = true
			continue
		case "profile":
			v, r.HasProf = &r.Profile, true
		case "wan":
			var rec Record
			if err := json.Unmarshal(line, &rec); err != nil {
				return nil, err
			}
			r.WAN.Skip = cmpOr(rec.Skip, r.WAN.Skip)
			r.WAN.Method = cmpOr(rec.Method, r.WAN.Method)
			r.WAN.Sysctl = cmpOr(rec.Sysctl, r.WAN.Sysctl)
			r.HasWAN = true
			continue
		default:
			continue
		}
		if err := json.Unmarshal(line, v); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, n, err)
		}
	}
	return r, sc.Err()
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// appendTo grows s by one zero element and returns a pointer to it.
func appendTo[T any](s *[]T) *T {
	var zero T
	*s = append(*s, zero)
	return &(*s)[len(*s)-1]
}

func (r *Results) tp(label string, streams int) *Throughput {
	for i := range r.TP {
		if r.TP[i].Label == label && r.TP[i].Streams == streams {
			return &r.TP[i]
		}
	}
	return nil
}

func (r *Results) rr(label string) *Latency {
	for i := range r.RR {
		if r.RR[i].Label == label {
			return &r.RR[i]
		}
	}
	return nil
}

func (r *Results) mysql(workload, label string, conc int) *MySQL {
	for i := range r.MySQL {
		if m := &r.MySQL[i]; m.Workload == workload && m.Label == label && m.Concurrency == conc {
			return &r.MySQL[i]
		}
	}
	return nil
}

// Target is one goal and how this run did.
type Target struct {
	What     string
	Measured string
	Ratio    string
	Goal     string
	Met      *bool // nil: not measured
}

func met(ok bool) *bool { return &ok }

func mark(m *bool) string {
	switch {
	case m == nil:
		return "not measured"
	case *m:
		return "**met**"
	default:
		return "**not met**"
	}
}

// Targets evaluates the goals of issue 7.
func (r *Results) Targets() []Target {
	var out []Target
	tls1, tls4, fwd1 := r.tp("tls", 1), r.tp("tls", 4), r.tp("fwd", 1)
	t := Target{What: "TLS relay, one stream, vs the two-hop TLS forwarder", Goal: "≥ 60%"}
	if tls1 != nil && fwd1 != nil && fwd1.Median > 0 {
		q := tls1.Median / fwd1.Median
		t.Measured = fmt.Sprintf("%.2f vs %.2f Gbit/s", tls1.Median, fwd1.Median)
		t.Ratio, t.Met = pct(q), met(q >= 0.60)
	}
	out = append(out, t)
	t = Target{What: "TLS relay, four streams vs one", Goal: "≥ 1.3×"}
	if tls1 != nil && tls4 != nil && tls1.Median > 0 {
		q := tls4.Median / tls1.Median
		t.Measured = fmt.Sprintf("%.2f vs %.2f Gbit/s", tls4.Median, tls1.Median)
		t.Ratio, t.Met = fmt.Sprintf("%.2f×", q), met(q >= 1.3)
	}
	out = append(out, t)
	if l := r.rr("tls"); l != nil {
		out = append(out,
			Target{What: "new connection over a warm session (TLS relay), p50", Measured: fmt.Sprintf("%.2f ms", l.P50), Goal: "≤ 1 ms", Met: met(l.P50 <= 1)},
			Target{What: "new connection over a warm session (TLS relay), p99", Measured: fmt.Sprintf("%.2f ms", l.P99), Goal: "≤ 3 ms", Met: met(l.P99 <= 3)})
	} else {
		out = append(out, Target{What: "new connection over a warm session, p50 / p99", Goal: "≤ 1 ms / ≤ 3 ms"})
	}
	var big *Idle
	for i := range r.Idle {
		if r.Idle[i].Label == "tls" && (big == nil || r.Idle[i].Sessions > big.Sessions) {
			big = &r.Idle[i]
		}
	}
	if big != nil && big.Error != "" {
		out = append(out,
			Target{What: fmt.Sprintf("idle TLS-relay session: RSS, goroutines (%d sessions)", big.Sessions), Measured: "run failed: " + short(big.Error), Goal: "≤ 32 KiB, ≤ 4"},
			Target{What: "10,000 idle sessions hold", Measured: fmt.Sprintf("%d asked; failed: %s", big.Sessions, short(big.Error)), Goal: "all held", Met: met(false)})
	} else if big != nil {
		out = append(out,
			Target{What: fmt.Sprintf("idle TLS-relay session, RSS (%d sessions)", big.Sessions), Measured: fmt.Sprintf("%.1f KiB", big.RelaySession.RSSKiB), Goal: "≤ 32 KiB", Met: met(big.RelaySession.RSSKiB <= 32)},
			Target{What: fmt.Sprintf("idle TLS-relay session, goroutines (%d sessions)", big.Sessions), Measured: fmt.Sprintf("%.2f", big.RelaySession.Goroutines), Goal: "≤ 4", Met: met(big.RelaySession.Goroutines <= 4.05)})
		held := Target{What: "10,000 idle sessions hold", Goal: "all held"}
		held.Measured = fmt.Sprintf("%d sessions, all held: %v", big.Sessions, big.Held)
		if big.Sessions >= 10000 {
			held.Met = met(big.Held)
		} else {
			held.Measured += " (" + cmpOr(big.Note, "fewer than 10,000 asked") + ")"
			held.Met = met(false)
		}
		out = append(out, held)
	} else {
		out = append(out, Target{What: "idle relay session: RSS, goroutines, 10,000 hold", Goal: "≤ 32 KiB, ≤ 4, all held"})
	}
	for _, w := range workloads {
		for _, c := range []int{8, 32} {
			t := Target{What: fmt.Sprintf("MySQL %s, %d clients, tunnel vs direct", w.short, c), Goal: "≥ 85%"}
			d, tu := r.mysql(w.name, "direct", c), r.mysql(w.name, "tls", c)
			if d != nil && tu != nil && d.QPS > 0 {
				q := tu.QPS / d.QPS
				t.Measured = fmt.Sprintf("%.0f vs %.0f q/s", tu.QPS, d.QPS)
				t.Ratio, t.Met = pct(q), met(q >= 0.85)
			}
			out = append(out, t)
		}
	}
	t = Target{What: "50 ms RTT, one stream, tunnel vs direct", Goal: "≥ 80%"}
	wd, wt := r.tp("wan-direct", 1), r.tp("wan-tls", 1)
	if wd != nil && wt != nil && wd.Median > 0 {
		q := wt.Median / wd.Median
		t.Measured = fmt.Sprintf("%.3f vs %.3f Gbit/s", wt.Median, wd.Median)
		t.Ratio, t.Met = pct(q), met(q >= 0.80)
	} else if r.WAN.Skip != "" {
		t.Measured = "not run: " + r.WAN.Skip
	}
	out = append(out, t)
	return out
}

var workloads = []struct{ name, short, long string }{
	{"read", "(generated table, read)", "`--auto-generate-sql --auto-generate-sql-load-type=read`: every query scans mysqlslap's generated 100-row table"},
	{"select1", "(SELECT 1)", "`--query=\"SELECT 1\"`: the smallest query, so what remains is the tunnel's cost per round trip"},
}

func pct(q float64) string { return fmt.Sprintf("%.0f%%", q*100) }

//go:embed analysis.md
var analysis string

var pathNames = map[string]string{
	"direct": "direct TCP (no tunnel)",
	"fwd":    "two-hop TLS 1.3 forwarder (baseline)",
	"tls":    "Sentinel, TLS relay (wss legs)",
	"ws":     "Sentinel, behind_proxy relay (ws legs)",
}

var pathOrder = []string{"direct", "fwd", "tls", "ws"}

// Write renders the report.
func Write(w io.Writer, r *Results) error {
	b := &strings.Builder{}
	p := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	m := r.Machine
	p("# Benchmarks\n\n")
	p("Generated by `make bench` (scripts/bench.sh) on %s", m.Date)
	if r.End.Date != "" {
		p(", finished %s", r.End.Date)
	}
	p(". Every number below comes from that one run; ratios compare paths measured in the same run.\n")
	if m.Quick {
		p("\n> **BENCH_QUICK=1 run**: short runs, one repetition, fewer connections and sessions. Indicative only.\n")
	}
	p("\n| machine | |\n|---|---|\n")
	p("| CPU | %s, %d cores |\n| memory | %d MiB |\n| kernel | %s |\n| Go | %s |\n| Sentinel | %s |\n", m.CPU, m.Cores, m.MemMiB, m.Kernel, m.Go, m.Version)
	p("| load average (1/5/15 min) | %s at start, %s at end |\n", m.Load, r.End.Load)
	p("| descriptor limit | %d |\n", m.NoFile)
	if m.RoleEnv != "" {
		p("| relay, server and client run with | `%s` (BENCH_ROLE_ENV) |\n", m.RoleEnv)
	}
	p("\n")
	p("The machine is shared: every process (load tool, target, client, relay, server or forwarder) " +
		"runs on the same two cores, so throughput is CPU-bound, and other work on the machine shows up " +
		"as noise (see the load average).\n\n")

	p("## Targets\n\n| target | measured | ratio | goal | |\n|---|---|---|---|---|\n")
	for _, t := range r.Targets() {
		p("| %s | %s | %s | %s | %s |\n", t.What, dash(t.Measured), dash(t.Ratio), t.Goal, mark(t.Met))
	}

	if len(r.TP) > 0 {
		p("\n## Throughput\n\nOne TCP connection (or four in parallel) from the load tool through the path to the target, " +
			"client → target, 128 KiB writes; the target verifies every byte against the stream's PRNG pattern and " +
			"answers with the count, which must equal what was sent. Median of the runs; Gbit/s of payload. " +
			"CPU is the user+system time of every process of the path (target included, load tool excluded) per GB.\n\n")
		p("| path | 1 stream, Gbit/s | runs | 4 streams, Gbit/s | runs | 4 / 1 | vs forwarder (1 / 4) | CPU s/GB (1 / 4) |\n|---|---|---|---|---|---|---|---|\n")
		fwd1, fwd4 := r.tp("fwd", 1), r.tp("fwd", 4)
		for _, path := range pathOrder {
			one, four := r.tp(path, 1), r.tp(path, 4)
			if one == nil && four == nil {
				continue
			}
			p("| %s | %s | %s | %s | %s | %s | %s / %s | %s / %s |\n", pathNames[path],
				gbps(one), runs(one), gbps(four), runs(four), ratioX(four, one),
				ratioPct(one, fwd1), ratioPct(four, fwd4), cpu(one), cpu(four))
		}
	}

	if hasByProcess(r.TP) {
		p("\nCPU seconds per GB by process (one stream; the same order as the data flows):\n\n| path | processes |\n|---|---|\n")
		for _, path := range pathOrder {
			t := r.tp(path, 1)
			if t == nil || len(t.CPUByProcess) == 0 {
				continue
			}
			var parts []string
			for _, name := range []string{"entry", "client", "hop", "relay", "exit", "server", "target"} {
				if v, ok := t.CPUByProcess[name]; ok {
					parts = append(parts, fmt.Sprintf("%s %.2f", name, v))
				}
			}
			p("| %s | %s |\n", pathNames[path], strings.Join(parts, " → "))
		}
	}

	if len(r.RR) > 0 {
		p("\n## New connection over a warm session\n\nSequential connections to the path's entry; on each, one 32-byte request " +
			"and its 32-byte answer; timed from the start of the dial to the answer's last byte. Through Sentinel each is a " +
			"new stream on the client's standing session (the forwarder makes two TLS handshakes per connection).\n\n")
		p("| path | connections | p50 ms | p90 ms | p99 ms | mean ms | max ms |\n|---|---|---|---|---|---|---|\n")
		for _, path := range pathOrder {
			if l := r.rr(path); l != nil {
				p("| %s | %d | %.3f | %.3f | %.3f | %.3f | %.2f |\n", pathNames[path], l.N, l.P50, l.P90, l.P99, l.Mean, l.Max)
			}
		}
	}

	if len(r.PP) > 0 {
		p("\n## Round trips on a standing connection\n\n32-byte request, 32-byte answer, one at a time on one " +
			"connection (the shape of a database query); CPU is that of the path's processes per round trip " +
			"(clock-tick resolution, so only the totals over the run are meaningful).\n\n")
		p("| path | round trips | p50 ms | p99 ms | CPU µs per round trip | by process |\n|---|---|---|---|---|---|\n")
		for _, path := range pathOrder {
			for _, x := range r.PP {
				if x.Label != path {
					continue
				}
				var parts []string
				for _, name := range []string{"entry", "client", "hop", "relay", "exit", "server", "target"} {
					if v, ok := x.CPUByProcess[name]; ok {
						parts = append(parts, fmt.Sprintf("%s %.0f", name, v))
					}
				}
				p("| %s | %d | %.3f | %.3f | %.0f | %s |\n", pathNames[path], x.N, x.P50, x.P99, x.CPU, strings.Join(parts, " → "))
			}
		}
	}

	if len(r.Cold) > 0 {
		p("\n## Cold session setup\n\nFrom starting the client process (`backend -c config.toml`) to the first byte of a 32-byte answer " +
			"through the tunnel: process start, config and certificate load, WebSocket and token to the relay, the relay's " +
			"open and the server's bind, the end-to-end TLS 1.3 handshake, the multiplexer, the first stream and the target dial. " +
			"*listening* is process start to the local port accepting; *session setup* is the client's own measure from its " +
			"log (relay dial to multiplexer ready).\n\n")
		p("| path | starts | p50 ms | min ms | max ms | listening, p50 ms | session setup, p50 ms |\n|---|---|---|---|---|---|---|\n")
		for _, c := range r.Cold {
			p("| %s | %d | %.1f | %.1f | %.1f | %.1f | %.1f |\n", pathNames[c.Label], len(c.Runs), c.P50, c.Min, c.Max, c.Listen, c.Setup)
		}
	}

	if len(r.Idle) > 0 {
		p("\n## Idle cost\n\nA Go tool (bench/idle) opens N sessions with one client certificate, the way pkg/client does " +
			"(pkg/dial WebSocket with a signed token, pinned end-to-end TLS 1.3, yamux), each carrying one 32-byte round trip " +
			"before going idle; then as many idle streams (each connected to the target, nothing sent). Costs are the growth " +
			"of the relay's and server's RSS (/proc/PID/status) and goroutines (go_goroutines at /metrics) divided by N, " +
			"after a few seconds of settling; heap and stack are go_memstats_heap_inuse_bytes and _stack_inuse_bytes. " +
			"Fresh relay and server processes for each run; per-certificate session limits raised.\n\n")
		p("| relay | sessions | held | setup s | relay RSS KiB/session | goroutines | heap KiB | stack KiB | server RSS KiB/session | goroutines | server RSS KiB/stream | goroutines/stream |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n")
		for _, i := range r.Idle {
			if i.Error != "" {
				p("| %s | %d | **failed**: %s | | | | | | | | | |\n", i.Label, i.Sessions, short(i.Error))
				continue
			}
			p("| %s | %d | %v | %.1f | %.1f | %.2f | %.1f | %.1f | %.1f | %.2f | %.1f | %.2f |\n", i.Label, i.Sessions, i.Held, i.SetupSeconds,
				i.RelaySession.RSSKiB, i.RelaySession.Goroutines, i.RelaySession.HeapKiB, i.RelaySession.StackKiB,
				i.ServerSession.RSSKiB, i.ServerSession.Goroutines, i.ServerStream.RSSKiB, i.ServerStream.Goroutines)
		}
		for _, i := range r.Idle {
			if i.Note != "" {
				p("\nNote (%s, %d): %s.\n", i.Label, i.Sessions, i.Note)
			}
		}
		p("\nAbsolute values at the largest run:\n\n| relay | sessions | relay RSS MiB | relay goroutines | relay fds | server RSS MiB | server goroutines | server RSS with streams MiB |\n|---|---|---|---|---|---|---|---|\n")
		for _, i := range r.Idle {
			if i.Error != "" {
				continue
			}
			p("| %s | %d | %.0f → %.0f | %.0f → %.0f | %.0f → %.0f | %.0f → %.0f | %.0f → %.0f | %.0f |\n", i.Label, i.Sessions,
				i.RelayBase.RSSKiB/1024, i.RelayIdle.RSSKiB/1024, i.RelayBase.Goroutines, i.RelayIdle.Goroutines,
				i.RelayBase.FDs, i.RelayIdle.FDs, i.ServerBase.RSSKiB/1024, i.ServerIdle.RSSKiB/1024,
				i.ServerBase.Goroutines, i.ServerIdle.Goroutines, i.ServerStreams.RSSKiB/1024)
		}
		for _, i := range r.Idle {
			if i.RelayHeapTop != "" {
				p("\nThe %s relay's heap in use with %d idle sessions (sampled; `go tool pprof -top -sample_index=inuse_space` "+
					"of /debug/pprof/heap, metrics.pprof):\n\n```\n%s```\n", i.Label, i.Sessions, trimPprof(i.RelayHeapTop))
			}
		}
	}

	if len(r.MySQL) > 0 {
		p("\n## MySQL\n\nmysqlslap against a throwaway MariaDB (scripts/mariadb.sh), directly and through the TLS-relay " +
			"tunnel (a client certificate whose target is the database). Each mysqlslap client opens its connection (a new " +
			"stream through the tunnel) and runs its share of the queries, one round trip each; median of the runs.\n\n")
		for _, w := range workloads {
			p("- %s: %s.\n", w.name, w.long)
		}
		p("\nThe two-hop TLS forwarder (the throughput baseline, pointed at the database) shows what any tunnel of this " +
			"shape costs here: the same three extra processes and TLS layers on the same two cores.\n")
		p("\n| workload | clients | queries | direct q/s | tunnel q/s | tunnel / direct | forwarder q/s | forwarder / direct |\n|---|---|---|---|---|---|---|---|\n")
		for _, w := range workloads {
			for _, c := range []int{8, 32} {
				d, t := r.mysql(w.name, "direct", c), r.mysql(w.name, "tls", c)
				if d == nil || t == nil || d.QPS == 0 {
					continue
				}
				fq, fr := "–", "–"
				if f := r.mysql(w.name, "fwd", c); f != nil {
					fq, fr = fmt.Sprintf("%.0f", f.QPS), pct(f.QPS/d.QPS)
				}
				p("| %s | %d | %d | %.0f | %.0f | %s | %s | %s |\n", w.name, c, d.Queries, d.QPS, t.QPS, pct(t.QPS/d.QPS), fq, fr)
			}
		}
	}

	if r.HasWAN {
		p("\n## 50 ms RTT\n\n")
		if r.WAN.Skip != "" {
			p("Not measured: %s.\n", r.WAN.Skip)
		} else {
			p("Two network namespaces: the load tool, the client and the relay on one side, the server and the target on "+
				"the other, so the relay–server leg crosses the emulated WAN; direct TCP from the load tool to the target "+
				"crosses the same link. Link: %s. TCP in the namespaces: %s.\n\n", r.WAN.Method, r.WAN.Sysctl)
			for _, t := range r.RTT {
				p("Measured RTT (TCP connect time, median): %.1f ms.\n\n", t.P50)
			}
			wd, wt := r.tp("wan-direct", 1), r.tp("wan-tls", 1)
			p("| path | 1 stream, Gbit/s | runs | vs direct |\n|---|---|---|---|\n")
			p("| direct TCP | %s | %s | |\n", gbps(wd), runs(wd))
			p("| Sentinel, TLS relay | %s | %s | %s |\n", gbps(wt), runs(wt), ratioPct(wt, wd))
		}
	}

	if r.HasMicro {
		p("\n## Microbenchmarks\n\n`go test -run '^$' -bench . -benchmem ./pkg/wsconn ./pkg/pipe ./pkg/tunnel ./pkg/token`\n\n")
		p("| benchmark | time/op | MB/s | B/op | allocs/op | other |\n|---|---|---|---|---|---|\n")
		for _, l := range parseBench(r.Micro) {
			p("| %s | %s | %s | %s | %s | %s |\n", l.name, l.nsop, dash(l.mbs), dash(l.bop), dash(l.allocs), dash(l.other))
		}
	}

	if r.HasProf {
		p("\n## Where the CPU goes\n\nCPU profile of `BenchmarkTunnelThroughput/tls` (bench/tunnel_bench_test.go): relay, server " +
			"and client of pkg/relay, pkg/server and pkg/client in one process, one stream through a TLS relay, " +
			"`go test -bench 'BenchmarkTunnelThroughput/tls' -cpuprofile`.\n\n")
		if bl := strings.TrimSpace(grepLines(r.Profile.Bench, "Benchmark")); bl != "" {
			p("```\n%s\n```\n\n", bl)
		}
		p("Flat (top 25):\n\n```\n%s```\n", trimPprof(r.Profile.Text))
		if r.Profile.Cum != "" {
			p("\nCumulative (top 40):\n\n```\n%s```\n", trimPprof(r.Profile.Cum))
		}
	}

	p("\n%s", analysis)
	p("\n## Reproduce\n\n```\nmake bench                 # about 12 minutes; writes docs/BENCHMARKS.md\nBENCH_QUICK=1 make bench   # about 3 minutes, indicative\nBENCH_SKIP=\"wan idle\" KEEP=1 make bench   # skip phases; keep logs, results.jsonl and cpu.pprof\n" +
		"BENCH_ROLE_ENV=\"GOMAXPROCS=1\" make bench   # the roles with extra environment (the report says so)\n" +
		"go test -run XXX -bench . -benchtime=1x ./...   # every benchmark once (CI)\n```\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func hasByProcess(tp []Throughput) bool {
	for _, t := range tp {
		if len(t.CPUByProcess) > 0 {
			return true
		}
	}
	return false
}

// short keeps an error message to one table cell.
func short(s string) string {
	s = strings.ReplaceAll(s, "|", "/")
	if len(s) > 240 {
		s = s[:240] + "…"
	}
	return s
}

func dash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}

func gbps(t *Throughput) string {
	if t == nil {
		return "–"
	}
	return fmt.Sprintf("%.2f", t.Median)
}

func runs(t *Throughput) string {
	if t == nil {
		return "–"
	}
	s := make([]string, len(t.Gbps))
	for i, g := range t.Gbps {
		s[i] = fmt.Sprintf("%.2f", g)
	}
	return strings.Join(s, ", ")
}

func cpu(t *Throughput) string {
	if t == nil || t.CPUPerGB == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f", t.CPUPerGB)
}

func ratioX(a, b *Throughput) string {
	if a == nil || b == nil || b.Median == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f×", a.Median/b.Median)
}

func ratioPct(a, b *Throughput) string {
	if a == nil || b == nil || b.Median == 0 {
		return "–"
	}
	return pct(a.Median / b.Median)
}

type benchLine struct{ name, nsop, mbs, bop, allocs, other string }

var benchRe = regexp.MustCompile(`^(Benchmark\S+)\s+\d+\s+([0-9.]+) ns/op(.*)$`)

func parseBench(text string) []benchLine {
	var out []benchLine
	pkg := ""
	for _, line := range strings.Split(text, "\n") {
		if v, ok := strings.CutPrefix(line, "pkg: "); ok {
			pkg = v[strings.LastIndexByte(v, '/')+1:]
			continue
		}
		m := benchRe.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		l := benchLine{name: pkg + "." + strings.TrimSuffix(m[1], "-"+lastDash(m[1])), nsop: fmtNs(m[2])}
		f := strings.Fields(m[3])
		for i := 0; i+1 < len(f); i += 2 {
			switch f[i+1] {
			case "MB/s":
				l.mbs = f[i]
			case "B/op":
				l.bop = f[i]
			case "allocs/op":
				l.allocs = f[i]
			default:
				if l.other != "" {
					l.other += ", "
				}
				l.other += f[i] + " " + f[i+1]
			}
		}
		out = append(out, l)
	}
	return out
}

// lastDash returns what follows the benchmark name's last '-' when it is the GOMAXPROCS suffix.
func lastDash(name string) string {
	i := strings.LastIndexByte(name, '-')
	if i < 0 {
		return "\x00"
	}
	if _, err := strconv.Atoi(name[i+1:]); err != nil {
		return "\x00"
	}
	return name[i+1:]
}

func fmtNs(s string) string {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return s
	}
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.2f ms", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.1f µs", v/1e3)
	default:
		return fmt.Sprintf("%.0f ns", v)
	}
}

func grepLines(text, prefix string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// trimPprof keeps pprof's table, without the file and build header.
func trimPprof(text string) string {
	lines := strings.Split(text, "\n")
	i := slices.IndexFunc(lines, func(l string) bool { return strings.HasPrefix(strings.TrimSpace(l), "flat") })
	if j := slices.IndexFunc(lines, func(l string) bool { return strings.HasPrefix(l, "Showing nodes") }); j >= 0 && j < i {
		lines = lines[j:] // from "Showing nodes ..." on: the totals and the table
	}
	return strings.Join(lines, "\n")
}
