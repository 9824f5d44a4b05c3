package caserver

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/smallstep/certificates/api"
	"github.com/smallstep/certificates/errs"
	"go.uber.org/zap"

	"github.com/sentinel-zt/sentinel/pkg/ca"
	"github.com/sentinel-zt/sentinel/pkg/certattrs"
	"github.com/sentinel-zt/sentinel/pkg/enrolltoken"
	"github.com/sentinel-zt/sentinel/pkg/tunnel"
)

// SignResponse is step-ca's answer to /sign and /renew: PEM certificates, leaf first.
type SignResponse struct {
	ServerPEM    string   `json:"crt"`
	CaPEM        string   `json:"ca"`
	CertChainPEM []string `json:"certChain"`
}

// ErrorResponse is step-ca's error body; Message starts with a refusal code ("token_used: ...").
type ErrorResponse struct {
	Status  int    `json:"status"`
	Message string `json:"message"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, detail string) {
	writeJSON(w, status, ErrorResponse{Status: status, Message: code + ": " + detail})
}

// writeErr renders a refusal of ours, a step-ca error or a tunnel.DenyError.
func writeErr(w http.ResponseWriter, err error) {
	var se *errs.Error
	var de *tunnel.DenyError
	switch {
	case errors.As(err, &de):
		writeError(w, de.Status, de.Code, de.Reason)
	case errors.As(err, &se):
		msg := se.Msg
		if msg == "" {
			msg = CodeInternal + ": " + http.StatusText(se.Status)
		}
		writeJSON(w, se.Status, ErrorResponse{Status: se.Status, Message: msg})
	default:
		writeError(w, http.StatusInternalServerError, CodeInternal, "see the CA's log")
	}
}

// sign is step-ca's /sign behind a first look at the token, so a token that is not an
// enrollment token of this CA is refused with a reason the device can act on (step-ca would
// only say it found no provisioner for it).
func (s *Server) sign(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxSignRequest+1))
	if err != nil || len(body) > maxSignRequest {
		writeError(w, http.StatusBadRequest, "bad_request", "unreadable or oversized request")
		return
	}
	var req struct {
		OTT string `json:"ott"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", "body is not JSON")
		return
	}
	c, err := enrolltoken.ParseUnverified(req.OTT)
	switch {
	case err != nil:
		writeError(w, http.StatusUnauthorized, CodeBadToken, err.Error())
		return
	case c.Fingerprint != s.fp:
		writeError(w, http.StatusUnauthorized, CodeWrongCA, fmt.Sprintf("the token is for the CA with root %.16s..., this one's is %.16s...", c.Fingerprint, s.fp))
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	api.Sign(w, r)
}

// maxSignRequest bounds a /sign body: a CSR and a token.
const maxSignRequest = 64 << 10

// renew renews the caller's certificate, proven by mTLS (clients and servers, whose
// certificates allow clientAuth) or by a token signed with the certificate's key (every
// role: relay certificates are serverAuth only, and step-ca's own token flow insists on
// clientAuth). The new certificate is the old one with a new validity and serial: same key,
// same attributes, same lifetime.
func (s *Server) renew(w http.ResponseWriter, r *http.Request) {
	var leaf *x509.Certificate
	switch {
	case r.TLS != nil && len(r.TLS.VerifiedChains) > 0:
		leaf = r.TLS.VerifiedChains[0][0]
	case strings.HasPrefix(r.Header.Get("Authorization"), "Bearer "):
		v, err := s.verifier.Verify(strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "),
			certattrs.RoleClient, certattrs.RoleServer, certattrs.RoleRelay)
		if err != nil {
			s.log.Info("renewal refused", zap.Error(err), zap.String("remote_addr", r.RemoteAddr))
			writeErr(w, err)
			return
		}
		leaf = v.Leaf
	default:
		writeError(w, http.StatusUnauthorized, CodeBadToken, "send the certificate (mTLS) or a Bearer token signed with its key")
		return
	}
	// The inventory decides for every certificate, also for offline ones that carry no
	// provisioner extension (step-ca would let those through its no-op provisioner).
	if err := checkRenewable(s.cfg.CA, leaf, s.cfg.Now()); err != nil {
		s.log.Info("renewal refused", zap.Error(err), zap.String("serial", ca.SerialString(leaf)))
		writeErr(w, err)
		return
	}
	chain, err := s.auth.RenewContext(r.Context(), leaf, nil)
	if err != nil {
		s.log.Warn("renewal failed", zap.Error(err), zap.String("serial", ca.SerialString(leaf)))
		writeErr(w, err)
		return
	}
	s.log.Info("renewed", zap.String("name", leaf.Subject.CommonName), zap.String("old_serial", ca.SerialString(leaf)),
		zap.String("serial", ca.SerialString(chain[0])), zap.Time("not_after", chain[0].NotAfter))
	writeJSON(w, http.StatusCreated, signResponse(chain))
}

func signResponse(chain []*x509.Certificate) SignResponse {
	var out SignResponse
	for i, c := range chain {
		p := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}))
		out.CertChainPEM = append(out.CertChainPEM, p)
		switch i {
		case 0:
			out.ServerPEM = p
		case 1:
			out.CaPEM = p
		}
	}
	return out
}

