package wsconn

import (
	"context"
	"crypto/tls"
	"net"
	"sync"
)

// Fewer, larger writes are what the data path needs most (docs/BENCHMARKS.md: syscalls are
// about half of the tunnel's CPU, and most of them are writes). Two layers multiply writes:
//
//   - crypto/tls writes every record (at most 16 KiB of plaintext) with its own Write to the
//     connection below, so one WebSocket frame carrying a 16 KiB end-to-end record leaves as
//     two outer records, two syscalls. BatchedTLS gathers the records of one Write.
//   - A TLS session layered on a Conn (the end-to-end session) writes each of its records as
//     its own WebSocket message, so the relay forwards them one by one. Coalesce sends the
//     records of one Write of the layered session as one message.

// batchLimit is the most a batch gathers before it is written: two full records. Larger
// single writes measured no better on loopback (BenchmarkTLSWrite: a 64 KiB write at once
// waits for send-buffer space the way 16 KiB ones do not); the gain is in not spending a
// syscall on each short record that trails a full one.
const batchLimit = 32 << 10

// batchPool lends batch buffers, so an idle connection holds none.
var batchPool = sync.Pool{New: func() any {
	b := make([]byte, 0, batchLimit+16<<10+64) // room for the record that crosses the limit
	return &b
}}

// recordWriter sits under a TLS connection: while gathering, the records the TLS layer writes
// are appended to a pooled buffer, and flush writes them to the socket in one write.
type recordWriter struct {
	net.Conn // the transport

	mu     sync.Mutex
	gather bool
	buf    *[]byte
}

func (w *recordWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.gather {
		return w.Conn.Write(p)
	}
	if w.buf == nil {
		w.buf = batchPool.Get().(*[]byte)
	}
	*w.buf = append(*w.buf, p...)
	if len(*w.buf) >= batchLimit {
		if err := w.flushLocked(); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// start begins gathering.
func (w *recordWriter) start() {
	w.mu.Lock()
	w.gather = true
	w.mu.Unlock()
}

// flush writes what was gathered and stops gathering.
func (w *recordWriter) flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.gather = false
	return w.flushLocked()
}

func (w *recordWriter) flushLocked() error {
	if w.buf == nil {
		return nil
	}
	b := *w.buf
	var err error
	if len(b) > 0 {
		_, err = w.Conn.Write(b)
	}
	*w.buf = b[:0]
	batchPool.Put(w.buf)
	w.buf = nil
	return err
}

// BatchedTLS is a TLS connection whose Writes each leave in as few socket writes as possible
// (one per 32 KiB) instead of one per TLS record. Everything else is the TLS connection's.
type BatchedTLS struct {
	*tls.Conn
	w  *recordWriter
	mu sync.Mutex // one Write gathers at a time
}

// Client returns the client side of a TLS connection over raw, with batched writes.
func newBatchedTLSClient(raw net.Conn, cfg *tls.Config) *BatchedTLS {
	w := &recordWriter{Conn: raw}
	return &BatchedTLS{Conn: tls.Client(w, cfg), w: w}
}

// NewBatchedTLSServer returns the server side of a TLS connection over raw whose Writes are
// batched (see BatchedTLS). A relay accepting WebSockets over TLS uses it in place of
// tls.Server (or NewBatchedTLSListener in place of tls.NewListener).
func NewBatchedTLSServer(raw net.Conn, cfg *tls.Config) *BatchedTLS {
	w := &recordWriter{Conn: raw}
	return &BatchedTLS{Conn: tls.Server(w, cfg), w: w}
}

// Write encrypts p into records and writes them together.
func (c *BatchedTLS) Write(p []byte) (int, error) {
	// The handshake, if it has not run yet, must not be gathered: its flight has to leave
	// before the answer can come. (A no-op once complete.)
	if err := c.Conn.Handshake(); err != nil {
		return 0, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.w.start()
	n, err := c.Conn.Write(p)
	if ferr := c.w.flush(); err == nil && ferr != nil {
		// The records were taken but not sent: report nothing written, as a failed write.
		n, err = 0, ferr
	}
	return n, err
}

// NetConn returns the transport under the TLS layer.
func (c *BatchedTLS) NetConn() net.Conn { return c.w.Conn }

// NewBatchedTLSListener is tls.NewListener with batched writes (see BatchedTLS). The accepted
// conns are *BatchedTLS, not *tls.Conn: an http.Server serving them does not fill
// Request.TLS and does not negotiate HTTP/2, which WebSocket endpoints do not need.
func NewBatchedTLSListener(inner net.Listener, cfg *tls.Config) net.Listener {
	return &batchedListener{Listener: inner, cfg: cfg}
}

type batchedListener struct {
	net.Listener
	cfg *tls.Config
}

func (l *batchedListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return NewBatchedTLSServer(c, l.cfg), nil
}

// dialBatchedTLS is the dialer's NetDialTLSContext: TCP, then a batched TLS client handshake.
func dialBatchedTLS(nd *net.Dialer, cfg *tls.Config, serverName string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		raw, err := nd.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		cfg := cfg.Clone()
		if cfg.ServerName == "" {
			cfg.ServerName = serverName
		}
		c := newBatchedTLSClient(raw, cfg)
		if err := c.HandshakeContext(ctx); err != nil {
			raw.Close()
			return nil, err
		}
		return c, nil
	}
}
