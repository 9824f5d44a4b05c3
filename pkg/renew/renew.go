// Package renew keeps a running role's certificate fresh through the online CA (ca_url): at
// 2/3 of its lifetime it asks for the same certificate with a new validity, proving itself
// with a token signed by the certificate's key, swaps the result into the identity store
// (live sessions keep running; new handshakes use the new certificate) and writes it to the
// certificate file atomically. While the CA is down it keeps the old certificate, retries
// with capped exponential backoff and jitter, and logs louder as expiry nears.
package renew

import (
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/sentinel-zt/sentinel/pkg/enroll"
	"github.com/sentinel-zt/sentinel/pkg/enrolltoken"
	"github.com/sentinel-zt/sentinel/pkg/identity"
	"github.com/sentinel-zt/sentinel/pkg/token"
)

// Defaults of Config.
const (
	DefaultRenewAt    = 2.0 / 3.0
	DefaultMinBackoff = time.Second
	DefaultMaxBackoff = 5 * time.Minute
	// DefaultCheckEvery bounds how long Run sleeps at once, so a certificate replaced by
	// someone else (SIGHUP, a new file) is noticed.
	DefaultCheckEvery = time.Minute
)

// Config configures a Renewer.
type Config struct {
	// Store holds the running identity; required. Renewals are swapped in with Replace.
	Store *identity.Store
	// CA is the online CA's URL, https://HOST[:PORT]; required.
	CA string
	// CertPath is the certificate file to replace atomically with each renewal (mode kept),
	// so a restart or the config file watcher loads the new one; "" = memory only.
	CertPath string
	// Log; nil = no logging.
	Log *zap.Logger
	// Now is the clock; nil = time.Now.
	Now func() time.Time
	// Sleep waits d or until ctx ends; nil = a timer.
	Sleep func(ctx context.Context, d time.Duration) error
	// Dial connects to the CA; nil = net.Dialer.
	Dial enroll.DialFunc
	// RenewAt is the fraction of the lifetime after which to renew; 0 = 2/3.
	RenewAt float64
	// MinBackoff and MaxBackoff bound the wait between failed attempts; 0 = 1s and 5m.
	MinBackoff, MaxBackoff time.Duration
	// CheckEvery bounds a single sleep; 0 = DefaultCheckEvery.
	CheckEvery time.Duration
	// OnRenew, if set, is called after each renewal is swapped in.
	OnRenew func(*identity.Identity)
}

// Renewer renews one identity.
type Renewer struct {
	cfg  Config
	base *url.URL
	log  *zap.Logger

	failures  atomic.Int64
	renewals  atomic.Int64
	warnedMem atomic.Bool
}

