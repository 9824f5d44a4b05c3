// Package revoke keeps the set of revoked certificate serials from a signed CRL, read from a
// file (re-read on change) or an http(s) URL (polled), and tells subscribers when it changes.
package revoke

import (
	"context"
	"crypto/x509"
	"net/http"
	"time"

	"go.uber.org/zap"
)

// CONTRACT STUB: bodies are replaced by the implementation.

// Options tune a List.
type Options struct {
	Interval   time.Duration // file check or URL poll interval; default 1s for files, 30s for URLs
	HTTPClient *http.Client  // nil = a client with a 10s timeout
	Log        *zap.Logger   // nil = no logging
}

// List is the current revocation set. A nil *List revokes nothing.
type List struct{}

// New loads the CRL at source (a path or http(s) URL), checking its signature against
// issuer() (the CA, reloadable). A CRL that fails to load or verify is an error here; later
// failures keep the last good set and are logged.
func New(source string, issuer func() *x509.Certificate, opts Options) (*List, error) {
	return &List{}, nil
}

// Run re-reads or polls the source until ctx is done.
func (l *List) Run(ctx context.Context) error { <-ctx.Done(); return nil }

// Reload reads the source now (SIGHUP).
func (l *List) Reload() error { return nil }

// Revoked reports whether cert's serial is on the list.
func (l *List) Revoked(cert *x509.Certificate) bool { return false }

// Subscribe returns a channel that receives (without blocking the list) after every change
// of the set, and a function to stop the subscription.
func (l *List) Subscribe() (<-chan struct{}, func()) { return make(chan struct{}), func() {} }
