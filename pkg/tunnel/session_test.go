package tunnel_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/uuid"
	"github.com/hashicorp/yamux"
	"go.uber.org/goleak"

	"github.com/sentinel-zt/sentinel/internal/testpki"
	"github.com/sentinel-zt/sentinel/pkg/certattrs"
	"github.com/sentinel-zt/sentinel/pkg/tlsconf"
	"github.com/sentinel-zt/sentinel/pkg/tunnel"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// sessionPKI is a CA with a server and a client of that server.
type sessionPKI struct {
	ca             *testpki.CA
	server, client *testpki.Leaf
}

func newSessionPKI(t *testing.T) *sessionPKI {
	t.Helper()
	ca := testpki.NewCA(t, "tunnel root")
	server := ca.Issue(t, certattrs.Attrs{Server: &certattrs.Server{
		Name: "server1",
		Resources: []certattrs.Resource{{
			UUID: uuid.NewString(), Name: "db", Type: "cidr",
			Prefix: netip.MustParsePrefix("127.0.0.0/8"), Ports: certattrs.PortRange{First: 3306, Last: 3306},
		}},
	}}, testpki.Opts{})
	client := ca.Issue(t, certattrs.Attrs{Client: &certattrs.Client{
		Name:   "alice",
		Port:   48080,
		Server: certattrs.ServerRef{UUID: server.Attrs.UUID(), Name: "server1"},
		Target: certattrs.Target{Host: "127.0.0.1", Port: 3306},
	}}, testpki.Opts{})
	return &sessionPKI{ca: ca, server: server, client: client}
}

func (p *sessionPKI) roots() *x509.CertPool { return p.ca.Pool }

// clientConfig pins the server uuid pin.
func (p *sessionPKI) clientConfig(pin string) *tls.Config {
	return tlsconf.Client(func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &p.client.TLS, nil },
		p.roots, pin, nil)
}

// serve plays the server on conn: TLS with check as its policy, then a multiplexer that echoes
// every stream, until the session ends. It returns the handshake's error.
func (p *sessionPKI) serve(conn net.Conn, check func(*x509.Certificate, certattrs.Attrs) error) error {
	defer conn.Close()
	tconn := tls.Server(conn, tlsconf.Server(func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return &p.server.TLS, nil },
		p.roots, check))
	if err := tconn.Handshake(); err != nil {
		return err
	}
	mux, err := yamux.Server(tconn, tunnel.MuxConfig())
	if err != nil {
		return err
	}
	defer mux.Close()
	for {
		st, err := mux.AcceptStream()
		if err != nil {
			return nil
		}
		_, _ = io.Copy(st, st)
		_ = st.Close()
	}
}

// open runs OpenClientSession against srv on the other end of a pipe, under a ctx of timeout.
// On error it waits for srv to return (the pipe is closed) and returns srv's error too.
func open(t *testing.T, timeout time.Duration, cfg *tls.Config, srv func(net.Conn) error) (mux *yamux.Session, srvErr, err error) {
	t.Helper()
	a, b := net.Pipe()
	done := make(chan error, 1)
	go func() { done <- srv(b) }()
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	mux, err = tunnel.OpenClientSession(ctx, a, cfg)
	if err != nil {
		return nil, <-done, err
	}
	t.Cleanup(func() {
		_ = mux.Close()
		<-done
	})
	return mux, nil, nil
}

func TestOpenClientSession(t *testing.T) {
	p := newSessionPKI(t)
	pinned := p.clientConfig(p.server.Attrs.UUID())
	serve := func(c net.Conn) error { return p.serve(c, nil) }

	t.Run("ok", func(t *testing.T) {
		mux, _, err := open(t, 5*time.Second, pinned, serve)
		if err != nil {
			t.Fatalf("OpenClientSession: %v", err)
		}
		st, err := mux.OpenStream()
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		if _, err := st.Write([]byte("hello")); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 5)
		if _, err := io.ReadFull(st, buf); err != nil || string(buf) != "hello" {
			t.Fatalf("echo = %q, %v", buf, err)
		}
	})

	t.Run("fail/pin-mismatch", func(t *testing.T) {
		_, srvErr, err := open(t, 5*time.Second, p.clientConfig(uuid.NewString()), serve)
		if !errors.Is(err, tunnel.ErrHandshake) || errors.Is(err, tunnel.ErrRefused) {
			t.Fatalf("err = %v, want ErrHandshake", err)
		}
		if code := tunnel.DenyCode(err, ""); code != tunnel.CodeNotAllowed {
			t.Errorf("deny code %q, want %s (err %v)", code, tunnel.CodeNotAllowed, err)
		}
		var oe *tunnel.OpenError
		if !errors.As(err, &oe) || oe.Step != tunnel.ErrHandshake || err.Error() != "end-to-end handshake: "+oe.Err.Error() {
			t.Errorf("err %q is not an *OpenError at ErrHandshake", err)
		}
		if srvErr == nil {
			t.Error("the server completed its handshake with a client that refused it")
		}
	})

	t.Run("fail/server-refuses", func(t *testing.T) {
		refuse := func(*x509.Certificate, certattrs.Attrs) error {
			return tunnel.Deny(http.StatusUnauthorized, tunnel.CodeRevoked, "client certificate is revoked")
		}
		_, srvErr, err := open(t, 5*time.Second, pinned, func(c net.Conn) error { return p.serve(c, refuse) })
		if !errors.Is(err, tunnel.ErrRefused) || errors.Is(err, tunnel.ErrHandshake) {
			t.Fatalf("err = %v, want ErrRefused", err)
		}
		// The cause is the server's alert, not the multiplexer's "session shutdown".
		var op *net.OpError
		if !errors.As(err, &op) || op.Op != "remote error" {
			t.Errorf("err = %v, want the server's alert in it", err)
		}
		if tunnel.DenyCode(srvErr, "") != tunnel.CodeRevoked {
			t.Errorf("server: %v, want its revoked refusal", srvErr)
		}
	})

	t.Run("fail/silent-after-handshake", func(t *testing.T) {
		// yamux keeps timers in a package-level pool, which testing/synctest bubbles must not
		// share, so this one runs on the real clock with a short ctx.
		const timeout = 200 * time.Millisecond
		start := time.Now()
		_, _, err := open(t, timeout, pinned, func(c net.Conn) error {
			tconn := tls.Server(c, tlsconf.Server(func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return &p.server.TLS, nil },
				p.roots, nil))
			if err := tconn.Handshake(); err != nil {
				_ = c.Close()
				return err
			}
			// Never answer the ping: read and drop until the client closes.
			_, err := io.Copy(io.Discard, c)
			_ = c.Close()
			return err
		})
		if !errors.Is(err, tunnel.ErrRefused) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want ErrRefused with context.DeadlineExceeded", err)
		}
		if took := time.Since(start); took < timeout || took > 20*time.Second {
			t.Errorf("gave up after %s, want about the ctx's %s", took, timeout)
		}
	})

	t.Run("fail/silent-peer", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			p := newSessionPKI(t)
			start := time.Now()
			_, _, err := open(t, 5*time.Second, p.clientConfig(p.server.Attrs.UUID()), func(c net.Conn) error {
				// Read nothing: this write blocks until the client gives up and closes its end.
				_, err := c.Write([]byte{0})
				return err
			})
			if !errors.Is(err, tunnel.ErrHandshake) || !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("err = %v, want ErrHandshake with context.DeadlineExceeded", err)
			}
			if took := time.Since(start); took != 5*time.Second {
				t.Errorf("gave up after %s, want the ctx's 5s", took)
			}
		})
	})
}
