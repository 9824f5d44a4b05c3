package e2e

import (
	"bytes"
	"crypto/sha256"
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestEchoThroughRelay(t *testing.T) {
	e := newEnv(t, envOptions{})
	if err := e.roundTrip([]byte("hello through the tunnel")); err != nil {
		t.Fatal(err)
	}
}

// TestLargeTransferBothWays sends 64 MiB up while the echo sends it back down, and checks
// both directions byte for byte.
func TestLargeTransferBothWays(t *testing.T) {
	e := newEnv(t, envOptions{})
	const size = 64 << 20
	c := e.dial()
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Minute))

	src := rand.NewChaCha8([32]byte{1})
	sent := sha256.New()
	errc := make(chan error, 1)
	go func() {
		_, err := io.Copy(c, io.TeeReader(io.LimitReader(src, size), sent))
		if err == nil {
			err = c.(*net.TCPConn).CloseWrite()
		}
		errc <- err
	}()
	got := sha256.New()
	n, err := io.Copy(got, c)
	if err != nil {
		t.Fatalf("read back: %v after %d bytes", err, n)
	}
	if err := <-errc; err != nil {
		t.Fatalf("send: %v", err)
	}
	if n != size {
		t.Fatalf("read back %d bytes, want %d", n, size)
	}
	if !bytes.Equal(got.Sum(nil), sent.Sum(nil)) {
		t.Fatal("echoed bytes differ from sent bytes")
	}
}

func TestConcurrentStreams(t *testing.T) {
	e := newEnv(t, envOptions{})
	const streams = 100
	var wg sync.WaitGroup
	errs := make(chan error, streams)
	for i := range streams {
		wg.Add(1)
		go func() {
			defer wg.Done()
			msg := bytes.Repeat([]byte{byte(i)}, 32<<10+i)
			if err := e.roundTrip(msg); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestHalfClose: the local side finishes sending and half-closes; the answer still arrives in
// full and then EOF.
func TestHalfClose(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.dial()
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	msg := bytes.Repeat([]byte("half-close "), 10000)
	if _, err := c.Write(msg); err != nil {
		t.Fatal(err)
	}
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("read after half-close: %v", err)
	}
	if !bytes.Equal(got, msg) {
		t.Fatalf("got %d bytes back, want %d", len(got), len(msg))
	}
}

// TestRelaySeesOnlyCiphertext runs the relay in plain (behind-proxy) mode, records every byte
// it receives and sends, and checks that a payload marker never appears in them.
func TestRelaySeesOnlyCiphertext(t *testing.T) {
	rec := &recorder{}
	e := newEnv(t, envOptions{behindProxy: true, wrapRelayLn: func(ln net.Listener) net.Listener {
		return &recordingListener{Listener: ln, rec: rec}
	}})
	marker := []byte("SECRET-PAYLOAD-6b1f0c4e-do-not-leak")
	if err := e.roundTrip(bytes.Repeat(marker, 100)); err != nil {
		t.Fatal(err)
	}
	seen := rec.bytes()
	if len(seen) < 100*len(marker) {
		t.Fatalf("recorded only %d bytes: the recorder missed the session", len(seen))
	}
	if bytes.Contains(seen, marker) {
		t.Fatal("the relay saw the payload in clear")
	}
	if !strings.Contains(string(seen), "GET /v1/client") {
		t.Fatal("recorder did not see the client's request: the check proves nothing")
	}
}

type recorder struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (r *recorder) add(p []byte) {
	r.mu.Lock()
	r.buf.Write(p)
	r.mu.Unlock()
}

func (r *recorder) bytes() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return bytes.Clone(r.buf.Bytes())
}

type recordingListener struct {
	net.Listener
	rec *recorder
}

func (l *recordingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &recordingConn{Conn: c, rec: l.rec}, nil
}

type recordingConn struct {
	net.Conn
	rec *recorder
}

func (c *recordingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.rec.add(p[:n])
	return n, err
}

func (c *recordingConn) Write(p []byte) (int, error) {
	c.rec.add(p)
	return c.Conn.Write(p)
}
