package tlsconf_test

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sentinel-zt/sentinel/internal/testpki"
	"github.com/sentinel-zt/sentinel/pkg/tlsconf"
)

// serveOuter runs a relay-style HTTPS listener on loopback with tlsconf.Listener and leaf;
// each connection is handshaken and closed. It returns the port.
func serveOuter(t *testing.T, leaf *testpki.Leaf) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", tlsconf.Listener(serverCert(leaf)))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer conn.Close()
				_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
				if err := conn.(*tls.Conn).Handshake(); err != nil {
					t.Logf("outer listener: %v", err)
					return
				}
				_, _ = conn.Write([]byte{1})
			})
		}
	})
	t.Cleanup(func() {
		_ = ln.Close()
		wg.Wait()
	})
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

func dial(port string, cfg *tls.Config) (*tls.Conn, error) {
	d := &net.Dialer{Timeout: 10 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", net.JoinHostPort("127.0.0.1", port), cfg)
	if err != nil {
		return nil, err
	}
	var b [1]byte
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadFull(c, b[:]); err != nil {
		_ = c.Close()
		return nil, err
	}
	return c, nil
}

func TestOuter(t *testing.T) {
	f := newFixture(t)
	loopback := []net.IP{net.IPv4(127, 0, 0, 1)}
	relay := f.issueRelay(t, f.ca, testpki.Opts{DNSNames: []string{"relay.test"}, IPAddresses: loopback})
	port := serveOuter(t, relay)
	roots := static(f.ca.Pool)

	named := func(name string) *tls.Config {
		cfg := tlsconf.Dialer(roots)
		cfg.ServerName = name // what gorilla/websocket does with the URL host
		return cfg
	}

	t.Run("ok/dns-name", func(t *testing.T) {
		c, err := dial(port, named("relay.test"))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		st := c.ConnectionState()
		if st.NegotiatedProtocol != "http/1.1" {
			t.Errorf("ALPN %q, want http/1.1", st.NegotiatedProtocol)
		}
		if st.Version != tls.VersionTLS13 {
			t.Errorf("version %x, want TLS 1.3 between two Go peers", st.Version)
		}
	})
	t.Run("ok/ip-with-DialerFor", func(t *testing.T) {
		c, err := dial(port, tlsconf.DialerFor(roots, "127.0.0.1"))
		if err != nil {
			t.Fatal(err)
		}
		_ = c.Close()
	})
	t.Run("ok/tls12-peer", func(t *testing.T) {
		// A CDN or proxy that speaks only TLS 1.2 to the origin is accepted.
		cfg := named("relay.test")
		cfg.MaxVersion = tls.VersionTLS12
		c, err := dial(port, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if v := c.ConnectionState().Version; v != tls.VersionTLS12 {
			t.Errorf("version %x, want TLS 1.2", v)
		}
		_ = c.Close()
	})
	t.Run("fail/tls11-peer", func(t *testing.T) {
		cfg := named("relay.test")
		cfg.MinVersion, cfg.MaxVersion = tls.VersionTLS10, tls.VersionTLS11
		if _, err := dial(port, cfg); err == nil {
			t.Fatal("listener accepted TLS 1.1")
		}
	})
	t.Run("fail/wrong-host", func(t *testing.T) {
		_, err := dial(port, named("other.test"))
		var he x509.HostnameError
		if !errors.As(err, &he) {
			t.Fatalf("err = %v, want a host name error", err)
		}
	})
	t.Run("fail/wrong-ip", func(t *testing.T) {
		if _, err := dial(port, tlsconf.DialerFor(roots, "127.0.0.2")); err == nil {
			t.Fatal("accepted a certificate for another IP")
		}
	})
	t.Run("fail/ip-without-name", func(t *testing.T) {
		// crypto/tls sends no SNI for an IP, so Dialer has no name to check: refused.
		_, err := dial(port, tlsconf.Dialer(roots))
		if err == nil || !strings.Contains(err.Error(), "DialerFor") {
			t.Fatalf("err = %v, want a refusal pointing at DialerFor", err)
		}
	})
	t.Run("fail/no-roots-and-not-public", func(t *testing.T) {
		// Without our CA only the system pool is left, which does not know this relay.
		if _, err := dial(port, tlsconf.DialerFor(static(nil), "relay.test")); err == nil {
			t.Fatal("accepted a private certificate without its CA")
		}
	})
	t.Run("fail/other-ca", func(t *testing.T) {
		other := f.issueRelay(t, f.otherCA, testpki.Opts{DNSNames: []string{"relay.test"}, IPAddresses: loopback})
		var ua x509.UnknownAuthorityError
		if _, err := dial(serveOuter(t, other), named("relay.test")); !errors.As(err, &ua) {
			t.Fatalf("err = %v, want unknown authority", err)
		}
	})
	t.Run("fail/expired", func(t *testing.T) {
		old := f.issueRelay(t, f.ca, testpki.Opts{DNSNames: []string{"relay.test"},
			NotBefore: time.Now().Add(-2 * time.Hour), NotAfter: time.Now().Add(-time.Hour)})
		var inv x509.CertificateInvalidError
		if _, err := dial(serveOuter(t, old), named("relay.test")); !errors.As(err, &inv) || inv.Reason != x509.Expired {
			t.Fatalf("err = %v, want expired", err)
		}
	})
	t.Run("fail/dialer-refuses-tls11-server", func(t *testing.T) {
		ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{
			MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11,
			Certificates: []tls.Certificate{relay.TLS},
		})
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		wg.Go(func() {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
			_ = conn.(*tls.Conn).Handshake()
			_ = conn.Close()
		})
		defer wg.Wait()
		defer ln.Close()
		_, p, _ := net.SplitHostPort(ln.Addr().String())
		if _, err := dial(p, named("relay.test")); err == nil {
			t.Fatal("dialer accepted TLS 1.1")
		}
	})
}
