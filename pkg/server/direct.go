package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"

	"go.uber.org/zap"

	"github.com/sentinel-zt/sentinel/pkg/audit"
	"github.com/sentinel-zt/sentinel/pkg/certattrs"
	"github.com/sentinel-zt/sentinel/pkg/tlsconf"
	"github.com/sentinel-zt/sentinel/pkg/token"
	"github.com/sentinel-zt/sentinel/pkg/tunnel"
	"github.com/sentinel-zt/sentinel/pkg/wsconn"
)

// serveDirect accepts clients' WebSockets on ln, for networks where clients can reach the
// server: the same token check a relay makes, then the same end-to-end session.
func (s *Server) serveDirect(ln net.Listener) error {
	replay := token.NewReplayCache(1 << 16)
	upgrader := wsconn.Upgrader()
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+tunnel.PathHealthz, func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET "+tunnel.PathClient, func(w http.ResponseWriter, req *http.Request) {
		if _, err := s.verifyDirect(req, replay); err != nil {
			s.denyDirect(w, req, err)
			return
		}
		sessionID := tunnel.NewSessionID()
		ws, err := upgrader.Upgrade(w, req, http.Header{tunnel.HeaderSession: {sessionID}})
		if err != nil {
			return
		}
		done := make(chan struct{})
		if !s.goTracked(func() {
			defer close(done)
			s.serveSession(wsconn.New(ws, s.cfg.WS), sessionID, "direct", nil)
		}) {
			_ = ws.Close()
			return
		}
		<-done
	})
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: s.cfg.HandshakeTimeout,
		MaxHeaderBytes:    12 << 10, // + net/http's 4 KiB of slop = 16 KiB, as at the relay
		BaseContext:       func(net.Listener) context.Context { return s.ctx },
		ErrorLog:          zap.NewStdLog(s.log.Named("http").WithOptions(zap.IncreaseLevel(zap.WarnLevel))),
	}
	stop := context.AfterFunc(s.links, func() { _ = srv.Close() })
	defer stop()
	s.log.Info("direct listener serving", zap.String("addr", ln.Addr().String()))
	err := srv.Serve(wsconn.NewBatchedTLSListener(ln, tlsconf.Listener(s.cfg.Identity.GetCertificate)))
	if errors.Is(err, http.ErrServerClosed) || s.links.Err() != nil {
		return nil
	}
	return fmt.Errorf("direct listener: %w", err)
}

func (s *Server) verifyDirect(req *http.Request, replay *token.ReplayCache) (*token.Verified, error) {
	tok, ok := strings.CutPrefix(req.Header.Get("Authorization"), "Bearer ")
	if !ok || tok == "" {
		return nil, tunnel.Deny(http.StatusUnauthorized, tunnel.CodeBadToken, "missing bearer token")
	}
	v := &token.Verifier{
		Roots:    s.cfg.Identity.Roots(),
		Audience: s.self.UUID,
		Now:      s.cfg.Now,
		Revoked:  s.cfg.Revoked.Revoked,
		Replay:   replay,
	}
	got, err := v.Verify(tok, certattrs.RoleClient)
	if err != nil {
		return got, err
	}
	asked := req.URL.Query().Get(tunnel.QueryServer)
	if asked != got.Claims.Server || asked != s.self.UUID || got.Attrs.Client.Server.UUID != s.self.UUID {
		return got, tunnel.Deny(http.StatusForbidden, tunnel.CodeNotAllowed, "client certificate is not for this server")
	}
	return got, nil
}

func (s *Server) denyDirect(w http.ResponseWriter, req *http.Request, err error) {
	var d *tunnel.DenyError
	if !errors.As(err, &d) {
		d = tunnel.Deny(http.StatusInternalServerError, tunnel.CodeInternal, "%v", err)
	}
	s.metrics.authFailures.WithLabelValues(d.Code).Inc()
	s.audit.Log(audit.AuthDeny,
		zap.String("via", "direct"),
		zap.String(audit.FieldRemoteAddr, req.RemoteAddr),
		zap.String(audit.FieldDecision, "deny"),
		zap.String(audit.FieldReason, d.Code),
		zap.String(audit.FieldDetail, d.Reason))
	w.Header().Set(tunnel.HeaderDeny, d.Code)
	http.Error(w, d.Error(), d.Status)
}
