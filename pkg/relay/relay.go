package relay

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/sentinel-zt/sentinel/pkg/audit"
	"github.com/sentinel-zt/sentinel/pkg/certattrs"
	"github.com/sentinel-zt/sentinel/pkg/identity"
	"github.com/sentinel-zt/sentinel/pkg/lifecycle"
	"github.com/sentinel-zt/sentinel/pkg/revoke"
	"github.com/sentinel-zt/sentinel/pkg/tlsconf"
	"github.com/sentinel-zt/sentinel/pkg/token"
	"github.com/sentinel-zt/sentinel/pkg/tunnel"
	"github.com/sentinel-zt/sentinel/pkg/wsconn"
)

// Config configures a Relay. Zero durations and limits take the defaults below.
type Config struct {
	Identity *identity.Store       // required; its certificate must have role relay
	Revoked  *revoke.List          // nil: nothing is revoked
	Log      *zap.Logger           // nil: no logging
	Audit    *audit.Logger         // nil: no audit trail
	Registry prometheus.Registerer // nil: metrics are kept but not exported

	// BehindProxy serves plain HTTP (a proxy or CDN terminates TLS) and takes the remote
	// address from X-Forwarded-For.
	BehindProxy bool

	BindTimeout        time.Duration // how long a client waits for the server's bind; default 10s
	HandshakeTimeout   time.Duration // TLS handshake and request headers; default 10s
	MaxSessionsPerCert int           // live and pending sessions per client certificate; default 64
	MaxPendingOpens    int           // opens awaiting a bind, whole relay; default 1024
	MaxServerChannels  int           // server control channels, whole relay; default 4096
	// MaxChannelsPerServer bounds one server uuid's control channels (restarts and redundant
	// instances need a few); default 16.
	MaxChannelsPerServer int
	ReplayCacheSize      int // token ids remembered; default 1<<17
	// ShutdownTimeout is how long spliced sessions may go on once Serve's context ends: the
	// relay refuses new sessions, tells its servers to move their clients, then waits.
	// Default 10s.
	ShutdownTimeout time.Duration

	WS  wsconn.Options   // pings, idle timeout, read limit of every WebSocket
	Now func() time.Time // nil: time.Now
}

// Defaults for Config.
const (
	DefaultBindTimeout          = 10 * time.Second
	DefaultHandshakeTimeout     = 10 * time.Second
	DefaultMaxSessionsPerCert   = 64
	DefaultMaxPendingOpens      = 1024
	DefaultMaxServerChannels    = 4096
	DefaultMaxChannelsPerServer = 16
	DefaultReplayCacheSize      = 1 << 17
	DefaultShutdownTimeout      = 10 * time.Second
	maxHeaderBytes              = 16 << 10
	// httpHeaderSlop is what net/http reads beyond MaxHeaderBytes before answering 431
	// ("bufio slop"); subtracting it makes maxHeaderBytes the real limit.
	httpHeaderSlop = 4096
)

// Relay is one relay process's state.
type Relay struct {
	cfg      Config
	self     certattrs.Relay
	log      *zap.Logger
	audit    *audit.Logger
	metrics  *relayMetrics
	replay   *token.ReplayCache
	upgrader *websocket.Upgrader

	// life owns the WebSocket handlers, which outlive http.Server once hijacked; its context
	// ends on Close and every session and channel derives from it.
	life     *lifecycle.Group
	draining atomic.Bool // set by Shutdown: no new sessions or registrations

	mu        sync.Mutex
	controls  map[string][]*control // by server uuid
	nControls int
	perServer map[string]int          // control channels by server uuid, reserved or registered
	pending   map[string]*pendingOpen // by session id
	sessions  map[string]*session     // by session id
	perCert   map[string]int          // live+pending sessions by client certificate serial
}

