package wsconn

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// countingConn counts the writes that reach the transport.
type countingConn struct {
	net.Conn
	writes atomic.Int64
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(p)
}

// tlsPair returns a batched TLS client over a counted loopback TCP connection, and the plain
// TLS server end, handshaken.
func tlsPair(t *testing.T) (client *BatchedTLS, raw *countingConn, server *tls.Conn) {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	cert := srv.Config.TLSConfig
	_ = cert
	srv.StartTLS() // for its certificate only
	defer srv.Close()
	serverCfg := srv.TLS.Clone()
	clientCfg := &tls.Config{RootCAs: srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs, ServerName: "example.com"}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan *tls.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			accepted <- nil
			return
		}
		tc := tls.Server(c, serverCfg)
		if tc.Handshake() != nil {
			accepted <- nil
			return
		}
		accepted <- tc
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	raw = &countingConn{Conn: c}
	client = newBatchedTLSClient(raw, clientCfg)
	if err := client.Handshake(); err != nil {
		t.Fatal(err)
	}
	server = <-accepted
	if server == nil {
		t.Fatal("server handshake failed")
	}
	t.Cleanup(func() { client.Close(); server.Close() })
	return client, raw, server
}

// TestBatchedTLSOneWritePerCall: a Write of a few TLS records leaves in one socket write per
// 32 KiB gathered (a 60 KiB Write is four records but two writes), and the bytes arrive
// intact.
func TestBatchedTLSOneWritePerCall(t *testing.T) {
	client, raw, server := tlsPair(t)
	for _, size := range []int{100, 60 << 10, 200 << 10} {
		data := randomBytes(t, size)
		got := make(chan []byte, 1)
		go func() {
			b := make([]byte, size)
			_, _ = io.ReadFull(server, b)
			got <- b
		}()
		before := raw.writes.Load()
		if n, err := client.Write(data); err != nil || n != size {
			t.Fatalf("Write(%d) = %d, %v", size, n, err)
		}
		writes := raw.writes.Load() - before
		if want := int64((size + batchLimit - 1) / batchLimit); writes > want {
			t.Errorf("Write(%d) made %d socket writes, want at most %d", size, writes, want)
		}
		if b := recv(t, got, 5*time.Second, "the data"); !bytes.Equal(b, data) {
			t.Fatalf("Write(%d): data differs", size)
		}
	}
	// Writes outside a batched Write (the close alert) still reach the socket.
	before := raw.writes.Load()
	client.Close()
	if raw.writes.Load() == before {
		t.Error("close_notify was not written")
	}
}

// TestDialWSSBatched: Dial over wss uses a BatchedTLS transport, and large messages cross
// both ways.
func TestDialWSSBatched(t *testing.T) {
	conns := make(chan *websocket.Conn, 1)
	up := Upgrader()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		conns <- ws
	}))
	defer srv.Close()
	cfg := &tls.Config{RootCAs: srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs, ServerName: "example.com"}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ws, _, err := Dial(ctx, "wss"+strings.TrimPrefix(srv.URL, "https"), nil, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := ws.NetConn().(*BatchedTLS); !ok {
		t.Fatalf("transport is %T, want *BatchedTLS", ws.NetConn())
	}
	sws := recv(t, conns, 5*time.Second, "the server side")
	unlimited := Options{ReadLimit: -1}
	c, s := New(ws, unlimited), New(sws, unlimited)
	defer c.Close()
	defer s.Close()
	data := randomBytes(t, 300<<10)
	for _, pair := range [][2]*Conn{{c, s}, {s, c}} {
		got := make(chan []byte, 1)
		go func() {
			b := make([]byte, len(data))
			_, _ = io.ReadFull(pair[1], b)
			got <- b
		}()
		if _, err := pair[0].Write(data); err != nil {
			t.Fatal(err)
		}
		if b := recv(t, got, 5*time.Second, "the data"); !bytes.Equal(b, data) {
			t.Fatal("data differs")
		}
	}
}

// TestBatchedTLSListener serves a TLS client.
func TestBatchedTLSListener(t *testing.T) {
	srv := httptest.NewUnstartedServer(nil)
	srv.StartTLS()
	serverCfg := srv.TLS.Clone()
	roots := srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	srv.Close()
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := NewBatchedTLSListener(inner, serverCfg)
	defer ln.Close()
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		_, _ = io.Copy(c, c)
	})
	c, err := tls.Dial("tcp", inner.Addr().String(), &tls.Config{RootCAs: roots, ServerName: "example.com"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	data := randomBytes(t, 100<<10)
	go func() { _, _ = c.Write(data) }()
	got := make([]byte, len(data))
	if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("echo: %v", err)
	}
}

