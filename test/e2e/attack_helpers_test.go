package e2e

// Helpers of the attack tests (issue 4): an attacker that speaks the wire protocol by hand
// (crafted tokens, raw WebSockets, its own end-to-end TLS), the audit trail as parsed events,
// and the canaries that prove nothing reached a target.

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/websocket"
	"github.com/hashicorp/yamux"

	"github.com/sentinel-zt/sentinel/internal/testnet"
	"github.com/sentinel-zt/sentinel/internal/testpki"
	"github.com/sentinel-zt/sentinel/pkg/certattrs"
	"github.com/sentinel-zt/sentinel/pkg/tlsconf"
	"github.com/sentinel-zt/sentinel/pkg/token"
	"github.com/sentinel-zt/sentinel/pkg/tunnel"
	"github.com/sentinel-zt/sentinel/pkg/wsconn"
)

// runAttacks runs the "ok" cases first (in name order) and stops if one fails, since a
// refusal proves nothing when the good path does not work either; then every other case.
func runAttacks(t *testing.T, cases map[string]func(t *testing.T)) {
	t.Helper()
	names := make([]string, 0, len(cases))
	for name := range cases {
		names = append(names, name)
	}
	sort.Slice(names, func(i, j int) bool {
		oi, oj := strings.HasPrefix(names[i], "ok"), strings.HasPrefix(names[j], "ok")
		if oi != oj {
			return oi
		}
		return names[i] < names[j]
	})
	for _, name := range names {
		if !t.Run(name, cases[name]) && strings.HasPrefix(name, "ok") {
			t.Fatalf("good path %q failed: the refusals below would prove nothing", name)
		}
	}
}

// ---- certificates ----

// issueClient issues a fresh client certificate like alice's (same server, relay and target)
// with a new uuid, after mod.
func (e *env) issueClient(t testing.TB, mod func(*certattrs.Client), opts testpki.Opts) *testpki.Leaf {
	t.Helper()
	c := *e.clientAttrs
	c.UUID, c.Name, c.User = uuid.NewString(), "mallory", "mallory@example.com"
	c.Relays = slices.Clone(c.Relays)
	if mod != nil {
		mod(&c)
	}
	return e.ca.Issue(t, certattrs.Attrs{Client: &c}, opts)
}

// issueServer issues a fresh server certificate like server1's (same resources, same relay)
// with a new uuid, after mod.
func (e *env) issueServer(t testing.TB, mod func(*certattrs.Server), opts testpki.Opts) *testpki.Leaf {
	t.Helper()
	s := *e.serverAttrs
	s.UUID, s.Name = uuid.NewString(), "server-b"
	s.Relays = slices.Clone(s.Relays)
	s.Resources = slices.Clone(s.Resources)
	if mod != nil {
		mod(&s)
	}
	return e.ca.Issue(t, certattrs.Attrs{Server: &s}, opts)
}

// ---- tokens ----

// sign makes a token with leaf's key and certificate, as the real roles do.
func sign(t testing.TB, leaf *testpki.Leaf, c token.Claims) string {
	t.Helper()
	tok, err := token.Sign(leaf.Key, []*x509.Certificate{leaf.Cert}, c)
	if err != nil {
		t.Fatalf("sign token: %v", err)
	}
	return tok
}

// clientClaims are the claims of a client asking this env's relay for server1.
func (e *env) clientClaims() token.Claims {
	return token.Claims{Audience: e.relayAttrs.UUID, Server: e.serverAttrs.UUID}
}

func bearer(tok string) http.Header {
	return http.Header{"Authorization": {"Bearer " + tok}}
}

var b64 = base64.RawURLEncoding

// craftJWS builds a compact JWS by hand, the way an attacker would: any header, any claims,
// any signature function (nil: an empty signature).
func craftJWS(header, claims map[string]any, signFn func(signingInput []byte) []byte) string {
	h, _ := json.Marshal(header)
	p, _ := json.Marshal(claims)
	in := b64.EncodeToString(h) + "." + b64.EncodeToString(p)
	sig := ""
	if signFn != nil {
		sig = b64.EncodeToString(signFn([]byte(in)))
	}
	return in + "." + sig
}

// wireClaims are well-formed claims for aud and srv, valid now.
func wireClaims(aud, srv string) map[string]any {
	now := time.Now().Unix()
	c := map[string]any{"aud": aud, "iat": now, "exp": now + 60, "jti": token.NewID()}
	if srv != "" {
		c["srv"] = srv
	}
	return c
}

