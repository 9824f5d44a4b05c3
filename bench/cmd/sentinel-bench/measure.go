package main

import (
	"github.com/sentinel-zt/sentinel/bench/report"

	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/sentinel-zt/sentinel/bench/idle"
	"github.com/sentinel-zt/sentinel/bench/load"
)

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func cmdThroughput(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("tp", flag.ExitOnError)
	addr := fs.String("addr", "", "host:port of the path's entry")
	streams := fs.Int("streams", 1, "parallel connections")
	seconds := fs.Float64("seconds", 10, "duration of each run")
	runs := fs.Int("runs", 3, "runs; the median is reported")
	dir := fs.String("dir", "up", "up (client → target) or down")
	label := fs.String("label", "", "path name")
	pids := fs.String("pids", "", "comma-separated pids whose CPU time to count")
	out := fs.String("out", "", "results file (JSON lines)")
	_ = fs.Parse(args)
	res := ThroughputResult{Kind: "tp", Label: *label, Streams: *streams, Dir: *dir, Seconds: *seconds}
	d := time.Duration(*seconds * float64(time.Second))
	var cpu, gb float64
	byName := map[string]float64{}
	for i := range *runs {
		c0 := cpuByName(*pids)
		t, err := load.Throughput(ctx, load.TCP(*addr), load.Direction(*dir), *streams, d)
		if err != nil {
			return fmt.Errorf("%s run %d: %w", *label, i+1, err)
		}
		for name, c := range cpuByName(*pids) {
			byName[name] += c - c0[name]
			cpu += c - c0[name]
		}
		gb += float64(t.Bytes) / 1e9
		res.Gbps = append(res.Gbps, t.Gbps())
		res.Bytes = append(res.Bytes, t.Bytes)
		fmt.Fprintf(os.Stderr, "  %s %d stream(s) run %d: %.2f Gbit/s (%d bytes verified)\n", *label, *streams, i+1, t.Gbps(), t.Bytes)
		time.Sleep(300 * time.Millisecond) // let the previous run's connections close
	}
	res.Median = median(res.Gbps)
	res.Verified = true
	if *pids != "" && gb > 0 {
		res.CPUPerGB = cpu / gb
		res.CPUByProcess = map[string]float64{}
		for name, c := range byName {
			res.CPUByProcess[name] = c / gb
		}
	}
	return emit(*out, res)
}

// cpuByName reads utime+stime of each NAME=PID in pids (comma-separated).
func cpuByName(pids string) map[string]float64 {
	out := map[string]float64{}
	for _, f := range strings.Split(pids, ",") {
		name, pid, ok := strings.Cut(strings.TrimSpace(f), "=")
		if !ok {
			name, pid = f, f
		}
		if pid != "" {
			out[name] = cpuSeconds(pid)
		}
	}
	return out
}

// cpuSeconds is utime+stime of pid from /proc/PID/stat; 0 if unreadable.
func cpuSeconds(pid string) float64 {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 > len(s) {
		return 0
	}
	f := strings.Fields(s[i+2:])
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100 // USER_HZ
}

func cmdRoundTrips(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("rr", flag.ExitOnError)
	addr := fs.String("addr", "", "host:port of the path's entry")
	n := fs.Int("n", 2000, "connections measured")
	warmup := fs.Int("warmup", 50, "connections before measuring")
	label := fs.String("label", "", "path name")
	out := fs.String("out", "", "results file")
	_ = fs.Parse(args)
	l, err := load.NewConnRoundTrips(ctx, load.TCP(*addr), *n, *warmup)
	if err != nil {
		return fmt.Errorf("%s: %w", *label, err)
	}
	return emit(*out, LatencyResult{
		Kind: "rr", Label: *label, N: len(l),
		P50: ms(l.Quantile(0.5)), P90: ms(l.Quantile(0.9)), P99: ms(l.Quantile(0.99)),
		Mean: ms(l.Mean()), Max: ms(l[len(l)-1]), Min: ms(l[0]),
	})
}

func cmdRTT(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("rtt", flag.ExitOnError)
	addr := fs.String("addr", "", "host:port")
	n := fs.Int("n", 10, "connects")
	label := fs.String("label", "", "link name")
	out := fs.String("out", "", "results file")
	_ = fs.Parse(args)
	var v []float64
	for range *n {
		start := time.Now()
		c, err := (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, "tcp", *addr)
		if err != nil {
			return err
		}
		v = append(v, ms(time.Since(start)))
		c.Close()
	}
	return emit(*out, RTTResult{Kind: "rtt", Label: *label, P50: median(v), Min: slices.Min(v)})
}

var setupRe = regexp.MustCompile(`"msg":"session established".*?"setup":([0-9.e-]+)`)

