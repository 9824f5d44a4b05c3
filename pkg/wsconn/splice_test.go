package wsconn

import (
	"bytes"
	"context"
	"errors"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

type spliceResult struct {
	aToB, bToA int64
	err        error
}

// spliceSetup dials two WebSockets to a relay-like server, splices their server sides, and
// returns the outer ends: a talks to side a of the splice, b to side b.
func spliceSetup(t testing.TB, ctx context.Context, opts Options) (a, b *websocket.Conn, res <-chan spliceResult) {
	t.Helper()
	s := newWSServer(t)
	a, sa := s.dial(t)
	b, sb := s.dial(t)
	ch := make(chan spliceResult, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		ab, ba, err := Splice(ctx, sa, sb, opts)
		ch <- spliceResult{ab, ba, err}
	}()
	t.Cleanup(func() {
		a.Close()
		b.Close()
		<-done // never leave the splice running
	})
	return a, b, ch
}

type message struct {
	typ  int
	data []byte
}

// TestSpliceMessagesAndTypes: boundaries, types, empty messages and large ones cross the
// splice unchanged in both directions, a close is passed on, and the counts are payload bytes.
func TestSpliceMessagesAndTypes(t *testing.T) {
	a, b, res := spliceSetup(t, context.Background(), Options{})
	msgs := []message{
		{websocket.TextMessage, []byte("hello")},
		{websocket.BinaryMessage, []byte{1, 2, 3}},
		{websocket.BinaryMessage, nil},
		{websocket.BinaryMessage, randomBytes(t, 200<<10)},
		{websocket.TextMessage, nil},
		{websocket.BinaryMessage, randomBytes(t, 70000)},
		{websocket.TextMessage, []byte("bye")},
	}
	var total int64
	for _, m := range msgs {
		total += int64(len(m.data))
	}
	send := func(ws *websocket.Conn, errc chan<- error) {
		for _, m := range msgs {
			if err := ws.WriteMessage(m.typ, m.data); err != nil {
				errc <- err
				return
			}
		}
		errc <- nil
	}
	check := func(ws *websocket.Conn, errc chan<- error) {
		for i, m := range msgs {
			typ, data, err := ws.ReadMessage()
			if err != nil {
				errc <- err
				return
			}
			if typ != m.typ || !bytes.Equal(data, m.data) {
				errc <- errors.New("message " + string(rune('0'+i)) + " differs")
				return
			}
		}
		errc <- nil
	}
	errc := make(chan error, 4)
	go send(a, errc)
	go send(b, errc)
	go check(a, errc)
	go check(b, errc)
	for range 4 {
		if err := recv(t, errc, 10*time.Second, "messages"); err != nil {
			t.Fatal(err)
		}
	}

	// a closes; b sees the same close status, answers, and the splice ends cleanly.
	a.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "done"), time.Now().Add(time.Second))
	_, _, err := b.ReadMessage()
	if ce := (*websocket.CloseError)(nil); !errors.As(err, &ce) || ce.Code != websocket.CloseNormalClosure || ce.Text != "done" {
		t.Fatalf("b read = %v, want the forwarded close 1000 \"done\"", err)
	}
	r := recv(t, res, 5*time.Second, "the splice to end")
	if r.err != nil || r.aToB != total || r.bToA != total {
		t.Fatalf("Splice = %d, %d, %v; want %d, %d, nil", r.aToB, r.bToA, r.err, total, total)
	}
}