// readMessages reads n messages from ws and returns their payloads.
func readMessages(t *testing.T, ws *websocket.Conn, n int) [][]byte {
	t.Helper()
	var out [][]byte
	for range n {
		_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, b, err := ws.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// TestCork: Writes between Cork and Uncork are one message, split at 64 KiB; without Cork each
// Write is a message.
func TestCork(t *testing.T) {
	raw, peer := newWSServer(t).dial(t)
	c := New(raw, Options{})
	defer c.Close()
	c.Cork()
	for _, s := range []string{"ab", "cd", "ef"} {
		if _, err := c.Write([]byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Uncork(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write([]byte("gh")); err != nil {
		t.Fatal(err)
	}
	if err := c.Uncork(); err != nil { // nothing gathered: no message
		t.Fatal(err)
	}
	big := randomBytes(t, 40<<10)
	c.Cork()
	for range 3 {
		if _, err := c.Write(big); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Uncork(); err != nil {
		t.Fatal(err)
	}
	got := readMessages(t, peer, 5)
	if string(got[0]) != "abcdef" || string(got[1]) != "gh" {
		t.Fatalf("messages %q, %q; want abcdef, gh", got[0], got[1])
	}
	// 3 × 40 KiB: each Write after the first would pass 64 KiB, so each starts a message.
	for i, m := range got[2:] {
		if !bytes.Equal(m, big) {
			t.Fatalf("message %d: %d bytes, want the 40 KiB written", i+2, len(m))
		}
	}
}

// TestCoalesceTLS: a TLS session over a Conn, written through Coalesce, sends one message per
// Write (or per 64 KiB), and one more Write joins it when more says so.
func TestCoalesceTLS(t *testing.T) {
	clientRaw, serverWS := newWSServer(t).dial(t)
	c := New(clientRaw, Options{})
	defer c.Close()
	// The peer counts messages, then feeds their bytes to a TLS server.
	var messages atomic.Int64
	pr, pw := io.Pipe()
	go func() {
		for {
			_, b, err := serverWS.ReadMessage()
			if err != nil {
				pw.CloseWithError(err)
				return
			}
			messages.Add(1)
			if _, err := pw.Write(b); err != nil {
				return
			}
		}
	}()
	srv := httptest.NewUnstartedServer(nil)
	srv.StartTLS()
	serverCfg := srv.TLS.Clone()
	roots := srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	srv.Close()
	server := tls.Server(&pipeConn{r: pr, w: wsWriter{serverWS}}, serverCfg)
	tc := tls.Client(c, &tls.Config{RootCAs: roots, ServerName: "example.com"})
	handshake := make(chan error, 1)
	go func() { handshake <- server.Handshake() }()
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	if err := recv(t, handshake, 5*time.Second, "the handshake"); err != nil {
		t.Fatal(err)
	}
	header := []byte("HDR:")
	up := c.Coalesce(tc, func(p []byte) bool { return bytes.Equal(p, header) })
	data := randomBytes(t, 40<<10) // three TLS records
	got := make(chan []byte, 1)
	go func() {
		b := make([]byte, len(header)+len(data))
		_, _ = io.ReadFull(server, b)
		got <- b
	}()
	before := messages.Load()
	if _, err := up.Write(header); err != nil {
		t.Fatal(err)
	}
	if _, err := up.Write(data); err != nil {
		t.Fatal(err)
	}
	b := recv(t, got, 5*time.Second, "the data")
	if !bytes.Equal(b[:len(header)], header) || !bytes.Equal(b[len(header):], data) {
		t.Fatal("data differs")
	}
	if n := messages.Load() - before; n != 1 {
		t.Fatalf("header and 40 KiB body took %d messages, want 1", n)
	}
}

// pipeConn is a net.Conn from a reader and a writer, for a TLS server fed by test code.
type pipeConn struct {
	net.Conn // nil: only Read and Write are used by crypto/tls here
	r        io.Reader
	w        io.Writer
}

func (p *pipeConn) Read(b []byte) (int, error)       { return p.r.Read(b) }
func (p *pipeConn) Write(b []byte) (int, error)      { return p.w.Write(b) }
func (p *pipeConn) SetDeadline(time.Time) error      { return nil }
func (p *pipeConn) SetReadDeadline(time.Time) error  { return nil }
func (p *pipeConn) SetWriteDeadline(time.Time) error { return nil }
func (p *pipeConn) Close() error                     { return nil }
func (p *pipeConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (p *pipeConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (w wsWriter) Write(b []byte) (int, error) {
	return len(b), w.ws.WriteMessage(websocket.BinaryMessage, b)
}

type wsWriter struct{ ws *websocket.Conn }

// TestBatchedTLSWriteFirst: a Write before any handshake runs the handshake unbatched (its
// flight must leave before the answer can come), then the data.
func TestBatchedTLSWriteFirst(t *testing.T) {
	srv := httptest.NewUnstartedServer(nil)
	srv.StartTLS()
	serverCfg := srv.TLS.Clone()
	roots := srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	srv.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan []byte, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- nil
			return
		}
		defer c.Close()
		b, _ := io.ReadAll(tls.Server(c, serverCfg))
		got <- b
	}()
	raw, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c := newBatchedTLSClient(raw, &tls.Config{RootCAs: roots, ServerName: "example.com"})
	if _, err := c.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	c.Close()
	if b := recv(t, got, 5*time.Second, "the data"); string(b) != "hello" {
		t.Fatalf("server read %q", b)
	}
}
