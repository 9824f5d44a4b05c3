package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/sentinel-zt/sentinel/pkg/audit"
	"github.com/sentinel-zt/sentinel/pkg/backoff"
	"github.com/sentinel-zt/sentinel/pkg/certattrs"
	"github.com/sentinel-zt/sentinel/pkg/identity"
	"github.com/sentinel-zt/sentinel/pkg/lifecycle"
	"github.com/sentinel-zt/sentinel/pkg/revoke"
	"github.com/sentinel-zt/sentinel/pkg/wsconn"
)

// Resolver looks up a target's addresses on the server's side.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Config configures a Server. Zero durations and limits take the defaults below.
type Config struct {
	Identity *identity.Store       // required; its certificate must have role server
	Revoked  *revoke.List          // nil: nothing is revoked
	Log      *zap.Logger           // nil: no logging
	Audit    *audit.Logger         // nil: no audit trail
	Registry prometheus.Registerer // nil: metrics kept but not exported

	DialTimeout          time.Duration // target dial; default 5s
	HandshakeTimeout     time.Duration // WebSocket and end-to-end TLS handshakes; default 10s
	MaxStreamsPerSession int           // default 1024
	MaxSessionsPerCert   int           // default 64
	// A relay's opens are answered at most MaxBindsPerRelay at a time (each costs a WebSocket
	// and a TLS handshake), with up to MaxQueuedOpens more waiting for a slot (a burst of
	// clients reconnecting after a relay restart); beyond that a compromised relay's flood of
	// opens is dropped. An open holds its place only until its end-to-end handshake is over,
	// so neither caps the sessions a relay carries.
	MaxBindsPerRelay int           // default 64
	MaxQueuedOpens   int           // default 1024
	CheckInterval    time.Duration // how often live sessions are checked against schedules; default 1s
	// ShutdownTimeout is how long open streams may finish once Serve's context ends: the
	// server unregisters from its relays, asks clients to move, then waits. Default 10s.
	ShutdownTimeout time.Duration

	Resolver Resolver                                                          // nil: net.DefaultResolver
	Dial     func(ctx context.Context, network, addr string) (net.Conn, error) // nil: net.Dialer
	Now      func() time.Time                                                  // nil: time.Now
	WS       wsconn.Options
	// Backoff bounds reconnect delays to a relay that refuses us; a relay that cannot be
	// reached at all is retried at most UnreachableMax apart so it is back in use within
	// seconds of returning.
	Backoff        backoff.Backoff
	UnreachableMax time.Duration // default 1.5s
}

// Defaults for Config.
const (
	DefaultDialTimeout          = 5 * time.Second
	DefaultHandshakeTimeout     = 10 * time.Second
	DefaultMaxStreamsPerSession = 1024
	DefaultMaxSessionsPerCert   = 64
	DefaultMaxBindsPerRelay     = 64
	DefaultMaxQueuedOpens       = 1024
	DefaultCheckInterval        = time.Second
	DefaultUnreachableMax       = 1500 * time.Millisecond
	DefaultShutdownTimeout      = 10 * time.Second
)

// Server is one server process's state.
type Server struct {
	cfg     Config
	self    certattrs.Server
	log     *zap.Logger
	audit   *audit.Logger
	metrics *serverMetrics

	life *lifecycle.Group // every goroutine the server starts
	ctx  context.Context  // life's context: ends on Close
	// links ends when the server stops taking new sessions (shutdown begins): relay
	// registrations and the direct listener follow it.
	links     context.Context
	stopLinks context.CancelFunc

	activeStreams atomic.Int64

	mu       sync.Mutex
	sessions map[string]*session
	perCert  map[string]int
	relays   map[string]*relayState // by relay uuid
}