func cmdCold(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("cold", flag.ExitOnError)
	bin := fs.String("bin", "bin/backend", "backend binary")
	cfg := fs.String("config", "", "client config.toml")
	addr := fs.String("addr", "", "the client's local listener, host:port")
	runs := fs.Int("runs", 10, "process starts")
	label := fs.String("label", "", "path name")
	out := fs.String("out", "", "results file")
	_ = fs.Parse(args)
	res := ColdResult{Kind: "cold", Label: *label}
	var listens, setups []float64
	req := make([]byte, load.RequestSize)
	req[0] = load.ModeRequest
	resp := make([]byte, load.RequestSize)
	for i := range *runs {
		var logBuf bytes.Buffer
		cmd := exec.CommandContext(ctx, *bin, "-c", *cfg)
		cmd.Stderr = &logBuf
		cmd.Stdout = io.Discard
		start := time.Now()
		if err := cmd.Start(); err != nil {
			return err
		}
		var conn net.Conn
		var err error
		for time.Since(start) < 20*time.Second {
			if conn, err = net.Dial("tcp", *addr); err == nil {
				break
			}
			time.Sleep(200 * time.Microsecond)
		}
		if err != nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			return fmt.Errorf("run %d: client never listened: %w\n%s", i+1, err, logBuf.String())
		}
		listened := time.Since(start)
		_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
		_, err = conn.Write(req)
		if err == nil {
			_, err = io.ReadFull(conn, resp[:1])
		}
		first := time.Since(start)
		if err == nil {
			_, err = io.ReadFull(conn, resp[1:])
		}
		conn.Close()
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if err != nil {
			return fmt.Errorf("run %d: %w\n%s", i+1, err, logBuf.String())
		}
		res.Runs = append(res.Runs, ms(first))
		listens = append(listens, ms(listened))
		if m := setupRe.FindSubmatch(logBuf.Bytes()); m != nil {
			if s, err := strconv.ParseFloat(string(m[1]), 64); err == nil {
				setups = append(setups, s*1000)
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	res.P50, res.Min, res.Max = median(res.Runs), slices.Min(res.Runs), slices.Max(res.Runs)
	res.Listen, res.Setup = median(listens), median(setups)
	return emit(*out, res)
}

func sample(pid int, metricsURL, role string) (Sample, error) {
	var s Sample
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return s, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(v)
			if len(f) > 0 {
				s.RSSKiB, _ = strconv.ParseFloat(f[0], 64)
			}
		}
	}
	m, err := scrape(metricsURL)
	if err != nil {
		return s, err
	}
	s.Goroutines = m["go_goroutines"]
	s.HeapInuse = m["go_memstats_heap_inuse_bytes"]
	s.StackInuse = m["go_memstats_stack_inuse_bytes"]
	s.FDs = m["process_open_fds"]
	s.Sessions = m["sentinel_"+role+"_sessions_active"]
	s.Streams = m["sentinel_"+role+"_streams_active"]
	return s, nil
}

// saveHeapProfile fetches /debug/pprof/heap from the metrics listener at metricsURL into file.
func saveHeapProfile(metricsURL, file string) error {
	u := strings.TrimSuffix(metricsURL, "/metrics") + "/debug/pprof/heap"
	c := http.Client{Timeout: 30 * time.Second}
	resp, err := c.Get(u)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// scrape reads a Prometheus text exposition into series → value.
func scrape(url string) (map[string]float64, error) {
	c := http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		out[line[:i]] = v
	}
	return out, sc.Err()
}

func cmdSample(_ context.Context, args []string) error {
	fs := flag.NewFlagSet("sample", flag.ExitOnError)
	pid := fs.Int("pid", 0, "process id")
	url := fs.String("metrics", "", "metrics URL")
	role := fs.String("role", "relay", "relay or server")
	_ = fs.Parse(args)
	s, err := sample(*pid, *url, *role)
	if err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(s)
}

func perUnit(before, after Sample, n int) PerUnit {
	f := float64(n)
	return PerUnit{
		RSSKiB:     (after.RSSKiB - before.RSSKiB) / f,
		Goroutines: (after.Goroutines - before.Goroutines) / f,
		HeapKiB:    (after.HeapInuse - before.HeapInuse) / 1024 / f,
		StackKiB:   (after.StackInuse - before.StackInuse) / 1024 / f,
	}
}

