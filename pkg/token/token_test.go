package token_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.step.sm/crypto/jose"
	"go.uber.org/goleak"

	"github.com/sentinel-zt/sentinel/internal/testpki"
	"github.com/sentinel-zt/sentinel/pkg/certattrs"
	"github.com/sentinel-zt/sentinel/pkg/token"
	"github.com/sentinel-zt/sentinel/pkg/tunnel"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fixture is one CA, a relay (the verifier's audience) and a client of a server.
type fixture struct {
	ca, otherCA *testpki.CA
	relayUUID   string
	serverUUID  string
	client      *testpki.Leaf
	now         time.Time
	revoked     map[string]bool // serial (decimal) → revoked
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	f := &fixture{
		ca:         testpki.NewCA(t, "Sentinel Test CA"),
		otherCA:    testpki.NewCA(t, "Another CA"),
		relayUUID:  uuid.NewString(),
		serverUUID: uuid.NewString(),
		now:        time.Now(),
		revoked:    map[string]bool{},
	}
	f.client = f.issueClient(t, f.ca, testpki.Opts{})
	return f
}

func (f *fixture) clientAttrs() certattrs.Attrs {
	return certattrs.Attrs{Client: &certattrs.Client{
		Name: "alice",
		Port: 48080,
		Relays: []certattrs.RelayRef{
			{UUID: f.relayUUID, Name: "relay1", Addr: "relay1.example.com", Port: 8443},
		},
		Server: certattrs.ServerRef{UUID: f.serverUUID, Name: "server1"},
		Target: certattrs.Target{Host: "10.0.0.5", Port: 3306},
	}}
}

func (f *fixture) issueClient(t testing.TB, ca *testpki.CA, opts testpki.Opts) *testpki.Leaf {
	t.Helper()
	return ca.Issue(t, f.clientAttrs(), opts)
}

func (f *fixture) issueServer(t testing.TB) *testpki.Leaf {
	t.Helper()
	return f.ca.Issue(t, certattrs.Attrs{Server: &certattrs.Server{
		UUID: f.serverUUID,
		Name: "server1",
		Resources: []certattrs.Resource{{
			UUID:   uuid.NewString(),
			Name:   "db",
			Type:   "cidr",
			Prefix: netip.MustParsePrefix("10.0.0.0/24"),
			Ports:  certattrs.PortRange{First: 3306, Last: 3306},
		}},
		Relays: []certattrs.RelayRef{{UUID: f.relayUUID, Name: "relay1", Addr: "relay1.example.com", Port: 8443}},
	}}, testpki.Opts{})
}

func (f *fixture) issueRelay(t testing.TB) *testpki.Leaf {
	t.Helper()
	return f.ca.Issue(t, certattrs.Attrs{Relay: &certattrs.Relay{
		Name: "relay2", Address: "relay2.example.com", Port: 8443,
	}}, testpki.Opts{})
}

func (f *fixture) verifier(replayLimit int) *token.Verifier {
	return &token.Verifier{
		Roots:    f.ca.Pool,
		Audience: f.relayUUID,
		Now:      func() time.Time { return f.now },
		Revoked:  func(c *x509.Certificate) bool { return f.revoked[c.SerialNumber.String()] },
		Replay:   token.NewReplayCache(replayLimit),
	}
}

// claims are good client claims at f.now.
func (f *fixture) claims() token.Claims {
	return token.Claims{Audience: f.relayUUID, Server: f.serverUUID, IssuedAt: f.now, Expiry: f.now.Add(token.Lifetime)}
}

func (f *fixture) sign(t testing.TB, leaf *testpki.Leaf, mutate func(*token.Claims)) string {
	t.Helper()
	c := f.claims()
	if mutate != nil {
		mutate(&c)
	}
	tok, err := token.Sign(leaf.Key, []*x509.Certificate{leaf.Cert}, c)
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	return tok
}

// payload is a claims document built by hand, for tokens Sign refuses to make.
func (f *fixture) payload(t testing.TB, mutate func(map[string]any)) []byte {
	t.Helper()
	m := map[string]any{
		"aud": f.relayUUID,
		"iat": f.now.Unix(),
		"exp": f.now.Add(token.Lifetime).Unix(),
		"jti": token.NewID(),
		"srv": f.serverUUID,
	}
	if mutate != nil {
		mutate(m)
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func x5c(certs ...*x509.Certificate) []string {
	out := make([]string, len(certs))
	for i, c := range certs {
		out[i] = base64.StdEncoding.EncodeToString(c.Raw)
	}
	return out
}

// signRaw signs payload with jose directly: any key, any algorithm, any x5c (nil = none).
func signRaw(t testing.TB, alg jose.SignatureAlgorithm, key any, chain []string, payload []byte) string {
	t.Helper()
	opts := new(jose.SignerOptions).WithType("JWT")
	if chain != nil {
		opts.WithHeader("x5c", chain)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	if err != nil {
		t.Fatalf("new signer: %v", err)
	}
	jws, err := s.Sign(payload)
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	tok, err := jws.CompactSerialize()
	if err != nil {
		t.Fatalf("serialize: %v", err)
	}
	return tok
}

func b64(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

type tc struct {
	tok    string
	v      *token.Verifier
	roles  []certattrs.Role // nil: client
	code   string           // "": accepted
	status int
	check  func(t *testing.T, got *token.Verified)
}

func TestVerify(t *testing.T) {
	f := newFixture(t)
	clientOnly := []certattrs.Role{certattrs.RoleClient}

	tests := map[string]func(t *testing.T) tc{
		"ok": func(t *testing.T) tc {
			return tc{tok: f.sign(t, f.client, nil), v: f.verifier(16), check: func(t *testing.T, got *token.Verified) {
				if got.Claims.Audience != f.relayUUID || got.Claims.Server != f.serverUUID || got.Claims.Session != "" {
					t.Errorf("claims = %+v", got.Claims)
				}
				if !got.Claims.IssuedAt.Equal(f.now.Truncate(time.Second)) || got.Claims.Expiry.Sub(got.Claims.IssuedAt) != token.Lifetime {
					t.Errorf("times = %v .. %v", got.Claims.IssuedAt, got.Claims.Expiry)
				}
				if len(got.Claims.ID) != 22 {
					t.Errorf("jti = %q, want 22 base64url characters", got.Claims.ID)
				}
				if !got.Leaf.Equal(f.client.Cert) {
					t.Error("leaf is not the client's certificate")
				}
				if got.Attrs.Role() != certattrs.RoleClient || got.Attrs.UUID() != f.client.Attrs.Client.UUID {
					t.Errorf("attrs = role %q uuid %q", got.Attrs.Role(), got.Attrs.UUID())
				}
			}}
		},
		"ok/ed25519": func(t *testing.T) tc {
			leaf := f.issueClient(t, f.ca, testpki.Opts{Ed25519: true})
			return tc{tok: f.sign(t, leaf, nil), v: f.verifier(16)}
		},
		"ok/server-bind": func(t *testing.T) tc {
			sid := tunnel.NewSessionID()
			tok := f.sign(t, f.issueServer(t), func(c *token.Claims) { c.Server, c.Session = "", sid })
			return tc{tok: tok, v: f.verifier(16), roles: []certattrs.Role{certattrs.RoleClient, certattrs.RoleServer},
				check: func(t *testing.T, got *token.Verified) {
					if got.Claims.Session != sid || got.Attrs.Role() != certattrs.RoleServer {
						t.Errorf("session %q role %q", got.Claims.Session, got.Attrs.Role())
					}
				}}
		},
		"ok/within-skew": func(t *testing.T) tc {
			// Issued 50 s "in the future" by a fast clock, and already past exp by 5 s: both
			// inside the one-minute skew.
			tok := f.sign(t, f.client, func(c *token.Claims) {
				c.IssuedAt = f.now.Add(50 * time.Second)
				c.Expiry = c.IssuedAt.Add(token.MaxLifetime)
			})
			tok2 := f.sign(t, f.client, func(c *token.Claims) {
				c.IssuedAt = f.now.Add(-65 * time.Second)
				c.Expiry = f.now.Add(-5 * time.Second)
			})
			v := f.verifier(16)
			if _, err := v.Verify(tok2, clientOnly...); err != nil {
				t.Fatalf("just expired token: %v", err)
			}
			return tc{tok: tok, v: v}
		},
		"fail/no-token": func(t *testing.T) tc {
			return tc{tok: "", v: f.verifier(16), code: tunnel.CodeBadToken, status: 401}
		},
		"fail/garbage": func(t *testing.T) tc {
			return tc{tok: "eyJhbGciOi.garbage.!!", v: f.verifier(16), code: tunnel.CodeBadToken, status: 401}
		},
		"fail/garbage-base64": func(t *testing.T) tc {
			return tc{tok: "AAAA.BBBB.CCCC", v: f.verifier(16), code: tunnel.CodeBadToken, status: 401}
		},
		"fail/json-serialization": func(t *testing.T) tc {
			parts := strings.Split(f.sign(t, f.client, nil), ".")
			tok := `{"protected":"` + parts[0] + `","payload":"` + parts[1] + `","signature":"` + parts[2] + `"}`
			return tc{tok: tok, v: f.verifier(16), code: tunnel.CodeBadToken, status: 401}
		},
		"fail/alg-none": func(t *testing.T) tc {
			hdr := b64(map[string]any{"alg": "none", "typ": "JWT", "x5c": x5c(f.client.Cert)})
			return tc{tok: hdr + "." + base64.RawURLEncoding.EncodeToString(f.payload(t, nil)) + ".",
				v: f.verifier(16), code: tunnel.CodeBadToken, status: 401}
		},
		"fail/alg-none-with-signature": func(t *testing.T) tc {
			hdr := b64(map[string]any{"alg": "none", "typ": "JWT", "x5c": x5c(f.client.Cert)})
			return tc{tok: hdr + "." + base64.RawURLEncoding.EncodeToString(f.payload(t, nil)) + ".AAAA",
				v: f.verifier(16), code: tunnel.CodeBadToken, status: 401}
		},
		"fail/hs256-with-public-key": func(t *testing.T) tc {
			// The classic confusion: HMAC keyed with the public key the verifier would use.
			hdr := b64(map[string]any{"alg": "HS256", "typ": "JWT", "x5c": x5c(f.client.Cert)})
			input := hdr + "." + base64.RawURLEncoding.EncodeToString(f.payload(t, nil))
			point, err := f.client.Key.Public().(*ecdsa.PublicKey).ECDH()
			if err != nil {
				t.Fatal(err)
			}
			for _, key := range [][]byte{f.client.Cert.RawSubjectPublicKeyInfo, point.Bytes()} {
				mac := hmac.New(sha256.New, key)
				mac.Write([]byte(input))
				tok := input + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
				if _, err := f.verifier(16).Verify(tok, clientOnly...); tunnel.DenyCode(err, "") != tunnel.CodeBadToken {
					t.Fatalf("HS256 keyed with public key bytes: err = %v", err)
				}
			}
			// And the same through jose, keyed with the SPKI DER.
			tok := signRaw(t, jose.HS256, f.client.Cert.RawSubjectPublicKeyInfo, x5c(f.client.Cert), f.payload(t, nil))
			return tc{tok: tok, v: f.verifier(16), code: tunnel.CodeBadToken, status: 401}
		},
		"fail/rs256": func(t *testing.T) tc {
			k, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				t.Fatal(err)
			}
			tok := signRaw(t, jose.RS256, k, x5c(f.client.Cert), f.payload(t, nil))
			return tc{tok: tok, v: f.verifier(16), code: tunnel.CodeBadToken, status: 401}
		},
		"fail/other-key": func(t *testing.T) tc {
			// Alice's valid certificate in x5c, signed by a key that is not hers.
			k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			tok := signRaw(t, jose.ES256, k, x5c(f.client.Cert), f.payload(t, nil))
			return tc{tok: tok, v: f.verifier(16), code: tunnel.CodeBadToken, status: 401}
		},
		"fail/other-key-eddsa": func(t *testing.T) tc {
			// Another holder's Ed25519 key, claiming Alice's ECDSA certificate.
			other := f.issueClient(t, f.ca, testpki.Opts{Ed25519: true})
			tok := signRaw(t, jose.EdDSA, other.Key, x5c(f.client.Cert), f.payload(t, nil))
			return tc{tok: tok, v: f.verifier(16), code: tunnel.CodeBadToken, status: 401}
		},
		"fail/tampered-payload": func(t *testing.T) tc {
			parts := strings.Split(f.sign(t, f.client, nil), ".")
			parts[1] = base64.RawURLEncoding.EncodeToString(f.payload(t, func(m map[string]any) { m["srv"] = uuid.NewString() }))
			return tc{tok: strings.Join(parts, "."), v: f.verifier(16), code: tunnel.CodeBadToken, status: 401}
		},
		"fail/other-ca": func(t *testing.T) tc {
			leaf := f.issueClient(t, f.otherCA, testpki.Opts{})
			return tc{tok: f.sign(t, leaf, nil), v: f.verifier(16), code: tunnel.CodeBadChain, status: 401}
		},
		"fail/other-ca-claims-our-root": func(t *testing.T) tc {
			// A chain that names our root as intermediate does not make it ours.
			leaf := f.issueClient(t, f.otherCA, testpki.Opts{})
			tok, err := token.Sign(leaf.Key, []*x509.Certificate{leaf.Cert, f.ca.Cert}, f.claims())
			if err != nil {
				t.Fatal(err)
			}
			return tc{tok: tok, v: f.verifier(16), code: tunnel.CodeBadChain, status: 401}
		},
		"fail/expired-cert": func(t *testing.T) tc {
			leaf := f.issueClient(t, f.ca, testpki.Opts{NotBefore: f.now.Add(-2 * time.Hour), NotAfter: f.now.Add(-time.Hour)})
			return tc{tok: f.sign(t, leaf, nil), v: f.verifier(16), code: tunnel.CodeExpired, status: 401}
		},
		"fail/not-yet-valid-cert": func(t *testing.T) tc {
			leaf := f.issueClient(t, f.ca, testpki.Opts{NotBefore: f.now.Add(time.Hour), NotAfter: f.now.Add(2 * time.Hour)})
			return tc{tok: f.sign(t, leaf, nil), v: f.verifier(16), code: tunnel.CodeExpired, status: 401}
		},
		"fail/wrong-aud": func(t *testing.T) tc {
			tok := f.sign(t, f.client, func(c *token.Claims) { c.Audience = uuid.NewString() })
			return tc{tok: tok, v: f.verifier(16), code: tunnel.CodeWrongAudience, status: 403}
		},
		"fail/aud-array": func(t *testing.T) tc {
			tok := signRaw(t, jose.ES256, f.client.Key, x5c(f.client.Cert),
				f.payload(t, func(m map[string]any) { m["aud"] = []string{f.relayUUID} }))
			return tc{tok: tok, v: f.verifier(16), code: tunnel.CodeBadToken, status: 401}
		},
		"fail/expired-exp": func(t *testing.T) tc {
			tok := f.sign(t, f.client, func(c *token.Claims) {
				c.IssuedAt = f.now.Add(-3 * time.Minute)
				c.Expiry = f.now.Add(-2 * time.Minute)
			})
			return tc{tok: tok, v: f.verifier(16), code: tunnel.CodeExpired, status: 401}
		},
		"fail/far-future-exp": func(t *testing.T) tc {
			tok := f.sign(t, f.client, func(c *token.Claims) { c.Expiry = f.now.Add(24 * time.Hour) })
			return tc{tok: tok, v: f.verifier(16), code: tunnel.CodeBadToken, status: 401}
		},
		"fail/lifetime-just-over-max": func(t *testing.T) tc {
			tok := f.sign(t, f.client, func(c *token.Claims) { c.Expiry = f.now.Add(token.MaxLifetime + time.Second) })
			return tc{tok: tok, v: f.verifier(16), code: tunnel.CodeBadToken, status: 401}
		},
		"fail/exp-before-iat": func(t *testing.T) tc {
			tok := f.sign(t, f.client, func(c *token.Claims) { c.Expiry = f.now.Add(-time.Second) })
			return tc{tok: tok, v: f.verifier(16), code: tunnel.CodeBadToken, status: 401}
		},
		"fail/iat-future": func(t *testing.T) tc {
			tok := f.sign(t, f.client, func(c *token.Claims) {
				c.IssuedAt = f.now.Add(2 * time.Minute)
				c.Expiry = c.IssuedAt.Add(token.Lifetime)
			})
			return tc{tok: tok, v: f.verifier(16), code: tunnel.CodeBadToken, status: 401}
		},
		"fail/missing-iat": func(t *testing.T) tc {
			tok := signRaw(t, jose.ES256, f.client.Key, x5c(f.client.Cert), f.payload(t, func(m map[string]any) { delete(m, "iat") }))
			return tc{tok: tok, v: f.verifier(16), code: tunnel.CodeBadToken, status: 401}
		},
		"fail/replayed-jti": func(t *testing.T) tc {
			tok := f.sign(t, f.client, nil)
			v := f.verifier(16)
			if _, err := v.Verify(tok, clientOnly...); err != nil {
				t.Fatalf("first use: %v", err)
			}
			return tc{tok: tok, v: v, code: tunnel.CodeReplay, status: 401}
		},
		"fail/replayed-jti-new-token": func(t *testing.T) tc {
			// Same jti, freshly signed: the id is what counts, not the bytes.
			v := f.verifier(16)
			id := token.NewID()
			if _, err := v.Verify(f.sign(t, f.client, func(c *token.Claims) { c.ID = id }), clientOnly...); err != nil {
				t.Fatalf("first use: %v", err)
			}
			tok := f.sign(t, f.client, func(c *token.Claims) { c.ID = id; c.IssuedAt = f.now.Add(time.Second) })
			return tc{tok: tok, v: v, code: tunnel.CodeReplay, status: 401}
		},
		"fail/replay-cache-full": func(t *testing.T) tc {
			// Room for one id, which proving the good path takes.
			return tc{tok: f.sign(t, f.client, nil), v: f.verifier(1), code: tunnel.CodeLimit, status: 503}
		},
		"fail/missing-jti": func(t *testing.T) tc {
			tok := signRaw(t, jose.ES256, f.client.Key, x5c(f.client.Cert), f.payload(t, func(m map[string]any) { delete(m, "jti") }))
			return tc{tok: tok, v: f.verifier(16), code: tunnel.CodeBadToken, status: 401}
		},
		"fail/malformed-jti": func(t *testing.T) tc {
			tok := f.sign(t, f.client, func(c *token.Claims) { c.ID = "1" })
			return tc{tok: tok, v: f.verifier(16), code: tunnel.CodeBadToken, status: 401}
		},
		"fail/oversized": func(t *testing.T) tc {
			tok := f.sign(t, f.client, func(c *token.Claims) { c.Server = strings.Repeat("x", token.MaxSize) })
			return tc{tok: tok, v: f.verifier(16), code: tunnel.CodeBadToken, status: 401}
		},
		"fail/no-x5c": func(t *testing.T) tc {
			tok := signRaw(t, jose.ES256, f.client.Key, nil, f.payload(t, nil))
			return tc{tok: tok, v: f.verifier(16), code: tunnel.CodeBadToken, status: 401}
		},
		"fail/empty-x5c": func(t *testing.T) tc {
			tok := signRaw(t, jose.ES256, f.client.Key, []string{}, f.payload(t, nil))
			return tc{tok: tok, v: f.verifier(16), code: tunnel.CodeBadToken, status: 401}
		},
		"fail/wrong-role": func(t *testing.T) tc {
			return tc{tok: f.sign(t, f.issueRelay(t), nil), v: f.verifier(16),
				roles: []certattrs.Role{certattrs.RoleClient, certattrs.RoleServer}, code: tunnel.CodeWrongRole, status: 403}
		},
		"fail/server-where-client-expected": func(t *testing.T) tc {
			return tc{tok: f.sign(t, f.issueServer(t), nil), v: f.verifier(16), code: tunnel.CodeWrongRole, status: 403}
		},
		"fail/revoked": func(t *testing.T) tc {
			leaf := f.issueClient(t, f.ca, testpki.Opts{})
			f.revoked[leaf.Cert.SerialNumber.String()] = true
			return tc{tok: f.sign(t, leaf, nil), v: f.verifier(16), code: tunnel.CodeRevoked, status: 401}
		},
		"fail/no-attrs": func(t *testing.T) tc {
			leaf := f.issueClient(t, f.ca, testpki.Opts{NoAttrs: true})
			return tc{tok: f.sign(t, leaf, nil), v: f.verifier(16), code: tunnel.CodeBadChain, status: 401}
		},
	}

	for name, fn := range tests {
		t.Run(name, func(t *testing.T) {
			c := fn(t)
			roles := c.roles
			if roles == nil {
				roles = clientOnly
			}
			if c.code != "" {
				// Prove the good path on this very verifier first, so the refusal is the
				// attack's doing and not a broken setup.
				if _, err := c.v.Verify(f.sign(t, f.client, nil), roles...); err != nil {
					t.Fatalf("good token refused: %v", err)
				}
			}
			got, err := c.v.Verify(c.tok, roles...)
			if c.code == "" {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if c.check != nil {
					c.check(t, got)
				}
				return
			}
			if err == nil {
				t.Fatalf("Verify accepted the token, want %s", c.code)
			}
			var d *tunnel.DenyError
			if !errors.As(err, &d) {
				t.Fatalf("error %v (%T) is not a *tunnel.DenyError", err, err)
			}
			if d.Code != c.code || d.Status != c.status {
				t.Fatalf("got %d %s (%s), want %d %s", d.Status, d.Code, d.Reason, c.status, c.code)
			}
			if d.Reason == "" {
				t.Error("empty reason")
			}
			if c.tok != "" && strings.Contains(err.Error(), c.tok) {
				t.Error("the reason quotes the token")
			}
			for _, part := range strings.Split(c.tok, ".") {
				if len(part) > 16 && strings.Contains(err.Error(), part) {
					t.Error("the reason quotes part of the token")
				}
			}
			t.Logf("refused: %v", err)
		})
	}
}

func TestVerifyNoRolesRefusesEverything(t *testing.T) {
	f := newFixture(t)
	_, err := f.verifier(16).Verify(f.sign(t, f.client, nil))
	if tunnel.DenyCode(err, "") != tunnel.CodeWrongRole {
		t.Fatalf("err = %v, want wrong_role", err)
	}
}

func TestVerifyNilReplayAndRevoked(t *testing.T) {
	f := newFixture(t)
	v := &token.Verifier{Roots: f.ca.Pool, Audience: f.relayUUID} // real clock
	tok, err := token.Sign(f.client.Key, []*x509.Certificate{f.client.Cert}, token.Claims{Audience: f.relayUUID, Server: f.serverUUID})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := v.Verify(tok, certattrs.RoleClient); err != nil {
			t.Fatalf("Verify: %v", err)
		}
	}
}

func TestSignHeaderAndClaims(t *testing.T) {
	f := newFixture(t)
	for _, ed := range []bool{false, true} {
		leaf := f.issueClient(t, f.ca, testpki.Opts{Ed25519: ed})
		tok := f.sign(t, leaf, nil)
		parts := strings.Split(tok, ".")
		if len(parts) != 3 {
			t.Fatalf("not compact: %d parts", len(parts))
		}
		var hdr struct {
			Alg string   `json:"alg"`
			Typ string   `json:"typ"`
			X5c []string `json:"x5c"`
		}
		decodeJSON(t, parts[0], &hdr)
		wantAlg := "ES256"
		if ed {
			wantAlg = "EdDSA"
		}
		if hdr.Alg != wantAlg || hdr.Typ != "JWT" {
			t.Errorf("header alg %q typ %q, want %q JWT", hdr.Alg, hdr.Typ, wantAlg)
		}
		if len(hdr.X5c) != 1 || hdr.X5c[0] != base64.StdEncoding.EncodeToString(leaf.Cert.Raw) {
			t.Errorf("x5c is not the leaf in standard base64")
		}
		var claims map[string]any
		decodeJSON(t, parts[1], &claims)
		for _, k := range []string{"aud", "iat", "exp", "jti", "srv"} {
			if _, ok := claims[k]; !ok {
				t.Errorf("claim %s missing", k)
			}
		}
		if _, ok := claims["sid"]; ok {
			t.Error("empty sid is not omitted")
		}
		if aud, ok := claims["aud"].(string); !ok || aud != f.relayUUID {
			t.Errorf("aud = %#v, want a single string", claims["aud"])
		}
	}
}

func TestSignDefaults(t *testing.T) {
	f := newFixture(t)
	before := time.Now().Add(-time.Second)
	tok, err := token.Sign(f.client.Key, []*x509.Certificate{f.client.Cert}, token.Claims{Audience: f.relayUUID})
	if err != nil {
		t.Fatal(err)
	}
	v := f.verifier(16)
	v.Now = time.Now
	got, err := v.Verify(tok, certattrs.RoleClient)
	if err != nil {
		t.Fatal(err)
	}
	if got.Claims.IssuedAt.Before(before.Truncate(time.Second)) || got.Claims.Expiry.Sub(got.Claims.IssuedAt) != token.Lifetime {
		t.Errorf("defaults: iat %v exp %v", got.Claims.IssuedAt, got.Claims.Expiry)
	}
	other, err := token.Sign(f.client.Key, []*x509.Certificate{f.client.Cert}, token.Claims{Audience: f.relayUUID})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Split(other, ".")[1] == strings.Split(tok, ".")[1] {
		t.Error("two tokens share a payload: jti not random")
	}
}

func TestSignRefuses(t *testing.T) {
	f := newFixture(t)
	chain := []*x509.Certificate{f.client.Cert}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	otherP256, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		key   crypto.Signer
		chain []*x509.Certificate
		aud   string
	}{
		"no-audience":  {f.client.Key, chain, ""},
		"no-chain":     {f.client.Key, nil, f.relayUUID},
		"p384":         {p384, chain, f.relayUUID},
		"key-not-leaf": {otherP256, chain, f.relayUUID},
		"nil-key":      {nil, chain, f.relayUUID},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := token.Sign(c.key, c.chain, token.Claims{Audience: c.aud}); err == nil {
				t.Fatal("Sign succeeded")
			} else if strings.ToLower(err.Error()[:1]) != err.Error()[:1] {
				t.Errorf("error not lower-case: %v", err)
			}
		})
	}
}

func decodeJSON(t *testing.T, part string, v any) {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(part)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatal(err)
	}
}

func TestVerifyNilRootsRefuses(t *testing.T) {
	// A nil pool must not fall back to the system roots.
	f := newFixture(t)
	v := f.verifier(16)
	v.Roots = nil
	if _, err := v.Verify(f.sign(t, f.client, nil), certattrs.RoleClient); tunnel.DenyCode(err, "") != tunnel.CodeBadChain {
		t.Fatalf("err = %v, want bad_chain", err)
	}
}
