package e2e

import (
	"crypto/ecdsa"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/websocket"

	"github.com/sentinel-zt/sentinel/internal/testpki"
	"github.com/sentinel-zt/sentinel/pkg/certattrs"
	"github.com/sentinel-zt/sentinel/pkg/token"
	"github.com/sentinel-zt/sentinel/pkg/tunnel"
)

// relayAttack is one crafted request to a relay endpoint and the refusal it must get.
type relayAttack struct {
	path   string
	query  url.Values
	header http.Header
	status int    // HTTP status of the refusal
	code   string // Sentinel-Deny header and audit reason; "" when net/http refuses first
}

// attackRelay sends a, checks the refusal, the relay's auth.deny event and that nothing
// reached the target.
func (e *env) attackRelay(t *testing.T, a relayAttack) {
	t.Helper()
	mark, before := e.auditMark(), e.targetMark()
	ws, resp, err := e.relayDial(t, a.path, a.query, a.header)
	wantRefusal(t, ws, resp, err, a.status, a.code)
	if a.code != "" {
		ev := e.waitAudit(t, mark, denyEvent("relay", a.code))
		if ev.str("path") != a.path {
			t.Errorf("auth.deny path = %q, want %q", ev.str("path"), a.path)
		}
		if tok := strings.TrimPrefix(a.header.Get("Authorization"), "Bearer "); len(tok) > 40 && strings.Contains(e.audit.String(), tok) {
			t.Error("the audit trail contains the token")
		}
	}
	e.assertUntouched(t, before)
}

