//go:build linux

package system

import (
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestReportNumbers measures, and prints (go test -v), without asserting: the throughput of one
// 256 MiB stream through the tunnel (TLS relay) against direct TCP to the same sink, and the
// latency of "connect + 32-byte round trip" over a warm session. SENTINEL_REPORT=1 runs it.
func TestReportNumbers(t *testing.T) {
	requireSystem(t)
	if os.Getenv(envReport) != "1" {
		t.Skipf("set %s=1 to measure throughput and latency", envReport)
	}
	tg := startTarget(t)
	d := newDeployment(t, deployOptions{targetPort: tg.port()})

	const size, warm, runs = 256 << 20, 32 << 20, 3
	var b strings.Builder
	fmt.Fprintf(&b, "\nthroughput of one %d MiB stream into a sink, %d runs (after a %d MiB warm-up):\n", size>>20, runs, warm>>20)
	for _, p := range []struct{ name, addr string }{{"direct TCP", tg.addr()}, {"tunnel (TLS relay)", d.clientAddr}} {
		sinkTime(t, p.addr, warm)
		rates := make([]float64, runs)
		for i := range rates {
			rates[i] = float64(size>>20) / sinkTime(t, p.addr, size).Seconds()
		}
		sorted := slices.Sorted(slices.Values(rates))
		fmt.Fprintf(&b, "  %-22s median %7.1f MiB/s (%.2f Gbit/s); runs %.1f\n",
			p.name, sorted[runs/2], sorted[runs/2]*8*1.048576/1000, rates)
	}

	const n, warmN = 200, 20
	fmt.Fprintf(&b, "connect + 32-byte round trip, %d connections one after another (after %d warm-up):\n", n, warmN)
	for _, p := range []struct{ name, addr string }{{"direct TCP", tg.addr()}, {"tunnel (warm session)", d.clientAddr}} {
		for range warmN {
			roundTripTime(t, p.addr)
		}
		lat := make([]time.Duration, n)
		for i := range lat {
			lat[i] = roundTripTime(t, p.addr)
		}
		slices.Sort(lat)
		fmt.Fprintf(&b, "  %-22s p50 %-9v p99 %-9v max %v\n", p.name,
			percentile(lat, 50).Round(time.Microsecond), percentile(lat, 99).Round(time.Microsecond), lat[n-1].Round(time.Microsecond))
	}
	t.Log(b.String())
}

// sinkTime sends size bytes to the target's sink at addr, half-closes, and returns the time
// until the sink's byte count comes back.
func sinkTime(t *testing.T, addr string, size int64) time.Duration {
	t.Helper()
	buf := make([]byte, 1<<20)
	_, _ = rand.NewChaCha8([32]byte{'s', 'i', 'n', 'k'}).Read(buf)
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Minute))
	start := time.Now()
	if _, err := c.Write([]byte{'S'}); err != nil {
		t.Fatal(err)
	}
	for sent := int64(0); sent < size; sent += int64(len(buf)) {
		if _, err := c.Write(buf[:min(int64(len(buf)), size-sent)]); err != nil {
			t.Fatalf("write to %s after %d bytes: %v", addr, sent, err)
		}
	}
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	var count [8]byte
	if _, err := io.ReadFull(c, count[:]); err != nil {
		t.Fatalf("sink count from %s: %v", addr, err)
	}
	el := time.Since(start)
	if got := binary.BigEndian.Uint64(count[:]); got != uint64(size) {
		t.Fatalf("sink at %s counted %d bytes, sent %d", addr, got, size)
	}
	return el
}

// roundTripTime connects to addr and echoes 32 bytes, and returns how long that took.
func roundTripTime(t *testing.T, addr string) time.Duration {
	t.Helper()
	msg := []byte("E-0123456789abcdef0123456789abc") // 32 bytes; 'E' selects the echo
	got := make([]byte, len(msg))
	start := time.Now()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write(msg); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("echo from %s: %v", addr, err)
	}
	el := time.Since(start)
	if string(got) != string(msg) {
		t.Fatalf("echo from %s: got %q", addr, got)
	}
	return el
}

// percentile of sorted samples, nearest rank.
func percentile(sorted []time.Duration, p int) time.Duration {
	i := (len(sorted)*p+99)/100 - 1
	return sorted[max(i, 0)]
}
