package pipe

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// tcpPair returns both ends of a loopback TCP connection.
func tcpPair(t testing.TB) (client, server *net.TCPConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s := <-accepted
	if s == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { c.Close(); s.Close() })
	return c.(*net.TCPConn), s.(*net.TCPConn)
}

// noCloseWrite hides the CloseWrite (and ReadFrom/WriteTo) methods of a conn.
type noCloseWrite struct{ net.Conn }

type joinResult struct {
	aToB, bToA int64
	err        error
}

// startJoin joins the server end of one pair (a) to the client end of another (b) and returns
// the outer ends: left talks to a, right talks to b.
func startJoin(t *testing.T, ctx context.Context, wrapB bool) (left, right *net.TCPConn, res <-chan joinResult) {
	t.Helper()
	left, a := tcpPair(t)
	b, right := tcpPair(t)
	var bc net.Conn = b
	if wrapB {
		bc = noCloseWrite{b}
	}
	ch := make(chan joinResult, 1)
	go func() {
		ab, ba, err := Join(ctx, a, bc)
		ch <- joinResult{ab, ba, err}
	}()
	return left, right, ch
}

func waitJoin(t *testing.T, res <-chan joinResult) joinResult {
	t.Helper()
	select {
	case r := <-res:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("Join did not return")
		return joinResult{}
	}
}

