package load

import (
	"context"
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

// startTarget serves the load protocol until the test ends, and then checks that exactly
// wantErrs connections failed.
func startTarget(t *testing.T, wantErrs int64) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var tg Target
	done := make(chan struct{})
	go func() { _ = tg.Serve(ln); close(done) }()
	t.Cleanup(func() {
		ln.Close()
		<-done
		if n := tg.Errors.Load(); n != wantErrs && !t.Failed() {
			t.Errorf("target saw %d failed connections, want %d", n, wantErrs)
		}
	})
	return ln.Addr().String()
}

func TestThroughputVerified(t *testing.T) {
	addr := startTarget(t, 0)
	for _, dir := range []Direction{Upload, Download} {
		tr, err := Throughput(context.Background(), TCP(addr), dir, 2, 200*time.Millisecond)
		if err != nil {
			t.Fatalf("%s: %v", dir, err)
		}
		if tr.Bytes == 0 || tr.Gbps() <= 0 {
			t.Fatalf("%s: %+v", dir, tr)
		}
	}
}

func TestPatternCatchesShiftAndOtherSeed(t *testing.T) {
	p, q := NewPattern(1), NewPattern(2)
	b := append([]byte(nil), p.At(1000, 5000)...)
	if !p.Check(1000, b) {
		t.Fatal("pattern does not check against itself")
	}
	if p.Check(1001, b) || q.Check(1000, b) {
		t.Fatal("shifted or foreign bytes pass")
	}
	// Across the period boundary.
	long := make([]byte, 0, 3*MaxChunk)
	for off := int64(Period - 10); len(long) < cap(long); off += MaxChunk {
		long = append(long, p.At(off, MaxChunk)...)
	}
	if !p.Check(Period-10, long) {
		t.Fatal("pattern does not wrap at its period")
	}
}

// TestUploadMismatchReported: a corrupted byte makes the target answer with a failure.
func TestUploadMismatchReported(t *testing.T) {
	addr := startTarget(t, 1)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	p := NewPattern(7)
	if err := writeHeader(c, ModeUpload, 7); err != nil {
		t.Fatal(err)
	}
	b := append([]byte(nil), p.At(0, 4096)...)
	b[100] ^= 1
	if _, err := c.Write(b); err != nil {
		t.Fatal(err)
	}
	_ = c.(*net.TCPConn).CloseWrite()
	res := make([]byte, resultSize)
	if _, err := io.ReadFull(c, res); err != nil {
		t.Fatal(err)
	}
	if res[8] == 0 {
		t.Fatal("target accepted corrupted data")
	}
}

func TestRoundTrip(t *testing.T) {
	addr := startTarget(t, 0)
	l, err := NewConnRoundTrips(context.Background(), TCP(addr), 20, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(l) != 20 || l.Quantile(0.5) <= 0 || l.Quantile(0.99) < l.Quantile(0.5) {
		t.Fatalf("latencies %v", l)
	}
	if !errors.Is(checkResponse([]byte{1}, []byte{1}), ErrMismatch) {
		t.Fatal("an echo passes as an answer")
	}
}
