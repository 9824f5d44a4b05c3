package wsconn

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

func TestConnRoundTrip(t *testing.T) {
	client, server := connPair(t, Options{}, Options{})
	if _, err := client.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	n, err := server.Read(buf)
	if err != nil || string(buf[:n]) != "hello" {
		t.Fatalf("server read %q, %v", buf[:n], err)
	}
	if _, err := server.Write([]byte("world")); err != nil {
		t.Fatal(err)
	}
	n, err = client.Read(buf)
	if err != nil || string(buf[:n]) != "world" {
		t.Fatalf("client read %q, %v", buf[:n], err)
	}
	if client.LocalAddr().String() != server.RemoteAddr().String() ||
		client.RemoteAddr().String() != server.LocalAddr().String() {
		t.Fatalf("addresses: client %v→%v, server %v→%v",
			client.LocalAddr(), client.RemoteAddr(), server.LocalAddr(), server.RemoteAddr())
	}
}

// writeChunks writes data to c in random-sized pieces.
func writeChunks(c *Conn, data []byte, maxChunk int, seed uint64) error {
	r := rand.New(rand.NewPCG(seed, seed))
	for len(data) > 0 {
		n := min(1+r.IntN(maxChunk), len(data))
		if _, err := c.Write(data[:n]); err != nil {
			return err
		}
		data = data[n:]
	}
	return nil
}

