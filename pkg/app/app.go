// Package app assembles a running process from a config file: logging, identity, audit trail,
// metrics, revocation list, and the role its certificate names.
package app

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

	"github.com/sentinel-zt/sentinel/pkg/audit"
	"github.com/sentinel-zt/sentinel/pkg/certattrs"
	"github.com/sentinel-zt/sentinel/pkg/client"
	"github.com/sentinel-zt/sentinel/pkg/config"
	"github.com/sentinel-zt/sentinel/pkg/identity"
	"github.com/sentinel-zt/sentinel/pkg/logging"
	"github.com/sentinel-zt/sentinel/pkg/metrics"
	"github.com/sentinel-zt/sentinel/pkg/relay"
	"github.com/sentinel-zt/sentinel/pkg/renew"
	"github.com/sentinel-zt/sentinel/pkg/revoke"
	"github.com/sentinel-zt/sentinel/pkg/server"
	"github.com/sentinel-zt/sentinel/pkg/wsconn"
)

// Run loads the config at path and runs the role its certificate names until ctx ends.
// Log output goes to stderr.
func Run(ctx context.Context, path string, stderr io.Writer) error {
	cfg, err := config.Load(path, os.LookupEnv)
	if err != nil {
		return err
	}
	log, err := logging.New(cfg.Log.Level, cfg.Log.Format, stderr)
	if err != nil {
		return fmt.Errorf("log: %w", err)
	}
	defer func() { _ = log.Sync() }()
	id, err := identity.Parse(cfg.Cert, cfg.Key, cfg.CA)
	if err != nil {
		return fmt.Errorf("certificate: %w", err)
	}
	p := &process{cfg: cfg, log: log, stderr: stderr, store: identity.NewStore(id)}
	return p.run(ctx)
}

type process struct {
	cfg    *config.Config
	log    *zap.Logger
	stderr io.Writer
	store  *identity.Store
	crl    *revoke.List
	audit  audit.Sink // reopened on SIGHUP, for log rotation
}

func (p *process) run(ctx context.Context) error {
	id := p.store.Load()
	role := id.Attrs.Role()
	// Audit events must not depend on the log level: with no audit file they go to stderr
	// in the log's format, always at info.
	auditFallback, err := logging.New("info", p.cfg.Log.Format, p.stderr)
	if err != nil {
		return fmt.Errorf("log: %w", err)
	}
	auditLog, auditSink, err := audit.Open(p.cfg.Audit.Path, auditFallback)
	if err != nil {
		return fmt.Errorf("audit.path: %w", err)
	}
	defer auditSink.Close()
	p.audit = auditSink
	aud := audit.New(auditLog, string(role), id.Attrs.UUID(), id.Attrs.Name())
	p.log.Info("starting", zap.String("role", string(role)), zap.String("name", id.Attrs.Name()),
		zap.String("uuid", id.Attrs.UUID()), zap.Time("cert_expires", id.Leaf.NotAfter))

	if p.cfg.CRL != "" {
		p.crl, err = revoke.New(p.cfg.CRL, func() *x509.Certificate { return p.store.Load().CA }, revoke.Options{Log: p.log.Named("crl")})
		if err != nil {
			return fmt.Errorf("crl: %w", err)
		}
	}
	reg := metrics.NewRegistry()

	// Everything is built before any goroutine starts, so a failure on the way returns
	// without leaving one behind.
	g, ctx := errgroup.WithContext(ctx)

	var health metrics.Health
	var serveRole func() error
	switch role {
	case certattrs.RoleRelay:
		r, err := relay.New(relay.Config{
			Identity: p.store, Revoked: p.crl, Log: p.log, Audit: aud, Registry: reg,
			BehindProxy:        p.cfg.Relay.BehindProxy,
			BindTimeout:        p.cfg.Relay.BindTimeout,
			HandshakeTimeout:   p.cfg.Relay.HandshakeTimeout,
			MaxSessionsPerCert: p.cfg.Relay.MaxSessionsPerCert,
			MaxPendingOpens:    p.cfg.Relay.MaxPendingOpens,
			MaxServerChannels:  p.cfg.Relay.MaxServerChannels,
			ShutdownTimeout:    p.cfg.ShutdownTimeout,
			WS:                 p.wsOptions(),
		})
		if err != nil {
			return err
		}
		ln, err := net.Listen("tcp", p.cfg.Relay.Listen)
		if err != nil {
			return fmt.Errorf("relay.listen: %w", err)
		}
		health = metrics.Health{Ready: r.Ready, Status: func() any { return r.Status() }}
		serveRole = func() error { return r.Serve(ctx, ln) }
	case certattrs.RoleServer:
		s, err := server.New(server.Config{
			Identity: p.store, Revoked: p.crl, Log: p.log, Audit: aud, Registry: reg,
			DialTimeout:          p.cfg.Server.DialTimeout,
			MaxStreamsPerSession: p.cfg.Server.MaxStreamsPerSession,
			MaxSessionsPerCert:   p.cfg.Server.MaxSessionsPerCert,
			ShutdownTimeout:      p.cfg.ShutdownTimeout,
			WS:                   p.wsOptions(),
		})
		if err != nil {
			return err
		}
		var direct net.Listener
		if addr := directAddr(p.cfg, id.Attrs.Server); addr != "" {
			if direct, err = net.Listen("tcp", addr); err != nil {
				return fmt.Errorf("server.listen: %w", err)
			}
		}
		health = metrics.Health{Ready: s.Ready, Status: func() any { return s.Status() }}
		serveRole = func() error { return s.Serve(ctx, direct) }
	case certattrs.RoleClient:
		c, err := client.New(client.Config{
			Identity: p.store, Revoked: p.crl, Log: p.log, Audit: aud, Registry: reg,
			ListenHost:       p.cfg.Client.ListenHost,
			Direct:           p.cfg.Client.Direct,
			WaitSession:      p.cfg.Client.WaitSession,
			FailbackInterval: p.cfg.Client.FailbackInterval,
			ShutdownTimeout:  p.cfg.ShutdownTimeout,
			WS:               p.wsOptions(),
		})
		if err != nil {
			return err
		}
		ln, err := c.Listen()
		if err != nil {
			return err
		}
		health = metrics.Health{Ready: c.Ready, Status: func() any { return c.Status() }}
		serveRole = func() error { return c.Serve(ctx, ln) }
	default:
		return fmt.Errorf("certificate has no role")
	}

	if p.cfg.Metrics.Listen != "" {
		ln, err := net.Listen("tcp", p.cfg.Metrics.Listen)
		if err != nil {
			return fmt.Errorf("metrics.listen: %w", err)
		}
		// The health endpoints stay up through a drain (so /readyz reports it) and stop
		// once the role has returned.
		metricsCtx, stopMetrics := context.WithCancel(context.Background())
		defer stopMetrics()
		role := serveRole
		serveRole = func() error {
			defer stopMetrics()
			return role()
		}
		p.log.Info("metrics listening", zap.String("addr", ln.Addr().String()))
		handler := metrics.Handler(reg, health)
		if p.cfg.Metrics.Pprof {
			handler = metrics.WithProfiling(handler)
			p.log.Warn("profiler served at /debug/pprof/ on the metrics listener (metrics.pprof); keep that listener private")
		}
		g.Go(func() error { return metrics.Serve(metricsCtx, ln, handler) })
	}
	if p.crl != nil {
		g.Go(func() error { return p.crl.Run(ctx) })
	}
	g.Go(func() error { p.reloadOnSignal(ctx); return nil })
	g.Go(func() error { p.reloadOnChange(ctx, 2*time.Second); return nil })
	if p.cfg.CAURL != "" { // online CA: renew at 2/3 of the lifetime (pkg/renew)
		rn, err := renew.New(renew.Config{Store: p.store, CA: p.cfg.CAURL, CertPath: p.cfg.CertPath, Log: p.log})
		if err != nil {
			return err
		}
		g.Go(func() error { return rn.Run(ctx) })
	}
	g.Go(serveRole)
	err = g.Wait()
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	p.log.Info("stopped")
	return err
}

