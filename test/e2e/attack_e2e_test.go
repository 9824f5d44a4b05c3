package e2e

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/websocket"
	"github.com/hashicorp/yamux"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"

	"github.com/sentinel-zt/sentinel/internal/testnet"
	"github.com/sentinel-zt/sentinel/internal/testpki"
	"github.com/sentinel-zt/sentinel/pkg/audit"
	"github.com/sentinel-zt/sentinel/pkg/backoff"
	"github.com/sentinel-zt/sentinel/pkg/certattrs"
	"github.com/sentinel-zt/sentinel/pkg/client"
	"github.com/sentinel-zt/sentinel/pkg/identity"
	"github.com/sentinel-zt/sentinel/pkg/tunnel"
	"github.com/sentinel-zt/sentinel/pkg/wsconn"
)

// TestAttackEndToEnd: the relay admits the WebSocket (the token is fine), and the attack is
// in the end-to-end TLS the server checks itself.
func TestAttackEndToEnd(t *testing.T) {
	e := newEnv(t, envOptions{})
	bob := e.issueClient(t, nil, testpki.Opts{})
	forOtherServer := e.issueClient(t, func(c *certattrs.Client) { c.Server.UUID = uuid.NewString() }, testpki.Opts{})
	otherCA := testpki.NewCA(t, "other root")
	otherCAClient := otherCA.Issue(t, certattrs.Attrs{Client: &certattrs.Client{
		UUID: bob.Attrs.Client.UUID, Port: 1, Relays: e.clientAttrs.Relays, Server: e.clientAttrs.Server, Target: e.clientAttrs.Target,
	}}, testpki.Opts{})
	expired := e.issueClient(t, nil, testpki.Opts{NotBefore: time.Now().Add(-2 * time.Hour), NotAfter: time.Now().Add(-time.Hour)})

	// attack admits a session at the relay with bob's token, then runs the end-to-end TLS with
	// cfg; the server must refuse with code, and nothing may reach the target.
	attack := func(t *testing.T, cfg *tls.Config, code string) {
		t.Helper()
		mark, before := e.auditMark(), e.targetMark()
		s, err := e.dialSession(t, bob, cfg)
		if err == nil {
			_, serr := s.stream([]byte("should never arrive"))
			s.Close()
			t.Fatalf("end-to-end session admitted (stream: %v)", serr)
		}
		if s == nil || s.id == "" {
			t.Fatalf("the relay did not admit the session, so the server's check was not reached: %v", err)
		}
		want := denyEvent("server", code)
		want["session"] = s.id
		e.waitAudit(t, mark, want)
		e.assertUntouched(t, before)
	}
	withCert := func(c tls.Certificate) *tls.Config {
		cfg := e.clientTLS(nil)
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &c, nil }
		return cfg
	}

	runAttacks(t, map[string]func(t *testing.T){
		"ok": func(t *testing.T) {
			s := e.mustSession(t, bob)
			if _, err := s.stream([]byte("good path")); err != nil {
				t.Fatal(err)
			}
		},
		"fail/client-cert-for-another-server": func(t *testing.T) {
			// Bob's token gets through the relay; the TLS then shows a certificate of the same
			// CA issued for another server.
			attack(t, e.clientTLS(forOtherServer), tunnel.CodeNotAllowed)
		},
		"fail/tls12": func(t *testing.T) {
			cfg := &tls.Config{
				MinVersion: tls.VersionTLS12, MaxVersion: tls.VersionTLS12,
				Certificates:       []tls.Certificate{bob.TLS},
				InsecureSkipVerify: true, //nolint:gosec // the attacker does not care who answers
			}
			attack(t, cfg, tunnel.CodeBadChain)
		},
		"fail/no-client-cert": func(t *testing.T) {
			attack(t, e.clientTLS(nil), tunnel.CodeBadChain)
		},
		"fail/stolen-public-cert-without-its-key": func(t *testing.T) {
			// Bob's certificate is public; presenting it with another key fails the TLS proof
			// of possession.
			c := bob.TLS
			c.PrivateKey = newECKey(t)
			attack(t, withCert(c), tunnel.CodeBadChain)
		},
		"fail/server-cert-as-client": func(t *testing.T) {
			attack(t, e.clientTLS(e.serverLeaf), tunnel.CodeWrongRole)
		},
		"fail/relay-cert-as-client": func(t *testing.T) {
			attack(t, e.clientTLS(e.relayLeaf), tunnel.CodeBadChain) // no ClientAuth usage
		},
		"fail/other-ca-client-cert": func(t *testing.T) {
			attack(t, e.clientTLS(otherCAClient), tunnel.CodeBadChain)
		},
		"fail/expired-client-cert": func(t *testing.T) {
			attack(t, e.clientTLS(expired), tunnel.CodeExpired)
		},
	})
}

