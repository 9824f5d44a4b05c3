package tlsconf_test

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.uber.org/goleak"

	"github.com/sentinel-zt/sentinel/internal/testpki"
	"github.com/sentinel-zt/sentinel/pkg/certattrs"
	"github.com/sentinel-zt/sentinel/pkg/tlsconf"
	"github.com/sentinel-zt/sentinel/pkg/tunnel"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type fixture struct {
	ca, otherCA *testpki.CA
	serverUUID  string
	server      *testpki.Leaf
	client      *testpki.Leaf
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{
		ca:         testpki.NewCA(t, "Sentinel Test CA"),
		otherCA:    testpki.NewCA(t, "Another CA"),
		serverUUID: uuid.NewString(),
	}
	f.server = f.issueServer(t, f.ca, f.serverUUID, testpki.Opts{})
	f.client = f.issueClient(t, f.ca, testpki.Opts{})
	return f
}

func (f *fixture) issueServer(t *testing.T, ca *testpki.CA, id string, opts testpki.Opts) *testpki.Leaf {
	t.Helper()
	return ca.Issue(t, certattrs.Attrs{Server: &certattrs.Server{
		UUID: id,
		Name: "server1",
		Resources: []certattrs.Resource{{
			UUID:   uuid.NewString(),
			Name:   "db",
			Type:   "cidr",
			Prefix: netip.MustParsePrefix("10.0.0.0/24"),
			Ports:  certattrs.PortRange{First: 3306, Last: 3306},
		}},
	}}, opts)
}

func (f *fixture) issueClient(t *testing.T, ca *testpki.CA, opts testpki.Opts) *testpki.Leaf {
	t.Helper()
	return ca.Issue(t, certattrs.Attrs{Client: &certattrs.Client{
		Name:   "alice",
		Port:   48080,
		Server: certattrs.ServerRef{UUID: f.serverUUID, Name: "server1"},
		Target: certattrs.Target{Host: "10.0.0.5", Port: 3306},
	}}, opts)
}

func (f *fixture) issueRelay(t *testing.T, ca *testpki.CA, opts testpki.Opts) *testpki.Leaf {
	t.Helper()
	return ca.Issue(t, certattrs.Attrs{Relay: &certattrs.Relay{Name: "relay1", Address: "relay.test", Port: 8443}}, opts)
}

func static(p *x509.CertPool) func() *x509.CertPool { return func() *x509.CertPool { return p } }

func clientCert(l *testpki.Leaf) func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
	return func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
		if l == nil {
			return &tls.Certificate{}, nil // no certificate
		}
		return &l.TLS, nil
	}
}

func serverCert(l *testpki.Leaf) func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return &l.TLS, nil }
}

// handshake runs both sides over net.Pipe. The server writes one byte once its handshake is
// done and the client reads it: in TLS 1.3 the client finishes first, and learns that the
// server refused its certificate only from the alert that follows.
func handshake(t *testing.T, ccfg, scfg *tls.Config) (clientErr, serverErr error) {
	t.Helper()
	c1, c2 := net.Pipe()
	deadline := time.Now().Add(10 * time.Second)
	_ = c1.SetDeadline(deadline)
	_ = c2.SetDeadline(deadline)
	done := make(chan error, 1)
	go func() {
		// Close the pipe, not the tls.Conn: its close_notify would wait on a reader that
		// is gone.
		defer c2.Close()
		s := tls.Server(c2, scfg)
		err := s.Handshake()
		if err == nil {
			_, err = s.Write([]byte{1})
		}
		done <- err
	}()
	c := tls.Client(c1, ccfg)
	clientErr = c.Handshake()
	if clientErr == nil {
		var b [1]byte
		_, clientErr = io.ReadFull(c, b[:])
		if clientErr == nil && c.ConnectionState().Version != tls.VersionTLS13 {
			clientErr = errors.New("not TLS 1.3")
		}
	}
	_ = c1.Close()
	serverErr = <-done
	return clientErr, serverErr
}

type side int

const (
	none side = iota
	clientSide
	serverSide
)

type e2eCase struct {
	ccfg, scfg *tls.Config
	refusedBy  side   // none: the handshake succeeds
	code       string // DenyCode of the refusing side's error ("" = not a DenyError)
	contains   string // substring of the refusing side's error
}