// New validates cfg and builds a Relay. It neither listens nor starts goroutines.
func New(cfg Config) (*Relay, error) {
	if cfg.Identity == nil {
		return nil, errors.New("relay: missing identity")
	}
	id := cfg.Identity.Load()
	if id.Attrs.Relay == nil {
		return nil, fmt.Errorf("relay: certificate role is %q, not relay", id.Attrs.Role())
	}
	setDefault(&cfg.BindTimeout, DefaultBindTimeout)
	setDefault(&cfg.HandshakeTimeout, DefaultHandshakeTimeout)
	setDefault(&cfg.MaxSessionsPerCert, DefaultMaxSessionsPerCert)
	setDefault(&cfg.MaxPendingOpens, DefaultMaxPendingOpens)
	setDefault(&cfg.MaxServerChannels, DefaultMaxServerChannels)
	setDefault(&cfg.MaxChannelsPerServer, DefaultMaxChannelsPerServer)
	setDefault(&cfg.ReplayCacheSize, DefaultReplayCacheSize)
	setDefault(&cfg.ShutdownTimeout, DefaultShutdownTimeout)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = zap.NewNop()
	}
	self := *id.Attrs.Relay
	if cfg.Audit == nil {
		cfg.Audit = audit.New(zap.NewNop(), string(certattrs.RoleRelay), self.UUID, self.Name)
	}
	m, err := newMetrics(cfg.Registry, cfg.Identity)
	if err != nil {
		return nil, fmt.Errorf("relay: %w", err)
	}
	return &Relay{
		cfg:       cfg,
		self:      self,
		log:       cfg.Log.Named("relay").With(zap.String("relay", self.Name)),
		audit:     cfg.Audit,
		metrics:   m,
		replay:    token.NewReplayCache(cfg.ReplayCacheSize),
		upgrader:  wsconn.Upgrader(),
		life:      lifecycle.New(),
		controls:  make(map[string][]*control),
		perServer: make(map[string]int),
		pending:   make(map[string]*pendingOpen),
		sessions:  make(map[string]*session),
		perCert:   make(map[string]int),
	}, nil
}

func setDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

// Handler returns the relay's HTTP handler: the three WebSocket endpoints and /healthz.
func (r *Relay) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+tunnel.PathServer, r.handleServer)
	mux.HandleFunc("GET "+tunnel.PathClient, r.handleClient)
	mux.HandleFunc("GET "+tunnel.PathBind, r.handleBind)
	mux.HandleFunc("GET "+tunnel.PathHealthz, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if r.draining.Load() {
			// A load balancer or CDN health check takes a draining relay out of rotation.
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("draining\n"))
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
	return mux
}

// Serve accepts connections on ln (TLS with the relay certificate unless BehindProxy) until
// ctx ends or Close is called, then closes every live session and returns nil.
func (r *Relay) Serve(ctx context.Context, ln net.Listener) error {
	if !r.cfg.BehindProxy {
		// Batched: the TLS records of one WebSocket frame leave in one write.
		ln = wsconn.NewBatchedTLSListener(ln, tlsconf.Listener(r.cfg.Identity.GetCertificate))
	}
	srv := &http.Server{
		Handler:           r.Handler(),
		ReadHeaderTimeout: r.cfg.HandshakeTimeout,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    maxHeaderBytes - httpHeaderSlop,
		BaseContext:       func(net.Listener) context.Context { return r.life.Context() },
		ErrorLog:          zap.NewStdLog(r.log.Named("http").WithOptions(zap.IncreaseLevel(zap.WarnLevel))),
	}
	stop := context.AfterFunc(ctx, func() {
		sctx, cancel := context.WithTimeout(context.Background(), r.cfg.ShutdownTimeout)
		defer cancel()
		_ = r.Shutdown(sctx)
	})
	defer stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() {
		<-r.life.Context().Done()
		_ = srv.Close()
	})
	wg.Go(func() { r.watchRevocations(r.life.Context()) })
	r.log.Info("relay serving", zap.String("addr", ln.Addr().String()), zap.Bool("behind_proxy", r.cfg.BehindProxy))
	err := srv.Serve(ln)
	_ = r.Close()
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Shutdown drains the relay: new client sessions and server registrations are refused
// (503 draining, so peers go to another relay), every registered server is told to move its
// clients, and live sessions may go on until they end or ctx does; then it closes.
func (r *Relay) Shutdown(ctx context.Context) error {
	if r.draining.Swap(true) {
		return r.Close()
	}
	r.mu.Lock()
	var controls []*control
	for _, list := range r.controls {
		controls = append(controls, list...)
	}
	r.mu.Unlock()
	for _, c := range controls {
		if err := c.send(tunnel.Control{Type: tunnel.MsgDrain}); err != nil {
			r.log.Debug("drain not sent", zap.String("server", c.serverName), zap.Error(err))
		}
	}
	r.log.Info("draining", zap.Int("servers", len(controls)), zap.Int("sessions", r.liveSessions()))
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for r.liveSessions() > 0 {
		select {
		case <-ctx.Done():
			r.log.Warn("shutdown timeout: closing live sessions", zap.Int("sessions", r.liveSessions()))
			return r.Close()
		case <-r.life.Context().Done():
			return r.Close()
		case <-t.C:
		}
	}
	return r.Close()
}