// serveCRL serves the inventory's CRL, signed anew when the revocations change or half of
// its validity has passed, with the CRL number as ETag.
func (s *Server) serveCRL(w http.ResponseWriter, r *http.Request) {
	crl, err := s.currentCRL()
	if err != nil {
		s.log.Error("crl", zap.Error(err))
		writeError(w, http.StatusInternalServerError, CodeInternal, "crl unavailable")
		return
	}
	etag := `"` + strconv.FormatInt(crl.Number, 10) + `"`
	w.Header().Set("ETag", etag)
	w.Header().Set("Last-Modified", crl.ThisUpdate.UTC().Format(http.TimeFormat))
	w.Header().Set("Cache-Control", "no-cache")
	if r.Header.Get("If-None-Match") == etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("Content-Type", "application/pkix-crl")
	_, _ = w.Write(crl.DER)
}

func (s *Server) currentCRL() (*ca.CRL, error) {
	s.crlMu.Lock()
	defer s.crlMu.Unlock()
	state, err := s.cfg.CA.RevocationState()
	if err != nil {
		return nil, err
	}
	now := s.cfg.Now()
	if s.crl != nil && state == s.crlState && now.Before(s.crl.ThisUpdate.Add(s.crl.NextUpdate.Sub(s.crl.ThisUpdate)/2)) {
		return s.crl, nil
	}
	crl, err := s.cfg.CA.CRL(ca.CRLOptions{})
	if err != nil {
		return nil, err
	}
	s.crl, s.crlState = crl, state
	return crl, nil
}

// ---- admin

type adminKey struct{}

// requireAdmin admits requests whose TLS client certificate is a live admin certificate.
func (s *Server) requireAdmin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 {
			writeError(w, http.StatusUnauthorized, CodeNotAdmin, "admin endpoints need an admin certificate (backend ca admin)")
			return
		}
		name, err := s.cfg.CA.CheckAdmin(r.TLS.VerifiedChains[0][0])
		if err != nil {
			s.log.Info("admin request refused", zap.Error(err), zap.String("remote_addr", r.RemoteAddr))
			writeError(w, http.StatusForbidden, CodeNotAdmin, err.Error())
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), adminKey{}, name)))
	})
}

func adminName(r *http.Request) string { n, _ := r.Context().Value(adminKey{}).(string); return n }

func (s *Server) adminInventory(w http.ResponseWriter, r *http.Request) {
	role := certattrs.Role(r.URL.Query().Get("role"))
	recs, err := s.cfg.CA.List(ca.Filter{Role: role, Name: r.URL.Query().Get("name")})
	if err != nil {
		s.log.Error("inventory", zap.Error(err))
		writeError(w, http.StatusInternalServerError, CodeInternal, "inventory unavailable")
		return
	}
	if recs == nil {
		recs = []ca.Record{}
	}
	writeJSON(w, http.StatusOK, recs)
}

func (s *Server) adminTokens(w http.ResponseWriter, r *http.Request) {
	toks, err := s.cfg.CA.Tokens()
	if err != nil {
		s.log.Error("tokens", zap.Error(err))
		writeError(w, http.StatusInternalServerError, CodeInternal, "inventory unavailable")
		return
	}
	if toks == nil {
		toks = []ca.TokenRecord{}
	}
	writeJSON(w, http.StatusOK, toks)
}

// TokenRequest is the body of POST /sentinel/v1/tokens.
type TokenRequest struct {
	Role      certattrs.Role `json:"role"`
	Name      string         `json:"name"`
	Spec      ca.TokenSpec   `json:"spec"`
	TTL       string         `json:"ttl,omitempty"` // Go duration; "" = 10m
	Uses      int            `json:"uses,omitempty"`
	Ephemeral bool           `json:"ephemeral,omitempty"`
}

// TokenResponse answers it.
type TokenResponse struct {
	Token    string         `json:"token"`
	Record   ca.TokenRecord `json:"record"`
	Warnings []string       `json:"warnings,omitempty"`
}

func (s *Server) adminNewToken(w http.ResponseWriter, r *http.Request) {
	var req TokenRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", "body: "+err.Error())
		return
	}
	var ttl time.Duration
	if req.TTL != "" {
		d, err := time.ParseDuration(req.TTL)
		if err != nil {
			writeError(w, http.StatusBadRequest, "bad_request", "ttl: "+err.Error())
			return
		}
		ttl = d
	}
	tok, err := s.cfg.CA.NewToken(ca.TokenRequest{Role: req.Role, Name: req.Name, Spec: req.Spec, TTL: ttl, Uses: req.Uses, Ephemeral: req.Ephemeral})
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", err.Error())
		return
	}
	s.log.Info("enrollment token made", zap.String("admin", adminName(r)), zap.String("token", tok.Record.ID),
		zap.String("role", string(tok.Record.Role)), zap.String("name", tok.Record.Name))
	writeJSON(w, http.StatusCreated, TokenResponse{Token: tok.JWT, Record: tok.Record, Warnings: tok.Warnings})
}

// RevokeRequest is the body of POST /sentinel/v1/revoke.
type RevokeRequest struct {
	Ref    string         `json:"ref"` // name or serial
	Reason string         `json:"reason,omitempty"`
	Role   certattrs.Role `json:"role,omitempty"`
}

func (s *Server) adminRevoke(w http.ResponseWriter, r *http.Request) {
	var req RevokeRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 16<<10)).Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", "body: "+err.Error())
		return
	}
	recs, err := s.cfg.CA.Revoke(req.Ref, ca.RevokeOptions{Reason: req.Reason, Role: req.Role})
	switch {
	case errors.Is(err, ca.ErrNotFound):
		writeError(w, http.StatusNotFound, "not_found", err.Error())
		return
	case err != nil:
		writeError(w, http.StatusBadRequest, "bad_request", err.Error())
		return
	}
	s.log.Info("revoked", zap.String("admin", adminName(r)), zap.String("ref", req.Ref), zap.Int("certificates", len(recs)))
	writeJSON(w, http.StatusOK, recs)
}
