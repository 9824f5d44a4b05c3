// Package wsconn adapts a gorilla WebSocket to a net.Conn (binary messages as a byte stream,
// pings, read limits) and splices two WebSockets message by message for the relay.
package wsconn

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// Defaults for Options.
const (
	DefaultPingInterval = 20 * time.Second
	DefaultIdleTimeout  = 60 * time.Second
	DefaultReadLimit    = 1 << 20
)

// closeGrace bounds the best-effort close frame on Close, and how long Splice waits for the
// second side to answer a forwarded close.
const closeGrace = time.Second

// Options tune a connection. The zero value means the defaults.
type Options struct {
	// PingInterval is how often to ping the peer. Zero means DefaultPingInterval; negative
	// disables pings.
	PingInterval time.Duration
	// IdleTimeout: a peer silent this long (no data, ping or pong) is dead. Reads fail with
	// ErrIdleTimeout and the connection is closed. Keep it well above PingInterval plus a round
	// trip. Zero means DefaultIdleTimeout; negative disables it.
	IdleTimeout time.Duration
	// ReadLimit is the largest message accepted; a larger one fails the read with
	// websocket.ErrReadLimit and closes with status 1009. Zero means DefaultReadLimit; negative
	// means no limit.
	ReadLimit int64
}

func (o Options) withDefaults() Options {
	if o.PingInterval == 0 {
		o.PingInterval = DefaultPingInterval
	}
	if o.IdleTimeout == 0 {
		o.IdleTimeout = DefaultIdleTimeout
	}
	if o.ReadLimit == 0 {
		o.ReadLimit = DefaultReadLimit
	}
	return o
}

// apply sets ws's read limit and returns its liveness keeper (idle deadline, ping and pong
// handlers).
func (o Options) apply(ws *websocket.Conn) *liveness {
	if o.ReadLimit > 0 {
		ws.SetReadLimit(o.ReadLimit)
	} else {
		ws.SetReadLimit(0)
	}
	return newLiveness(ws, o.IdleTimeout)
}

// pingWait is how long a ping may wait to be written: a peer that takes nothing for an idle
// timeout is dead anyway.
func (o Options) pingWait() time.Duration {
	if o.IdleTimeout > 0 {
		return o.IdleTimeout
	}
	return o.PingInterval
}

// Conn is a WebSocket as a net.Conn: each Write is sent as one binary message; Read returns the
// payloads of the received binary messages as one byte stream.
//
// Read and Write may be called concurrently with each other and with Close and the deadline
// setters; concurrent Reads (or Writes) are serialized. A close frame with status 1000 (normal
// closure) or 1001 (going away) reads as io.EOF; any other close status or a text message is
// an error.
//
// Deadlines: the read deadline in effect is the earlier of the caller's (SetReadDeadline) and
// the idle deadline (last frame from the peer + IdleTimeout). An expired caller deadline fails
// the read with an error wrapping os.ErrDeadlineExceeded; an expired idle deadline with one
// wrapping ErrIdleTimeout, and then the connection is closed. The write deadline applies to
// pending and future Writes. Unlike a TCP conn, a WebSocket cannot resume after a read or write
// timed out mid-frame (gorilla keeps the error): treat a timeout as the end of that direction.
//
// Pings and pongs are processed by Read, so liveness is judged only while someone reads (a
// yamux session always does); the idle clock restarts when a Read begins.
type Conn struct {
	ws   *websocket.Conn
	nc   net.Conn // ws.NetConn(): deadlines and addresses
	live *liveness
	ping *pinger

	readMu  sync.Mutex
	r       io.Reader // current message; nil between messages
	readErr error     // sticky: gorilla panics on repeated reads of a failed conn

	writeMu sync.Mutex
	corked  bool           // Writes go into msg (see Coalesce); guarded by writeMu
	msg     io.WriteCloser // the message being gathered while corked; nil until the first Write
	msgLen  int

	wdMu    sync.Mutex
	wd      time.Time   // the caller's write deadline
	wdTimer *time.Timer // re-applies wd when it expires, see SetWriteDeadline

	closeOnce sync.Once
	closed    atomic.Bool
	dead      atomic.Pointer[error] // set when the idle timeout closed the connection
}

var _ net.Conn = (*Conn)(nil)

