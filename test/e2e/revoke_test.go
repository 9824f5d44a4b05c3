package e2e

import (
	"crypto/x509"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/sentinel-zt/sentinel/internal/testpki"
	"github.com/sentinel-zt/sentinel/pkg/certattrs"
	"github.com/sentinel-zt/sentinel/pkg/relay"
	"github.com/sentinel-zt/sentinel/pkg/revoke"
	"github.com/sentinel-zt/sentinel/pkg/server"
	"github.com/sentinel-zt/sentinel/pkg/token"
	"github.com/sentinel-zt/sentinel/pkg/tunnel"
)

// killWithin is how fast a revocation must close live sessions.
const killWithin = 5 * time.Second

// crlSource publishes successive CRLs of the env's CA, to a file or over HTTP.
type crlSource struct {
	ca     *testpki.CA
	path   string       // file source
	served atomic.Value // []byte, URL source
	url    string
	mu     sync.Mutex
	number int64
}

// publish replaces the CRL with one listing revoked, under the next CRL number.
func (s *crlSource) publish(t testing.TB, revoked ...*x509.Certificate) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.number++
	crl := s.ca.CRL(t, s.number, revoked...)
	if s.path == "" {
		s.served.Store(crl)
		return
	}
	tmp := s.path + ".tmp"
	if err := os.WriteFile(tmp, crl, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, s.path); err != nil { // whole files only
		t.Fatal(err)
	}
}

// fileCRL starts a CRL file listing revoked.
func fileCRL(t testing.TB, e *env, revoked ...*x509.Certificate) *crlSource {
	s := &crlSource{ca: e.ca, path: filepath.Join(t.TempDir(), "ca.crl")}
	s.publish(t, revoked...)
	return s
}

// urlCRL starts an HTTP server of CRLs listing revoked.
func urlCRL(t testing.TB, e *env, revoked ...*x509.Certificate) *crlSource {
	s := &crlSource{ca: e.ca}
	s.publish(t, revoked...)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write(s.served.Load().([]byte))
	}))
	t.Cleanup(srv.Close)
	s.url = srv.URL + "/ca.crl"
	return s
}

