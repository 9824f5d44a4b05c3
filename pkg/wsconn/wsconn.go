// Package wsconn adapts a gorilla WebSocket to a net.Conn (binary messages as a byte stream,
// pings, read limits) and splices two WebSockets message by message for the relay.
package wsconn

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/gorilla/websocket"
)

// CONTRACT STUB: bodies are replaced by the implementation.

// Defaults for Options.
const (
	DefaultPingInterval = 20 * time.Second
	DefaultIdleTimeout  = 60 * time.Second
	DefaultReadLimit    = 1 << 20
)

// Options tune a connection. The zero value means the defaults.
type Options struct {
	PingInterval time.Duration // how often to ping the peer
	IdleTimeout  time.Duration // a peer silent this long (no data, ping or pong) is dead
	ReadLimit    int64         // largest message accepted
}

// Conn is a WebSocket as a net.Conn.
type Conn struct{}

var _ net.Conn = (*Conn)(nil)

// New wraps ws and starts its pinger; Close stops it and closes ws.
func New(ws *websocket.Conn, opts Options) *Conn { return &Conn{} }

func (c *Conn) Read(p []byte) (int, error)         { return 0, errors.New("stub") }
func (c *Conn) Write(p []byte) (int, error)        { return 0, errors.New("stub") }
func (c *Conn) Close() error                       { return nil }
func (c *Conn) LocalAddr() net.Addr                { return nil }
func (c *Conn) RemoteAddr() net.Addr               { return nil }
func (c *Conn) SetDeadline(t time.Time) error      { return nil }
func (c *Conn) SetReadDeadline(t time.Time) error  { return nil }
func (c *Conn) SetWriteDeadline(t time.Time) error { return nil }

// Dial opens a WebSocket to url with the given request header and outer TLS config.
// The returned response is non-nil whenever the server answered (also on a refusal, with its
// body read and closed) so callers can report the status and the Sentinel-Deny code.
func Dial(ctx context.Context, url string, header http.Header, tlsConfig *tls.Config) (*websocket.Conn, *http.Response, error) {
	return nil, nil, errors.New("stub")
}

// Upgrader returns the upgrader every role uses to accept WebSockets (buffer sizes, pool).
func Upgrader() *websocket.Upgrader { return &websocket.Upgrader{} }

// Splice copies messages a→b and b→a, preserving message type and boundaries without
// holding a whole message, pinging both sides, until either side ends or ctx is done; then it
// closes both. It returns the payload bytes copied each way.
func Splice(ctx context.Context, a, b *websocket.Conn, opts Options) (aToB, bToA int64, err error) {
	return 0, 0, errors.New("stub")
}