func randomBytes(t testing.TB, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// sendAndHalfClose writes data to c, then half-closes it; errors go to errc.
func sendAndHalfClose(c *net.TCPConn, data []byte, errc chan<- error) {
	_, err := c.Write(data)
	if err == nil {
		err = c.CloseWrite()
	}
	errc <- err
}

func TestJoinByteCountsBothWays(t *testing.T) {
	left, right, res := startJoin(t, context.Background(), false)
	up := randomBytes(t, 3<<20+17)
	down := randomBytes(t, 5<<20+3)
	errc := make(chan error, 2)
	go sendAndHalfClose(left, up, errc)
	go sendAndHalfClose(right, down, errc)

	gotDown := make(chan []byte, 1)
	go func() { b, _ := io.ReadAll(left); gotDown <- b }()
	gotUp, err := io.ReadAll(right)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(gotUp, up) {
		t.Fatalf("a→b: got %d bytes, want %d identical", len(gotUp), len(up))
	}
	if b := <-gotDown; !bytes.Equal(b, down) {
		t.Fatalf("b→a: got %d bytes, want %d identical", len(b), len(down))
	}
	for range 2 {
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
	r := waitJoin(t, res)
	if r.err != nil || r.aToB != int64(len(up)) || r.bToA != int64(len(down)) {
		t.Fatalf("Join = %d, %d, %v; want %d, %d, nil", r.aToB, r.bToA, r.err, len(up), len(down))
	}
}

// TestJoinHalfClose: the client sends a request and half-closes; the server reads to EOF, then
// answers; the client still receives the whole answer.
func TestJoinHalfClose(t *testing.T) {
	left, right, res := startJoin(t, context.Background(), false)
	req := []byte("GET / please\n")
	resp := randomBytes(t, 1<<20)
	errc := make(chan error, 1)
	go sendAndHalfClose(left, req, errc)
	got, err := io.ReadAll(right)
	if err != nil || !bytes.Equal(got, req) {
		t.Fatalf("server read %q, %v; want %q", got, err, req)
	}
	go func() {
		_, err := right.Write(resp)
		right.Close()
		errc <- err
	}()
	answer, err := io.ReadAll(left)
	if err != nil || !bytes.Equal(answer, resp) {
		t.Fatalf("client read %d bytes, %v; want %d identical", len(answer), err, len(resp))
	}
	for range 2 {
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
	r := waitJoin(t, res)
	if r.err != nil || r.aToB != int64(len(req)) || r.bToA != int64(len(resp)) {
		t.Fatalf("Join = %d, %d, %v; want %d, %d, nil", r.aToB, r.bToA, r.err, len(req), len(resp))
	}
}

func TestJoinResetMidTransferIsNormal(t *testing.T) {
	left, right, res := startJoin(t, context.Background(), false)
	// The right side reads a little, then resets the connection.
	go func() {
		buf := make([]byte, 64<<10)
		io.ReadFull(right, buf)
		right.SetLinger(0)
		right.Close()
	}()
	chunk := randomBytes(t, 64<<10)
	go func() {
		for {
			if _, err := left.Write(chunk); err != nil {
				return
			}
		}
	}()
	r := waitJoin(t, res)
	if r.err != nil {
		t.Fatalf("Join err = %v, want nil for a reset", r.err)
	}
	if r.aToB < int64(len(chunk)) {
		t.Fatalf("aToB = %d, want at least %d", r.aToB, len(chunk))
	}
	// Join closed its end of the left connection: the writer stops and a read sees the end.
	left.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.Copy(io.Discard, left); err != nil && !isNormalEnd(err) {
		t.Fatalf("left read after reset: %v", err)
	}
}

func TestJoinContextCancelClosesBoth(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	left, right, res := startJoin(t, ctx, false)
	if _, err := left.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(right, buf); err != nil {
		t.Fatal(err)
	}
	cancel()
	r := waitJoin(t, res)
	if !errors.Is(r.err, context.Canceled) {
		t.Fatalf("Join err = %v, want context.Canceled", r.err)
	}
	if r.aToB != 4 || r.bToA != 0 {
		t.Fatalf("Join counts = %d, %d; want 4, 0", r.aToB, r.bToA)
	}
	for name, c := range map[string]net.Conn{"left": left, "right": right} {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if n, err := c.Read(buf); err == nil || !isNormalEnd(err) {
			t.Fatalf("%s read after cancel = %d, %v; want the connection closed", name, n, err)
		}
	}
}

func TestJoinByteAtATime(t *testing.T) {
	left, right, res := startJoin(t, context.Background(), false)
	want := randomBytes(t, 2000)
	errc := make(chan error, 1)
	go func() {
		for i := range want {
			if _, err := left.Write(want[i : i+1]); err != nil {
				errc <- err
				return
			}
		}
		errc <- left.CloseWrite()
	}()
	got, err := io.ReadAll(right)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("read %d bytes, %v; want %d identical", len(got), err, len(want))
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	right.Close()
	r := waitJoin(t, res)
	if r.err != nil || r.aToB != int64(len(want)) {
		t.Fatalf("Join = %d, %d, %v; want %d, 0, nil", r.aToB, r.bToA, r.err, len(want))
	}
}

// TestJoinWithoutCloseWrite: b cannot half-close, so after a→b ends the b→a direction runs
// while it moves data and ends after lingerTimeout of silence.
func TestJoinWithoutCloseWrite(t *testing.T) {
	old := lingerTimeout
	lingerTimeout = 200 * time.Millisecond
	t.Cleanup(func() { lingerTimeout = old })

	left, right, res := startJoin(t, context.Background(), true)
	req := []byte("request")
	errc := make(chan error, 1)
	go sendAndHalfClose(left, req, errc)
	buf := make([]byte, len(req))
	if _, err := io.ReadFull(right, buf); err != nil || !bytes.Equal(buf, req) {
		t.Fatalf("server read %q, %v", buf, err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}

	// The answer keeps flowing for several lingers: paced writes must not be cut.
	chunk := randomBytes(t, 1000)
	var want []byte
	tick := time.NewTicker(lingerTimeout / 4)
	defer tick.Stop()
	start := time.Now()
	for time.Since(start) < 3*lingerTimeout {
		<-tick.C
		if _, err := right.Write(chunk); err != nil {
			t.Fatalf("answer cut after %v: %v", time.Since(start), err)
		}
		want = append(want, chunk...)
	}
	// Then silence: Join ends on its own, and the client has everything and an EOF.
	got, err := io.ReadAll(left)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("client read %d bytes, %v; want %d identical", len(got), err, len(want))
	}
	r := waitJoin(t, res)
	if r.err != nil || r.aToB != int64(len(req)) || r.bToA != int64(len(want)) {
		t.Fatalf("Join = %d, %d, %v; want %d, %d, nil", r.aToB, r.bToA, r.err, len(req), len(want))
	}
}

// TestJoinNetPipe covers conns that are neither TCP nor half-closable, whose close errors are
// io.ErrClosedPipe.
func TestJoinNetPipe(t *testing.T) {
	old := lingerTimeout
	lingerTimeout = 100 * time.Millisecond
	t.Cleanup(func() { lingerTimeout = old })

	left, a := net.Pipe()
	b, right := net.Pipe()
	res := make(chan joinResult, 1)
	go func() {
		ab, ba, err := Join(context.Background(), a, b)
		res <- joinResult{ab, ba, err}
	}()
	go func() {
		left.Write([]byte("hello"))
		left.Close()
	}()
	got, err := io.ReadAll(right)
	if err != nil || string(got) != "hello" {
		t.Fatalf("read %q, %v", got, err)
	}
	r := waitJoin(t, res)
	if r.err != nil || r.aToB != 5 {
		t.Fatalf("Join = %d, %d, %v; want 5, 0, nil", r.aToB, r.bToA, r.err)
	}
}

// errConn fails every read with a non-normal error.
type errConn struct{ net.Conn }

var errBroken = errors.New("broken")

func (errConn) Read([]byte) (int, error) { return 0, errBroken }

func TestJoinReportsOtherErrors(t *testing.T) {
	_, a := tcpPair(t)
	b, right := tcpPair(t)
	_, _, err := Join(context.Background(), errConn{a}, b)
	if !errors.Is(err, errBroken) {
		t.Fatalf("Join err = %v, want errBroken", err)
	}
	right.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := right.Read(make([]byte, 1)); !isNormalEnd(err) {
		t.Fatalf("peer read = %v, want the connection closed", err)
	}
}

func BenchmarkJoin(b *testing.B) {
	left, a := tcpPair(b)
	bb, right := tcpPair(b)
	res := make(chan error, 1)
	go func() {
		_, _, err := Join(context.Background(), a, bb)
		res <- err
	}()
	drained := make(chan error, 1)
	go func() {
		_, err := io.Copy(io.Discard, right)
		drained <- err
	}()
	chunk := make([]byte, 128<<10)
	b.SetBytes(int64(len(chunk)))
	for b.Loop() {
		if _, err := left.Write(chunk); err != nil {
			b.Fatal(err)
		}
	}
	left.CloseWrite()
	if err := <-drained; err != nil {
		b.Fatal(err)
	}
	right.Close()
	if err := <-res; err != nil {
		b.Fatal(err)
	}
}

// atomicCounter is a Counter a test can read while Join runs.
type atomicCounter struct{ n atomic.Int64 }

func (c *atomicCounter) Add(v float64) { c.n.Add(int64(v)) }

// TestJoinCountedMovesWhileOpen: the counters see each direction's bytes while the join is
// still running (a long transfer shows in the metrics before it ends), and end equal to what
// Join returns.
func TestJoinCountedMovesWhileOpen(t *testing.T) {
	left, a := tcpPair(t)
	b, right := tcpPair(t)
	var up, down atomicCounter
	res := make(chan joinResult, 1)
	go func() {
		ab, ba, err := JoinCounted(context.Background(), a, b, &up, &down)
		res <- joinResult{ab, ba, err}
	}()
	first := randomBytes(t, 100<<10)
	if _, err := left.Write(first); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(right, make([]byte, len(first))); err != nil {
		t.Fatal(err)
	}
	// Delivered to the far end; the count follows the write that delivered it, so it may
	// trail the read by a moment. Both sides are still open: the join has not ended.
	for deadline := time.Now().Add(5 * time.Second); up.n.Load() != int64(len(first)); {
		if time.Now().After(deadline) {
			t.Fatalf("a→b counter = %d with the join open, want %d", up.n.Load(), len(first))
		}
		time.Sleep(time.Millisecond) // polling interval
	}
	select {
	case <-res:
		t.Fatal("Join returned with both sides open")
	default:
	}
	answer := randomBytes(t, 7)
	errc := make(chan error, 2)
	go sendAndHalfClose(right, answer, errc)
	go sendAndHalfClose(left, nil, errc)
	if _, err := io.ReadAll(left); err != nil {
		t.Fatal(err)
	}
	_, _ = io.ReadAll(right)
	r := waitJoin(t, res)
	if r.err != nil || up.n.Load() != r.aToB || down.n.Load() != r.bToA || r.bToA != int64(len(answer)) {
		t.Fatalf("Join = %d, %d, %v; counters %d, %d", r.aToB, r.bToA, r.err, up.n.Load(), down.n.Load())
	}
}