func TestEndToEnd(t *testing.T) {
	f := newFixture(t)
	roots := static(f.ca.Pool)
	good := func() (*tls.Config, *tls.Config) {
		return tlsconf.Client(clientCert(f.client), roots, f.serverUUID, nil),
			tlsconf.Server(serverCert(f.server), roots, nil)
	}
	errRevoked := tunnel.Deny(http.StatusUnauthorized, tunnel.CodeRevoked, "certificate revoked")

	tests := map[string]func(t *testing.T) e2eCase{
		"ok": func(t *testing.T) e2eCase {
			var sawServer, sawClient atomic.Bool
			c := tlsconf.Client(clientCert(f.client), roots, f.serverUUID, func(leaf *x509.Certificate) error {
				sawServer.Store(leaf.Equal(f.server.Cert))
				return nil
			})
			s := tlsconf.Server(serverCert(f.server), roots, func(leaf *x509.Certificate, a certattrs.Attrs) error {
				sawClient.Store(leaf.Equal(f.client.Cert) && a.Role() == certattrs.RoleClient &&
					a.Client.Server.UUID == f.serverUUID && a.UUID() == f.client.Attrs.Client.UUID)
				return nil
			})
			t.Cleanup(func() {
				if !sawServer.Load() || !sawClient.Load() {
					t.Errorf("check saw server %v, client %v", sawServer.Load(), sawClient.Load())
				}
			})
			return e2eCase{ccfg: c, scfg: s}
		},
		"ok/ed25519": func(t *testing.T) e2eCase {
			srv := f.issueServer(t, f.ca, f.serverUUID, testpki.Opts{Ed25519: true})
			cli := f.issueClient(t, f.ca, testpki.Opts{Ed25519: true})
			return e2eCase{
				ccfg: tlsconf.Client(clientCert(cli), roots, f.serverUUID, nil),
				scfg: tlsconf.Server(serverCert(srv), roots, nil),
			}
		},
		"fail/pin-mismatch": func(t *testing.T) e2eCase {
			// A perfectly valid server certificate from our CA, for another server.
			other := f.issueServer(t, f.ca, uuid.NewString(), testpki.Opts{})
			c, _ := good()
			return e2eCase{ccfg: c, scfg: tlsconf.Server(serverCert(other), roots, nil), refusedBy: clientSide,
				code:     tunnel.CodeNotAllowed,
				contains: "server identity mismatch: got uuid " + other.Attrs.Server.UUID + ", want " + f.serverUUID}
		},
		"fail/server-without-identity-san": func(t *testing.T) e2eCase {
			srv := f.issueServer(t, f.ca, f.serverUUID, testpki.Opts{NoIdentitySAN: true})
			c, _ := good()
			return e2eCase{ccfg: c, scfg: tlsconf.Server(serverCert(srv), roots, nil), refusedBy: clientSide,
				code: tunnel.CodeBadChain, contains: "identity name"}
		},
		"fail/relay-as-server": func(t *testing.T) e2eCase {
			relay := f.issueRelay(t, f.ca, testpki.Opts{})
			c, _ := good()
			return e2eCase{ccfg: c, scfg: tlsconf.Server(serverCert(relay), roots, nil), refusedBy: clientSide,
				code: tunnel.CodeWrongRole}
		},
		"fail/server-other-ca": func(t *testing.T) e2eCase {
			srv := f.issueServer(t, f.otherCA, f.serverUUID, testpki.Opts{})
			c, _ := good()
			return e2eCase{ccfg: c, scfg: tlsconf.Server(serverCert(srv), roots, nil), refusedBy: clientSide,
				code: tunnel.CodeBadChain}
		},
		"fail/server-expired": func(t *testing.T) e2eCase {
			srv := f.issueServer(t, f.ca, f.serverUUID, testpki.Opts{NotBefore: time.Now().Add(-2 * time.Hour), NotAfter: time.Now().Add(-time.Hour)})
			c, _ := good()
			return e2eCase{ccfg: c, scfg: tlsconf.Server(serverCert(srv), roots, nil), refusedBy: clientSide,
				code: tunnel.CodeExpired}
		},
		"fail/server-without-serverauth": func(t *testing.T) e2eCase {
			srv := f.issueServer(t, f.ca, f.serverUUID, testpki.Opts{ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
			c, _ := good()
			return e2eCase{ccfg: c, scfg: tlsconf.Server(serverCert(srv), roots, nil), refusedBy: clientSide,
				code: tunnel.CodeBadChain}
		},
		"fail/client-check": func(t *testing.T) e2eCase {
			_, s := good()
			return e2eCase{
				ccfg:      tlsconf.Client(clientCert(f.client), roots, f.serverUUID, func(*x509.Certificate) error { return errRevoked }),
				scfg:      s,
				refusedBy: clientSide, code: tunnel.CodeRevoked,
			}
		},
		"fail/server-tls12-only": func(t *testing.T) e2eCase {
			c, _ := good()
			return e2eCase{ccfg: c, refusedBy: clientSide, contains: "version", scfg: &tls.Config{
				MinVersion: tls.VersionTLS12, MaxVersion: tls.VersionTLS12,
				Certificates: []tls.Certificate{f.server.TLS}, ClientAuth: tls.RequireAnyClientCert,
			}}
		},
		"fail/client-wrong-role": func(t *testing.T) e2eCase {
			// A server certificate carries ClientAuth too; its role still is not client.
			other := f.issueServer(t, f.ca, uuid.NewString(), testpki.Opts{})
			_, s := good()
			return e2eCase{ccfg: tlsconf.Client(clientCert(other), roots, f.serverUUID, nil), scfg: s,
				refusedBy: serverSide, code: tunnel.CodeWrongRole}
		},
		"fail/client-other-ca": func(t *testing.T) e2eCase {
			cli := f.issueClient(t, f.otherCA, testpki.Opts{})
			_, s := good()
			return e2eCase{ccfg: tlsconf.Client(clientCert(cli), roots, f.serverUUID, nil), scfg: s,
				refusedBy: serverSide, code: tunnel.CodeBadChain}
		},
		"fail/no-client-cert": func(t *testing.T) e2eCase {
			_, s := good()
			return e2eCase{ccfg: tlsconf.Client(clientCert(nil), roots, f.serverUUID, nil), scfg: s,
				refusedBy: serverSide, contains: "certificate"}
		},
		"fail/client-expired": func(t *testing.T) e2eCase {
			cli := f.issueClient(t, f.ca, testpki.Opts{NotBefore: time.Now().Add(-2 * time.Hour), NotAfter: time.Now().Add(-time.Hour)})
			_, s := good()
			return e2eCase{ccfg: tlsconf.Client(clientCert(cli), roots, f.serverUUID, nil), scfg: s,
				refusedBy: serverSide, code: tunnel.CodeExpired}
		},
		"fail/client-not-yet-valid": func(t *testing.T) e2eCase {
			cli := f.issueClient(t, f.ca, testpki.Opts{NotBefore: time.Now().Add(time.Hour), NotAfter: time.Now().Add(2 * time.Hour)})
			_, s := good()
			return e2eCase{ccfg: tlsconf.Client(clientCert(cli), roots, f.serverUUID, nil), scfg: s,
				refusedBy: serverSide, code: tunnel.CodeExpired}
		},
		"fail/client-without-attrs": func(t *testing.T) e2eCase {
			cli := f.issueClient(t, f.ca, testpki.Opts{NoAttrs: true})
			_, s := good()
			return e2eCase{ccfg: tlsconf.Client(clientCert(cli), roots, f.serverUUID, nil), scfg: s,
				refusedBy: serverSide, code: tunnel.CodeBadChain}
		},
		"fail/server-check": func(t *testing.T) e2eCase {
			c, _ := good()
			return e2eCase{ccfg: c,
				scfg: tlsconf.Server(serverCert(f.server), roots, func(*x509.Certificate, certattrs.Attrs) error {
					return errRevoked
				}),
				refusedBy: serverSide, code: tunnel.CodeRevoked}
		},
		"fail/client-tls12-only": func(t *testing.T) e2eCase {
			_, s := good()
			return e2eCase{scfg: s, refusedBy: serverSide, contains: "version", ccfg: &tls.Config{
				MinVersion: tls.VersionTLS12, MaxVersion: tls.VersionTLS12,
				Certificates: []tls.Certificate{f.client.TLS}, InsecureSkipVerify: true, //nolint:gosec // test peer
			}}
		},
	}

	for name, fn := range tests {
		t.Run(name, func(t *testing.T) {
			c := fn(t)
			if c.refusedBy != none {
				// The good pair first: a refusal must be the attack's doing.
				gc, gs := good()
				if cerr, serr := handshake(t, gc, gs); cerr != nil || serr != nil {
					t.Fatalf("good handshake failed: client %v, server %v", cerr, serr)
				}
			}
			cerr, serr := handshake(t, c.ccfg, c.scfg)
			switch c.refusedBy {
			case none:
				if cerr != nil || serr != nil {
					t.Fatalf("handshake failed: client %v, server %v", cerr, serr)
				}
				return
			case clientSide:
				checkRefusal(t, "client", cerr, c)
				if serr == nil {
					t.Error("server side completed a session the client refused")
				}
			case serverSide:
				checkRefusal(t, "server", serr, c)
				if cerr == nil {
					t.Error("client side got data through a session the server refused")
				}
			}
		})
	}
}

func checkRefusal(t *testing.T, who string, err error, c e2eCase) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s accepted the handshake", who)
	}
	t.Logf("%s refused: %v", who, err)
	if c.code != "" {
		if got := tunnel.DenyCode(err, ""); got != c.code {
			t.Errorf("%s: code %q, want %q (%v)", who, got, c.code, err)
		}
	}
	if c.contains != "" && !strings.Contains(err.Error(), c.contains) {
		t.Errorf("%s: error %q does not say %q", who, err, c.contains)
	}
}