// TestSpliceClosePropagation: a Conn closing on one side reads as io.EOF on the other.
func TestSpliceClosePropagation(t *testing.T) {
	for _, closer := range []string{"a", "b"} {
		t.Run(closer+" closes", func(t *testing.T) {
			wa, wb, res := spliceSetup(t, context.Background(), Options{})
			a, b := New(wa, Options{}), New(wb, Options{})
			from, to := a, b
			if closer == "b" {
				from, to = b, a
			}
			if _, err := from.Write([]byte("last words")); err != nil {
				t.Fatal(err)
			}
			from.Close()
			got, err := io.ReadAll(to)
			if err != nil || string(got) != "last words" {
				t.Fatalf("read %q, %v; want the data, then io.EOF", got, err)
			}
			to.Close()
			if r := recv(t, res, 5*time.Second, "the splice to end"); r.err != nil {
				t.Fatalf("Splice err = %v", r.err)
			}
		})
	}
	t.Run("abnormal status", func(t *testing.T) {
		a, wb, res := spliceSetup(t, context.Background(), Options{})
		b := New(wb, Options{})
		defer b.Close()
		a.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseInternalServerErr, "oops"), time.Now().Add(time.Second))
		_, err := b.Read(make([]byte, 1))
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != websocket.CloseInternalServerErr {
			t.Fatalf("b read = %v, want close 1011", err)
		}
		r := recv(t, res, 5*time.Second, "the splice to end")
		if !errors.As(r.err, &ce) || ce.Code != websocket.CloseInternalServerErr {
			t.Fatalf("Splice err = %v, want close 1011", r.err)
		}
	})
	t.Run("dropped connection", func(t *testing.T) {
		a, wb, res := spliceSetup(t, context.Background(), Options{})
		b := New(wb, Options{})
		defer b.Close()
		a.NetConn().Close() // no close frame
		if _, err := b.Read(make([]byte, 1)); err != io.EOF {
			t.Fatalf("b read = %v, want io.EOF (going away)", err)
		}
		if r := recv(t, res, 5*time.Second, "the splice to end"); r.err == nil {
			t.Fatal("Splice err = nil, want the read error of side a")
		}
	})
}

func TestSpliceContextCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	wa, wb, res := spliceSetup(t, ctx, Options{})
	a, b := New(wa, Options{}), New(wb, Options{})
	defer a.Close()
	defer b.Close()
	if _, err := a.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(b, make([]byte, 1)); err != nil {
		t.Fatal(err)
	}
	cancel()
	r := recv(t, res, 5*time.Second, "the splice to end")
	if !errors.Is(r.err, context.Canceled) || r.aToB != 1 || r.bToA != 0 {
		t.Fatalf("Splice = %d, %d, %v; want 1, 0, context.Canceled", r.aToB, r.bToA, r.err)
	}
	for name, c := range map[string]*Conn{"a": a, "b": b} {
		if _, err := c.Read(make([]byte, 1)); err != io.EOF {
			t.Errorf("%s read = %v, want io.EOF", name, err)
		}
	}
}