func cmdIdle(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("idle", flag.ExitOnError)
	bundle := fs.String("bundle", "", "client bundle directory")
	n := fs.Int("n", 1000, "sessions")
	streams := fs.Int("streams", -1, "idle streams to open at the server (default: as many as sessions)")
	par := fs.Int("par", 8, "session handshakes in flight")
	warm := fs.Bool("warm", true, "carry one 32-byte round trip on each session before it idles")
	settle := fs.Duration("settle", 3*time.Second, "wait before sampling")
	relayPID := fs.Int("relay-pid", 0, "relay process id")
	relayURL := fs.String("relay-metrics", "", "relay metrics URL")
	serverPID := fs.Int("server-pid", 0, "server process id")
	serverURL := fs.String("server-metrics", "", "server metrics URL")
	label := fs.String("label", "", "path name")
	note := fs.String("note", "", "note for the report")
	out := fs.String("out", "", "results file")
	relayHeap := fs.String("relay-heap", "", "save the relay's heap profile with the sessions idle to this file (needs metrics.pprof)")
	_ = fs.Parse(args)
	if *streams < 0 {
		*streams = *n
	}
	store, err := idle.LoadBundle(*bundle)
	if err != nil {
		return err
	}
	res := IdleResult{Kind: "idle", Label: *label, Sessions: *n, Streams: *streams, Note: *note}
	both := func() (Sample, Sample, error) {
		r, err := sample(*relayPID, *relayURL, "relay")
		if err != nil {
			return r, Sample{}, fmt.Errorf("relay: %w", err)
		}
		s, err := sample(*serverPID, *serverURL, "server")
		if err != nil {
			return r, s, fmt.Errorf("server: %w", err)
		}
		return r, s, nil
	}
	if res.RelayBase, res.ServerBase, err = both(); err != nil {
		return err
	}
	start := time.Now()
	sessions, err := idle.OpenMany(ctx, store, *n, *par, *warm)
	if err != nil {
		// Recorded, so the report shows how far it got and why.
		res.Error = err.Error()
		if r, s, serr := both(); serr == nil {
			res.RelayIdle, res.ServerIdle = r, s
		}
		_ = emit(*out, res)
		return err
	}
	defer idle.CloseAll(sessions)
	res.SetupSeconds = time.Since(start).Seconds()
	fmt.Fprintf(os.Stderr, "  %s: %d sessions open in %.1f s\n", *label, *n, res.SetupSeconds)
	// Wait for the relay and server to count them all (the last closes of the warm-up
	// streams may still be in flight), then let the processes settle.
	wantSessions := res.RelayBase.Sessions + float64(*n)
	if err := waitFor(ctx, 30*time.Second, func() (bool, error) {
		r, s, err := both()
		return r.Sessions >= wantSessions && s.Sessions >= res.ServerBase.Sessions+float64(*n) && s.Streams <= res.ServerBase.Streams, err
	}); err != nil {
		return fmt.Errorf("sessions never all counted: %w", err)
	}
	sleep(ctx, *settle)
	if res.RelayIdle, res.ServerIdle, err = both(); err != nil {
		return err
	}
	res.RelaySession = perUnit(res.RelayBase, res.RelayIdle, *n)
	if *relayHeap != "" {
		if err := saveHeapProfile(*relayURL, *relayHeap); err != nil {
			return fmt.Errorf("relay heap profile: %w", err)
		}
		// The profile is symbolized by the process that wrote it: no binary needed.
		top, err := exec.CommandContext(ctx, "go", "tool", "pprof", "-top", "-nodecount=15", "-sample_index=inuse_space", *relayHeap).Output()
		if err != nil {
			return fmt.Errorf("go tool pprof %s: %w", *relayHeap, err)
		}
		res.RelayHeapTop = string(top)
	}
	res.ServerSession = perUnit(res.ServerBase, res.ServerIdle, *n)

	if *streams > 0 {
		// At most 1000 streams per session (the server's default cap is 1024).
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for i := range *streams {
			c, err := sessions[(i/1000)%len(sessions)].OpenStream()
			if err != nil {
				return fmt.Errorf("stream %d: %w", i, err)
			}
			conns = append(conns, c)
		}
		if err := waitFor(ctx, 30*time.Second, func() (bool, error) {
			s, err := sample(*serverPID, *serverURL, "server")
			return s.Streams >= res.ServerIdle.Streams+float64(*streams), err
		}); err != nil {
			return fmt.Errorf("streams never all counted: %w", err)
		}
		sleep(ctx, *settle)
		if res.ServerStreams, err = sample(*serverPID, *serverURL, "server"); err != nil {
			return err
		}
		res.ServerStream = perUnit(res.ServerIdle, res.ServerStreams, *streams)
	}
	// Held: every session is still open at the relay and the server after the whole run.
	r, s, err := both()
	if err != nil {
		return err
	}
	res.Held = r.Sessions >= wantSessions && s.Sessions >= res.ServerBase.Sessions+float64(*n)
	for _, sess := range sessions {
		if sess.Mux.IsClosed() {
			res.Held = false
		}
	}
	return emit(*out, res)
}