// TestRootsReload shows that roots is read at each handshake: a certificate refused under
// one CA is accepted once the CA is swapped in, on both sides, without new configs.
func TestRootsReload(t *testing.T) {
	f := newFixture(t)
	var pool atomic.Pointer[x509.CertPool]
	pool.Store(f.otherCA.Pool)
	roots := func() *x509.CertPool { return pool.Load() }
	ccfg := tlsconf.Client(clientCert(f.client), roots, f.serverUUID, nil)
	scfg := tlsconf.Server(serverCert(f.server), roots, nil)
	if cerr, _ := handshake(t, ccfg, scfg); tunnel.DenyCode(cerr, "") != tunnel.CodeBadChain {
		t.Fatalf("before reload: client err %v, want bad_chain", cerr)
	}
	pool.Store(f.ca.Pool)
	if cerr, serr := handshake(t, ccfg, scfg); cerr != nil || serr != nil {
		t.Fatalf("after reload: client %v, server %v", cerr, serr)
	}
}

func TestNilRootsRefuses(t *testing.T) {
	f := newFixture(t)
	ccfg := tlsconf.Client(clientCert(f.client), static(nil), f.serverUUID, nil)
	scfg := tlsconf.Server(serverCert(f.server), static(f.ca.Pool), nil)
	if cerr, _ := handshake(t, ccfg, scfg); tunnel.DenyCode(cerr, "") != tunnel.CodeBadChain {
		t.Fatalf("client with no CA: err %v, want bad_chain", cerr)
	}
}