func TestConnLargeBothWays(t *testing.T) {
	client, server := connPair(t, Options{}, Options{})
	const size = 16 << 20
	up, down := randomBytes(t, size), randomBytes(t, size)

	var wg sync.WaitGroup
	errs := make(chan error, 4)
	got := make([][]byte, 2)
	for i, tc := range []struct {
		w, r *Conn
		data []byte
	}{{client, server, up}, {server, client, down}} {
		wg.Go(func() { errs <- writeChunks(tc.w, tc.data, 256<<10, uint64(i)) })
		wg.Go(func() {
			buf := make([]byte, size)
			_, err := io.ReadFull(tc.r, buf)
			got[i] = buf
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(got[0], up) || !bytes.Equal(got[1], down) {
		t.Fatal("data differs")
	}
}

func TestConnManySmallWrites(t *testing.T) {
	client, server := connPair(t, Options{}, Options{})
	const writes = 20000
	var want []byte
	r := rand.New(rand.NewPCG(1, 2))
	pieces := make([][]byte, writes)
	for i := range pieces {
		pieces[i] = make([]byte, 1+r.IntN(16))
		for j := range pieces[i] {
			pieces[i][j] = byte(r.Uint32())
		}
		want = append(want, pieces[i]...)
	}
	errc := make(chan error, 1)
	go func() {
		for _, p := range pieces {
			if _, err := client.Write(p); err != nil {
				errc <- err
				return
			}
		}
		errc <- client.Close()
	}()
	got, err := io.ReadAll(server)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("got %d bytes, want %d identical", len(got), len(want))
	}
}

// TestConnConcurrentWritesAreWholeMessages: each Write is one message, whole, even with
// several writers at once.
func TestConnConcurrentWritesAreWholeMessages(t *testing.T) {
	c, s := newWSServer(t).dial(t)
	client := New(c, Options{})
	t.Cleanup(func() { client.Close() })

	const writers, perWriter = 8, 100
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for id := range writers {
		wg.Go(func() {
			for seq := range perWriter {
				msg := bytes.Repeat([]byte{byte(id)}, 5+1000*id+seq)
				binary.BigEndian.PutUint32(msg[1:], uint32(seq))
				if _, err := client.Write(msg); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	next := make([]int, writers)
	for range writers * perWriter {
		typ, msg, err := s.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		id := int(msg[0])
		seq := int(binary.BigEndian.Uint32(msg[1:]))
		if typ != websocket.BinaryMessage || id >= writers || seq != next[id] || len(msg) != 5+1000*id+seq {
			t.Fatalf("message type %d id %d seq %d len %d; want binary, seq %d", typ, id, seq, len(msg), next[id])
		}
		if !bytes.Equal(msg[5:], bytes.Repeat([]byte{byte(id)}, len(msg)-5)) {
			t.Fatalf("message from writer %d is interleaved", id)
		}
		next[id]++
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func TestConnCloseReadsEOF(t *testing.T) {
	for _, closer := range []string{"client", "server"} {
		t.Run(closer+" closes", func(t *testing.T) {
			client, server := connPair(t, Options{}, Options{})
			from, to := client, server
			if closer == "server" {
				from, to = server, client
			}
			if _, err := from.Write([]byte("last words")); err != nil {
				t.Fatal(err)
			}
			if err := from.Close(); err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(to)
			if err != nil || string(got) != "last words" {
				t.Fatalf("read %q, %v; want the data, then io.EOF", got, err)
			}
			if n, err := to.Read(make([]byte, 1)); n != 0 || err != io.EOF {
				t.Fatalf("read after EOF = %d, %v; want io.EOF again", n, err)
			}
		})
	}
}

func TestConnCloseStatus(t *testing.T) {
	for _, tc := range []struct {
		code    int
		wantEOF bool
	}{
		{websocket.CloseNormalClosure, true},
		{websocket.CloseGoingAway, true},
		{websocket.CloseInternalServerErr, false},
		{websocket.CloseMessageTooBig, false},
	} {
		c, s := newWSServer(t).dial(t)
		client := New(c, Options{})
		if err := s.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(tc.code, "x"), time.Now().Add(time.Second)); err != nil {
			t.Fatal(err)
		}
		_, err := client.Read(make([]byte, 8))
		var ce *websocket.CloseError
		switch {
		case tc.wantEOF && err != io.EOF:
			t.Errorf("close %d: read err = %v, want io.EOF", tc.code, err)
		case !tc.wantEOF && (!errors.As(err, &ce) || ce.Code != tc.code):
			t.Errorf("close %d: read err = %v, want a *websocket.CloseError with that code", tc.code, err)
		}
		client.Close()
	}
}

func TestConnReadLimit(t *testing.T) {
	client, server := connPair(t, Options{}, Options{ReadLimit: 1024})
	if _, err := client.Write(make([]byte, 1024)); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(server, make([]byte, 1024)); err != nil {
		t.Fatalf("message at the limit: %v", err)
	}
	if _, err := client.Write(make([]byte, 1025)); err != nil {
		t.Fatal(err)
	}
	if _, err := server.Read(make([]byte, 4096)); !errors.Is(err, websocket.ErrReadLimit) {
		t.Fatalf("server read err = %v, want websocket.ErrReadLimit", err)
	}
	// The writer learns why: close status 1009.
	_, err := client.Read(make([]byte, 8))
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.CloseMessageTooBig {
		t.Fatalf("client read err = %v, want close 1009", err)
	}
}

func TestConnTextMessageIsProtocolError(t *testing.T) {
	c, s := newWSServer(t).dial(t)
	client := New(c, Options{})
	t.Cleanup(func() { client.Close() })
	if err := s.WriteMessage(websocket.TextMessage, []byte("text")); err != nil {
		t.Fatal(err)
	}
	_, err := client.Read(make([]byte, 8))
	if err == nil || err == io.EOF {
		t.Fatalf("read err = %v, want a protocol error", err)
	}
	if _, _, err := s.ReadMessage(); !websocket.IsCloseError(err, websocket.CloseUnsupportedData) {
		t.Fatalf("peer read = %v, want close 1003", err)
	}
}

// TestConnIdleTimeoutDetectsStalledPeer: the peer never reads, so it never answers pings; the
// reader fails with ErrIdleTimeout within IdleTimeout, even with a later caller deadline.
func TestConnIdleTimeoutDetectsStalledPeer(t *testing.T) {
	c, _ := newWSServer(t).dial(t) // the server side is never read
	client := New(c, fastLiveness)
	t.Cleanup(func() { client.Close() })
	if err := client.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	r := recv(t, readOnce(client, 8), 5*time.Second, "the idle timeout")
	elapsed := time.Since(start)
	if !errors.Is(r.err, ErrIdleTimeout) || errors.Is(r.err, os.ErrDeadlineExceeded) {
		t.Fatalf("read err = %v, want ErrIdleTimeout", r.err)
	}
	if low := fastLiveness.IdleTimeout * (touchGranularity - 1) / touchGranularity; elapsed < low {
		t.Fatalf("idle timeout after %v, want at least %v", elapsed, low)
	}
	if _, err := client.Write([]byte("x")); !errors.Is(err, ErrIdleTimeout) {
		t.Fatalf("write after idle timeout = %v, want ErrIdleTimeout", err)
	}
}

// TestConnPingsKeepIdleConnAlive: two live but silent peers survive many idle timeouts.
func TestConnPingsKeepIdleConnAlive(t *testing.T) {
	client, server := connPair(t, fastLiveness, fastLiveness)
	cr, sr := readOnce(client, 64), readOnce(server, 64)
	select {
	case r := <-cr:
		t.Fatalf("client read ended early: %q, %v", r.data, r.err)
	case r := <-sr:
		t.Fatalf("server read ended early: %q, %v", r.data, r.err)
	case <-time.After(6 * fastLiveness.IdleTimeout):
	}
	if _, err := client.Write([]byte("still here")); err != nil {
		t.Fatal(err)
	}
	if _, err := server.Write([]byte("me too")); err != nil {
		t.Fatal(err)
	}
	if r := recv(t, sr, 5*time.Second, "server read"); r.err != nil || string(r.data) != "still here" {
		t.Fatalf("server read %q, %v", r.data, r.err)
	}
	if r := recv(t, cr, 5*time.Second, "client read"); r.err != nil || string(r.data) != "me too" {
		t.Fatalf("client read %q, %v", r.data, r.err)
	}
}

func TestConnReadDeadline(t *testing.T) {
	t.Run("expires", func(t *testing.T) {
		client, _ := connPair(t, Options{}, Options{})
		start := time.Now()
		client.SetReadDeadline(start.Add(100 * time.Millisecond))
		r := recv(t, readOnce(client, 8), 5*time.Second, "the read deadline")
		var ne net.Error
		if !errors.Is(r.err, os.ErrDeadlineExceeded) || !errors.As(r.err, &ne) || !ne.Timeout() {
			t.Fatalf("read err = %v, want os.ErrDeadlineExceeded", r.err)
		}
		if elapsed := time.Since(start); elapsed < 90*time.Millisecond {
			t.Fatalf("deadline hit after %v", elapsed)
		}
	})
	t.Run("interrupts a pending read", func(t *testing.T) {
		client, _ := connPair(t, Options{}, Options{})
		rc := readOnce(client, 8)
		client.SetReadDeadline(time.Now())
		if r := recv(t, rc, 5*time.Second, "the interrupted read"); !errors.Is(r.err, os.ErrDeadlineExceeded) {
			t.Fatalf("read err = %v, want os.ErrDeadlineExceeded", r.err)
		}
	})
	t.Run("cleared", func(t *testing.T) {
		client, server := connPair(t, Options{}, Options{})
		client.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		client.SetReadDeadline(time.Time{})
		rc := readOnce(client, 8)
		select {
		case r := <-rc:
			t.Fatalf("read ended: %q, %v", r.data, r.err)
		case <-time.After(150 * time.Millisecond):
		}
		server.Write([]byte("late"))
		if r := recv(t, rc, 5*time.Second, "the read"); r.err != nil || string(r.data) != "late" {
			t.Fatalf("read %q, %v", r.data, r.err)
		}
	})
}

// stalledWriter writes to c until a Write fails, counting successful writes.
func stalledWriter(c *Conn, writes *atomic.Int64) <-chan error {
	errc := make(chan error, 1)
	go func() {
		chunk := make([]byte, 256<<10)
		for {
			if _, err := c.Write(chunk); err != nil {
				errc <- err
				return
			}
			writes.Add(1)
		}
	}()
	return errc
}

// waitStuck polls until writes stops moving, so the writer is blocked on a full socket.
func waitStuck(t *testing.T, writes *atomic.Int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	last, since := writes.Load(), time.Now()
	for time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
		if n := writes.Load(); n != last {
			last, since = n, time.Now()
		} else if time.Since(since) > 100*time.Millisecond {
			return
		}
	}
	t.Fatal("writer never blocked")
}

func TestConnWriteDeadline(t *testing.T) {
	noPings := Options{PingInterval: -1, IdleTimeout: -1}
	t.Run("expires", func(t *testing.T) {
		c, _ := newWSServer(t).dial(t) // the server side never reads
		client := New(c, noPings)
		t.Cleanup(func() { client.Close() })
		client.SetWriteDeadline(time.Now().Add(200 * time.Millisecond))
		var writes atomic.Int64
		err := recv(t, stalledWriter(client, &writes), 5*time.Second, "the write deadline")
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("write err = %v, want os.ErrDeadlineExceeded", err)
		}
	})
	t.Run("interrupts a pending write", func(t *testing.T) {
		c, _ := newWSServer(t).dial(t)
		client := New(c, noPings)
		t.Cleanup(func() { client.Close() })
		var writes atomic.Int64
		errc := stalledWriter(client, &writes)
		waitStuck(t, &writes)
		client.SetWriteDeadline(time.Now())
		if err := recv(t, errc, 5*time.Second, "the interrupted write"); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("write err = %v, want os.ErrDeadlineExceeded", err)
		}
	})
	t.Run("SetDeadline", func(t *testing.T) {
		client, _ := connPair(t, Options{}, Options{})
		client.SetDeadline(time.Now().Add(-time.Second))
		if _, err := client.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("read err = %v, want os.ErrDeadlineExceeded", err)
		}
		if _, err := client.Write([]byte("x")); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("write err = %v, want os.ErrDeadlineExceeded", err)
		}
	})
}

func TestConnAfterClose(t *testing.T) {
	t.Run("read and write", func(t *testing.T) {
		client, _ := connPair(t, Options{}, Options{})
		if err := client.Close(); err != nil {
			t.Fatal(err)
		}
		if err := client.Close(); err != nil {
			t.Fatalf("second Close = %v, want nil", err)
		}
		if _, err := client.Read(make([]byte, 1)); !errors.Is(err, net.ErrClosed) {
			t.Fatalf("read err = %v, want net.ErrClosed", err)
		}
		if _, err := client.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
			t.Fatalf("write err = %v, want net.ErrClosed", err)
		}
	})
	t.Run("pending read", func(t *testing.T) {
		client, _ := connPair(t, Options{}, Options{})
		rc := readOnce(client, 8)
		client.Close()
		if r := recv(t, rc, 5*time.Second, "the read"); !errors.Is(r.err, net.ErrClosed) {
			t.Fatalf("read err = %v, want net.ErrClosed", r.err)
		}
	})
	t.Run("pending write", func(t *testing.T) {
		c, _ := newWSServer(t).dial(t) // the server side never reads
		client := New(c, Options{})
		var writes atomic.Int64
		errc := stalledWriter(client, &writes)
		waitStuck(t, &writes)
		go client.Close()
		if err := recv(t, errc, 5*time.Second, "the write"); !errors.Is(err, net.ErrClosed) {
			t.Fatalf("write err = %v, want net.ErrClosed", err)
		}
	})
	t.Run("concurrent", func(t *testing.T) {
		client, server := connPair(t, Options{}, Options{})
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() { client.Close() })
			wg.Go(func() { client.Write([]byte("x")) })
			wg.Go(func() { server.Read(make([]byte, 1)) })
		}
		wg.Wait()
	})
}
