package pipe

import (
	"context"
	"io"
	"net"
	"runtime"
	"testing"
)

// BenchmarkJoinRoundTrip is a 32-byte request and its answer through a Join (the shape of a
// database query): the per-message cost of the pump.
func BenchmarkJoinRoundTrip(b *testing.B) {
	left, a := tcpPair(b)
	bb, right := tcpPair(b)
	res := make(chan error, 1)
	go func() {
		_, _, err := Join(context.Background(), a, bb)
		res <- err
	}()
	go func() { // echo
		_, _ = io.Copy(right, right)
		right.CloseWrite()
	}()
	msg := make([]byte, 32)
	for b.Loop() {
		if _, err := left.Write(msg); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(left, msg); err != nil {
			b.Fatal(err)
		}
	}
	left.CloseWrite()
	if _, err := io.Copy(io.Discard, left); err != nil {
		b.Fatal(err)
	}
	if err := <-res; err != nil {
		b.Fatal(err)
	}
}

// BenchmarkJoinIdle holds 100 idle Joins (one 32-byte exchange each, then silence) and reports
// the heap and stack they hold per Join: what an idle stream's pump costs.
func BenchmarkJoinIdle(b *testing.B) {
	const joins = 100
	var perJoin float64
	for b.Loop() {
		// Two collections empty sync.Pool (and its victim cache), so buffers the previous
		// round returned there are not counted as free.
		runtime.GC()
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		type pair struct{ left, right *net.TCPConn }
		pairs := make([]pair, joins)
		done := make(chan error, joins)
		ctx, cancel := context.WithCancel(context.Background())
		for i := range pairs {
			left, a := tcpPair(b)
			bb, right := tcpPair(b)
			pairs[i] = pair{left, right}
			go func() {
				_, _, err := Join(ctx, a, bb)
				done <- err
			}()
			msg := make([]byte, 32)
			if _, err := left.Write(msg); err != nil {
				b.Fatal(err)
			}
			if _, err := io.ReadFull(right, msg); err != nil {
				b.Fatal(err)
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		perJoin = float64(after.HeapInuse+after.StackInuse-before.HeapInuse-before.StackInuse) / joins
		cancel()
		for range joins {
			<-done
		}
		for _, p := range pairs {
			p.left.Close()
			p.right.Close()
		}
	}
	b.ReportMetric(perJoin, "B/join")
}
