package wsconn

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/sentinel-zt/sentinel/pkg/tunnel"
)

// Buffer sizes and timeouts shared by every WebSocket this package makes.
const (
	// writeBufferSize: one frame per 64 KiB; fewer, larger writes are what the data path
	// needs most.
	writeBufferSize = 64 << 10
	// dialReadBufferSize is the read buffer of dialed conns (client and server roles).
	dialReadBufferSize = 32 << 10
	// acceptReadBufferSize is small because the relay holds two readers per session for the
	// session's life, and a reader only has to hold frame headers and control frames: reads
	// of a data frame's body go straight from the socket to the caller's buffer once the
	// reader is drained. 1 KiB instead of net/http's 4 KiB (the 0 default keeps that one)
	// cut an idle behind_proxy relay session from 40 to 31 KiB of RSS, with no loss of
	// throughput (BenchmarkTunnelThroughput).
	acceptReadBufferSize = 1024
	handshakeTimeout     = 10 * time.Second
	tcpKeepAlive         = 30 * time.Second
	// maxRefusalBody bounds the response body kept from a refused handshake.
	maxRefusalBody = 4 << 10
)

// writePool lends write buffers to every Dialer and Upgrader here (all use writeBufferSize):
// gorilla takes a buffer per message and returns it after, so idle conns hold none.
var writePool websocket.BufferPool = &sync.Pool{}

// RefusedError is returned by Dial when the server answered the upgrade with something other
// than 101 Switching Protocols. It unwraps to websocket.ErrBadHandshake.
type RefusedError struct {
	StatusCode int    // HTTP status, e.g. 403
	Status     string // HTTP status line text, e.g. "403 Forbidden"
	Deny       string // the Sentinel-Deny header (tunnel.HeaderDeny); "" if absent
}

func (e *RefusedError) Error() string {
	if e.Deny == "" {
		return "websocket upgrade refused: " + e.Status
	}
	return fmt.Sprintf("websocket upgrade refused: %s (%s: %s)", e.Status, tunnel.HeaderDeny, e.Deny)
}

// Unwrap returns websocket.ErrBadHandshake.
func (e *RefusedError) Unwrap() error { return websocket.ErrBadHandshake }

// Dial opens a WebSocket to rawURL (ws:// or wss://) with the given request header and outer TLS config.
// A wss:// connection that does not go through a proxy runs over a BatchedTLS, so each frame
// leaves in one write however many TLS records it spans.
// The returned response is non-nil whenever the server answered (also on a refusal, with its
// body read and closed) so callers can report the status and the Sentinel-Deny code.
//
// The handshake (TCP, TLS and HTTP) is bounded by ctx and by 10 seconds. A refusal returns
// a *RefusedError wrapped with the URL (without its query); resp.Body then holds up to 4 KiB of
// the body. Proxies are taken from the environment (HTTPS_PROXY, NO_PROXY), as net/http does.
func Dial(ctx context.Context, rawURL string, header http.Header, tlsConfig *tls.Config) (*websocket.Conn, *http.Response, error) {
	nd := &net.Dialer{KeepAlive: tcpKeepAlive}
	d := websocket.Dialer{
		NetDialContext:   nd.DialContext,
		Proxy:            http.ProxyFromEnvironment,
		TLSClientConfig:  tlsConfig,
		HandshakeTimeout: handshakeTimeout,
		ReadBufferSize:   dialReadBufferSize,
		WriteBufferSize:  writeBufferSize,
		WriteBufferPool:  writePool,
	}
	if u, perr := url.Parse(rawURL); perr == nil && u.Scheme == "wss" && !proxied(u) {
		// Our own TLS handshake, so the outer records of each frame leave in one write
		// (BatchedTLS). Through a proxy gorilla's path is kept: it tunnels TLS over CONNECT.
		tlsCfg := tlsConfig
		if tlsCfg == nil {
			tlsCfg = &tls.Config{}
		}
		d.NetDialTLSContext = dialBatchedTLS(nd, tlsCfg, u.Hostname())
	}
	// gorilla honours ctx while connecting but not while it waits for the handshake answer
	// (only HandshakeTimeout bounds that), so a cancelled dial could hang on for seconds and
	// hold up a shutdown. Close the connection when ctx ends before the dial returns.
	var dialed closer
	d.NetDialContext = dialed.wrap(d.NetDialContext)
	d.NetDialTLSContext = dialed.wrap(d.NetDialTLSContext)
	stop := context.AfterFunc(ctx, dialed.close)
	ws, resp, err := d.DialContext(ctx, rawURL, header)
	if !stop() {
		// ctx ended and closed the connection under the dial: that, not the broken write or
		// read it caused, is the reason.
		if err == nil {
			_ = ws.Close()
		}
		ws, err = nil, ctx.Err()
	}
	if err == nil {
		return ws, resp, nil
	}
	if resp != nil && resp.Body != nil {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, maxRefusalBody))
		resp.Body.Close()
		resp.Body = io.NopCloser(bytes.NewReader(body))
	}
	if errors.Is(err, websocket.ErrBadHandshake) && resp != nil {
		err = &RefusedError{StatusCode: resp.StatusCode, Status: resp.Status, Deny: resp.Header.Get(tunnel.HeaderDeny)}
	}
	return nil, resp, fmt.Errorf("dial %s: %w", redactURL(rawURL), err)
}

// proxied reports whether the environment sends a request to u through a proxy.
func proxied(u *url.URL) bool {
	hu := *u
	hu.Scheme = "https"
	p, err := http.ProxyFromEnvironment(&http.Request{URL: &hu})
	return err != nil || p != nil
}

// redactURL drops the query and any user info, which have no place in an error message.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "websocket url"
	}
	u.User, u.RawQuery, u.Fragment = nil, "", ""
	return u.String()
}

// Upgrader returns the upgrader every role uses to accept WebSockets (buffer sizes, pool).
//
// Its CheckOrigin accepts only requests without an Origin header: our peers are programs, and
// browsers always send Origin on a WebSocket handshake, so any Origin (even "null") is refused
// with 403. Compression is off (payloads are TLS ciphertext).
func Upgrader() *websocket.Upgrader {
	return &websocket.Upgrader{
		HandshakeTimeout:  handshakeTimeout,
		ReadBufferSize:    acceptReadBufferSize,
		WriteBufferSize:   writeBufferSize,
		WriteBufferPool:   writePool,
		CheckOrigin:       noOrigin,
		EnableCompression: false,
	}
}

// noOrigin accepts requests that carry no Origin header at all.
func noOrigin(r *http.Request) bool {
	_, ok := r.Header["Origin"]
	return !ok
}

// closer remembers the connections a dial makes so they can be closed from another goroutine.
type closer struct {
	mu     sync.Mutex
	conns  []net.Conn
	closed bool
}

type dialFunc = func(ctx context.Context, network, addr string) (net.Conn, error)

func (c *closer) wrap(dial dialFunc) dialFunc {
	if dial == nil {
		return nil
	}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.closed {
			_ = conn.Close()
			return nil, net.ErrClosed
		}
		c.conns = append(c.conns, conn)
		return conn, nil
	}
}

func (c *closer) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	for _, conn := range c.conns {
		_ = conn.Close()
	}
}
