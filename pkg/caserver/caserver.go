// Package caserver is the online CA (`backend ca serve`): an embedded
// github.com/smallstep/certificates authority that signs with the CA directory's root, an
// enrollment provisioner for Sentinel enrollment tokens whose certificates say only what the
// inventory says, renewal for every role, the CRL, and admin endpoints behind mTLS.
//
// Endpoints (one port; TLS, except the CRL and health which also answer plain HTTP):
//
//	POST /1.0/sign      step-ca's sign: {"csr": PEM, "ott": enrollment token}
//	POST /1.0/renew     renew the caller's certificate: mTLS with it, or
//	                    "Authorization: Bearer <x5c JWS>" (pkg/token, aud enrolltoken.RenewAudience)
//	GET  /root/{sha256} the root certificate (step-ca)
//	GET  /crl           the CRL (DER), regenerated when revocations change
//	GET  /health
//	GET  /sentinel/v1/inventory      admin (mTLS with an admin certificate): the inventory
//	GET  /sentinel/v1/tokens         admin: enrollment tokens
//	POST /sentinel/v1/tokens         admin: make an enrollment token
//	POST /sentinel/v1/revoke         admin: revoke a name or serial
package caserver

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/smallstep/certificates/api"
	"github.com/smallstep/certificates/authority"
	"github.com/smallstep/certificates/authority/config"
	"github.com/smallstep/certificates/authority/provisioner"
	"github.com/smallstep/certificates/db"
	"go.uber.org/zap"

	"github.com/sentinel-zt/sentinel/pkg/ca"
	"github.com/sentinel-zt/sentinel/pkg/enrolltoken"
	"github.com/sentinel-zt/sentinel/pkg/token"
)

// Defaults of Config.
const (
	DefaultBackdate         = time.Minute
	DefaultPruneInterval    = time.Minute
	DefaultEphemeralGrace   = time.Hour
	DefaultHandshakeTimeout = 10 * time.Second
)

// Config configures a Server.
type Config struct {
	// CA is the open CA directory; the Server does not close it.
	CA *ca.CA
	// DNSNames are the host names and IP addresses devices reach the CA at: the SANs of its
	// TLS certificate. At least one.
	DNSNames []string
	// Log; nil = no logging.
	Log *zap.Logger
	// Now decides token and renewal validity; nil = time.Now. Certificates are signed with
	// the system clock (step-ca's).
	Now func() time.Time
	// Backdate is how far before now online certificates start (clock skew of verifiers);
	// 0 = DefaultBackdate. It is part of the lifetime renewals keep.
	Backdate time.Duration
	// PruneInterval is how often expired ephemeral records are removed, EphemeralGrace how
	// long after expiry; 0 = the defaults.
	PruneInterval  time.Duration
	EphemeralGrace time.Duration
	// HandshakeTimeout bounds reading a request's first byte and headers; 0 = default.
	HandshakeTimeout time.Duration
}

// Server is the online CA.
type Server struct {
	cfg      Config
	log      *zap.Logger
	auth     *authority.Authority
	fp       string
	handler  http.Handler
	tlsCfg   *tls.Config
	verifier *token.Verifier
	roots    *x509.CertPool

	certMu  sync.Mutex
	tlsCert atomic.Pointer[tls.Certificate]

	crlMu    sync.Mutex
	crl      *ca.CRL
	crlState string

	closeOnce sync.Once
	closing   chan struct{}
	mu        sync.Mutex
	servers   []*http.Server
}

// New builds the authority. It does not listen or start goroutines.
func New(cfg Config) (*Server, error) {
	if cfg.CA == nil {
		return nil, errors.New("caserver: no CA")
	}
	if len(cfg.DNSNames) == 0 {
		return nil, errors.New("caserver: no DNS name or IP for the CA's TLS certificate")
	}
	if cfg.Log == nil {
		cfg.Log = zap.NewNop()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	setDefault(&cfg.Backdate, DefaultBackdate)
	setDefault(&cfg.PruneInterval, DefaultPruneInterval)
	setDefault(&cfg.EphemeralGrace, DefaultEphemeralGrace)
	setDefault(&cfg.HandshakeTimeout, DefaultHandshakeTimeout)
	c := cfg.CA
	enrollKey, err := c.EnrollKey()
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: cfg.Log.Named("ca"), fp: c.Fingerprint(), closing: make(chan struct{})}
	prov := &enrollProvisioner{ca: c, fp: s.fp, tokenKey: enrollKey.Public(), now: cfg.Now, backdate: cfg.Backdate}
	acfg := &config.Config{
		Root:             []string{c.Dir() + "/" + ca.RootCertFile},
		IntermediateCert: c.Dir() + "/" + ca.RootCertFile,
		IntermediateKey:  c.Dir() + "/" + ca.RootKeyFile,
		Address:          "127.0.0.1:0", // unused: Serve takes a listener
		DNSNames:         cfg.DNSNames,
		AuthorityConfig: &config.AuthConfig{
			Provisioners: provisioner.List{prov},
			// Tokens are made offline, often before this process started.
			DisableIssuedAtCheck: true,
			Backdate:             &provisioner.Duration{Duration: cfg.Backdate},
		},
	}
	s.auth, err = authority.New(acfg,
		authority.WithX509RootCerts(c.Root()),
		authority.WithX509Signer(c.Root(), c.Signer()),
		authority.WithDatabase(authDB{ca: c}),
		authority.WithQuietInit(),
	)
	if err != nil {
		return nil, fmt.Errorf("caserver: authority: %w", err)
	}
	s.roots = x509.NewCertPool()
	s.roots.AddCert(c.Root())
	s.verifier = &token.Verifier{
		Roots:    s.roots,
		Audience: enrolltoken.RenewAudience(s.fp),
		Now:      cfg.Now,
		Replay:   token.NewReplayCache(100_000),
	}
	s.tlsCfg = &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: s.serverCertificate,
		ClientAuth:     tls.VerifyClientCertIfGiven,
		ClientCAs:      s.roots,
		NextProtos:     []string{"h2", "http/1.1"},
	}
	s.handler = s.routes()
	return s, nil
}

