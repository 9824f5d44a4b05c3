// Package tlsconf builds the TLS configurations Sentinel uses: the end-to-end mutual TLS 1.3
// session between client and server (pinned to the server's uuid), and the outer TLS of the
// relay legs.
package tlsconf

import (
	"crypto/tls"
	"crypto/x509"

	"github.com/sentinel-zt/sentinel/pkg/certattrs"
)

// CONTRACT STUB: bodies are replaced by the implementation.

// Client returns the client side of the end-to-end session: TLS 1.3 only, presents the
// certificate getCert returns, and accepts only a server certificate that chains to roots(),
// is valid now, has role server and uuid == serverUUID (and the matching identity SAN).
// check, if not nil, runs after those (revocation).
func Client(getCert func(*tls.CertificateRequestInfo) (*tls.Certificate, error), roots func() *x509.CertPool, serverUUID string, check func(leaf *x509.Certificate) error) *tls.Config {
	return nil
}

// Server returns the server side of the end-to-end session: TLS 1.3 only, a client
// certificate is required, must chain to roots() with ClientAuth usage and have role client;
// check then applies the server's policy (server uuid, revocation, schedule) and its error
// fails the handshake.
func Server(getCert func(*tls.ClientHelloInfo) (*tls.Certificate, error), roots func() *x509.CertPool, check func(leaf *x509.Certificate, attrs certattrs.Attrs) error) *tls.Config {
	return nil
}

// Listener returns the outer TLS config of a relay's (or direct-mode server's) HTTPS listener.
func Listener(getCert func(*tls.ClientHelloInfo) (*tls.Certificate, error)) *tls.Config {
	return nil
}

// Dialer returns the outer TLS config for dialing a relay: trusts roots() and the system pool
// (a CDN in front of the relay presents a public certificate), verifies the host name.
func Dialer(roots func() *x509.CertPool) *tls.Config {
	return nil
}