// maliciousRelay is a relay that holds a valid relay certificate of the CA (a compromised
// relay) and, instead of splicing the client to its server, answers the end-to-end TLS itself
// with serverCert: a different server of the same CA, or anything else. It accepts any
// client certificate and would record whatever the client sends.
type maliciousRelay struct {
	ref        certattrs.RelayRef
	handshakes atomic.Int64 // end-to-end handshakes that completed
	captured   recorder     // plaintext the client sent
}

func startMaliciousRelay(t *testing.T, e *env, serverCert tls.Certificate) *maliciousRelay {
	t.Helper()
	ln := testnet.Listen(t)
	port := ln.Addr().(*net.TCPAddr).Port
	attrs := &certattrs.Relay{UUID: uuid.NewString(), Name: "relay-evil", Address: "127.0.0.1", Port: port}
	leaf := e.ca.Issue(t, certattrs.Attrs{Relay: attrs}, testpki.Opts{IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}})
	m := &maliciousRelay{ref: certattrs.RelayRef{UUID: attrs.UUID, Name: attrs.Name, Addr: "127.0.0.1", Port: port, Sort: 1}}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	up := websocket.Upgrader{}
	handler := http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		ws, err := up.Upgrade(w, req, http.Header{tunnel.HeaderSession: {tunnel.NewSessionID()}})
		if err != nil {
			return
		}
		conn := wsconn.New(ws, wsconn.Options{})
		stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
		defer stop()
		defer conn.Close()
		tc := tls.Server(conn, &tls.Config{
			MinVersion: tls.VersionTLS13, Certificates: []tls.Certificate{serverCert},
			ClientAuth: tls.RequireAnyClientCert,
		})
		if err := tc.HandshakeContext(ctx); err != nil {
			return
		}
		m.handshakes.Add(1)
		mux, err := yamux.Server(tc, tunnelMuxConfig())
		if err != nil {
			return
		}
		defer mux.Close()
		for {
			st, err := mux.AcceptStream()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer st.Close()
				_ = tunnel.WriteStatus(st, nil)
				buf := make([]byte, 32<<10)
				for {
					n, err := st.Read(buf)
					m.captured.add(buf[:n])
					if n > 0 {
						_, _ = st.Write(buf[:n])
					}
					if err != nil {
						return
					}
				}
			}()
		}
	})
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 5 * time.Second,
		BaseContext: func(net.Listener) context.Context { return ctx }, ErrorLog: log.New(io.Discard, "", 0)}
	wg.Go(func() {
		_ = srv.Serve(tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{leaf.TLS}, NextProtos: []string{"http/1.1"}}))
	})
	t.Cleanup(func() {
		cancel()
		_ = srv.Close()
		wg.Wait()
	})
	return m
}

// startClient runs a real client whose certificate lists only ref as relay.
func startClient(t *testing.T, e *env, ref certattrs.RelayRef) (*testpki.Leaf, net.Listener) {
	t.Helper()
	leaf := e.issueClient(t, func(c *certattrs.Client) { c.Relays = []certattrs.RelayRef{ref} }, testpki.Opts{})
	id, err := identity.Parse(leaf.CertPEM, leaf.KeyPEM, e.ca.PEM)
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(client.Config{
		Identity: identity.NewStore(id), Log: zaptest.NewLogger(t, zaptest.Level(zap.ErrorLevel)),
		Audit:       e.auditLogger("client", leaf.Attrs.Client.UUID, leaf.Attrs.Client.Name),
		Registry:    prometheus.NewRegistry(),
		WaitSession: 300 * time.Millisecond, HandshakeTimeout: 5 * time.Second,
		Backoff: backoff.Backoff{Min: 50 * time.Millisecond, Max: 200 * time.Millisecond},
	})
	if err != nil {
		t.Fatal(err)
	}
	ln := testnet.Listen(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		_ = c.Close()
		if err := <-done; err != nil {
			t.Errorf("client serve: %v", err)
		}
	})
	return leaf, ln
}

