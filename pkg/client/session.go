package client

import (
	"cmp"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sync"
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
	rank  int    // index of its route in routes(): 0 is the preferred one
	mux   *yamux.Session
	since time.Time

	drainOnce sync.Once
	draining  chan struct{} // closed when the server asks us to move
	closeOnce sync.Once
}

func (s *tunnelSession) markDraining() { s.drainOnce.Do(func() { close(s.draining) }) }

func (s *tunnelSession) isDraining() bool {
	select {
	case <-s.draining:
		return true
	default:
		return false
	}
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

// maintain keeps a session up until the client closes: connect with backoff, then hold the
// session until it is lost, drained by the server, or replaced by a better route.
func (c *Client) maintain() {
	refused := c.cfg.Backoff
	unreachable := backoff.Backoff{Min: refused.Min, Max: c.cfg.UnreachableMax}
	routes := c.routes()
	var sess *tunnelSession
	var pending <-chan *tunnelSession // a failback attempt still under way
	last := -1                        // rank of the route whose session was just lost or drained
	for c.ctx.Err() == nil {
		if sess == nil && pending != nil {
			// A failback attempt was under way when the session went; reconnecting (all routes,
			// staggered) does not wait for it, and whatever it yields is let go.
			c.discard(pending)
			pending = nil
		}
		if sess == nil {
			var anyFinal bool
			var err error
			sess, anyFinal, err = c.connectAny(routes, len(routes), last)
			last = -1
			if err != nil {
				c.setErr(err)
				delay := unreachable.Next()
				if anyFinal {
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
		}
		rank := sess.rank
		if sess, pending = c.hold(sess, routes); sess == nil {
			last = rank
		}
	}
	if pending != nil {
		c.discard(pending)
	}
}

// discard closes the session a superseded attempt yields, if any, when it comes.
func (c *Client) discard(pending <-chan *tunnelSession) {
	drain := func() {
		if s := <-pending; s != nil {
			c.endSession(s, "superseded")
		}
	}
	if !c.goTracked(drain) {
		drain() // closing: the attempt's context is cancelled, so it answers at once
	}
}

// hold watches the current session. It returns the session to hold next (a better one it
// failed back to, or nil when the current one was lost or drained) and, if a failback attempt
// is still under way, the channel its result will come on. Attempts run aside so that a
// preferred relay that hangs never delays noticing that the current session is gone.
func (c *Client) hold(sess *tunnelSession, routes []route) (*tunnelSession, <-chan *tunnelSession) {
	var failback <-chan time.Time
	if sess.rank > 0 {
		t := time.NewTicker(c.cfg.FailbackInterval)
		defer t.Stop()
		failback = t.C
	}
	var attempt chan *tunnelSession
	for {
		select {
		case <-c.ctx.Done():
			c.unpublish(sess)
			c.endSession(sess, "shutdown")
			return nil, attempt
		case <-sess.mux.CloseChan():
			c.unpublish(sess)
			c.endSession(sess, "lost")
			c.metrics.reconnects.Inc()
			c.log.Warn("session lost, reconnecting", zap.String("session", sess.id), zap.String("via", sess.via))
			return nil, attempt
		case <-sess.draining:
			c.unpublish(sess)
			c.retire(sess, "drained")
			c.metrics.reconnects.Inc()
			c.log.Info("server asked to move, reconnecting", zap.String("session", sess.id), zap.String("via", sess.via))
			return nil, attempt
		case <-failback:
			if attempt != nil {
				continue // the last attempt is still trying
			}
			ch, rank := make(chan *tunnelSession, 1), sess.rank
			if !c.goTracked(func() {
				better, _, err := c.connectAny(routes, rank, -1)
				if err != nil {
					c.log.Debug("preferred route still unavailable", zap.Error(err))
				}
				ch <- better
			}) {
				continue
			}
			attempt = ch
		case better := <-attempt:
			attempt = nil
			if better == nil {
				continue
			}
			c.publish(better)
			c.retire(sess, "failback")
			c.log.Info("moved back to a preferred route", zap.String("from", sess.via), zap.String("to", better.via))
			return better, nil
		}
	}
}

// retire lets a replaced session carry its open streams to their end, then closes it.
func (c *Client) retire(sess *tunnelSession, reason string) {
	c.goTracked(func() {
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for sess.mux.NumStreams() > 0 {
			select {
			case <-t.C:
			case <-sess.mux.CloseChan():
			case <-c.ctx.Done():
				c.endSession(sess, "shutdown")
				return
			}
			if sess.mux.IsClosed() {
				break
			}
		}
		c.endSession(sess, reason)
	})
}

// endSession closes a session and records it, once.
func (c *Client) endSession(sess *tunnelSession, reason string) {
	sess.closeOnce.Do(func() {
		_ = sess.mux.Close()
		c.audit.Log(audit.SessionClose, zap.String(audit.FieldSession, sess.id), zap.String("via", sess.via),
			zap.String(audit.FieldPeerUUID, c.self.Server.UUID), zap.String(audit.FieldPeerName, c.self.Server.Name),
			zap.String(audit.FieldReason, reason),
			audit.Duration(c.cfg.Now().Sub(sess.since)))
	})
}

// routeStagger is how long a route may stay silent before the next one is tried alongside it.
// A healthy relay answers in milliseconds; one that hangs (frozen, or blackholed behind a
// live proxy) would otherwise cost a whole handshake timeout.
const routeStagger = time.Second

// connectAny tries routes[:limit] in tryOrder, starting the next one when the previous fails
// or has not answered within routeStagger; the first session established wins and the
// attempts still running are cancelled. anyFinal reports whether some route refused us for
// good (401/403) rather than being unreachable or busy.
func (c *Client) connectAny(routes []route, limit, last int) (sess *tunnelSession, anyFinal bool, err error) {
	type result struct {
		sess  *tunnelSession
		final bool
		err   error
		name  string
	}
	order := tryOrder(limit, last)
	ctx, cancel := context.WithCancel(c.ctx)
	defer cancel()
	results := make(chan result, len(order))
	running := 0
	start := func() {
		rank := order[0]
		order = order[1:]
		rt := routes[rank]
		running++
		if !c.goTracked(func() {
			s, final, err := c.connect(ctx, rt, rank)
			results <- result{s, final, err, rt.name}
		}) {
			results <- result{err: errors.New("client closing"), name: rt.name}
		}
	}
	stagger := time.NewTimer(routeStagger)
	defer stagger.Stop()
	var errs []error
	for len(order) > 0 || running > 0 {
		if running == 0 {
			start()
			stagger.Reset(routeStagger)
		}
		select {
		case r := <-results:
			running--
			switch {
			case r.err == nil && sess == nil:
				sess = r.sess
				cancel() // the others lose; they report back below
				order = nil
			case r.err == nil:
				c.endSession(r.sess, "superseded") // a slower route answered too
			default:
				anyFinal = anyFinal || r.final
				errs = append(errs, fmt.Errorf("%s: %w", r.name, r.err))
			}
		case <-stagger.C:
			if len(order) > 0 && sess == nil {
				start()
				stagger.Reset(routeStagger)
			}
		}
	}
	if sess != nil {
		return sess, false, nil
	}
	return nil, anyFinal, errors.Join(errs...)
}

// tryOrder lists the ranks 0..limit-1 in order, except last (if in range), which comes after
// the others: the route whose session just failed. So the client moves to the next route in
// sort order at once, and a relay that hangs rather than refusing (frozen, or blackholed
// behind a live proxy) costs no handshake timeout before the failover; failback returns to
// it later.
func tryOrder(limit, last int) []int {
	order := make([]int, 0, limit)
	for rank := range limit {
		if rank != last {
			order = append(order, rank)
		}
	}
	if last >= 0 && last < limit {
		order = append(order, last)
	}
	return order
}

// connect opens a session over one route: authenticated WebSocket, pinned end-to-end TLS,
// then the multiplexer. final reports a refusal worth a long backoff.
func (c *Client) connect(parent context.Context, rt route, rank int) (sess *tunnelSession, final bool, err error) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(parent, c.cfg.HandshakeTimeout)
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
		return nil, resp != nil && tunnel.RefusalIsFinal(resp.StatusCode), err
	}
	sessionID := resp.Header.Get(tunnel.HeaderSession)
	// Pinned TLS 1.3, the multiplexer, and a ping that proves the server accepted us (in TLS
	// 1.3 our handshake completes before the server has judged our certificate).
	mux, err := tunnel.OpenClientSession(ctx, conn,
		tlsconf.Client(c.cfg.Identity.GetClientCertificate, c.cfg.Identity.Roots, c.self.Server.UUID, c.checkServer))
	if err != nil {
		var open *tunnel.OpenError
		if !errors.As(err, &open) {
			return nil, false, err // the multiplexer did not start
		}
		if errors.Is(err, tunnel.ErrHandshake) {
			c.audit.Log(audit.AuthDeny, zap.String(audit.FieldSession, sessionID), zap.String("via", rt.name),
				zap.String(audit.FieldPeerUUID, c.self.Server.UUID), zap.String(audit.FieldDecision, "deny"),
				zap.String(audit.FieldReason, tunnel.DenyCode(open.Err, tunnel.CodeBadChain)), zap.String(audit.FieldDetail, open.Err.Error()))
			return nil, true, fmt.Errorf("end-to-end handshake (session %s): %w", sessionID, open.Err)
		}
		c.audit.Log(audit.AuthDeny, zap.String(audit.FieldSession, sessionID), zap.String("via", rt.name),
			zap.String(audit.FieldPeerUUID, c.self.Server.UUID), zap.String(audit.FieldDecision, "deny"),
			zap.String(audit.FieldReason, tunnel.CodeNotAllowed), zap.String(audit.FieldDetail, "server refused our certificate"))
		return nil, true, fmt.Errorf("session %s: the server refused our certificate (revoked, outside its schedule, or not issued for it): %w", sessionID, open.Err)
	}
	sess = &tunnelSession{id: sessionID, via: rt.name, rank: rank, mux: mux, since: c.cfg.Now(), draining: make(chan struct{})}
	if !c.goTracked(func() { c.acceptNotices(sess) }) {
		_ = mux.Close()
		return nil, false, errors.New("client closing")
	}
	c.metrics.setupSeconds.Observe(time.Since(start).Seconds())
	c.audit.Log(audit.SessionOpen, zap.String(audit.FieldSession, sessionID), zap.String("via", rt.name),
		zap.String(audit.FieldPeerUUID, c.self.Server.UUID), zap.String(audit.FieldPeerName, c.self.Server.Name),
		zap.String(audit.FieldDecision, "allow"))
	c.log.Info("session established", zap.String("session", sessionID), zap.String("via", rt.name),
		zap.Duration("setup", time.Since(start)))
	return sess, false, nil
}

// checkServer refuses a server certificate on the CRL, once the pin has matched.
func (c *Client) checkServer(leaf *x509.Certificate) error {
	if c.cfg.Revoked.Revoked(leaf) {
		return tunnel.Deny(http.StatusUnauthorized, tunnel.CodeRevoked, "server certificate %s is revoked", leaf.SerialNumber.Text(16))
	}
	return nil
}

// acceptNotices reads the notices the server sends on streams it opens, until the session ends.
func (c *Client) acceptNotices(sess *tunnelSession) {
	for {
		st, err := sess.mux.AcceptStream()
		if err != nil {
			return
		}
		_ = st.SetDeadline(time.Now().Add(5 * time.Second))
		notice, err := tunnel.ReadNotice(st)
		if err != nil {
			_ = st.Close()
			c.log.Debug("bad notice from server", zap.String("session", sess.id), zap.Error(err))
			continue
		}
		switch notice {
		case tunnel.NoticeDrain:
			sess.markDraining()
		case tunnel.NoticeReauth:
			// The server wants the certificate we hold now: a renewal extends the session.
			if err := tunnel.WriteCertChain(st, c.cfg.Identity.Load().Chain); err != nil {
				c.log.Debug("reauth answer not sent", zap.String("session", sess.id), zap.Error(err))
			}
		}
		_ = st.Close()
	}
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

// session returns a live session that is not draining, waiting up to WaitSession for one.
func (c *Client) session(ctx context.Context) (*tunnelSession, error) {
	timer := time.NewTimer(c.cfg.WaitSession)
	defer timer.Stop()
	for {
		c.mu.Lock()
		cur, changed, lastErr := c.current, c.changed, c.lastErr
		c.mu.Unlock()
		if cur != nil && !cur.mux.IsClosed() && !cur.isDraining() {
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