// TestSpliceStreamsLargeMessages: half of an 8 MiB message reaches the far side before the
// sender has written the other half, so the splice never holds a whole message.
func TestSpliceStreamsLargeMessages(t *testing.T) {
	a, b, res := spliceSetup(t, context.Background(), Options{ReadLimit: -1})
	const size = 8 << 20
	want := randomBytes(t, size)

	var progress atomic.Int64
	got := make(chan readResult, 1)
	go func() {
		typ, r, err := b.NextReader()
		if err != nil || typ != websocket.BinaryMessage {
			got <- readResult{nil, errors.Join(err, errors.New("not a binary message"))}
			return
		}
		var buf bytes.Buffer
		chunk := make([]byte, 32<<10)
		for {
			n, err := r.Read(chunk)
			buf.Write(chunk[:n])
			progress.Add(int64(n))
			if err == io.EOF {
				got <- readResult{buf.Bytes(), nil}
				return
			}
			if err != nil {
				got <- readResult{nil, err}
				return
			}
		}
	}()

	w, err := a.NextWriter(websocket.BinaryMessage)
	if err != nil {
		t.Fatal(err)
	}
	half := size / 2
	for off := 0; off < half; off += 64 << 10 {
		if _, err := w.Write(want[off : off+64<<10]); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for progress.Load() < int64(half)-256<<10 {
		if time.Now().After(deadline) {
			t.Fatalf("only %d bytes of the first half arrived: the message is being held", progress.Load())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if _, err := w.Write(want[half:]); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	r := recv(t, got, 10*time.Second, "the message")
	if r.err != nil || !bytes.Equal(r.data, want) {
		t.Fatalf("b got %d bytes, %v; want %d identical", len(r.data), r.err, size)
	}
	a.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	b.ReadMessage() // sees the close and answers it
	if s := recv(t, res, 5*time.Second, "the splice to end"); s.err != nil || s.aToB != size {
		t.Fatalf("Splice = %d, %d, %v; want %d, 0, nil", s.aToB, s.bToA, s.err, size)
	}
}

func TestSpliceReadLimit(t *testing.T) {
	a, wb, res := spliceSetup(t, context.Background(), Options{ReadLimit: 1024})
	b := New(wb, Options{})
	defer b.Close()
	if err := a.WriteMessage(websocket.BinaryMessage, make([]byte, 2048)); err != nil {
		t.Fatal(err)
	}
	r := recv(t, res, 5*time.Second, "the splice to end")
	if !errors.Is(r.err, websocket.ErrReadLimit) {
		t.Fatalf("Splice err = %v, want websocket.ErrReadLimit", r.err)
	}
	if _, _, err := a.ReadMessage(); !websocket.IsCloseError(err, websocket.CloseMessageTooBig) {
		t.Fatalf("a read = %v, want close 1009", err)
	}
	if _, err := b.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("b read = %v, want io.EOF", err)
	}
}

// TestSpliceIdleTimeout: side a stops reading (so it answers no pings) and sends nothing: the
// splice ends within IdleTimeout and b sees an orderly close.
func TestSpliceIdleTimeout(t *testing.T) {
	_, wb, res := spliceSetup(t, context.Background(), fastLiveness)
	b := New(wb, Options{})
	defer b.Close()
	start := time.Now()
	r := recv(t, res, 5*time.Second, "the splice to end")
	if !errors.Is(r.err, ErrIdleTimeout) {
		t.Fatalf("Splice err = %v, want ErrIdleTimeout", r.err)
	}
	if elapsed := time.Since(start); elapsed > 3*fastLiveness.IdleTimeout {
		t.Fatalf("idle side found after %v", elapsed)
	}
	if _, err := b.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("b read = %v, want io.EOF", err)
	}
}

// TestSpliceKeepsLiveIdlePeersAlive: silent peers that answer pings outlive many IdleTimeouts.
func TestSpliceKeepsLiveIdlePeersAlive(t *testing.T) {
	wa, wb, res := spliceSetup(t, context.Background(), fastLiveness)
	a, b := New(wa, fastLiveness), New(wb, fastLiveness)
	ar, br := readOnce(a, 64), readOnce(b, 64)
	select {
	case r := <-res:
		t.Fatalf("splice ended: %v", r.err)
	case r := <-ar:
		t.Fatalf("a read ended: %v", r.err)
	case r := <-br:
		t.Fatalf("b read ended: %v", r.err)
	case <-time.After(6 * fastLiveness.IdleTimeout):
	}
	a.Write([]byte("ping a→b"))
	b.Write([]byte("ping b→a"))
	if r := recv(t, br, 5*time.Second, "b's read"); r.err != nil || string(r.data) != "ping a→b" {
		t.Fatalf("b read %q, %v", r.data, r.err)
	}
	if r := recv(t, ar, 5*time.Second, "a's read"); r.err != nil || string(r.data) != "ping b→a" {
		t.Fatalf("a read %q, %v", r.data, r.err)
	}
	a.Close()
	b.Close()
	if r := recv(t, res, 5*time.Second, "the splice to end"); r.err != nil {
		t.Fatalf("Splice err = %v", r.err)
	}
}

// atomicCounter is a Counter a test can read while Splice runs.
type atomicCounter struct{ n atomic.Int64 }

func (c *atomicCounter) Add(v float64) { c.n.Add(int64(v)) }

// TestSpliceCountedMovesWhileOpen: the counters see each message's payload while the splice
// runs, and end equal to what SpliceCounted returns.
func TestSpliceCountedMovesWhileOpen(t *testing.T) {
	s := newWSServer(t)
	a, sa := s.dial(t)
	b, sb := s.dial(t)
	var ab, ba atomicCounter
	res := make(chan spliceResult, 1)
	go func() {
		x, y, err := SpliceCounted(context.Background(), sa, sb, Options{}, &ab, &ba)
		res <- spliceResult{x, y, err}
	}()
	defer func() { a.Close(); b.Close() }()
	msg := randomBytes(t, 50000)
	if err := a.WriteMessage(websocket.BinaryMessage, msg); err != nil {
		t.Fatal(err)
	}
	if _, _, err := b.ReadMessage(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); ab.n.Load() != int64(len(msg)); {
		if time.Now().After(deadline) {
			t.Fatalf("a→b counter = %d with the splice open, want %d", ab.n.Load(), len(msg))
		}
		time.Sleep(time.Millisecond) // polling interval
	}
	if err := b.WriteMessage(websocket.BinaryMessage, []byte("answer")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := a.ReadMessage(); err != nil {
		t.Fatal(err)
	}
	a.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	_, _, _ = b.ReadMessage()
	r := recv(t, res, 5*time.Second, "the splice to end")
	if r.err != nil || r.aToB != ab.n.Load() || r.bToA != ba.n.Load() || r.bToA != int64(len("answer")) {
		t.Fatalf("SpliceCounted = %d, %d, %v; counters %d, %d", r.aToB, r.bToA, r.err, ab.n.Load(), ba.n.Load())
	}
}