func setDefault(d *time.Duration, v time.Duration) {
	if *d <= 0 {
		*d = v
	}
}

// Fingerprint is the pinned root's SHA-256 fingerprint.
func (s *Server) Fingerprint() string { return s.fp }

// Handler is the CA's HTTP handler (requests without TLS reach only /crl and /health).
func (s *Server) Handler() http.Handler { return s.handler }

// TLSConfig is the CA's server TLS configuration.
func (s *Server) TLSConfig() *tls.Config { return s.tlsCfg }

// Serve serves on ln (TLS and plain HTTP, told apart by the first byte) until ctx ends or
// Close; it closes ln. A requested shutdown returns nil.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	sl := newSniffListener(ln, s.tlsCfg, s.cfg.HandshakeTimeout)
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: s.cfg.HandshakeTimeout,
		IdleTimeout:       2 * time.Minute,
		BaseContext:       func(net.Listener) context.Context { return ctx },
		ErrorLog:          zap.NewStdLog(s.log.Named("http")),
	}
	s.mu.Lock()
	select {
	case <-s.closing:
		s.mu.Unlock()
		sl.Close()
		return nil
	default:
	}
	s.servers = append(s.servers, srv)
	s.mu.Unlock()

	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(2)
	go func() {
		defer wg.Done()
		select {
		case <-ctx.Done():
		case <-s.closing:
		case <-stop:
		}
		shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shut)
	}()
	go func() { defer wg.Done(); s.pruneLoop(ctx, stop) }()
	s.log.Info("online CA serving", zap.String("addr", ln.Addr().String()),
		zap.Strings("dns", s.cfg.DNSNames), zap.String("root_fingerprint", s.fp),
		zap.String("inventory", s.cfg.CA.Inventory()))
	err := srv.Serve(sl)
	close(stop)
	wg.Wait()
	sl.Close()
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Close stops every Serve; idempotent.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		close(s.closing)
		srvs := s.servers
		s.mu.Unlock()
		for _, srv := range srvs {
			_ = srv.Close()
		}
	})
	return nil
}

// pruneLoop removes expired ephemeral records.
func (s *Server) pruneLoop(ctx context.Context, stop <-chan struct{}) {
	t := time.NewTicker(s.cfg.PruneInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-stop:
			return
		case <-t.C:
			n, err := s.cfg.CA.PruneEphemeral(s.cfg.EphemeralGrace)
			if err != nil {
				s.log.Warn("prune ephemeral records", zap.Error(err))
			} else if n > 0 {
				s.log.Info("pruned expired ephemeral records", zap.Int("count", n))
			}
		}
	}
}

// serverCertificate is the CA's own TLS certificate (step-ca makes one valid 24 h for the
// DNS names), made again when less than a third of it is left.
func (s *Server) serverCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	if c := s.tlsCert.Load(); c != nil && time.Until(c.Leaf.NotAfter) > 8*time.Hour {
		return c, nil
	}
	s.certMu.Lock()
	defer s.certMu.Unlock()
	if c := s.tlsCert.Load(); c != nil && time.Until(c.Leaf.NotAfter) > 8*time.Hour {
		return c, nil
	}
	c, err := s.auth.GetTLSCertificate()
	if err != nil {
		s.log.Error("make the CA's TLS certificate", zap.Error(err))
		return nil, err
	}
	if c.Leaf == nil {
		if c.Leaf, err = x509.ParseCertificate(c.Certificate[0]); err != nil {
			return nil, err
		}
	}
	s.tlsCert.Store(c)
	return c, nil
}

func (s *Server) routes() http.Handler {
	r := chi.NewRouter()
	for _, prefix := range []string{"", "/1.0"} {
		r.Get(prefix+"/health", api.Health)
		r.Get(prefix+"/root/{sha}", api.Root)
		r.Get(prefix+"/roots", api.Roots)
		r.Post(prefix+"/sign", s.sign)
		r.Post(prefix+"/renew", s.renew)
		r.Get(prefix+"/crl", s.serveCRL)
	}
	r.Route("/sentinel/v1", func(r chi.Router) {
		r.Use(s.requireAdmin)
		r.Get("/inventory", s.adminInventory)
		r.Get("/tokens", s.adminTokens)
		r.Post("/tokens", s.adminNewToken)
		r.Post("/revoke", s.adminRevoke)
	})
	var h http.Handler = r
	inner := h
	h = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.TLS == nil && !plainAllowed(req.URL.Path) {
			writeError(w, http.StatusForbidden, "https_required", "only /crl and /health answer plain HTTP")
			return
		}
		ctx := authority.NewContext(req.Context(), s.auth)
		ctx = db.NewContext(ctx, s.auth.GetDatabase())
		inner.ServeHTTP(w, req.WithContext(ctx))
	})
	return h
}

func plainAllowed(path string) bool {
	switch strings.TrimPrefix(path, "/1.0") {
	case "/crl", "/health":
		return true
	}
	return false
}