// New wraps ws and starts its pinger; Close stops it and closes ws. New takes ws over: it sets
// the read limit, the read deadline and the ping and pong handlers (keeping the default of
// answering pings); the caller must not use ws afterwards.
func New(ws *websocket.Conn, opts Options) *Conn {
	opts = opts.withDefaults()
	c := &Conn{ws: ws, nc: ws.NetConn()}
	c.live = opts.apply(ws)
	c.ping = startPinger(opts.PingInterval, opts.pingWait(), ws)
	return c
}

// Read reads payload bytes of binary messages, moving on to the next message when one is
// drained; empty messages are skipped.
func (c *Conn) Read(p []byte) (int, error) {
	c.readMu.Lock()
	defer c.readMu.Unlock()
	if c.closed.Load() {
		return 0, net.ErrClosed
	}
	if c.readErr != nil {
		return 0, c.readErr
	}
	if len(p) == 0 {
		return 0, nil
	}
	c.live.touch()
	for {
		if c.r == nil {
			typ, r, err := c.ws.NextReader()
			if err != nil {
				c.readErr = c.readError(err)
				return 0, c.readErr
			}
			if typ != websocket.BinaryMessage {
				_ = c.ws.WriteControl(websocket.CloseMessage,
					websocket.FormatCloseMessage(websocket.CloseUnsupportedData, "binary messages only"),
					time.Now().Add(closeGrace))
				c.readErr = fmt.Errorf("websocket read: unexpected message type %d", typ)
				return 0, c.readErr
			}
			c.r = r
		}
		n, err := c.r.Read(p)
		if err == io.EOF {
			c.r = nil
			if n > 0 {
				return n, nil
			}
			continue
		}
		if err != nil {
			c.readErr = c.readError(err)
			return n, c.readErr
		}
		if n > 0 {
			return n, nil
		}
	}
}

// readError maps a gorilla read error to what Read reports.
func (c *Conn) readError(err error) error {
	switch {
	case c.closed.Load():
		return net.ErrClosed
	case c.dead.Load() != nil:
		return *c.dead.Load()
	case websocket.IsCloseError(err, websocket.CloseNormalClosure, websocket.CloseGoingAway):
		return io.EOF
	case isTimeout(err):
		if c.live.userExpired() {
			return fmt.Errorf("websocket read: %w", os.ErrDeadlineExceeded)
		}
		e := fmt.Errorf("websocket read: %w", ErrIdleTimeout)
		c.dead.CompareAndSwap(nil, &e)
		c.nc.Close() // unblock a writer stuck on the dead peer
		return e
	default:
		return fmt.Errorf("websocket read: %w", err)
	}
}

// Write sends p as one binary message; between Cork and Uncork it adds p to the message being
// gathered instead. A zero-length p sends nothing.
func (c *Conn) Write(p []byte) (int, error) {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	if c.closed.Load() {
		return 0, net.ErrClosed
	}
	if e := c.dead.Load(); e != nil {
		return 0, *e
	}
	if len(p) == 0 {
		return 0, nil
	}
	c.wdMu.Lock()
	wd := c.wd
	c.wdMu.Unlock()
	// gorilla applies its write deadline to the socket before every frame it writes.
	c.ws.SetWriteDeadline(wd)
	if c.corked {
		return c.writeCorked(p)
	}
	if err := c.ws.WriteMessage(websocket.BinaryMessage, p); err != nil {
		return 0, c.writeError(err)
	}
	return len(p), nil
}

// maxCoalesced bounds a gathered message well under the peer's read limit (DefaultReadLimit).
const maxCoalesced = writeBufferSize

// writeCorked adds p to the message being gathered. Called with writeMu held.
func (c *Conn) writeCorked(p []byte) (int, error) {
	if c.msg != nil && c.msgLen+len(p) > maxCoalesced {
		err := c.msg.Close()
		c.msg = nil
		if err != nil {
			return 0, c.writeError(err)
		}
	}
	if c.msg == nil {
		w, err := c.ws.NextWriter(websocket.BinaryMessage)
		if err != nil {
			return 0, c.writeError(err)
		}
		c.msg, c.msgLen = w, 0
	}
	if _, err := c.msg.Write(p); err != nil {
		c.msg = nil
		return 0, c.writeError(err)
	}
	c.msgLen += len(p)
	return len(p), nil
}

// Cork makes the following Writes, until Uncork, parts of one binary message (a new message
// starts when one would pass 64 KiB). Coalesce uses it; a layer that knows where its writes
// begin and end (a multiplexer's frame header and body) can call it directly.
func (c *Conn) Cork() {
	c.writeMu.Lock()
	c.corked = true
	c.writeMu.Unlock()
}