// x5c is the header value carrying certs: standard base64 DER, leaf first.
func x5c(certs ...*x509.Certificate) []string {
	out := make([]string, len(certs))
	for i, c := range certs {
		out[i] = base64.StdEncoding.EncodeToString(c.Raw)
	}
	return out
}

// es256 signs a JWS signing input with key: SHA-256, then r||s, 32 bytes each.
func es256(t testing.TB, key *ecdsa.PrivateKey) func([]byte) []byte {
	return func(in []byte) []byte {
		h := sha256.Sum256(in)
		r, s, err := ecdsa.Sign(rand.Reader, key, h[:])
		if err != nil {
			t.Fatalf("ecdsa sign: %v", err)
		}
		out := make([]byte, 64)
		r.FillBytes(out[:32])
		s.FillBytes(out[32:])
		return out
	}
}

func hs256(secret []byte) func([]byte) []byte {
	return func(in []byte) []byte {
		m := hmac.New(sha256.New, secret)
		m.Write(in)
		return m.Sum(nil)
	}
}

func newECKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// ---- raw WebSockets ----

// relayURL is the URL of one of the env's relay endpoints.
func (e *env) relayURL(t testing.TB, path string, q url.Values) string {
	t.Helper()
	u, err := tunnel.RelayURL(e.relayAttrs.Address, e.relayAttrs.Port, path, q)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// rawDial opens a WebSocket with exactly header: no client library, no token of its own.
func (e *env) rawDial(rawURL string, header http.Header) (*websocket.Conn, *http.Response, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	return e.rawDialContext(ctx, rawURL, header)
}

// rawDialContext is rawDial whose handshake ends when ctx does: the TCP connection is closed,
// as a client that gives up would (gorilla bounds the handshake by ctx's deadline only).
func (e *env) rawDialContext(ctx context.Context, rawURL string, header http.Header) (*websocket.Conn, *http.Response, error) {
	var mu sync.Mutex
	var stops []func() bool
	nd := &net.Dialer{}
	d := websocket.Dialer{
		TLSClientConfig:  &tls.Config{RootCAs: e.ca.Pool, MinVersion: tls.VersionTLS12},
		HandshakeTimeout: 10 * time.Second,
		NetDialContext: func(dctx context.Context, network, addr string) (net.Conn, error) {
			c, err := nd.DialContext(dctx, network, addr)
			if err == nil {
				mu.Lock()
				stops = append(stops, context.AfterFunc(ctx, func() { _ = c.Close() }))
				mu.Unlock()
			}
			return c, err
		},
	}
	ws, resp, err := d.DialContext(ctx, rawURL, header)
	mu.Lock()
	for _, stop := range stops {
		stop()
	}
	mu.Unlock()
	return ws, resp, err
}

// relayDial dials a relay endpoint with header.
func (e *env) relayDial(t testing.TB, path string, q url.Values, header http.Header) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	return e.rawDial(e.relayURL(t, path, q), header)
}

// clientQuery is ?server=<server1>.
func (e *env) clientQuery() url.Values {
	return url.Values{tunnel.QueryServer: {e.serverAttrs.UUID}}
}

// ---- the end-to-end session, driven by hand ----

// clientTLS is the client's end-to-end TLS config presenting leaf, pinned to server1.
func (e *env) clientTLS(leaf *testpki.Leaf) *tls.Config {
	return e.clientTLSFor(leaf, e.serverAttrs.UUID)
}

func (e *env) clientTLSFor(leaf *testpki.Leaf, serverUUID string) *tls.Config {
	get := func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
		if leaf == nil {
			return &tls.Certificate{}, nil
		}
		return &leaf.TLS, nil
	}
	return tlsconf.Client(get, func() *x509.CertPool { return e.ca.Pool }, serverUUID, nil)
}

// rawSession is one end-to-end session an attacker (or a test's honest client) drives by hand.
type rawSession struct {
	id   string // the relay's Sentinel-Session
	conn net.Conn
	mux  *yamux.Session
}

func (s *rawSession) Close() {
	if s.mux != nil {
		_ = s.mux.Close()
	}
	_ = s.conn.Close()
}