func waitFor(ctx context.Context, d time.Duration, ok func() (bool, error)) error {
	deadline := time.Now().Add(d)
	var last error
	for time.Now().Before(deadline) {
		done, err := ok()
		if done && err == nil {
			return nil
		}
		last = err
		if !sleep(ctx, 100*time.Millisecond) {
			return ctx.Err()
		}
	}
	if last == nil {
		last = errors.New("timed out")
	}
	return last
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

var slapRe = regexp.MustCompile(`Average number of seconds to run all queries: ([0-9.]+) seconds`)

func cmdMySQL(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("mysql", flag.ExitOnError)
	port := fs.Int("port", 0, "port to connect to on 127.0.0.1")
	conc := fs.Int("concurrency", 8, "clients")
	queries := fs.Int("queries", 20000, "queries per iteration, all clients")
	runs := fs.Int("runs", 3, "iterations; the median is reported")
	workload := fs.String("workload", "select1", `"select1" (SELECT 1: the tunnel's cost per round trip) or a mysqlslap --auto-generate-sql-load-type (read, key, write, update, mixed)`)
	label := fs.String("label", "", "path name")
	out := fs.String("out", "", "results file")
	_ = fs.Parse(args)
	res := MySQLResult{Kind: "mysql", Label: *label, Concurrency: *conc, Queries: *queries, Workload: *workload}
	for range *runs {
		// One iteration per mysqlslap run, so each is timed on its own. Every client makes
		// its connection once and then runs queries/concurrency queries on it.
		args := []string{"--no-defaults", "-h127.0.0.1", "-P" + strconv.Itoa(*port),
			"-uroot", "--protocol=TCP", "--concurrency=" + strconv.Itoa(*conc), "--iterations=1",
			"--number-of-queries=" + strconv.Itoa(*queries)}
		if *workload == "select1" {
			args = append(args, "--query=SELECT 1", "--create-schema=bench")
		} else {
			// mysqlslap creates a table of 100 generated rows first and drops it after.
			args = append(args, "--auto-generate-sql", "--auto-generate-sql-load-type="+*workload)
		}
		cmd := exec.CommandContext(ctx, "mysqlslap", args...)
		outb, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("mysqlslap: %w\n%s", err, outb)
		}
		m := slapRe.FindSubmatch(outb)
		if m == nil {
			return fmt.Errorf("mysqlslap output not understood:\n%s", outb)
		}
		s, _ := strconv.ParseFloat(string(m[1]), 64)
		res.Seconds = append(res.Seconds, s)
	}
	if med := median(res.Seconds); med > 0 {
		res.QPS = float64(*queries) / med
	}
	return emit(*out, res)
}

// The result types live in bench/report, which reads them back.
type (
	ThroughputResult = report.Throughput
	LatencyResult    = report.Latency
	RTTResult        = report.RTT
	ColdResult       = report.Cold
	Sample           = report.Sample
	PerUnit          = report.PerUnit
	IdleResult       = report.Idle
	MySQLResult      = report.MySQL
)

func cmdMetric(_ context.Context, args []string) error {
	fs := flag.NewFlagSet("metric", flag.ExitOnError)
	url := fs.String("url", "", "metrics URL")
	name := fs.String("name", "", "series, e.g. go_goroutines")
	_ = fs.Parse(args)
	m, err := scrape(*url)
	if err != nil {
		return err
	}
	fmt.Println(strconv.FormatFloat(m[*name], 'f', -1, 64))
	return nil
}

// PingPong is a "pp" line: round trips on one standing connection.
type PingPong = report.PingPong

func cmdPingPong(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("pp", flag.ExitOnError)
	addr := fs.String("addr", "", "host:port of the path's entry")
	n := fs.Int("n", 5000, "round trips")
	label := fs.String("label", "", "path name")
	pids := fs.String("pids", "", "NAME=PID,... whose CPU time to count")
	out := fs.String("out", "", "results file")
	_ = fs.Parse(args)
	c, err := load.TCP(*addr)(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	req := make([]byte, load.RequestSize)
	req[0] = load.ModeRequest
	resp := make([]byte, load.RequestSize)
	lat := make(load.Latencies, 0, *n)
	for range 50 { // warm-up
		if _, err := c.Write(req); err != nil {
			return err
		}
		if _, err := io.ReadFull(c, resp); err != nil {
			return err
		}
	}
	c0 := cpuByName(*pids)
	for range *n {
		start := time.Now()
		if _, err := c.Write(req); err != nil {
			return err
		}
		if _, err := io.ReadFull(c, resp); err != nil {
			return err
		}
		lat = append(lat, time.Since(start))
	}
	res := PingPong{Kind: "pp", Label: *label, N: *n, CPUByProcess: map[string]float64{}}
	for name, c := range cpuByName(*pids) {
		us := (c - c0[name]) / float64(*n) * 1e6
		res.CPUByProcess[name] = us
		res.CPU += us
	}
	slices.Sort(lat)
	res.P50, res.P99 = ms(lat.Quantile(0.5)), ms(lat.Quantile(0.99))
	return emit(*out, res)
}