func TestConfigShape(t *testing.T) {
	f := newFixture(t)
	roots := static(f.ca.Pool)
	c := tlsconf.Client(clientCert(f.client), roots, f.serverUUID, nil)
	s := tlsconf.Server(serverCert(f.server), roots, nil)
	for name, cfg := range map[string]*tls.Config{"client": c, "server": s} {
		if cfg.MinVersion != tls.VersionTLS13 || cfg.MaxVersion != tls.VersionTLS13 {
			t.Errorf("%s: versions %x..%x, want TLS 1.3 only", name, cfg.MinVersion, cfg.MaxVersion)
		}
		if cfg.VerifyConnection == nil {
			t.Errorf("%s: no VerifyConnection", name)
		}
	}
	if c.ServerName != certattrs.IdentityDNS(certattrs.RoleServer, f.serverUUID) {
		t.Errorf("client ServerName = %q", c.ServerName)
	}
	if s.ClientAuth != tls.RequireAnyClientCert || !s.SessionTicketsDisabled {
		t.Errorf("server ClientAuth %v, tickets disabled %v", s.ClientAuth, s.SessionTicketsDisabled)
	}
	l := tlsconf.Listener(serverCert(f.server))
	d := tlsconf.Dialer(roots)
	for name, cfg := range map[string]*tls.Config{"listener": l, "dialer": d} {
		if cfg.MinVersion != tls.VersionTLS12 || cfg.MaxVersion != 0 {
			t.Errorf("%s: versions %x..%x, want TLS 1.2 and up", name, cfg.MinVersion, cfg.MaxVersion)
		}
		if len(cfg.NextProtos) != 1 || cfg.NextProtos[0] != "http/1.1" {
			t.Errorf("%s: NextProtos %q", name, cfg.NextProtos)
		}
		if cfg.CipherSuites != nil || cfg.CurvePreferences != nil {
			t.Errorf("%s: should keep Go's cipher and curve defaults", name)
		}
	}
}
