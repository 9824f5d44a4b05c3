package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/yamux"
	"go.uber.org/zap"

	"github.com/sentinel-zt/sentinel/pkg/audit"
	"github.com/sentinel-zt/sentinel/pkg/certattrs"
	"github.com/sentinel-zt/sentinel/pkg/tlsconf"
	"github.com/sentinel-zt/sentinel/pkg/tunnel"
)

// session is one end-to-end TLS session with a client.
type session struct {
	id      string
	via     string // relay name, or "direct"
	cred    atomic.Pointer[credential]
	started time.Time
	mux     *yamux.Session
	streams atomic.Int64

	closeOnce   sync.Once
	drainOnce   sync.Once
	reason      string       // why the server ended it, for the audit trail
	stopOnClose func() bool  // unhooks the session from the server's shutdown
	nextReauth  atomic.Int64 // unix nanoseconds before which no renewal is asked for
}

// credential is the client certificate a session runs on: the one of its handshake, or a
// renewal of it handed over later (same key).
type credential struct {
	leaf   *x509.Certificate
	client *certattrs.Client
}

func (ss *session) credential() *credential { return ss.cred.Load() }

// end closes the session for reason; the first reason wins.
func (ss *session) end(reason string) {
	ss.closeOnce.Do(func() {
		ss.reason = reason
		_ = ss.mux.Close()
	})
}

// drain tells the client to open new streams elsewhere: a notice on a stream the server opens,
// then a GoAway so no stream can race it. Open streams carry on.
func (s *Server) drain(ss *session) {
	ss.drainOnce.Do(func() {
		s.goTracked(func() {
			if st, err := ss.mux.OpenStream(); err == nil {
				_ = st.SetWriteDeadline(time.Now().Add(5 * time.Second))
				_ = tunnel.WriteNotice(st, tunnel.NoticeDrain)
				_ = st.Close()
			}
			_ = ss.mux.GoAway()
			s.log.Info("asked client to move", zap.String("session", ss.id), zap.String("client", ss.credential().client.Name))
		})
	})
}

