//go:build linux

package system

import (
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Soak switches: `make soak` sets them; the test skips without envSoak=1.
const (
	envSoak         = "SENTINEL_SOAK"          // "1" runs TestSoak
	envSoakConns    = "SENTINEL_SOAK_CONNS"    // connections in all; default 5000
	envSoakDuration = "SENTINEL_SOAK_DURATION" // spread over this; default 150s
	envSoakWorkers  = "SENTINEL_SOAK_WORKERS"  // at most this many at once; default 16
)

// Soak bounds: after the run, once quiet, every process is back near its baseline.
const (
	soakGoroutineSlack = 5        // goroutines above the baseline
	soakFDSlack        = 5        // open files above the baseline
	soakHeapSlack      = 16 << 20 // in-use heap above the baseline (it saws by a few MiB with GC)
	soakRSSSlack       = 64 << 20 // RSS above the baseline
	soakRSSDrift       = 32 << 20 // RSS growth from mid-run to the end: a leak grows with the count
	soakSettle         = 30 * time.Second
)

// TestSoak (make soak, not in CI): thousands of short connections through the built binary
// over minutes, paced evenly, on one client session through one relay. Most are an echo round
// trip; every 20th sends 256 KiB into the sink; every 10th (offset 5) is abandoned with a
// reset right after its first write. None may fail (abandoned ones apart), the session must
// stay the same, and once the connections end the goroutines (go_goroutines from /metrics),
// heap in use (go_memstats_heap_inuse_bytes), open files and RSS of relay, server and client
// must be back near their baseline (taken after a warm-up), and RSS must not keep growing
// through the second half. It logs a sample table and the before/after numbers.
func TestSoak(t *testing.T) {
	requireSystem(t)
	if os.Getenv(envSoak) != "1" {
		t.Skipf("set %s=1 (make soak) to run the soak", envSoak)
	}
	conns := envInt(t, envSoakConns, 5000)
	duration := envDuration(t, envSoakDuration, 150*time.Second)
	workers := envInt(t, envSoakWorkers, 16)

	tg := startTarget(t)
	f := newFleet(t, fleetOptions{targetPort: tg.port()})
	roles := []*role{f.relays[0], f.server, f.client}
	sess, err := f.clientStatus()
	if err != nil || sess.Session == nil {
		t.Fatalf("client status: %+v, %v", sess, err)
	}

	// Warm-up: pools, buffers and heaps reach their working size before the baseline.
	if errs := soakRun(f.clientAddr, 200, 2*time.Second, workers, nil); errs.failed.Load() > 0 {
		t.Fatalf("warm-up: %d of 200 connections failed; first: %v", errs.failed.Load(), errs.first())
	}
	base := settledUsage(t, f, roles, nil)

	var b strings.Builder
	fmt.Fprintf(&b, "\nsoak: %d connections over %v, at most %d at once\n", conns, duration, workers)
	fmt.Fprintf(&b, "%-8s %6s  %-45s %-45s %-45s\n", "t", "done", "relay1", "server1", "alice")
	row := func(label string, done int64, us []usage) {
		fmt.Fprintf(&b, "%-8s %6d", label, done)
		for _, u := range us {
			fmt.Fprintf(&b, "  %-45s", u)
		}
		b.WriteByte('\n')
	}
	row("baseline", 0, base)

	// The run, sampled ten times.
	var done atomic.Int64
	quit := make(chan struct{})
	sampled := make(chan struct{})
	var mid []usage
	go func() {
		defer close(sampled)
		tick := time.NewTicker(duration / 10)
		defer tick.Stop()
		start := time.Now()
		for i := 1; ; i++ {
			select {
			case <-quit:
				return
			case <-tick.C:
			}
			us, err := usages(f, roles)
			if err != nil {
				continue
			}
			row(time.Since(start).Round(time.Second).String(), done.Load(), us)
			if i == 5 {
				mid = us
			}
		}
	}()
	start := time.Now()
	res := soakRun(f.clientAddr, conns, duration, workers, &done)
	took := time.Since(start)
	close(quit)
	<-sampled

	after := settledUsage(t, f, roles, base)
	row("after", done.Load(), after)
	lat := res.latencies()
	fmt.Fprintf(&b, "%d connections in %v (%.0f/s; %d abandoned on purpose), %d failed; connect+transfer p50 %v p99 %v max %v\n",
		conns, took.Round(time.Millisecond), float64(conns)/took.Seconds(), res.abandoned.Load(), res.failed.Load(),
		percentile(lat, 50).Round(time.Microsecond), percentile(lat, 99).Round(time.Microsecond), lat[len(lat)-1].Round(time.Microsecond))
	t.Log(b.String())

	if n := res.failed.Load(); n > 0 {
		t.Errorf("%d of %d connections failed; first: %v", n, conns, res.first())
	}
	if st, err := f.clientStatus(); err != nil || st.Session == nil || st.Session.ID != sess.Session.ID {
		t.Errorf("client session after the soak: %+v, %v; want %s throughout", st.Session, err, sess.Session.ID)
	}
	for i, r := range roles {
		if d := after[i].goroutines - base[i].goroutines; d > soakGoroutineSlack {
			t.Errorf("%s: %d goroutines after the soak, %d before (+%d, want at most +%d)", r.name, after[i].goroutines, base[i].goroutines, d, soakGoroutineSlack)
		}
		if d := after[i].fds - base[i].fds; d > soakFDSlack {
			t.Errorf("%s: %d open files after the soak, %d before (+%d, want at most +%d)", r.name, after[i].fds, base[i].fds, d, soakFDSlack)
		}
		if d := after[i].heap - base[i].heap; d > soakHeapSlack {
			t.Errorf("%s: heap in use %.1f MiB after the soak, %.1f MiB before (+%.1f MiB, want at most +%d MiB)", r.name, mib(after[i].heap), mib(base[i].heap), mib(d), soakHeapSlack>>20)
		}
		if d := after[i].rss - base[i].rss; d > soakRSSSlack {
			t.Errorf("%s: RSS %.1f MiB after the soak, %.1f MiB before (+%.1f MiB, want at most +%d MiB)", r.name, mib(after[i].rss), mib(base[i].rss), mib(d), soakRSSSlack>>20)
		}
		if mid != nil {
			if d := after[i].rss - mid[i].rss; d > soakRSSDrift {
				t.Errorf("%s: RSS grew %.1f MiB in the second half of the soak (want at most %d MiB)", r.name, mib(d), soakRSSDrift>>20)
			}
		}
	}
}

// soakResult counts a run's outcomes.
type soakResult struct {
	failed, abandoned atomic.Int64

	mu       sync.Mutex
	firstErr error
	lat      []time.Duration
}

func (r *soakResult) first() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.firstErr
}