func (p *process) wsOptions() wsconn.Options {
	return wsconn.Options{PingInterval: p.cfg.PingInterval, IdleTimeout: p.cfg.IdleTimeout}
}

// directAddr is where a server with a direct port in its certificate listens.
func directAddr(cfg *config.Config, self *certattrs.Server) string {
	if cfg.Server.Listen != "" {
		return cfg.Server.Listen
	}
	if self.Port == 0 {
		return ""
	}
	return net.JoinHostPort("", strconv.Itoa(self.Port))
}

// reloadOnSignal re-reads certificate, key, CA and CRL on SIGHUP, and reopens the audit file
// (after logrotate moved it away). A reload that fails keeps the running state and says why.
func (p *process) reloadOnSignal(ctx context.Context) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			if p.cfg.Audit.Path != "" {
				if err := p.audit.Reopen(); err != nil {
					p.log.Error("audit file not reopened; still writing to the previous one", zap.Error(err))
				} else {
					p.log.Info("audit file reopened", zap.String("path", p.cfg.Audit.Path))
				}
			}
			if err := p.reload(); err != nil {
				p.log.Error("reload failed; keeping the running certificate", zap.Error(err))
				continue
			}
			p.log.Info("reloaded", zap.Time("cert_expires", p.store.Load().Leaf.NotAfter))
		}
	}
}

// reloadOnChange reloads when the certificate, key or CA file changes on disk (a renewal
// tool replaced them), checking every interval. Inline PEM never changes.
func (p *process) reloadOnChange(ctx context.Context, interval time.Duration) {
	paths := []string{p.cfg.CertPath, p.cfg.KeyPath, p.cfg.CAPath}
	last := fingerprint(paths)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := fingerprint(paths)
		if now == last {
			continue
		}
		last = now
		if err := p.reload(); err != nil {
			// A renewal tool may have replaced the certificate but not yet the key: the next
			// change retries.
			p.log.Warn("certificate files changed but do not load; keeping the running certificate", zap.Error(err))
			continue
		}
		p.log.Info("certificate files changed: reloaded", zap.Time("cert_expires", p.store.Load().Leaf.NotAfter))
	}
}

// fingerprint summarises the files' size and modification time.
func fingerprint(paths []string) string {
	var b strings.Builder
	for _, path := range paths {
		if path == "" {
			continue
		}
		if fi, err := os.Stat(path); err == nil {
			fmt.Fprintf(&b, "%s:%d:%d;", path, fi.Size(), fi.ModTime().UnixNano())
		} else {
			fmt.Fprintf(&b, "%s:missing;", path)
		}
	}
	return b.String()
}

func (p *process) reload() error {
	certPEM, keyPEM, caPEM, err := p.cfg.ReadPEM()
	if err != nil {
		return err
	}
	id, err := identity.Parse(certPEM, keyPEM, caPEM)
	if err != nil {
		return err
	}
	if err := p.store.Replace(id); err != nil {
		return err
	}
	if p.crl != nil {
		if err := p.crl.Reload(); err != nil {
			return fmt.Errorf("crl: %w", err)
		}
	}
	return nil
}
