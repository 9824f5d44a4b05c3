package relay

import (
	"context"

	"go.uber.org/zap"

	"github.com/sentinel-zt/sentinel/pkg/audit"
	"github.com/sentinel-zt/sentinel/pkg/tunnel"
)

// watchRevocations closes live sessions and control channels whose certificate a CRL update
// revoked, until ctx ends.
func (r *Relay) watchRevocations(ctx context.Context) {
	if r.cfg.Revoked == nil {
		return
	}
	updates, unsubscribe := r.cfg.Revoked.Subscribe()
	defer unsubscribe()
	for {
		select {
		case <-ctx.Done():
			return
		case <-updates:
			r.killRevoked()
		}
	}
}

func (r *Relay) killRevoked() {
	revoked := r.cfg.Revoked.Revoked
	revokedSerial := r.cfg.Revoked.RevokedSerial
	var sessions []*session
	var controls []*control
	r.mu.Lock()
	for _, s := range r.sessions {
		if revokedSerial(s.clientSerial) || revokedSerial(s.serverSerial) {
			sessions = append(sessions, s)
		}
	}
	for _, list := range r.controls {
		for _, c := range list {
			if revoked(c.leaf) {
				controls = append(controls, c)
			}
		}
	}
	r.mu.Unlock()
	for _, s := range sessions {
		who, serial, name := "client", s.clientSerial, s.clientName
		if !revokedSerial(s.clientSerial) {
			who, serial, name = "server", s.serverSerial, s.serverName
		}
		r.audit.Log(audit.RevokedKill,
			zap.String(audit.FieldSession, s.id),
			zap.String(audit.FieldPeerRole, who),
			zap.String(audit.FieldSerial, serial.Text(16)),
			zap.String(audit.FieldPeerName, name),
			zap.String(audit.FieldReason, tunnel.CodeRevoked))
		s.cancel()
	}
	for _, c := range controls {
		r.audit.Log(audit.RevokedKill,
			zap.String(audit.FieldPeerRole, "server"),
			zap.String(audit.FieldPeerUUID, c.serverUUID),
			zap.String(audit.FieldPeerName, c.serverName),
			zap.String(audit.FieldSerial, c.leaf.SerialNumber.Text(16)),
			zap.String(audit.FieldReason, tunnel.CodeRevoked))
		_ = c.conn.Close()
	}
}