func (r *soakResult) latencies() []time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	l := slices.Clone(r.lat)
	slices.Sort(l)
	if len(l) == 0 {
		l = []time.Duration{0}
	}
	return l
}

// soakRun makes n connections to addr, started evenly over d by up to workers at once, and
// counts each finished one in done (if not nil).
func soakRun(addr string, n int, d time.Duration, workers int, done *atomic.Int64) *soakResult {
	res := &soakResult{lat: make([]time.Duration, 0, n)}
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range jobs {
				start := time.Now()
				err := soakConn(addr, i)
				took := time.Since(start)
				res.mu.Lock()
				switch {
				case errors.Is(err, errAbandoned):
					res.abandoned.Add(1)
				case err != nil:
					res.failed.Add(1)
					if res.firstErr == nil {
						res.firstErr = fmt.Errorf("connection %d: %w", i, err)
					}
				default:
					res.lat = append(res.lat, took)
				}
				res.mu.Unlock()
				if done != nil {
					done.Add(1)
				}
			}
		})
	}
	interval := d / time.Duration(n)
	start := time.Now()
	for i := range n {
		time.Sleep(time.Until(start.Add(time.Duration(i) * interval)))
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	return res
}

var errAbandoned = errors.New("abandoned on purpose")

// soakConn is connection i of a soak: an echo round trip, a 256 KiB sink transfer (every
// 20th), or a connection reset by the application right after its first write (every 10th,
// offset 5).
func soakConn(addr string, i int) error {
	switch {
	case i%20 == 0:
		_, err := sinkRate(addr, 256<<10)
		return err
	case i%10 == 5:
		c, err := net.DialTimeout("tcp", addr, 10*time.Second)
		if err != nil {
			return err
		}
		_, err = c.Write([]byte("E abandoned"))
		_ = c.(*net.TCPConn).SetLinger(0)
		_ = c.Close()
		if err != nil {
			return err
		}
		return errAbandoned
	default:
		return echoOnce(addr, 10*time.Second)
	}
}

// usages measures every role.
func usages(f *fleet, roles []*role) ([]usage, error) {
	us := make([]usage, len(roles))
	for i, r := range roles {
		u, err := usageOf(f.http, r)
		if err != nil {
			return nil, err
		}
		us[i] = u
	}
	return us, nil
}

// settledUsage measures every role once the connections have had time to end: with base,
// as soon as every role's goroutines are within soakGoroutineSlack of it (or after
// soakSettle); without, once two measurements a second apart agree on the goroutines.
func settledUsage(t *testing.T, f *fleet, roles []*role, base []usage) []usage {
	t.Helper()
	deadline := time.Now().Add(soakSettle)
	var prev []usage
	for {
		time.Sleep(time.Second)
		us, err := usages(f, roles)
		if err != nil {
			t.Fatal(err)
		}
		settled := true
		for i := range us {
			if base != nil && us[i].goroutines-base[i].goroutines > soakGoroutineSlack ||
				base == nil && (prev == nil || prev[i].goroutines != us[i].goroutines) {
				settled = false
			}
		}
		if settled || time.Now().After(deadline) {
			return us
		}
		prev = us
	}
}

func envInt(t *testing.T, name string, def int) int {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		t.Fatalf("%s=%q: want a positive integer", name, v)
	}
	return n
}

func envDuration(t *testing.T, name string, def time.Duration) time.Duration {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		t.Fatalf("%s=%q: want a positive duration such as 150s", name, v)
	}
	return d
}
