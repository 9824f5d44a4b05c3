// Package tlsconf builds the TLS configurations Sentinel uses: the end-to-end mutual TLS 1.3
// session between client and server (pinned to the server's uuid), and the outer TLS of the
// relay legs.
package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/sentinel-zt/sentinel/pkg/certattrs"
	"github.com/sentinel-zt/sentinel/pkg/tunnel"
)

// HTTP1 is the ALPN protocol of the relay legs: WebSocket upgrades need HTTP/1.1.
const HTTP1 = "http/1.1"

// Refusals of a peer certificate are *tunnel.DenyError values wrapped with the side that
// refused ("verify server certificate: ..."), so tunnel.DenyCode gives the audit reason and
// metric label: bad_chain (no certificate, unknown CA, wrong key usage, no attributes, no
// identity name), expired (outside its validity period), wrong_role, not_allowed (the pinned
// server identity differs). An error from check is wrapped as is.

// Client returns the client side of the end-to-end session: TLS 1.3 only, presents the
// certificate getCert returns, and accepts only a server certificate that chains to roots(),
// is valid now, has role server and uuid == serverUUID (and the matching identity SAN).
// check, if not nil, runs after those (revocation).
//
// Verification is done in VerifyConnection (InsecureSkipVerify only turns off the default
// verifier, which cannot follow a roots func) so a reloaded CA applies to the next handshake.
// Session resumption is not offered (no ClientSessionCache), so every session verifies afresh.
func Client(getCert func(*tls.CertificateRequestInfo) (*tls.Certificate, error), roots func() *x509.CertPool, serverUUID string, check func(leaf *x509.Certificate) error) *tls.Config {
	identity := certattrs.IdentityDNS(certattrs.RoleServer, serverUUID)
	return &tls.Config{
		MinVersion:           tls.VersionTLS13,
		MaxVersion:           tls.VersionTLS13,
		GetClientCertificate: getCert,
		ServerName:           identity,
		InsecureSkipVerify:   true, //nolint:gosec // verified in VerifyConnection below
		VerifyConnection: func(cs tls.ConnectionState) error {
			if err := verifyServer(cs.PeerCertificates, roots(), serverUUID, identity, check); err != nil {
				return fmt.Errorf("verify server certificate: %w", err)
			}
			return nil
		},
	}
}

func verifyServer(peer []*x509.Certificate, roots *x509.CertPool, serverUUID, identity string, check func(*x509.Certificate) error) error {
	leaf, attrs, err := verifyPeer(peer, roots, x509.ExtKeyUsageServerAuth, certattrs.RoleServer)
	if err != nil {
		return err
	}
	if got := attrs.UUID(); got != serverUUID {
		return tunnel.Deny(http.StatusForbidden, tunnel.CodeNotAllowed, "server identity mismatch: got uuid %s, want %s", got, serverUUID)
	}
	if err := leaf.VerifyHostname(identity); err != nil {
		return tunnel.Deny(http.StatusUnauthorized, tunnel.CodeBadChain, "certificate lacks identity name %s", identity)
	}
	if check != nil {
		if err := check(leaf); err != nil {
			return err
		}
	}
	return nil
}

// Server returns the server side of the end-to-end session: TLS 1.3 only, a client
// certificate is required, must chain to roots() with ClientAuth usage and have role client;
// check then applies the server's policy (server uuid, revocation, schedule) and its error
// fails the handshake.
//
// The client certificate is requested with RequireAnyClientCert (proof of possession is still
// checked by crypto/tls) and verified in VerifyConnection against the current roots().
// Session tickets are off, so no session skips that verification.
func Server(getCert func(*tls.ClientHelloInfo) (*tls.Certificate, error), roots func() *x509.CertPool, check func(leaf *x509.Certificate, attrs certattrs.Attrs) error) *tls.Config {
	return &tls.Config{
		MinVersion:             tls.VersionTLS13,
		MaxVersion:             tls.VersionTLS13,
		GetCertificate:         getCert,
		ClientAuth:             tls.RequireAnyClientCert,
		SessionTicketsDisabled: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			leaf, attrs, err := verifyPeer(cs.PeerCertificates, roots(), x509.ExtKeyUsageClientAuth, certattrs.RoleClient)
			if err != nil {
				return fmt.Errorf("verify client certificate: %w", err)
			}
			if check != nil {
				if err := check(leaf, attrs); err != nil {
					return fmt.Errorf("verify client certificate: %w", err)
				}
			}
			return nil
		},
	}
}

// verifyPeer verifies a peer's chain to roots now, for usage, and decodes its attributes,
// which must grant role.
// VerifyClientChain checks a client certificate chain presented outside a handshake (a
// renewed certificate handed over inside a live session) exactly as Server does during one:
// chain to roots now with ClientAuth usage, attributes decode, role client.
func VerifyClientChain(chain []*x509.Certificate, roots *x509.CertPool) (*x509.Certificate, certattrs.Attrs, error) {
	return verifyPeer(chain, roots, x509.ExtKeyUsageClientAuth, certattrs.RoleClient)
}