// endToEnd runs TLS with cfg and the multiplexer over an admitted WebSocket. On a handshake
// failure it returns the session id anyway, so the test can find the server's refusal.
func endToEnd(ws *websocket.Conn, resp *http.Response, cfg *tls.Config) (*rawSession, error) {
	s := &rawSession{id: resp.Header.Get(tunnel.HeaderSession), conn: wsconn.New(ws, wsconn.Options{})}
	tc := tls.Client(s.conn, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := tc.HandshakeContext(ctx); err != nil {
		_ = s.conn.Close()
		return s, fmt.Errorf("end-to-end handshake: %w", err)
	}
	// TLS 1.3: the server checks the client certificate after the client's handshake is
	// done, and tells a refusal with an alert the client reads later. The multiplexer's
	// first exchange brings that alert out.
	mux, err := yamux.Client(tc, tunnelMuxConfig())
	if err != nil {
		_ = tc.Close()
		return s, err
	}
	s.conn, s.mux = tc, mux
	if _, err := mux.Ping(); err != nil {
		s.Close()
		return s, fmt.Errorf("end-to-end session: %w", err)
	}
	return s, nil
}

func tunnelMuxConfig() *yamux.Config {
	c := tunnel.MuxConfig()
	c.EnableKeepAlive = false
	return c
}

// dialSession opens a session through the relay: a token signed by tokenLeaf, the end-to-end
// TLS with tlsCfg.
func (e *env) dialSession(t testing.TB, tokenLeaf *testpki.Leaf, tlsCfg *tls.Config) (*rawSession, error) {
	t.Helper()
	ws, resp, err := e.relayDial(t, tunnel.PathClient, e.clientQuery(), bearer(sign(t, tokenLeaf, e.clientClaims())))
	if err != nil {
		return nil, fmt.Errorf("relay: %w (%s)", err, denyOf(resp))
	}
	return endToEnd(ws, resp, tlsCfg)
}

// directURL is the server's direct endpoint (envOptions.direct), asking for server1.
func (e *env) directURL(t testing.TB) string {
	t.Helper()
	u, err := tunnel.RelayURL("127.0.0.1", e.directLn.Addr().(*net.TCPAddr).Port, tunnel.PathClient,
		url.Values{tunnel.QueryServer: {e.serverAttrs.UUID}})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// directClaims are the claims of a client asking server1 directly.
func (e *env) directClaims() token.Claims {
	return token.Claims{Audience: e.serverAttrs.UUID, Server: e.serverAttrs.UUID}
}

// directSession opens a session for leaf straight to the server's direct endpoint.
func (e *env) directSession(t testing.TB, leaf *testpki.Leaf) (*rawSession, error) {
	t.Helper()
	ws, resp, err := e.rawDial(e.directURL(t), bearer(sign(t, leaf, e.directClaims())))
	if err != nil {
		return nil, fmt.Errorf("direct: %w (%s)", err, denyOf(resp))
	}
	return endToEnd(ws, resp, e.clientTLS(leaf))
}

// mustSession is dialSession for leaf on both layers, failing the test on error.
func (e *env) mustSession(t testing.TB, leaf *testpki.Leaf) *rawSession {
	t.Helper()
	s, err := e.dialSession(t, leaf, e.clientTLS(leaf))
	if err != nil {
		t.Fatalf("session for %s: %v", leaf.Cert.Subject.CommonName, err)
	}
	t.Cleanup(s.Close)
	return s
}

// stream opens one stream, sends msg and returns the server's status. On "ok" it checks the
// echo and returns the stream, still open.
func (s *rawSession) stream(msg []byte) (net.Conn, error) {
	st, err := s.mux.OpenStream()
	if err != nil {
		return nil, fmt.Errorf("open stream: %w", err)
	}
	_ = st.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := st.Write(msg); err != nil {
		_ = st.Close()
		return nil, fmt.Errorf("write: %w", err)
	}
	if err := tunnel.ReadStatus(st); err != nil {
		_ = st.Close()
		return nil, err
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(st, got); err != nil {
		_ = st.Close()
		return nil, fmt.Errorf("read echo: %w", err)
	}
	if !bytes.Equal(got, msg) {
		_ = st.Close()
		return nil, errors.New("echo mismatch")
	}
	_ = st.SetDeadline(time.Time{})
	return st, nil
}

// denyOf describes a refusal response for error messages.
func denyOf(resp *http.Response) string {
	if resp == nil {
		return "no response"
	}
	return fmt.Sprintf("%d %s", resp.StatusCode, resp.Header.Get(tunnel.HeaderDeny))
}

// wantRefusal checks a refused upgrade: no connection, the status and the Sentinel-Deny code.
func wantRefusal(t testing.TB, ws *websocket.Conn, resp *http.Response, err error, status int, code string) {
	t.Helper()
	if err == nil {
		_ = ws.Close()
		t.Fatalf("upgrade succeeded, want %d %s", status, code)
	}
	if resp == nil {
		t.Fatalf("no HTTP answer (%v), want %d %s", err, status, code)
	}
	if resp.StatusCode != status || resp.Header.Get(tunnel.HeaderDeny) != code {
		t.Fatalf("got %s, want %d %s", denyOf(resp), status, code)
	}
}

// ---- the audit trail ----

type event map[string]any

func (ev event) str(k string) string {
	s, _ := ev[k].(string)
	return s
}

// auditMark is the position in the audit trail after which a check looks.
func (e *env) auditMark() int {
	return strings.Count(e.audit.String(), "\n")
}

// auditSince parses the events written after mark.
func (e *env) auditSince(t testing.TB, mark int) []event {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(e.audit.String(), "\n"), "\n")
	var out []event
	for i := mark; i < len(lines); i++ {
		if lines[i] == "" {
			continue
		}
		var ev event
		if err := json.Unmarshal([]byte(lines[i]), &ev); err != nil {
			t.Fatalf("audit line %d is not JSON: %v: %s", i, err, lines[i])
		}
		out = append(out, ev)
	}
	return out
}

func (ev event) matches(want map[string]string) bool {
	for k, v := range want {
		if ev.str(k) != v {
			return false
		}
	}
	return true
}

// findAudit returns the first event after mark with every field of want.
func (e *env) findAudit(t testing.TB, mark int, want map[string]string) (event, bool) {
	t.Helper()
	for _, ev := range e.auditSince(t, mark) {
		if ev.matches(want) {
			return ev, true
		}
	}
	return nil, false
}

// waitAudit waits (5 s at most) for an event after mark with every field of want.
func (e *env) waitAudit(t testing.TB, mark int, want map[string]string) event {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if ev, ok := e.findAudit(t, mark, want); ok {
			return ev
		}
		if time.Now().After(deadline) {
			var b strings.Builder
			for _, ev := range e.auditSince(t, mark) {
				fmt.Fprintf(&b, "\n  %s %s %s %s", ev.str("role"), ev.str("event"), ev.str("reason"), ev.str("detail"))
			}
			t.Fatalf("no audit event %v; events since the attack:%s", want, b.String())
		}
		time.Sleep(10 * time.Millisecond) // polling interval
	}
}

// denyEvent is what the refusing role writes: an auth.deny with the reason code.
func denyEvent(role, code string) map[string]string {
	return map[string]string{"event": "auth.deny", "role": role, "decision": "deny", "reason": code}
}

// ---- canaries ----

// dialLog records every address the server dials toward a target.
type dialLog struct {
	mu    sync.Mutex
	addrs []string
}

func (d *dialLog) wrap(next func(ctx context.Context, network, addr string) (net.Conn, error)) func(ctx context.Context, network, addr string) (net.Conn, error) {
	if next == nil {
		nd := &net.Dialer{}
		next = nd.DialContext
	}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		d.mu.Lock()
		d.addrs = append(d.addrs, addr)
		d.mu.Unlock()
		return next(ctx, network, addr)
	}
}

func (d *dialLog) since(n int) []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.addrs[n:])
}

func (d *dialLog) len() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.addrs)
}

// targetMark snapshots what reached the target side so far.
type targetMark struct{ conns, dials int }

func (e *env) targetMark() targetMark {
	return targetMark{conns: int(e.targetConns.Load()), dials: e.dials.len()}
}

// assertUntouched fails the test if the server dialed anything or the target accepted a
// connection since m.
func (e *env) assertUntouched(t testing.TB, m targetMark) {
	t.Helper()
	if d := e.dials.since(m.dials); len(d) > 0 {
		t.Errorf("the server dialed %v: the attack reached the target side", d)
	}
	if n := int(e.targetConns.Load()) - m.conns; n > 0 {
		t.Errorf("the target accepted %d connection(s) during the attack", n)
	}
}

// canary is a listener that fails the test if anything connects to it: a target the
// attack must never reach.
func canary(t *testing.T) net.Listener {
	t.Helper()
	ln := testnet.Listen(t)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			t.Errorf("canary %s was dialed from %s", ln.Addr(), c.RemoteAddr())
			_ = c.Close()
		}
	}()
	t.Cleanup(func() { _ = ln.Close(); <-done })
	return ln
}