// TestAttackRelay: every refusal of the relay's three WebSocket endpoints, each proven by a
// crafted request after the good path works.
func TestAttackRelay(t *testing.T) {
	e := newEnv(t, envOptions{})
	bob := e.issueClient(t, nil, testpki.Opts{})
	relayAUD, serverA := e.relayAttrs.UUID, e.serverAttrs.UUID
	otherCA := testpki.NewCA(t, "other root")
	otherCAClient := otherCA.Issue(t, certattrs.Attrs{Client: &certattrs.Client{
		Port: 1, Relays: e.clientAttrs.Relays, Server: e.clientAttrs.Server, Target: e.clientAttrs.Target,
	}}, testpki.Opts{})
	expired := e.issueClient(t, nil, testpki.Opts{NotBefore: time.Now().Add(-2 * time.Hour), NotAfter: time.Now().Add(-time.Hour)})
	notYet := e.issueClient(t, nil, testpki.Opts{NotBefore: time.Now().Add(time.Hour), NotAfter: time.Now().Add(2 * time.Hour)})
	noAttrs := e.issueClient(t, nil, testpki.Opts{NoAttrs: true})
	otherServerUUID := uuid.NewString()
	forOtherServer := e.issueClient(t, func(c *certattrs.Client) { c.Server.UUID = otherServerUUID }, testpki.Opts{})
	notListingRelay := e.issueClient(t, func(c *certattrs.Client) {
		c.Relays = []certattrs.RelayRef{{UUID: uuid.NewString(), Name: "relay2", Addr: "127.0.0.1", Port: 9, Sort: 1}}
	}, testpki.Opts{})
	serverB := e.issueServer(t, nil, testpki.Opts{})
	serverNotListing := e.issueServer(t, func(s *certattrs.Server) { s.Relays = nil }, testpki.Opts{})
	client := func(tok string) relayAttack {
		return relayAttack{path: tunnel.PathClient, query: e.clientQuery(), header: bearer(tok)}
	}
	deny := func(a relayAttack, status int, code string) relayAttack {
		a.status, a.code = status, code
		return a
	}
	claims := func(mod func(*token.Claims)) token.Claims {
		c := e.clientClaims()
		if mod != nil {
			mod(&c)
		}
		return c
	}
	bobKey := bob.Key.(*ecdsa.PrivateKey)

	cases := map[string]func(t *testing.T){
		"ok": func(t *testing.T) {
			before := e.targetMark()
			s := e.mustSession(t, bob)
			if _, err := s.stream([]byte("good path")); err != nil {
				t.Fatal(err)
			}
			if e.targetConns.Load() == int64(before.conns) {
				t.Fatal("the good path did not reach the target")
			}
		},
		"ok/handcrafted-es256": func(t *testing.T) {
			// The hand-made JWS below is right when signed by the right key: so the refusals
			// of the crafted tokens that follow are about what they change, not the crafting.
			tok := craftJWS(map[string]any{"alg": "ES256", "typ": "JWT", "x5c": x5c(bob.Cert)}, wireClaims(relayAUD, serverA), es256(t, bobKey))
			ws, _, err := e.relayDial(t, tunnel.PathClient, e.clientQuery(), bearer(tok))
			if err != nil {
				t.Fatal(err)
			}
			_ = ws.Close()
		},
		"ok/server-registers": func(t *testing.T) {
			ws, _, err := e.relayDial(t, tunnel.PathServer, nil, bearer(sign(t, serverB, token.Claims{Audience: relayAUD})))
			if err != nil {
				t.Fatal(err)
			}
			_ = ws.Close()
		},
		"fail/no-token": func(t *testing.T) {
			e.attackRelay(t, relayAttack{path: tunnel.PathClient, query: e.clientQuery(), status: 401, code: tunnel.CodeBadToken})
		},
		"fail/not-bearer": func(t *testing.T) {
			a := relayAttack{path: tunnel.PathClient, query: e.clientQuery(), header: http.Header{"Authorization": {"Basic " + sign(t, bob, claims(nil))}}}
			e.attackRelay(t, deny(a, 401, tunnel.CodeBadToken))
		},
		"fail/garbage-token": func(t *testing.T) {
			e.attackRelay(t, deny(client("garbage.garbage.garbage"), 401, tunnel.CodeBadToken))
		},
		"fail/alg-none": func(t *testing.T) {
			tok := craftJWS(map[string]any{"alg": "none", "x5c": x5c(bob.Cert)}, wireClaims(relayAUD, serverA), nil)
			e.attackRelay(t, deny(client(tok), 401, tunnel.CodeBadToken))
			tok = craftJWS(map[string]any{"alg": "none", "x5c": x5c(bob.Cert)}, wireClaims(relayAUD, serverA), func([]byte) []byte { return []byte("x") })
			e.attackRelay(t, deny(client(tok), 401, tunnel.CodeBadToken))
		},
		"fail/hs256-keyed-with-public-cert": func(t *testing.T) {
			// Algorithm confusion: an HMAC "signed" with what the verifier knows publicly.
			tok := craftJWS(map[string]any{"alg": "HS256", "x5c": x5c(bob.Cert)}, wireClaims(relayAUD, serverA), hs256(bob.Cert.Raw))
			e.attackRelay(t, deny(client(tok), 401, tunnel.CodeBadToken))
		},
		"fail/signed-by-another-key": func(t *testing.T) {
			tok := craftJWS(map[string]any{"alg": "ES256", "typ": "JWT", "x5c": x5c(bob.Cert)}, wireClaims(relayAUD, serverA), es256(t, newECKey(t)))
			e.attackRelay(t, deny(client(tok), 401, tunnel.CodeBadToken))
		},
		"fail/no-x5c": func(t *testing.T) {
			tok := craftJWS(map[string]any{"alg": "ES256", "typ": "JWT"}, wireClaims(relayAUD, serverA), es256(t, bobKey))
			e.attackRelay(t, deny(client(tok), 401, tunnel.CodeBadToken))
		},
		"fail/other-ca": func(t *testing.T) {
			e.attackRelay(t, deny(client(sign(t, otherCAClient, claims(nil))), 401, tunnel.CodeBadChain))
		},
		"fail/other-ca-chain-with-our-root-appended": func(t *testing.T) {
			// A chain that names our root as an "intermediate" does not make it trusted.
			tok := craftJWS(map[string]any{"alg": "ES256", "typ": "JWT", "x5c": x5c(otherCAClient.Cert, e.ca.Cert)},
				wireClaims(relayAUD, serverA), es256(t, otherCAClient.Key.(*ecdsa.PrivateKey)))
			e.attackRelay(t, deny(client(tok), 401, tunnel.CodeBadChain))
		},
		"fail/no-attributes": func(t *testing.T) {
			e.attackRelay(t, deny(client(sign(t, noAttrs, claims(nil))), 401, tunnel.CodeBadChain))
		},
		"fail/expired-certificate": func(t *testing.T) {
			e.attackRelay(t, deny(client(sign(t, expired, claims(nil))), 401, tunnel.CodeExpired))
		},
		"fail/not-yet-valid-certificate": func(t *testing.T) {
			e.attackRelay(t, deny(client(sign(t, notYet, claims(nil))), 401, tunnel.CodeExpired))
		},
		"fail/wrong-aud": func(t *testing.T) {
			tok := sign(t, bob, claims(func(c *token.Claims) { c.Audience = uuid.NewString() }))
			e.attackRelay(t, deny(client(tok), 403, tunnel.CodeWrongAudience))
			tok = sign(t, bob, claims(func(c *token.Claims) { c.Audience = serverA })) // a direct-mode token
			e.attackRelay(t, deny(client(tok), 403, tunnel.CodeWrongAudience))
		},
		"fail/expired-token": func(t *testing.T) {
			now := time.Now()
			tok := sign(t, bob, claims(func(c *token.Claims) { c.IssuedAt, c.Expiry = now.Add(-5*time.Minute), now.Add(-4*time.Minute) }))
			e.attackRelay(t, deny(client(tok), 401, tunnel.CodeExpired))
		},
		"fail/far-future-exp": func(t *testing.T) {
			now := time.Now()
			tok := sign(t, bob, claims(func(c *token.Claims) { c.IssuedAt, c.Expiry = now, now.Add(24*time.Hour) }))
			e.attackRelay(t, deny(client(tok), 401, tunnel.CodeBadToken))
		},
		"fail/iat-in-future": func(t *testing.T) {
			now := time.Now()
			tok := sign(t, bob, claims(func(c *token.Claims) { c.IssuedAt, c.Expiry = now.Add(time.Hour), now.Add(time.Hour+time.Minute) }))
			e.attackRelay(t, deny(client(tok), 401, tunnel.CodeBadToken))
		},
		"fail/replayed-jti": func(t *testing.T) {
			tok := sign(t, bob, claims(nil))
			ws, _, err := e.relayDial(t, tunnel.PathClient, e.clientQuery(), bearer(tok))
			if err != nil {
				t.Fatalf("first use of the token: %v", err)
			}
			_ = ws.Close()
			e.attackRelay(t, deny(client(tok), 401, tunnel.CodeReplay))
		},
		"fail/oversized-token": func(t *testing.T) {
			// A token over token.MaxSize cannot fit in the 16 KiB of headers either.
			e.attackRelay(t, deny(client(strings.Repeat("A", token.MaxSize+1)), http.StatusRequestHeaderFieldsTooLarge, ""))
		},
		"fail/oversized-headers": func(t *testing.T) {
			// net/http answers 431 before any handler runs: no Sentinel-Deny, no audit event.
			a := client(sign(t, bob, claims(nil)))
			a.header.Set("X-Padding", strings.Repeat("p", 17<<10))
			e.attackRelay(t, deny(a, http.StatusRequestHeaderFieldsTooLarge, ""))
		},
		"fail/historic-relay-public-cert-as-client": func(t *testing.T) {
			// The reference system's break-in: the relay's public certificate replayed as a
			// client credential. Without the relay's key, no token verifies...
			tok := craftJWS(map[string]any{"alg": "ES256", "typ": "JWT", "x5c": x5c(e.relayLeaf.Cert)}, wireClaims(relayAUD, serverA), es256(t, newECKey(t)))
			e.attackRelay(t, deny(client(tok), 401, tunnel.CodeBadToken))
		},
		"fail/relay-key-token-as-client": func(t *testing.T) {
			// ...and with it (a compromised relay), the role in the certificate still says relay.
			e.attackRelay(t, deny(client(sign(t, e.relayLeaf, claims(nil))), 403, tunnel.CodeWrongRole))
		},
		"fail/server-cert-as-client": func(t *testing.T) {
			e.attackRelay(t, deny(client(sign(t, e.serverLeaf, claims(nil))), 403, tunnel.CodeWrongRole))
		},
		"fail/srv-differs-from-certificate": func(t *testing.T) {
			// A certificate for another server asks for server1 (token and query agree).
			e.attackRelay(t, deny(client(sign(t, forOtherServer, claims(nil))), 403, tunnel.CodeNotAllowed))
		},
		"fail/srv-differs-from-query": func(t *testing.T) {
			tok := sign(t, bob, claims(func(c *token.Claims) { c.Server = otherServerUUID }))
			e.attackRelay(t, deny(client(tok), 403, tunnel.CodeNotAllowed))
		},
		"fail/query-differs-from-srv": func(t *testing.T) {
			a := client(sign(t, forOtherServer, claims(func(c *token.Claims) { c.Server = otherServerUUID })))
			a.query = url.Values{tunnel.QueryServer: {serverA}}
			e.attackRelay(t, deny(a, 403, tunnel.CodeNotAllowed))
		},
		"fail/client-not-listing-this-relay": func(t *testing.T) {
			e.attackRelay(t, deny(client(sign(t, notListingRelay, claims(nil))), 403, tunnel.CodeNotAllowed))
		},
		"fail/server-offline": func(t *testing.T) {
			a := client(sign(t, forOtherServer, claims(func(c *token.Claims) { c.Server = otherServerUUID })))
			a.query = url.Values{tunnel.QueryServer: {otherServerUUID}}
			e.attackRelay(t, deny(a, 503, tunnel.CodeServerOffline))
		},
		"fail/server-endpoint-client-cert": func(t *testing.T) {
			e.attackRelay(t, relayAttack{path: tunnel.PathServer, header: bearer(sign(t, bob, token.Claims{Audience: relayAUD})), status: 403, code: tunnel.CodeWrongRole})
		},
		"fail/server-endpoint-relay-cert": func(t *testing.T) {
			e.attackRelay(t, relayAttack{path: tunnel.PathServer, header: bearer(sign(t, e.relayLeaf, token.Claims{Audience: relayAUD})), status: 403, code: tunnel.CodeWrongRole})
		},
		"fail/server-registers-under-another-uuid": func(t *testing.T) {
			e.attackRelay(t, relayAttack{path: tunnel.PathServer, query: url.Values{tunnel.QueryServer: {serverA}},
				header: bearer(sign(t, serverB, token.Claims{Audience: relayAUD})), status: 403, code: tunnel.CodeNotAllowed})
		},
		"fail/server-not-listing-this-relay": func(t *testing.T) {
			e.attackRelay(t, relayAttack{path: tunnel.PathServer, header: bearer(sign(t, serverNotListing, token.Claims{Audience: relayAUD})), status: 403, code: tunnel.CodeNotAllowed})
		},
		"fail/bind-unknown-session": func(t *testing.T) {
			id := tunnel.NewSessionID()
			e.attackRelay(t, relayAttack{path: tunnel.PathBind, query: url.Values{tunnel.QuerySession: {id}},
				header: bearer(sign(t, e.serverLeaf, token.Claims{Audience: relayAUD, Session: id})), status: 403, code: tunnel.CodeBadSession})
		},
		"fail/bind-sid-differs-from-query": func(t *testing.T) {
			e.attackRelay(t, relayAttack{path: tunnel.PathBind, query: url.Values{tunnel.QuerySession: {tunnel.NewSessionID()}},
				header: bearer(sign(t, e.serverLeaf, token.Claims{Audience: relayAUD, Session: tunnel.NewSessionID()})), status: 403, code: tunnel.CodeBadSession})
		},
		"fail/bind-client-cert": func(t *testing.T) {
			id := tunnel.NewSessionID()
			e.attackRelay(t, relayAttack{path: tunnel.PathBind, query: url.Values{tunnel.QuerySession: {id}},
				header: bearer(sign(t, bob, token.Claims{Audience: relayAUD, Session: id})), status: 403, code: tunnel.CodeWrongRole})
		},
		"fail/bind-used-session": func(t *testing.T) {
			s := e.mustSession(t, bob)
			if s.id == "" {
				t.Fatal("no Sentinel-Session in the upgrade response")
			}
			e.attackRelay(t, relayAttack{path: tunnel.PathBind, query: url.Values{tunnel.QuerySession: {s.id}},
				header: bearer(sign(t, e.serverLeaf, token.Claims{Audience: relayAUD, Session: s.id})), status: 403, code: tunnel.CodeBadSession})
			if _, err := s.stream([]byte("still mine")); err != nil {
				t.Fatalf("the hijack attempt broke the session: %v", err)
			}
		},
		"fail/bind-another-servers-session": func(t *testing.T) { bindAnotherServersSession(t, e, serverB) },
	}
	runAttacks(t, cases)
}