// auditLogger writes a role's audit events to the env's trail.
func (e *env) auditLogger(role, id, name string) *audit.Logger {
	z := zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), e.audit, zap.DebugLevel))
	return audit.New(z, role, id, name)
}

// TestAttackMaliciousRelay: a compromised relay routes the client to a server other than the
// one its certificate names. The client's pin refuses before sending a byte of payload.
func TestAttackMaliciousRelay(t *testing.T) {
	e := newEnv(t, envOptions{})
	serverB := e.issueServer(t, nil, testpki.Opts{})
	serverBClaimingA := e.issueServer(t, nil, testpki.Opts{DNSNames: []string{certattrs.IdentityDNS(certattrs.RoleServer, e.serverAttrs.UUID)}})
	aWithoutName := e.ca.Issue(t, certattrs.Attrs{Server: &certattrs.Server{
		UUID: e.serverAttrs.UUID, Name: "server1", Resources: e.serverAttrs.Resources, Relays: e.serverAttrs.Relays,
	}}, testpki.Opts{NoIdentitySAN: true})
	otherCA := testpki.NewCA(t, "other root")
	otherCAServerA := otherCA.Issue(t, certattrs.Attrs{Server: &certattrs.Server{
		UUID: e.serverAttrs.UUID, Name: "server1", Resources: e.serverAttrs.Resources,
	}}, testpki.Opts{})
	marker := []byte("PLAINTEXT-FOR-SERVER1-ONLY")

	attack := func(t *testing.T, serverCert tls.Certificate, code string) {
		t.Helper()
		m := startMaliciousRelay(t, e, serverCert)
		mark := e.auditMark()
		leaf, ln := startClient(t, e, m.ref)
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		_, _ = c.Write(marker)
		if n, err := io.ReadFull(c, make([]byte, len(marker))); err == nil {
			t.Errorf("the local connection got %d bytes back through the malicious relay", n)
		}
		_ = c.Close()
		want := denyEvent("client", code)
		want["uuid"] = leaf.Attrs.Client.UUID
		e.waitAudit(t, mark, want)
		if n := m.handshakes.Load(); n != 0 {
			t.Errorf("the impostor completed %d end-to-end handshake(s)", n)
		}
		if got := m.captured.bytes(); len(got) > 0 {
			t.Errorf("the impostor received %q", got)
		}
	}

	runAttacks(t, map[string]func(t *testing.T){
		"ok": func(t *testing.T) {
			// The harness works: with server1's real identity (which a relay never holds),
			// the client talks through this relay.
			m := startMaliciousRelay(t, e, e.serverLeaf.TLS)
			_, ln := startClient(t, e, m.ref)
			if err := roundTripVia(ln.Addr().String(), marker); err != nil {
				t.Fatal(err)
			}
			if m.handshakes.Load() == 0 || len(m.captured.bytes()) == 0 {
				t.Fatal("the good path did not go through the impostor")
			}
		},
		"fail/other-server-same-ca": func(t *testing.T) {
			attack(t, serverB.TLS, tunnel.CodeNotAllowed)
		},
		"fail/other-server-with-server1-name": func(t *testing.T) {
			// Only the uuid in the signed attributes decides, not an extra SAN.
			attack(t, serverBClaimingA.TLS, tunnel.CodeNotAllowed)
		},
		"fail/server1-uuid-without-identity-name": func(t *testing.T) {
			attack(t, aWithoutName.TLS, tunnel.CodeBadChain)
		},
		"fail/relay-cert-as-server": func(t *testing.T) {
			attack(t, e.relayLeaf.TLS, tunnel.CodeWrongRole)
		},
		"fail/client-cert-as-server": func(t *testing.T) {
			attack(t, e.issueClient(t, nil, testpki.Opts{}).TLS, tunnel.CodeBadChain) // no ServerAuth usage
		},
		"fail/other-ca-server1-uuid": func(t *testing.T) {
			attack(t, otherCAServerA.TLS, tunnel.CodeBadChain)
		},
	})
}