// New validates cfg and builds a Server. It neither dials nor starts goroutines.
func New(cfg Config) (*Server, error) {
	if cfg.Identity == nil {
		return nil, errors.New("server: missing identity")
	}
	id := cfg.Identity.Load()
	if id.Attrs.Server == nil {
		return nil, fmt.Errorf("server: certificate role is %q, not server", id.Attrs.Role())
	}
	setDefault(&cfg.DialTimeout, DefaultDialTimeout)
	setDefault(&cfg.HandshakeTimeout, DefaultHandshakeTimeout)
	setDefault(&cfg.MaxStreamsPerSession, DefaultMaxStreamsPerSession)
	setDefault(&cfg.MaxSessionsPerCert, DefaultMaxSessionsPerCert)
	setDefault(&cfg.MaxBindsPerRelay, DefaultMaxBindsPerRelay)
	setDefault(&cfg.MaxQueuedOpens, DefaultMaxQueuedOpens)
	setDefault(&cfg.CheckInterval, DefaultCheckInterval)
	setDefault(&cfg.UnreachableMax, DefaultUnreachableMax)
	setDefault(&cfg.ShutdownTimeout, DefaultShutdownTimeout)
	if cfg.Resolver == nil {
		cfg.Resolver = net.DefaultResolver
	}
	if cfg.Dial == nil {
		d := &net.Dialer{KeepAlive: 30 * time.Second}
		cfg.Dial = d.DialContext
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = zap.NewNop()
	}
	self := *id.Attrs.Server
	if cfg.Audit == nil {
		cfg.Audit = audit.New(zap.NewNop(), string(certattrs.RoleServer), self.UUID, self.Name)
	}
	m, err := newMetrics(cfg.Registry, cfg.Identity)
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	life := lifecycle.New()
	links, stopLinks := context.WithCancel(life.Context())
	s := &Server{
		links:     links,
		stopLinks: stopLinks,
		cfg:       cfg,
		self:      self,
		log:       cfg.Log.Named("server").With(zap.String("server", self.Name)),
		audit:     cfg.Audit,
		metrics:   m,
		life:      life,
		ctx:       life.Context(),
		sessions:  make(map[string]*session),
		perCert:   make(map[string]int),
		relays:    make(map[string]*relayState),
	}
	for _, ref := range self.Relays {
		s.relays[ref.UUID] = &relayState{ref: ref}
	}
	return s, nil
}

func setDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

// Serve registers with every relay in the certificate and, when direct is not nil, accepts
// clients' WebSockets on it (TLS with the server's certificate). When ctx ends it shuts down
// gracefully (see Shutdown); it returns nil once every session has ended.
func (s *Server) Serve(ctx context.Context, direct net.Listener) error {
	stop := context.AfterFunc(ctx, func() {
		sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
		defer cancel()
		_ = s.Shutdown(sctx)
	})
	defer stop()
	if !s.goTracked(func() { s.watchRevocations() }) {
		return nil
	}
	s.goTracked(s.enforceSchedules)
	for _, ref := range s.self.Relays {
		s.goTracked(func() { s.link(ref) })
	}
	s.log.Info("server started", zap.Int("relays", len(s.self.Relays)), zap.Int("resources", len(s.self.Resources)))
	var err error
	if direct != nil {
		err = s.serveDirect(direct)
	}
	<-s.ctx.Done()
	s.life.Close()
	return err
}

// Shutdown stops taking new sessions (unregisters from every relay, closes the direct
// listener), asks every client to move its new streams elsewhere, waits until open streams
// finish or ctx ends, then closes.
func (s *Server) Shutdown(ctx context.Context) error {
	s.stopLinks()
	for _, ss := range s.liveSessions() {
		s.drain(ss)
	}
	s.log.Info("shutting down", zap.Int64("open_streams", s.activeStreams.Load()))
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for s.activeStreams.Load() > 0 {
		select {
		case <-ctx.Done():
			s.log.Warn("shutdown timeout: closing open streams", zap.Int64("open_streams", s.activeStreams.Load()))
			return s.Close()
		case <-s.ctx.Done():
			return s.Close()
		case <-t.C:
		}
	}
	return s.Close()
}

// Close ends every session and relay registration and waits for them. Idempotent.
func (s *Server) Close() error {
	s.life.Close()
	return nil
}

// goTracked runs f on a goroutine Close waits for; false (and f not run) once closing.
func (s *Server) goTracked(f func()) bool { return s.life.Go(f) }
