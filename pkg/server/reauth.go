package server

import (
	"crypto"
	"crypto/x509"
	"time"

	"go.uber.org/zap"

	"github.com/sentinel-zt/sentinel/pkg/audit"
	"github.com/sentinel-zt/sentinel/pkg/tlsconf"
	"github.com/sentinel-zt/sentinel/pkg/tunnel"
)

// renewalDue reports whether a session's certificate is in the last quarter of its life:
// clients renew at two thirds, so by now a renewed certificate should be there to take.
func renewalDue(leaf *x509.Certificate, now time.Time) bool {
	life := leaf.NotAfter.Sub(leaf.NotBefore)
	return !now.Before(leaf.NotBefore.Add(life * 3 / 4))
}

// reauthRetry is how long to wait before asking again when the client had nothing newer.
func reauthRetry(leaf *x509.Certificate) time.Duration {
	return max(leaf.NotAfter.Sub(leaf.NotBefore)/24, time.Second)
}

// reauth asks the client for its current certificate and, if it is a renewal of the
// session's (same key, same identity, still admitted), runs the session on it from now on.
// A session whose certificate is never renewed ends when it expires.
func (s *Server) reauth(ss *session) {
	st, err := ss.mux.OpenStream()
	if err != nil {
		return
	}
	defer st.Close()
	_ = st.SetDeadline(time.Now().Add(10 * time.Second))
	if err := tunnel.WriteNotice(st, tunnel.NoticeReauth); err != nil {
		return
	}
	chain, err := tunnel.ReadCertChain(st)
	if err != nil {
		s.log.Debug("no certificate from client on reauth", zap.String("session", ss.id), zap.Error(err))
		return
	}
	old := ss.credential()
	if chain[0].Equal(old.leaf) {
		return // not renewed yet; asked again later
	}
	cred, err := s.verifyRenewal(old, chain)
	if err != nil {
		s.metrics.authFailures.WithLabelValues(tunnel.DenyCode(err, tunnel.CodeBadChain)).Inc()
		s.audit.Log(audit.AuthDeny, s.peerFields(ss.id, ss.via, chain[0], old.client,
			zap.String(audit.FieldDecision, "deny"), zap.String(audit.FieldReason, tunnel.DenyCode(err, tunnel.CodeBadChain)),
			zap.String(audit.FieldDetail, "renewed certificate refused: "+err.Error()))...)
		return
	}
	ss.cred.Store(cred)
	s.audit.Log(audit.SessionReauth, s.peerFields(ss.id, ss.via, cred.leaf, cred.client,
		zap.String(audit.FieldDecision, "allow"),
		zap.String("previous_serial", old.leaf.SerialNumber.Text(16)),
		zap.Time("expires", cred.leaf.NotAfter))...)
	s.log.Info("session runs on a renewed certificate", zap.String("session", ss.id), zap.Time("expires", cred.leaf.NotAfter))
}

// verifyRenewal accepts chain in place of old only if it is the same client with the same key
// (possession of which the session's handshake proved) and would be admitted now.
func (s *Server) verifyRenewal(old *credential, chain []*x509.Certificate) (*credential, error) {
	leaf, attrs, err := tlsconf.VerifyClientChain(chain, s.cfg.Identity.Roots())
	if err != nil {
		return nil, err
	}
	pub, ok := leaf.PublicKey.(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(old.leaf.PublicKey) {
		return nil, tunnel.Deny(403, tunnel.CodeNotAllowed, "a different key than the session's")
	}
	if attrs.Client.UUID != old.client.UUID {
		return nil, tunnel.Deny(403, tunnel.CodeNotAllowed, "client %s, not the session's %s", attrs.Client.UUID, old.client.UUID)
	}
	if err := s.admit(leaf, attrs); err != nil {
		return nil, err
	}
	if !leaf.NotAfter.After(old.leaf.NotAfter) {
		return nil, tunnel.Deny(403, tunnel.CodeNotAllowed, "expires no later than the session's certificate")
	}
	return &credential{leaf: leaf, client: attrs.Client}, nil
}