func verifyPeer(peer []*x509.Certificate, roots *x509.CertPool, usage x509.ExtKeyUsage, role certattrs.Role) (*x509.Certificate, certattrs.Attrs, error) {
	if len(peer) == 0 {
		return nil, certattrs.Attrs{}, tunnel.Deny(http.StatusUnauthorized, tunnel.CodeBadChain, "no certificate")
	}
	if roots == nil {
		// A nil Roots would mean the system pool: never for the end-to-end session.
		return nil, certattrs.Attrs{}, tunnel.Deny(http.StatusUnauthorized, tunnel.CodeBadChain, "no trusted CA loaded")
	}
	leaf := peer[0]
	opts := x509.VerifyOptions{
		Roots:         roots,
		Intermediates: x509.NewCertPool(),
		CurrentTime:   time.Now(),
		KeyUsages:     []x509.ExtKeyUsage{usage},
	}
	for _, c := range peer[1:] {
		opts.Intermediates.AddCert(c)
	}
	if _, err := leaf.Verify(opts); err != nil {
		return nil, certattrs.Attrs{}, chainDeny(err)
	}
	attrs, err := certattrs.Decode(leaf)
	if err != nil {
		return nil, certattrs.Attrs{}, tunnel.Deny(http.StatusUnauthorized, tunnel.CodeBadChain, "certificate attributes: %v", err)
	}
	if got := attrs.Role(); got != role {
		return nil, certattrs.Attrs{}, tunnel.Deny(http.StatusForbidden, tunnel.CodeWrongRole, "certificate role %q, want %q", got, role)
	}
	return leaf, attrs, nil
}

// chainDeny maps a chain verification error to a refusal.
func chainDeny(err error) error {
	var inv x509.CertificateInvalidError
	if errors.As(err, &inv) && inv.Reason == x509.Expired {
		return tunnel.Deny(http.StatusUnauthorized, tunnel.CodeExpired, "%v", err)
	}
	return tunnel.Deny(http.StatusUnauthorized, tunnel.CodeBadChain, "%v", err)
}

// Listener returns the outer TLS config of a relay's (or direct-mode server's) HTTPS listener.
// TLS 1.2 is the floor, for CDNs and TLS-terminating proxies in front of the relay; curves and
// cipher suites are Go's defaults. ALPN offers only http/1.1 (WebSocket upgrades).
func Listener(getCert func(*tls.ClientHelloInfo) (*tls.Certificate, error)) *tls.Config {
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: getCert,
		NextProtos:     []string{HTTP1},
	}
}

// Dialer returns the outer TLS config for dialing a relay: trusts roots() and the system pool
// (a CDN in front of the relay presents a public certificate), verifies the host name.
//
// The host name checked is the SNI name of the handshake, that is the config's ServerName
// (which gorilla/websocket and net/http fill in from the URL). crypto/tls sends no SNI for
// an IP address, so for a relay dialed by IP this config refuses the handshake: use
// DialerFor with that IP instead.
func Dialer(roots func() *x509.CertPool) *tls.Config {
	return DialerFor(roots, "")
}

// DialerFor is Dialer for a known relay host: host (a DNS name or an IP address) is both the
// ServerName and the name the certificate must match, so relays dialed by IP work too.
func DialerFor(roots func() *x509.CertPool, host string) *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		ServerName: host,
		NextProtos: []string{HTTP1},
		// The default verifier takes one static RootCAs pool; a union of a reloadable pool and
		// the system pool cannot be built (a CertPool does not list its certificates), so
		// verification happens in VerifyConnection: our roots first, then the system's.
		InsecureSkipVerify: true, //nolint:gosec // verified in VerifyConnection below
		VerifyConnection: func(cs tls.ConnectionState) error {
			name := host
			if name == "" {
				name = cs.ServerName
			}
			if err := verifyRelay(cs.PeerCertificates, roots(), name); err != nil {
				return fmt.Errorf("verify relay certificate: %w", err)
			}
			return nil
		},
	}
}

func verifyRelay(peer []*x509.Certificate, roots *x509.CertPool, name string) error {
	if name == "" {
		return errors.New("no server name to verify (an IP address needs tlsconf.DialerFor)")
	}
	if len(peer) == 0 {
		return errors.New("no certificate")
	}
	opts := x509.VerifyOptions{
		DNSName:       name,
		Intermediates: x509.NewCertPool(),
		CurrentTime:   time.Now(),
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, c := range peer[1:] {
		opts.Intermediates.AddCert(c)
	}
	var errOurs error
	if roots != nil {
		opts.Roots = roots
		if _, errOurs = peer[0].Verify(opts); errOurs == nil {
			return nil
		}
	}
	// Roots nil: the system pool (an error if the platform has none).
	opts.Roots = nil
	_, errSystem := peer[0].Verify(opts)
	if errSystem == nil {
		return nil
	}
	// Report the failure that says most: "unknown authority" from one pool is expected
	// when the certificate comes from the other.
	var ua x509.UnknownAuthorityError
	if errOurs != nil && !errors.As(errOurs, &ua) {
		return errOurs
	}
	return errSystem
}
