// Package identity holds a component's certificate, key, CA and decoded attributes, checked
// once when loaded and swapped atomically on reload.
package identity

import (
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"sync/atomic"

	"github.com/sentinel-zt/sentinel/pkg/certattrs"
)

// CONTRACT STUB: bodies are replaced by the implementation.

// Identity is one loaded, checked certificate set.
type Identity struct {
	Cert  tls.Certificate     // leaf first, then intermediates; PrivateKey set
	Leaf  *x509.Certificate   // Cert.Leaf
	Chain []*x509.Certificate // leaf and intermediates, for the token's x5c
	Attrs certattrs.Attrs
	CA    *x509.Certificate // the root
	Roots *x509.CertPool    // a pool holding only CA
}

// Signer is the private key.
func (id *Identity) Signer() crypto.Signer { return id.Cert.PrivateKey.(crypto.Signer) }

// Parse checks that the key matches the certificate, that the certificate chains to the CA
// and is valid now, and decodes its attributes. Errors say which of those failed.
func Parse(certPEM, keyPEM, caPEM []byte) (*Identity, error) {
	return nil, errors.New("identity: not implemented")
}

// Store holds the current Identity.
type Store struct{ cur atomic.Pointer[Identity] }

// NewStore returns a store holding id.
func NewStore(id *Identity) *Store { s := &Store{}; s.cur.Store(id); return s }

// Load returns the current identity.
func (s *Store) Load() *Identity { return s.cur.Load() }

// Replace swaps in id if it keeps the same role and uuid (a reload must not change who we are).
func (s *Store) Replace(id *Identity) error { return errors.New("identity: not implemented") }

// Roots returns the current CA pool.
func (s *Store) Roots() *x509.CertPool { return s.Load().Roots }

// GetCertificate and GetClientCertificate serve the current certificate to crypto/tls.
func (s *Store) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return &s.Load().Cert, nil
}
func (s *Store) GetClientCertificate(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
	return &s.Load().Cert, nil
}