// bindAnotherServersSession: server B is registered and a client waits for it; server A
// (valid certificate, same CA) tries to answer B's open. It is refused and does not consume
// the pending session: B's own bind still succeeds.
func bindAnotherServersSession(t *testing.T, e *env, serverB *testpki.Leaf) {
	relayAUD, bUUID := e.relayAttrs.UUID, serverB.Attrs.Server.UUID
	ctl, _, err := e.relayDial(t, tunnel.PathServer, nil, bearer(sign(t, serverB, token.Claims{Audience: relayAUD})))
	if err != nil {
		t.Fatalf("server B registers: %v", err)
	}
	defer ctl.Close()
	carol := e.issueClient(t, func(c *certattrs.Client) { c.Server.UUID, c.Server.Name = bUUID, "server-b" }, testpki.Opts{})
	type result struct {
		ws   *websocket.Conn
		resp *http.Response
		err  error
	}
	done := make(chan result, 1)
	go func() {
		ws, resp, err := e.relayDial(t, tunnel.PathClient, url.Values{tunnel.QueryServer: {bUUID}},
			bearer(sign(t, carol, token.Claims{Audience: relayAUD, Server: bUUID})))
		done <- result{ws, resp, err}
	}()
	_ = ctl.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, msg, err := ctl.ReadMessage()
	if err != nil {
		t.Fatalf("server B got no open: %v", err)
	}
	open, err := tunnel.ParseControl([]byte(strings.TrimSuffix(string(msg), "\n")))
	if err != nil || open.Type != tunnel.MsgOpen {
		t.Fatalf("server B got %q (%v), want an open", msg, err)
	}
	e.attackRelay(t, relayAttack{path: tunnel.PathBind, query: url.Values{tunnel.QuerySession: {open.Session}},
		header: bearer(sign(t, e.serverLeaf, token.Claims{Audience: relayAUD, Session: open.Session})), status: 403, code: tunnel.CodeBadSession})

	bind, _, err := e.relayDial(t, tunnel.PathBind, url.Values{tunnel.QuerySession: {open.Session}},
		bearer(sign(t, serverB, token.Claims{Audience: relayAUD, Session: open.Session})))
	if err != nil {
		t.Fatalf("server B's own bind after the attempt: %v", err)
	}
	defer bind.Close()
	r := <-done
	if r.err != nil {
		t.Fatalf("client of server B: %v (%s)", r.err, denyOf(r.resp))
	}
	defer r.ws.Close()
	if got := r.resp.Header.Get(tunnel.HeaderSession); got != open.Session {
		t.Fatalf("client got session %q, server B bound %q", got, open.Session)
	}
	// The splice works: B's bind and the client are the two ends.
	if err := r.ws.WriteMessage(websocket.BinaryMessage, []byte("to B")); err != nil {
		t.Fatal(err)
	}
	_ = bind.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, got, err := bind.ReadMessage(); err != nil || string(got) != "to B" {
		t.Fatalf("server B read %q, %v", got, err)
	}
}