// New validates cfg. It starts nothing.
func New(cfg Config) (*Renewer, error) {
	if cfg.Store == nil || cfg.Store.Load() == nil {
		return nil, errors.New("renew: no identity store")
	}
	base, err := enroll.Endpoint(cfg.CA)
	if err != nil {
		return nil, fmt.Errorf("ca_url: %w", err)
	}
	if cfg.Log == nil {
		cfg.Log = zap.NewNop()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Sleep == nil {
		cfg.Sleep = sleep
	}
	if cfg.RenewAt <= 0 || cfg.RenewAt >= 1 {
		cfg.RenewAt = DefaultRenewAt
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = DefaultMinBackoff
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		cfg.MaxBackoff = max(DefaultMaxBackoff, cfg.MinBackoff)
	}
	if cfg.CheckEvery <= 0 {
		cfg.CheckEvery = DefaultCheckEvery
	}
	return &Renewer{cfg: cfg, base: base, log: cfg.Log.Named("renew")}, nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// RenewAt is when leaf is due for renewal.
func (r *Renewer) RenewAt(leaf *x509.Certificate) time.Time {
	life := leaf.NotAfter.Sub(leaf.NotBefore)
	return leaf.NotBefore.Add(time.Duration(float64(life) * r.cfg.RenewAt))
}

// Renewals and Failures count attempts since New.
func (r *Renewer) Renewals() int64 { return r.renewals.Load() }

// Failures counts failed attempts since New.
func (r *Renewer) Failures() int64 { return r.failures.Load() }

// Run renews whenever the certificate is due, until ctx ends; it returns nil then.
func (r *Renewer) Run(ctx context.Context) error {
	id := r.cfg.Store.Load()
	r.log.Info("automatic renewal on", zap.String("ca", r.base.String()),
		zap.Time("cert_expires", id.Leaf.NotAfter), zap.Time("renew_at", r.RenewAt(id.Leaf)))
	backoff := time.Duration(0)
	for {
		id := r.cfg.Store.Load()
		now := r.cfg.Now()
		if wait := r.RenewAt(id.Leaf).Sub(now); wait > 0 {
			if err := r.cfg.Sleep(ctx, min(wait, r.cfg.CheckEvery)); err != nil {
				return nil
			}
			continue
		}
		err := r.RenewNow(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err == nil {
			backoff = 0
			// A certificate due as soon as it is issued (a lifetime shorter than the CA's
			// backdate) must not turn into a renewal loop.
			if next := r.cfg.Store.Load().Leaf; !r.RenewAt(next).After(r.cfg.Now()) {
				wait := max(r.cfg.MinBackoff, next.NotAfter.Sub(next.NotBefore)/10)
				r.log.Warn("renewed certificate is due again at once: its lifetime is too short for the CA's backdate",
					zap.Duration("retry_in", wait))
				if err := r.cfg.Sleep(ctx, wait); err != nil {
					return nil
				}
			}
			continue
		}
		r.failures.Add(1)
		backoff = r.next(backoff)
		// Retry well before expiry: never wait more than a quarter of what is left.
		left := id.Leaf.NotAfter.Sub(r.cfg.Now())
		wait := min(backoff, max(r.cfg.MinBackoff, left/4))
		wait = jitter(wait)
		fields := []zap.Field{zap.Error(err), zap.Time("cert_expires", id.Leaf.NotAfter),
			zap.Duration("left", left.Round(time.Second)), zap.Duration("retry_in", wait.Round(time.Millisecond)),
			zap.String("code", enroll.Code(err))}
		life := id.Leaf.NotAfter.Sub(id.Leaf.NotBefore)
		switch {
		case left <= 0:
			r.log.Error("certificate expired and could not be renewed: the CA refuses expired certificates, enroll again", fields...)
		case left < life/6:
			r.log.Error("certificate expires soon and renewal keeps failing; the running certificate stays in use until then", fields...)
		default:
			r.log.Warn("renewal failed; the running certificate stays in use, retrying", fields...)
		}
		if err := r.cfg.Sleep(ctx, wait); err != nil {
			return nil
		}
	}
}

func (r *Renewer) next(prev time.Duration) time.Duration {
	if prev <= 0 {
		return r.cfg.MinBackoff
	}
	return min(prev*2, r.cfg.MaxBackoff)
}

// jitter spreads d over [d/2, d] so a fleet whose CA comes back does not return at once.
func jitter(d time.Duration) time.Duration {
	if d <= time.Millisecond {
		return d
	}
	return d/2 + rand.N(d/2)
}

// RenewNow renews once: a token signed with the certificate's key, POST /1.0/renew, checks
// that the answer is the same identity for the same key, swap, write.
func (r *Renewer) RenewNow(ctx context.Context) error {
	id := r.cfg.Store.Load()
	sum := sha256.Sum256(id.CA.Raw)
	bearer, err := token.Sign(id.Signer(), id.Chain, token.Claims{Audience: enrolltoken.RenewAudience(hex.EncodeToString(sum[:]))})
	if err != nil {
		return fmt.Errorf("renewal token: %w", err)
	}
	cl := enroll.NewClient(r.base, id.CA, r.cfg.Dial)
	defer cl.CloseIdleConnections()
	resp, err := cl.Renew(ctx, bearer)
	if err != nil {
		return err
	}
	leaf, certPEM, err := resp.Leaf()
	if err != nil {
		return err
	}
	if !samePublicKey(leaf, id.Leaf) {
		return errors.New("renewed certificate is for another key")
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(id.Cert.PrivateKey)
	if err != nil {
		return fmt.Errorf("renewal: key: %w", err)
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: id.CA.Raw})
	next, err := identity.Parse(certPEM, keyPEM, caPEM)
	if err != nil {
		return fmt.Errorf("renewed certificate: %w", err)
	}
	if err := r.cfg.Store.Replace(next); err != nil {
		return fmt.Errorf("renewed certificate: %w", err)
	}
	r.renewals.Add(1)
	r.log.Info("certificate renewed", zap.String("serial", leaf.SerialNumber.Text(16)),
		zap.String("old_serial", id.Leaf.SerialNumber.Text(16)),
		zap.Time("cert_expires", leaf.NotAfter), zap.Time("renew_at", r.RenewAt(leaf)))
	if r.cfg.CertPath != "" {
		if err := writeKeepMode(r.cfg.CertPath, certPEM); err != nil {
			r.log.Error("renewed certificate not written; it is in use, but a restart would load the old one",
				zap.String("path", r.cfg.CertPath), zap.Error(err))
		}
	} else if !r.warnedMem.Swap(true) {
		r.log.Warn("cert is inline PEM: renewed certificates live in memory only, a restart loads the configured one")
	}
	if r.cfg.OnRenew != nil {
		r.cfg.OnRenew(next)
	}
	return nil
}

func samePublicKey(a, b *x509.Certificate) bool {
	k, ok := a.PublicKey.(interface{ Equal(crypto.PublicKey) bool })
	return ok && k.Equal(b.PublicKey)
}

// writeKeepMode replaces path atomically, keeping its mode (0644 for a new file).
func writeKeepMode(path string, data []byte) error {
	perm := os.FileMode(0o644)
	if fi, err := os.Stat(path); err == nil {
		perm = fi.Mode().Perm()
	}
	return enroll.WriteFile(filepath.Clean(path), data, perm, true)
}