// roundTripVia sends msg to a local client listener and checks the echo.
func roundTripVia(addr string, msg []byte) error {
	deadline := time.Now().Add(10 * time.Second)
	var last error
	for time.Now().Before(deadline) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return err
		}
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		got := make([]byte, len(msg))
		_, err = c.Write(msg)
		if err == nil {
			_, err = io.ReadFull(c, got)
		}
		_ = c.Close()
		if err == nil {
			if string(got) != string(msg) {
				return errors.New("echo mismatch")
			}
			return nil
		}
		last = err
		time.Sleep(20 * time.Millisecond) // polling interval while the session comes up
	}
	return last
}

// TestAttackDirect: the server's own WebSocket endpoint makes the relay's token checks.
func TestAttackDirect(t *testing.T) {
	e := newEnv(t, envOptions{direct: true})
	bob := e.issueClient(t, nil, testpki.Opts{})
	forOtherServer := e.issueClient(t, func(c *certattrs.Client) { c.Server.UUID = uuid.NewString() }, testpki.Opts{})
	u := func() string { return e.directURL(t) }
	claims := e.directClaims()
	attack := func(t *testing.T, header http.Header, status int, code string) {
		t.Helper()
		mark, before := e.auditMark(), e.targetMark()
		ws, resp, err := e.rawDial(u(), header)
		wantRefusal(t, ws, resp, err, status, code)
		want := denyEvent("server", code)
		want["via"] = "direct"
		e.waitAudit(t, mark, want)
		e.assertUntouched(t, before)
	}
	runAttacks(t, map[string]func(t *testing.T){
		"ok": func(t *testing.T) {
			ws, resp, err := e.rawDial(u(), bearer(sign(t, bob, claims)))
			if err != nil {
				t.Fatalf("%v (%s)", err, denyOf(resp))
			}
			s, err := endToEnd(ws, resp, e.clientTLS(bob))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if _, err := s.stream([]byte("direct")); err != nil {
				t.Fatal(err)
			}
		},
		"fail/no-token": func(t *testing.T) {
			attack(t, nil, 401, tunnel.CodeBadToken)
		},
		"fail/relay-audience": func(t *testing.T) {
			attack(t, bearer(sign(t, bob, e.clientClaims())), 403, tunnel.CodeWrongAudience)
		},
		"fail/client-for-another-server": func(t *testing.T) {
			attack(t, bearer(sign(t, forOtherServer, claims)), 403, tunnel.CodeNotAllowed)
		},
		"fail/relay-cert": func(t *testing.T) {
			attack(t, bearer(sign(t, e.relayLeaf, claims)), 403, tunnel.CodeWrongRole)
		},
		"fail/server-cert": func(t *testing.T) {
			attack(t, bearer(sign(t, e.serverLeaf, claims)), 403, tunnel.CodeWrongRole)
		},
		"fail/replayed-jti": func(t *testing.T) {
			tok := sign(t, bob, claims)
			ws, _, err := e.rawDial(u(), bearer(tok))
			if err != nil {
				t.Fatal(err)
			}
			_ = ws.Close()
			attack(t, bearer(tok), 401, tunnel.CodeReplay)
		},
		"fail/oversized-headers": func(t *testing.T) {
			before := e.targetMark()
			h := bearer(sign(t, bob, claims))
			h.Set("X-Padding", strings.Repeat("p", 17<<10))
			ws, resp, err := e.rawDial(u(), h)
			wantRefusal(t, ws, resp, err, http.StatusRequestHeaderFieldsTooLarge, "")
			e.assertUntouched(t, before)
		},
	})
}
