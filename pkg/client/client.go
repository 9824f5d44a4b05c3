package client

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
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

// Config configures a Client. Zero durations take the defaults below.
type Config struct {
	Identity *identity.Store       // required; its certificate must have role client
	Revoked  *revoke.List          // nil: nothing is revoked; checked against the server's certificate
	Log      *zap.Logger           // nil: no logging
	Audit    *audit.Logger         // nil: no audit trail
	Registry prometheus.Registerer // nil: metrics kept but not exported

	ListenHost       string        // default 127.0.0.1; the port comes from the certificate
	Direct           bool          // try the server's direct address before the relays
	WaitSession      time.Duration // how long a new local connection waits for a session; default 10s
	HandshakeTimeout time.Duration // WebSocket and end-to-end TLS handshakes; default 10s

	// FailbackInterval is how often a session on a less preferred route retries the better
	// ones; default 30s.
	FailbackInterval time.Duration
	// ShutdownTimeout is how long open connections may finish once Serve's context ends;
	// default 10s.
	ShutdownTimeout time.Duration

	WS             wsconn.Options
	Backoff        backoff.Backoff // between rounds of failed attempts over every relay
	UnreachableMax time.Duration   // cap when no relay could even be reached; default 1.5s
	Now            func() time.Time
}

// Defaults for Config.
const (
	DefaultListenHost       = "127.0.0.1"
	DefaultWaitSession      = 10 * time.Second
	DefaultHandshakeTimeout = 10 * time.Second
	DefaultUnreachableMax   = 1500 * time.Millisecond
	DefaultFailbackInterval = 30 * time.Second
	DefaultShutdownTimeout  = 10 * time.Second
)

// Client is one client process's state.
type Client struct {
	cfg     Config
	self    certattrs.Client
	log     *zap.Logger
	audit   *audit.Logger
	metrics *clientMetrics

	life *lifecycle.Group // the session keeper and one goroutine per local connection
	ctx  context.Context  // life's context: ends on Close

	mu      sync.Mutex
	current *tunnelSession // nil while there is none
	changed chan struct{}  // closed and replaced whenever current changes
	lastErr error          // why the last attempt failed

	activeStreams atomic.Int64
}

// New validates cfg and builds a Client. It neither listens nor dials.
func New(cfg Config) (*Client, error) {
	if cfg.Identity == nil {
		return nil, errors.New("client: missing identity")
	}
	id := cfg.Identity.Load()
	if id.Attrs.Client == nil {
		return nil, fmt.Errorf("client: certificate role is %q, not client", id.Attrs.Role())
	}
	if cfg.ListenHost == "" {
		cfg.ListenHost = DefaultListenHost
	}
	setDefault(&cfg.WaitSession, DefaultWaitSession)
	setDefault(&cfg.HandshakeTimeout, DefaultHandshakeTimeout)
	setDefault(&cfg.UnreachableMax, DefaultUnreachableMax)
	setDefault(&cfg.FailbackInterval, DefaultFailbackInterval)
	setDefault(&cfg.ShutdownTimeout, DefaultShutdownTimeout)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = zap.NewNop()
	}
	self := *id.Attrs.Client
	if cfg.Audit == nil {
		cfg.Audit = audit.New(zap.NewNop(), string(certattrs.RoleClient), self.UUID, self.Name)
	}
	if cfg.Direct && self.Server.Addr == "" {
		return nil, errors.New("client: direct mode needs a server address in the certificate (issue the server with --host)")
	}
	if !cfg.Direct && len(self.Relays) == 0 {
		return nil, errors.New("client: the certificate lists no relay and direct mode is off")
	}
	m, err := newMetrics(cfg.Registry, cfg.Identity)
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	life := lifecycle.New()
	return &Client{
		cfg:     cfg,
		self:    self,
		log:     cfg.Log.Named("client").With(zap.String("client", self.Name)),
		audit:   cfg.Audit,
		metrics: m,
		life:    life,
		ctx:     life.Context(),
		changed: make(chan struct{}),
	}, nil
}

func setDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

// Listen opens the local listener the certificate names: ListenHost:attrs.port.
func (c *Client) Listen() (net.Listener, error) {
	addr := net.JoinHostPort(c.cfg.ListenHost, strconv.Itoa(c.self.Port))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("client: listen %s: %w", addr, err)
	}
	return ln, nil
}

// Serve keeps a session to the server and carries every connection accepted on ln through
// it, until ctx ends or Close is called. When ctx ends it stops accepting and lets open
// connections finish for up to ShutdownTimeout. It returns nil on a requested stop.
func (c *Client) Serve(ctx context.Context, ln net.Listener) error {
	stopping := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		close(stopping)
		_ = ln.Close()
	})
	defer stop()
	closeLn := context.AfterFunc(c.ctx, func() { _ = ln.Close() })
	defer closeLn()
	if !c.goTracked(c.maintain) {
		_ = ln.Close()
		return nil
	}
	c.log.Info("client listening", zap.String("addr", ln.Addr().String()), zap.String("server", c.self.Server.Name))
	var err error
	for {
		conn, aerr := ln.Accept()
		if aerr != nil {
			if c.ctx.Err() == nil && ctx.Err() == nil {
				var ne net.Error
				if errors.As(aerr, &ne) && ne.Timeout() {
					continue
				}
				err = fmt.Errorf("client: accept: %w", aerr)
			}
			break
		}
		if !c.goTracked(func() { c.handle(conn) }) {
			_ = conn.Close()
			break
		}
	}
	select {
	case <-stopping:
		c.waitStreams(c.cfg.ShutdownTimeout)
	default:
	}
	_ = c.Close()
	return err
}

// waitStreams waits until no local connection is being carried, or d has passed.
func (c *Client) waitStreams(d time.Duration) {
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for c.activeStreams.Load() > 0 {
		select {
		case <-deadline.C:
			c.log.Warn("shutdown timeout: closing open connections", zap.Int64("open", c.activeStreams.Load()))
			return
		case <-c.ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Close ends the session and every stream, and waits for them. Idempotent.
func (c *Client) Close() error {
	c.life.Close()
	return nil
}

func (c *Client) goTracked(f func()) bool { return c.life.Go(f) }