// list builds a revocation list on src, polled every 50 ms for the env's lifetime.
func (s *crlSource) list(t testing.TB, e *env) *revoke.List {
	t.Helper()
	src := s.path
	if src == "" {
		src = s.url
	}
	l, err := revoke.New(src, func() *x509.Certificate { return e.ca.Cert }, revoke.Options{Interval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	e.serve(func() error { return l.Run(e.ctx) })
	return l
}

// liveStream opens a session for leaf and one echoing stream on it.
func (e *env) liveStream(t *testing.T, leaf *testpki.Leaf) (*rawSession, net.Conn) {
	t.Helper()
	s := e.mustSession(t, leaf)
	st, err := s.stream([]byte("live before revocation"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return s, st
}

// waitClosed fails the test unless st is closed by the far side within killWithin of since.
func waitClosed(t *testing.T, st net.Conn, since time.Time) {
	t.Helper()
	_ = st.SetReadDeadline(since.Add(killWithin))
	buf := make([]byte, 64)
	for {
		n, err := st.Read(buf)
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatalf("the live stream is still open %s after the revocation", killWithin)
			}
			t.Logf("live stream closed %s after the change (%v)", time.Since(since).Round(time.Millisecond), err)
			return
		}
		if n == 0 {
			continue
		}
	}
}

// refusedAtRelay checks a new attempt by leaf is refused by the relay as revoked.
func (e *env) refusedAtRelay(t *testing.T, leaf *testpki.Leaf) {
	t.Helper()
	e.attackRelay(t, relayAttack{path: tunnel.PathClient, query: e.clientQuery(),
		header: bearer(sign(t, leaf, e.clientClaims())), status: 401, code: tunnel.CodeRevoked})
}

// relayOnlySession registers a stand-in server (certificate fake, listing the relay) with a
// raw control channel, and has the relay splice a session of client leaf to the test's own
// bind: a session only the relay can end. It returns the client's end and the session id.
func (e *env) relayOnlySession(t *testing.T, fake, leaf *testpki.Leaf) (*websocket.Conn, string) {
	t.Helper()
	aud, fakeUUID := e.relayAttrs.UUID, fake.Attrs.Server.UUID
	ctl, _, err := e.relayDial(t, tunnel.PathServer, nil, bearer(sign(t, fake, token.Claims{Audience: aud})))
	if err != nil {
		t.Fatalf("stand-in server registers: %v", err)
	}
	t.Cleanup(func() { _ = ctl.Close() })
	type result struct {
		ws  *websocket.Conn
		err error
	}
	done := make(chan result, 1)
	go func() {
		ws, _, err := e.relayDial(t, tunnel.PathClient, url.Values{tunnel.QueryServer: {fakeUUID}},
			bearer(sign(t, leaf, token.Claims{Audience: aud, Server: fakeUUID})))
		done <- result{ws, err}
	}()
	_ = ctl.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, msg, err := ctl.ReadMessage()
	if err != nil {
		t.Fatalf("stand-in server got no open: %v", err)
	}
	open, err := tunnel.ParseControl([]byte(strings.TrimSuffix(string(msg), "\n")))
	if err != nil {
		t.Fatal(err)
	}
	bind, _, err := e.relayDial(t, tunnel.PathBind, url.Values{tunnel.QuerySession: {open.Session}},
		bearer(sign(t, fake, token.Claims{Audience: aud, Session: open.Session})))
	if err != nil {
		t.Fatalf("stand-in bind: %v", err)
	}
	t.Cleanup(func() { _ = bind.Close() })
	r := <-done
	if r.err != nil {
		t.Fatalf("client of the stand-in server: %v", r.err)
	}
	t.Cleanup(func() { _ = r.ws.Close() })
	return r.ws, open.Session
}

// TestRevocationFile: relay and server each read the CRL from a file and re-read it on change.
func TestRevocationFile(t *testing.T) {
	var pre *testpki.Leaf // revoked before anything starts
	var crl *crlSource
	e := newEnv(t, envOptions{direct: true, configure: func(e *env, rc *relay.Config, sc *server.Config) {
		pre = e.issueClient(t, nil, testpki.Opts{})
		crl = fileCRL(t, e, pre.Cert)
		rc.Revoked, sc.Revoked = crl.list(t, e), crl.list(t, e)
	}})
	victim := e.issueClient(t, nil, testpki.Opts{})
	standIn := e.issueServer(t, nil, testpki.Opts{})
	victimOfStandIn := e.issueClient(t, func(c *certattrs.Client) {
		c.Server = certattrs.ServerRef{UUID: standIn.Attrs.Server.UUID, Name: standIn.Attrs.Server.Name}
	}, testpki.Opts{})

	runAttacks(t, map[string]func(t *testing.T){
		"ok": func(t *testing.T) {
			s, _ := e.liveStream(t, victim)
			s.Close()
			d, err := e.directSession(t, victim)
			if err != nil {
				t.Fatal(err)
			}
			d.Close()
		},
		"fail/already-revoked": func(t *testing.T) {
			e.refusedAtRelay(t, pre)
		},
		"fail/already-revoked-direct": func(t *testing.T) {
			mark, before := e.auditMark(), e.targetMark()
			ws, resp, err := e.rawDial(e.directURL(t), bearer(sign(t, pre, e.directClaims())))
			wantRefusal(t, ws, resp, err, 401, tunnel.CodeRevoked)
			e.waitAudit(t, mark, denyEvent("server", tunnel.CodeRevoked))
			e.assertUntouched(t, before)
		},
		"fail/revoked-after-connect": func(t *testing.T) {
			// Three live sessions: through the relay to the server (either may cut it),
			// direct to the server (only the server can), and through the relay to a
			// stand-in server (only the relay can). So each role's kill is proven on its own.
			s, st := e.liveStream(t, victim)
			d, err := e.directSession(t, victim)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			dst, err := d.stream([]byte("direct, live"))
			if err != nil {
				t.Fatal(err)
			}
			defer dst.Close()
			viaRelay, relayOnlyID := e.relayOnlySession(t, standIn, victimOfStandIn)

			mark, since := e.auditMark(), time.Now()
			crl.publish(t, pre.Cert, victim.Cert, victimOfStandIn.Cert)
			waitClosed(t, st, since)
			waitClosed(t, dst, since)
			_ = viaRelay.SetReadDeadline(since.Add(killWithin))
			if _, _, err := viaRelay.ReadMessage(); err == nil {
				t.Fatal("the relay-only session carried a message after the revocation")
			} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatalf("the relay-only session is still open %s after the revocation", killWithin)
			}

			serial := victim.Cert.SerialNumber.Text(16)
			e.waitAudit(t, mark, map[string]string{"event": "revoked.kill", "role": "server", "session": d.id, "serial": serial, "reason": tunnel.CodeRevoked})
			e.waitAudit(t, mark, map[string]string{"event": "revoked.kill", "role": "relay", "session": relayOnlyID,
				"serial": victimOfStandIn.Cert.SerialNumber.Text(16), "reason": tunnel.CodeRevoked})
			if _, byRelay := e.findAudit(t, mark, map[string]string{"event": "revoked.kill", "role": "relay", "session": s.id}); !byRelay {
				e.waitAudit(t, mark, map[string]string{"event": "revoked.kill", "role": "server", "session": s.id, "serial": serial})
			}

			e.refusedAtRelay(t, victim)
			if _, err := e.directSession(t, victim); err == nil {
				t.Fatal("revoked client admitted directly")
			}
			if err := e.roundTrip([]byte("alice is not revoked")); err != nil {
				t.Fatalf("alice: %v", err)
			}
		},
	})
}

// TestRevocationRelayOnly: only the relay has the CRL; it alone must cut a live session.
func TestRevocationRelayOnly(t *testing.T) {
	var crl *crlSource
	e := newEnv(t, envOptions{configure: func(e *env, rc *relay.Config, _ *server.Config) {
		crl = fileCRL(t, e)
		rc.Revoked = crl.list(t, e)
	}})
	victim := e.issueClient(t, nil, testpki.Opts{})
	runAttacks(t, map[string]func(t *testing.T){
		"ok": func(t *testing.T) {
			s, _ := e.liveStream(t, victim)
			s.Close()
		},
		"fail/revoked-after-connect": func(t *testing.T) {
			s, st := e.liveStream(t, victim)
			mark, since := e.auditMark(), time.Now()
			crl.publish(t, victim.Cert)
			waitClosed(t, st, since)
			e.waitAudit(t, mark, map[string]string{"event": "revoked.kill", "role": "relay", "session": s.id})
			e.refusedAtRelay(t, victim)
		},
	})
}

// TestRevocationServerURL: only the server has the CRL, polled from an http URL: it refuses
// a revoked client the relay let through, and cuts a live one.
func TestRevocationServerURL(t *testing.T) {
	var pre *testpki.Leaf
	var crl *crlSource
	e := newEnv(t, envOptions{configure: func(e *env, _ *relay.Config, sc *server.Config) {
		pre = e.issueClient(t, nil, testpki.Opts{})
		crl = urlCRL(t, e, pre.Cert)
		sc.Revoked = crl.list(t, e)
	}})
	victim := e.issueClient(t, nil, testpki.Opts{})
	runAttacks(t, map[string]func(t *testing.T){
		"ok": func(t *testing.T) {
			s, _ := e.liveStream(t, victim)
			s.Close()
		},
		"fail/already-revoked": func(t *testing.T) {
			mark, before := e.auditMark(), e.targetMark()
			s, err := e.dialSession(t, pre, e.clientTLS(pre))
			if err == nil {
				s.Close()
				t.Fatal("revoked client admitted by the server")
			}
			if s == nil {
				t.Fatalf("the relay (which has no CRL) refused: %v", err)
			}
			want := denyEvent("server", tunnel.CodeRevoked)
			want["session"] = s.id
			e.waitAudit(t, mark, want)
			e.assertUntouched(t, before)
		},
		"fail/revoked-after-connect": func(t *testing.T) {
			s, st := e.liveStream(t, victim)
			mark, since := e.auditMark(), time.Now()
			crl.publish(t, pre.Cert, victim.Cert)
			waitClosed(t, st, since)
			e.waitAudit(t, mark, map[string]string{"event": "revoked.kill", "role": "server", "session": s.id, "reason": tunnel.CodeRevoked})
			// The relay knows nothing, the server refuses.
			_, err := e.dialSession(t, victim, e.clientTLS(victim))
			if err == nil {
				t.Fatal("revoked client admitted after the CRL update")
			}
			e.waitAudit(t, mark, denyEvent("server", tunnel.CodeRevoked))
		},
	})
}
