package client

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"time"

	"github.com/hashicorp/yamux"
	"go.uber.org/zap"

	"github.com/sentinel-zt/sentinel/pkg/audit"
	"github.com/sentinel-zt/sentinel/pkg/backoff"
	"github.com/sentinel-zt/sentinel/pkg/certattrs"
	"github.com/sentinel-zt/sentinel/pkg/dial"
	"github.com/sentinel-zt/sentinel/pkg/tlsconf"
	"github.com/sentinel-zt/sentinel/pkg/tunnel"
)

// tunnelSession is one end-to-end session to the server.
type tunnelSession struct {
	id    string // the relay's session id, shared with relay and server logs
	via   string // relay name or "direct"
	mux   *yamux.Session
	since time.Time
}

// route is one way to reach the server.
type route struct {
	name     string
	addr     string
	port     int
	audience string
}

// routes lists the ways to the server in the order to try them: direct first when enabled,
// then relays by ascending sort.
func (c *Client) routes() []route {
	var out []route
	if c.cfg.Direct {
		out = append(out, route{name: "direct", addr: c.self.Server.Addr, port: c.self.Server.OutPort, audience: c.self.Server.UUID})
	}
	relays := slices.Clone(c.self.Relays)
	slices.SortStableFunc(relays, func(a, b certattrs.RelayRef) int { return cmp.Compare(a.Sort, b.Sort) })
	for _, r := range relays {
		out = append(out, route{name: r.Name, addr: r.Addr, port: r.Port, audience: r.UUID})
	}
	return out
}

// maintain keeps a session up until the client closes.
func (c *Client) maintain() {
	refused := c.cfg.Backoff
	unreachable := backoff.Backoff{Min: refused.Min, Max: c.cfg.UnreachableMax}
	for c.ctx.Err() == nil {
		sess, anyAnswered, err := c.connectAny()
		if err != nil {
			c.setErr(err)
			delay := unreachable.Next()
			if anyAnswered {
				delay = refused.Next()
			}
			c.log.Warn("no session to the server", zap.Error(err), zap.Duration("retry_in", delay))
			if !c.sleep(delay) {
				return
			}
			continue
		}
		refused.Reset()
		unreachable.Reset()
		c.publish(sess)
		select {
		case <-sess.mux.CloseChan():
		case <-c.ctx.Done():
		}
		_ = sess.mux.Close()
		c.unpublish(sess)
		c.audit.Log(audit.SessionClose, zap.String(audit.FieldSession, sess.id), zap.String("via", sess.via),
			zap.String(audit.FieldPeerUUID, c.self.Server.UUID), zap.String(audit.FieldPeerName, c.self.Server.Name),
			zap.Duration(audit.FieldDuration, c.cfg.Now().Sub(sess.since)))
		if c.ctx.Err() == nil {
			c.metrics.reconnects.Inc()
			c.log.Warn("session lost, reconnecting", zap.String("session", sess.id), zap.String("via", sess.via))
		}
	}
}

// connectAny tries every route once, in order. anyAnswered reports whether some relay
// answered (and refused) rather than being unreachable.
func (c *Client) connectAny() (sess *tunnelSession, anyAnswered bool, err error) {
	var errs []error
	for _, rt := range c.routes() {
		sess, answered, err := c.connect(rt)
		if err == nil {
			return sess, false, nil
		}
		anyAnswered = anyAnswered || answered
		errs = append(errs, fmt.Errorf("%s: %w", rt.name, err))
		if c.ctx.Err() != nil {
			break
		}
	}
	return nil, anyAnswered, errors.Join(errs...)
}

// connect opens a session over one route: authenticated WebSocket, pinned end-to-end TLS,
// then the multiplexer.
func (c *Client) connect(rt route) (*tunnelSession, bool, error) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(c.ctx, c.cfg.HandshakeTimeout)
	defer cancel()
	id := c.cfg.Identity.Load()
	conn, resp, err := dial.WebSocket(ctx, dial.Request{
		Addr:     rt.addr,
		Port:     rt.port,
		Path:     tunnel.PathClient,
		Query:    url.Values{tunnel.QueryServer: {c.self.Server.UUID}},
		Audience: rt.audience,
		Server:   c.self.Server.UUID,
		Identity: id,
		Roots:    c.cfg.Identity.Roots,
	}, c.cfg.WS)
	if err != nil {
		return nil, resp != nil, err
	}
	sessionID := resp.Header.Get(tunnel.HeaderSession)
	tconn := tls.Client(conn, tlsconf.Client(c.cfg.Identity.GetClientCertificate, c.cfg.Identity.Roots, c.self.Server.UUID, nil))
	if err := tconn.HandshakeContext(ctx); err != nil {
		_ = conn.Close()
		c.audit.Log(audit.AuthDeny, zap.String(audit.FieldSession, sessionID), zap.String("via", rt.name),
			zap.String(audit.FieldPeerUUID, c.self.Server.UUID), zap.String(audit.FieldDecision, "deny"),
			zap.String(audit.FieldReason, tunnel.CodeBadChain), zap.String(audit.FieldDetail, err.Error()))
		return nil, true, fmt.Errorf("end-to-end handshake (session %s): %w", sessionID, err)
	}
	mux, err := yamux.Client(tconn, tunnel.MuxConfig())
	if err != nil {
		_ = tconn.Close()
		return nil, true, fmt.Errorf("multiplexer: %w", err)
	}
	c.metrics.setupSeconds.Observe(time.Since(start).Seconds())
	c.audit.Log(audit.SessionOpen, zap.String(audit.FieldSession, sessionID), zap.String("via", rt.name),
		zap.String(audit.FieldPeerUUID, c.self.Server.UUID), zap.String(audit.FieldPeerName, c.self.Server.Name),
		zap.String(audit.FieldDecision, "allow"))
	c.log.Info("session established", zap.String("session", sessionID), zap.String("via", rt.name),
		zap.Duration("setup", time.Since(start)))
	return &tunnelSession{id: sessionID, via: rt.name, mux: mux, since: c.cfg.Now()}, true, nil
}

func (c *Client) publish(s *tunnelSession) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.current = s
	c.lastErr = nil
	close(c.changed)
	c.changed = make(chan struct{})
	c.metrics.sessionsActive.Set(1)
}

func (c *Client) unpublish(s *tunnelSession) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.current == s {
		c.current = nil
		close(c.changed)
		c.changed = make(chan struct{})
		c.metrics.sessionsActive.Set(0)
	}
}

func (c *Client) setErr(err error) {
	c.mu.Lock()
	c.lastErr = err
	c.mu.Unlock()
}

// session returns a live session, waiting up to WaitSession for one.
func (c *Client) session(ctx context.Context) (*tunnelSession, error) {
	timer := time.NewTimer(c.cfg.WaitSession)
	defer timer.Stop()
	for {
		c.mu.Lock()
		cur, changed, lastErr := c.current, c.changed, c.lastErr
		c.mu.Unlock()
		if cur != nil && !cur.mux.IsClosed() {
			return cur, nil
		}
		select {
		case <-changed:
		case <-timer.C:
			if lastErr != nil {
				return nil, fmt.Errorf("no session to the server after %s: %w", c.cfg.WaitSession, lastErr)
			}
			return nil, fmt.Errorf("no session to the server after %s", c.cfg.WaitSession)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func (c *Client) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-c.ctx.Done():
		return false
	}
}