// Uncork sends the message gathered since Cork, if any, and returns to one message per Write.
func (c *Conn) Uncork() error {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	c.corked = false
	if c.msg == nil {
		return nil
	}
	err := c.msg.Close()
	c.msg = nil
	if err != nil {
		return c.writeError(err)
	}
	return nil
}

// Coalesce returns upper, a connection layered on c (the end-to-end TLS session over a
// tunnel WebSocket), with the records of each of its Writes sent as one binary message instead
// of one message per record, up to 64 KiB a message. The relay then forwards one message where
// it forwarded several, and with BatchedTLS legs one outer write carries it. Reads, Close and
// deadlines are upper's.
//
// more, if not nil, is asked about each Write: true keeps the message open so that the next
// Write joins it. A multiplexer that writes a frame's header and its body separately passes a
// func that recognises a header followed by a body; it must never hold a message open with no
// Write coming.
func (c *Conn) Coalesce(upper net.Conn, more func(p []byte) bool) net.Conn {
	return &coalesced{Conn: upper, ws: c, more: more}
}

type coalesced struct {
	net.Conn
	ws   *Conn
	more func([]byte) bool

	mu   sync.Mutex // one Write gathers at a time
	open bool       // the previous Write left the message open
}

func (k *coalesced) Write(p []byte) (int, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if !k.open {
		k.ws.Cork()
	}
	n, err := k.Conn.Write(p)
	if err == nil && k.more != nil && k.more(p) {
		k.open = true
		return n, nil
	}
	k.open = false
	if uerr := k.ws.Uncork(); err == nil && uerr != nil {
		n, err = 0, uerr
	}
	return n, err
}

func (c *Conn) writeError(err error) error {
	switch {
	case c.closed.Load():
		return net.ErrClosed
	case c.dead.Load() != nil:
		return *c.dead.Load()
	case isTimeout(err):
		return fmt.Errorf("websocket write: %w", os.ErrDeadlineExceeded)
	default:
		return fmt.Errorf("websocket write: %w", err)
	}
}

// Close sends a close frame (status 1000, best effort, waiting at most a second for the
// writer), closes the underlying connection and stops the pinger. It is idempotent; pending
// and later Reads and Writes return net.ErrClosed.
func (c *Conn) Close() error {
	var err error
	c.closeOnce.Do(func() {
		c.closed.Store(true)
		_ = c.ws.WriteControl(websocket.CloseMessage,
			websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(closeGrace))
		if e := c.ws.Close(); e != nil && !errors.Is(e, net.ErrClosed) {
			err = fmt.Errorf("close websocket: %w", e)
		}
		c.ping.stop()
		c.wdMu.Lock()
		if c.wdTimer != nil {
			c.wdTimer.Stop()
		}
		c.wdMu.Unlock()
	})
	return err
}

// LocalAddr returns the local address of the underlying connection.
func (c *Conn) LocalAddr() net.Addr { return c.nc.LocalAddr() }

// RemoteAddr returns the remote address of the underlying connection.
func (c *Conn) RemoteAddr() net.Addr { return c.nc.RemoteAddr() }

// SetDeadline sets the read and write deadlines.
func (c *Conn) SetDeadline(t time.Time) error {
	rerr := c.SetReadDeadline(t)
	werr := c.SetWriteDeadline(t)
	return errors.Join(rerr, werr)
}

// SetReadDeadline sets the caller's read deadline; the idle deadline still applies, and the
// earlier of the two wins. A zero t leaves only the idle deadline.
func (c *Conn) SetReadDeadline(t time.Time) error {
	return c.live.setUser(t)
}

// SetWriteDeadline sets the deadline for pending and future Writes; zero means none.
func (c *Conn) SetWriteDeadline(t time.Time) error {
	c.wdMu.Lock()
	defer c.wdMu.Unlock()
	c.wd = t
	if c.wdTimer != nil {
		c.wdTimer.Stop()
		c.wdTimer = nil
	}
	if !t.IsZero() {
		// gorilla re-applies its own copy of the deadline before each frame, and a Write
		// in progress took that copy when it started. Setting the socket's deadline now
		// interrupts a blocked frame; re-setting it at expiry catches a Write that was
		// between two frames of one message when t was set.
		c.wdTimer = time.AfterFunc(time.Until(t), func() {
			c.wdMu.Lock()
			defer c.wdMu.Unlock()
			if c.wd.Equal(t) {
				c.nc.SetWriteDeadline(t)
			}
		})
	}
	return c.nc.SetWriteDeadline(t)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