// serveSession runs the end-to-end TLS session over conn and serves its streams until it ends.
// handshakeDone, if not nil, is called as soon as the handshake is over.
func (s *Server) serveSession(conn net.Conn, id, via string, handshakeDone func()) {
	defer conn.Close()
	start := time.Now()
	var denied error           // the policy refusal, if the handshake failed on it
	var deniedPeer []zap.Field // who was refused, for the audit trail
	cfg := tlsconf.Server(s.cfg.Identity.GetCertificate, s.cfg.Identity.Roots, func(leaf *x509.Certificate, attrs certattrs.Attrs) error {
		denied = s.admit(leaf, attrs)
		if denied != nil && attrs.Client != nil {
			deniedPeer = s.peerFields(id, via, leaf, attrs.Client)
		}
		return denied
	})
	tconn := tls.Server(conn, cfg)
	ctx, cancel := context.WithTimeout(s.ctx, s.cfg.HandshakeTimeout)
	err := tconn.HandshakeContext(ctx)
	cancel()
	if handshakeDone != nil {
		handshakeDone()
	}
	if err != nil {
		code, detail := tunnel.DenyCode(err, tunnel.CodeBadChain), err.Error()
		if denied != nil {
			code = tunnel.DenyCode(denied, tunnel.CodeNotAllowed)
		} else if errors.Is(ctx.Err(), context.DeadlineExceeded) && s.ctx.Err() == nil {
			// A timeout, not any failure: cancel() has run, so ctx.Err() alone is never nil.
			code = tunnel.CodeBadRequest
			detail = "end-to-end handshake timed out"
		}
		s.metrics.authFailures.WithLabelValues(code).Inc()
		if deniedPeer == nil {
			deniedPeer = []zap.Field{zap.String(audit.FieldSession, id), zap.String("via", via)}
		}
		s.audit.Log(audit.AuthDeny, append(deniedPeer,
			zap.String(audit.FieldRemoteAddr, conn.RemoteAddr().String()),
			zap.String(audit.FieldDecision, "deny"),
			zap.String(audit.FieldReason, code),
			zap.String(audit.FieldDetail, detail))...)
		_ = tconn.Close()
		return
	}
	leaf := tconn.ConnectionState().PeerCertificates[0]
	attrs, err := certattrs.Decode(leaf)
	if err != nil || attrs.Client == nil { // admitted moments ago: cannot happen
		_ = tconn.Close()
		return
	}
	serial := leaf.SerialNumber.Text(16)
	if !s.acquireCert(serial) {
		s.metrics.authFailures.WithLabelValues(tunnel.CodeLimit).Inc()
		s.audit.Log(audit.AuthDeny, s.peerFields(id, via, leaf, attrs.Client,
			zap.String(audit.FieldDecision, "deny"), zap.String(audit.FieldReason, tunnel.CodeLimit),
			zap.String(audit.FieldDetail, "certificate holds its maximum of sessions"))...)
		_ = tconn.Close()
		return
	}
	defer s.releaseCert(serial)

	mux, err := yamux.Server(tunnel.MuxTransport(tconn, conn), tunnel.MuxConfig())
	if err != nil {
		_ = tconn.Close()
		return
	}
	ss := &session{id: id, via: via, started: s.cfg.Now(), mux: mux}
	ss.cred.Store(&credential{leaf: leaf, client: attrs.Client})
	if !s.addSession(ss) {
		_ = mux.Close()
		return
	}
	defer s.removeSession(ss)
	s.metrics.setupSeconds.Observe(time.Since(start).Seconds())
	remote := audit.RemoteAddr(conn.RemoteAddr().String()) // the relay's address, or the client's when direct
	s.audit.Log(audit.SessionOpen, s.peerFields(id, via, leaf, attrs.Client, remote,
		zap.String(audit.FieldDecision, "allow"))...)
	s.log.Info("session open", zap.String("session", id), zap.String("client", attrs.Client.Name), zap.String("via", via))

	for {
		stream, err := mux.AcceptStream()
		if err != nil {
			break
		}
		if !s.goTracked(func() { s.serveStream(ss, stream) }) {
			_ = stream.Close()
			break
		}
	}
	ss.end("closed")
	s.audit.Log(audit.SessionClose, s.peerFields(id, via, leaf, attrs.Client, remote,
		zap.String(audit.FieldReason, ss.reason),
		audit.Duration(s.cfg.Now().Sub(ss.started)))...)
	s.log.Info("session closed", zap.String("session", id), zap.String("reason", ss.reason))
}

// admit is the server's policy for a client certificate that chains to the CA: it must be
// issued for this server, not revoked, and inside its schedule now.
func (s *Server) admit(leaf *x509.Certificate, attrs certattrs.Attrs) error {
	c := attrs.Client
	if c == nil {
		return tunnel.Deny(http.StatusForbidden, tunnel.CodeWrongRole, "certificate role is %q, not client", attrs.Role())
	}
	if c.Server.UUID != s.self.UUID {
		return tunnel.Deny(http.StatusForbidden, tunnel.CodeNotAllowed, "client certificate is for server %s, not this one", c.Server.UUID)
	}
	if s.cfg.Revoked.Revoked(leaf) {
		return tunnel.Deny(http.StatusUnauthorized, tunnel.CodeRevoked, "client certificate %s is revoked", leaf.SerialNumber.Text(16))
	}
	if !c.Schedule.Allows(s.cfg.Now()) {
		return tunnel.Deny(http.StatusForbidden, tunnel.CodeSchedule, "outside the certificate's schedule")
	}
	return nil
}

