package tunnel

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"

	"github.com/hashicorp/yamux"
)

// The steps at which OpenClientSession fails, for errors.Is.
var (
	// ErrHandshake: the client's end-to-end TLS handshake failed: we refused the server's
	// certificate (the pin; a *DenyError in the chain), the TLS layer failed, or ctx ended.
	ErrHandshake = errors.New("end-to-end handshake")
	// ErrRefused: our handshake completed but the server did not accept our certificate: it
	// answered with an alert, closed the connection, or did not confirm before ctx ended. In
	// TLS 1.3 the client's handshake ends before the server has judged the client
	// certificate, so this is only known after one round trip.
	ErrRefused = errors.New("server refused our certificate")
)

// OpenError is the error of OpenClientSession at a step.
type OpenError struct {
	Step error // ErrHandshake or ErrRefused
	// Err is the cause: the handshake's error; for ErrRefused the alert the server sent (a
	// *net.OpError with Op "remote error"), the read error that ended the connection, or
	// ctx's error.
	Err error
}

func (e *OpenError) Error() string { return e.Step.Error() + ": " + e.Err.Error() }

// Unwrap returns Step and Err, so errors.Is(err, ErrRefused) and errors.As(err, &deny) both work.
func (e *OpenError) Unwrap() []error { return []error{e.Step, e.Err} }

// OpenClientSession runs the client's side of an end-to-end session over conn (the WebSocket
// the relay spliced to the server, or the direct one): the TLS handshake with cfg
// (tlsconf.Client), the multiplexer with MuxConfig, then one ping, whose answer proves the
// server accepted our certificate. ctx bounds the handshake and the ping, not the session.
//
// A failed handshake or ping is an *OpenError (Step ErrHandshake or ErrRefused); any other
// error is the multiplexer's. On error conn is closed; on success the session owns it.
func OpenClientSession(ctx context.Context, conn net.Conn, cfg *tls.Config) (*yamux.Session, error) {
	tconn := tls.Client(conn, cfg)
	if err := tconn.HandshakeContext(ctx); err != nil {
		_ = conn.Close()
		return nil, &OpenError{Step: ErrHandshake, Err: err}
	}
	rc := &readErrConn{Conn: MuxTransport(tconn, conn)}
	mux, err := yamux.Client(rc, MuxConfig())
	if err != nil {
		_ = tconn.Close()
		return nil, fmt.Errorf("multiplexer: %w", err)
	}
	stop := context.AfterFunc(ctx, func() { _ = mux.Close() })
	_, err = mux.Ping()
	stop()
	if err != nil {
		_ = mux.Close()
		// A refusal arrives as an alert on the TLS session's first read, which ends the
		// multiplexer; its Ping then reports only that the session is shut down.
		switch rerr := rc.readErr(); {
		case ctx.Err() != nil:
			err = ctx.Err()
		case rerr != nil:
			err = rerr
		}
		return nil, &OpenError{Step: ErrRefused, Err: err}
	}
	return mux, nil
}

// readErrConn remembers the first read error of the TLS session under the multiplexer.
type readErrConn struct {
	net.Conn
	mu  sync.Mutex
	err error
}

func (c *readErrConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if err != nil {
		c.mu.Lock()
		if c.err == nil {
			c.err = err
		}
		c.mu.Unlock()
	}
	return n, err
}

func (c *readErrConn) readErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}