// liveSessions counts spliced and pending sessions.
func (r *Relay) liveSessions() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.sessions) + len(r.pending)
}

// Close stops the relay: every session and control channel is closed and their handlers have
// returned when it does. Idempotent.
func (r *Relay) Close() error {
	r.life.Close()
	return nil
}

// verify checks the request's Bearer token for one of roles.
func (r *Relay) verify(req *http.Request, roles ...certattrs.Role) (*token.Verified, error) {
	auth := req.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(auth, "Bearer ")
	if !ok || tok == "" {
		return nil, tunnel.Deny(http.StatusUnauthorized, tunnel.CodeBadToken, "missing bearer token")
	}
	id := r.cfg.Identity.Load()
	v := &token.Verifier{
		Roots:    id.Roots,
		Audience: r.self.UUID,
		Now:      r.cfg.Now,
		Revoked:  r.cfg.Revoked.Revoked,
		Replay:   r.replay,
	}
	return v.Verify(tok, roles...)
}

// remoteAddr is the peer's address: the proxy's view (right-most X-Forwarded-For entry, the
// one the proxy itself appended) when behind a proxy, else the TCP peer.
func (r *Relay) remoteAddr(req *http.Request) string {
	if r.cfg.BehindProxy {
		if xff := req.Header.Values("X-Forwarded-For"); len(xff) > 0 {
			last := xff[len(xff)-1]
			if i := strings.LastIndexByte(last, ','); i >= 0 {
				last = last[i+1:]
			}
			if a := strings.TrimSpace(last); a != "" {
				return a
			}
		}
	}
	return req.RemoteAddr
}

// deny answers a refused request before any upgrade and records it.
func (r *Relay) deny(w http.ResponseWriter, req *http.Request, path string, err error, fields ...zap.Field) {
	var d *tunnel.DenyError
	if !errors.As(err, &d) {
		d = tunnel.Deny(http.StatusInternalServerError, tunnel.CodeInternal, "%v", err)
	}
	w.Header().Set(tunnel.HeaderDeny, d.Code)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Connection", "close")
	w.WriteHeader(d.Status)
	_, _ = fmt.Fprintf(w, "%s\n", d.Error())
	r.metrics.authFailures.WithLabelValues(d.Code).Inc()
	r.audit.Log(audit.AuthDeny, append(fields,
		zap.String("path", path),
		zap.String(audit.FieldRemoteAddr, r.remoteAddr(req)),
		zap.String(audit.FieldDecision, "deny"),
		zap.String(audit.FieldReason, d.Code),
		zap.String(audit.FieldDetail, d.Reason),
	)...)
}

func peerFields(v *token.Verified) []zap.Field {
	if v == nil {
		return nil
	}
	f := []zap.Field{
		zap.String(audit.FieldPeerRole, string(v.Attrs.Role())),
		zap.String(audit.FieldPeerUUID, v.Attrs.UUID()),
		zap.String(audit.FieldPeerName, v.Attrs.Name()),
		zap.String(audit.FieldSerial, v.Leaf.SerialNumber.Text(16)),
	}
	if c := v.Attrs.Client; c != nil && c.User != "" {
		f = append(f, zap.String(audit.FieldUser, c.User))
	}
	return f
}

// listsRelay reports whether refs names this relay.
func listsRelay(refs []certattrs.RelayRef, uuid string) bool {
	for _, ref := range refs {
		if ref.UUID == uuid {
			return true
		}
	}
	return false
}