func (s *Server) peerFields(id, via string, leaf *x509.Certificate, c *certattrs.Client, extra ...zap.Field) []zap.Field {
	f := []zap.Field{
		zap.String(audit.FieldSession, id),
		zap.String("via", via),
		zap.String(audit.FieldPeerRole, string(certattrs.RoleClient)),
		zap.String(audit.FieldPeerUUID, c.UUID),
		zap.String(audit.FieldPeerName, c.Name),
		zap.String(audit.FieldSerial, leaf.SerialNumber.Text(16)),
	}
	if c.User != "" {
		f = append(f, zap.String(audit.FieldUser, c.User))
	}
	if len(c.Groups) > 0 {
		f = append(f, zap.Strings(audit.FieldGroups, c.Groups))
	}
	return append(f, extra...)
}

func (s *Server) acquireCert(serial string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.perCert[serial] >= s.cfg.MaxSessionsPerCert {
		return false
	}
	s.perCert[serial]++
	return true
}

func (s *Server) releaseCert(serial string) {
	s.mu.Lock()
	if s.perCert[serial]--; s.perCert[serial] <= 0 {
		delete(s.perCert, serial)
	}
	s.mu.Unlock()
}

func (s *Server) addSession(ss *session) bool {
	if s.life.Closing() {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.sessions[ss.id]; dup {
		// A relay that reuses a live session id would otherwise replace the first session in
		// this registry and so hide it from revocation and schedule enforcement.
		s.metrics.authFailures.WithLabelValues(tunnel.CodeBadSession).Inc()
		cred := ss.credential()
		s.audit.Log(audit.AuthDeny, s.peerFields(ss.id, ss.via, cred.leaf, cred.client,
			zap.String(audit.FieldDecision, "deny"), zap.String(audit.FieldReason, tunnel.CodeBadSession),
			zap.String(audit.FieldDetail, "session id already in use"))...)
		return false
	}
	s.sessions[ss.id] = ss
	s.metrics.sessionsActive.Inc()
	s.metrics.sessionsTotal.Inc()
	ss.stopOnClose = context.AfterFunc(s.ctx, func() { ss.end("shutdown") })
	return true
}

func (s *Server) removeSession(ss *session) {
	ss.stopOnClose()
	s.mu.Lock()
	if s.sessions[ss.id] == ss {
		delete(s.sessions, ss.id)
	}
	s.mu.Unlock()
	s.metrics.sessionsActive.Dec()
}

// liveSessions snapshots the sessions.
func (s *Server) liveSessions() []*session {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*session, 0, len(s.sessions))
	for _, ss := range s.sessions {
		out = append(out, ss)
	}
	return out
}

// watchRevocations ends sessions whose client certificate a CRL update revoked.
func (s *Server) watchRevocations() {
	if s.cfg.Revoked == nil {
		return
	}
	updates, unsubscribe := s.cfg.Revoked.Subscribe()
	defer unsubscribe()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-updates:
			for _, ss := range s.liveSessions() {
				if cred := ss.credential(); s.cfg.Revoked.Revoked(cred.leaf) {
					s.audit.Log(audit.RevokedKill, s.peerFields(ss.id, ss.via, cred.leaf, cred.client,
						zap.String(audit.FieldReason, tunnel.CodeRevoked))...)
					ss.end(tunnel.CodeRevoked)
				}
			}
		}
	}
}

// enforceSchedules ends sessions (and so their streams) whose schedule window has closed or
// whose client certificate has expired.
func (s *Server) enforceSchedules() {
	t := time.NewTicker(s.cfg.CheckInterval)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
			now := s.cfg.Now()
			for _, ss := range s.liveSessions() {
				cred := ss.credential()
				switch {
				case cred.client.Schedule != nil && !cred.client.Schedule.Allows(now):
					ss.end(tunnel.CodeSchedule)
				case now.After(cred.leaf.NotAfter):
					ss.end(tunnel.CodeExpired) // admitted while valid, not for longer
				case renewalDue(cred.leaf, now) && now.UnixNano() >= ss.nextReauth.Load():
					ss.nextReauth.Store(now.Add(reauthRetry(cred.leaf)).UnixNano())
					s.goTracked(func() { s.reauth(ss) })
				}
			}
		}
	}
}
