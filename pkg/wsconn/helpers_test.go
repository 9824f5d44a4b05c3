package wsconn

import (
	"context"
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// wsServer is an httptest server on 127.0.0.1 that upgrades every request with Upgrader()
// and hands the server side of each WebSocket to the test.
type wsServer struct {
	*httptest.Server
	conns chan *websocket.Conn
}

func newWSServer(t testing.TB) *wsServer {
	t.Helper()
	s := &wsServer{conns: make(chan *websocket.Conn, 16)}
	up := Upgrader()
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		s.conns <- ws
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *wsServer) wsURL() string { return "ws" + strings.TrimPrefix(s.URL, "http") }

// dial connects to s and returns both raw ends; both are closed when the test ends.
func (s *wsServer) dial(t testing.TB) (client, server *websocket.Conn) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	client, _, err := Dial(ctx, s.wsURL(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case server = <-s.conns:
	case <-ctx.Done():
		t.Fatal("server side of the WebSocket did not arrive")
	}
	t.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}

// connPair returns a client and a server Conn joined by a fresh WebSocket.
func connPair(t testing.TB, clientOpts, serverOpts Options) (client, server *Conn) {
	t.Helper()
	c, s := newWSServer(t).dial(t)
	client, server = New(c, clientOpts), New(s, serverOpts)
	t.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}

// recv waits for one value from ch, failing the test after d.
func recv[T any](t testing.TB, ch <-chan T, d time.Duration, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(d):
		t.Fatalf("timed out after %v waiting for %s", d, what)
		var zero T
		return zero
	}
}

func randomBytes(t testing.TB, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

type readResult struct {
	data []byte
	err  error
}

// readOnce runs one Read of c in the background.
func readOnce(c *Conn, size int) <-chan readResult {
	ch := make(chan readResult, 1)
	go func() {
		buf := make([]byte, size)
		n, err := c.Read(buf)
		ch <- readResult{buf[:n], err}
	}()
	return ch
}

// fastLiveness are options small enough for liveness tests to run in well under a second.
var fastLiveness = Options{PingInterval: 50 * time.Millisecond, IdleTimeout: 200 * time.Millisecond}
