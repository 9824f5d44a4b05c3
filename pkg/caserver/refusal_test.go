package caserver_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.step.sm/crypto/jose"

	"github.com/sentinel-zt/sentinel/pkg/ca"
	"github.com/sentinel-zt/sentinel/pkg/caserver"
	"github.com/sentinel-zt/sentinel/pkg/certattrs"
	"github.com/sentinel-zt/sentinel/pkg/enroll"
	"github.com/sentinel-zt/sentinel/pkg/enrolltoken"
	"github.com/sentinel-zt/sentinel/pkg/token"
)

// sign posts csr with tok to the fixture's CA, trusting its root.
func (f *fixture) sign(tok string, csr []byte) (*enroll.SignResponse, error) {
	u, _ := url.Parse(f.url)
	return enroll.NewClient(u, f.ca.Root(), nil).Sign(context.Background(), csr, tok)
}

func newCSR(t *testing.T, key crypto.Signer, tmpl *x509.CertificateRequest) []byte {
	t.Helper()
	if tmpl == nil {
		tmpl = &x509.CertificateRequest{Subject: pkix.Name{CommonName: "device"}}
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
}

func p256(t *testing.T) crypto.Signer {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestEnrollRefusals: every way an enrollment is refused, each after proving the good path
// on the same fixture, with the refusal code the device sees.
func TestEnrollRefusals(t *testing.T) {
	type tc struct {
		token string
		csr   []byte
		code  string
	}
	tests := map[string]func(t *testing.T, f *fixture) tc{
		"ok": func(t *testing.T, f *fixture) tc {
			return tc{token: f.clientToken("alice", nil)}
		},
		"fail/reused": func(t *testing.T, f *fixture) tc {
			tok := f.clientToken("alice", nil)
			if _, err := f.sign(tok, newCSR(t, p256(t), nil)); err != nil {
				t.Fatalf("first use: %v", err)
			}
			return tc{token: tok, code: caserver.CodeTokenUsed}
		},
		"fail/reusable-exhausted": func(t *testing.T, f *fixture) tc {
			tok := f.clientToken("alice", func(r *ca.TokenRequest) { r.Uses = 2 })
			for i := range 2 {
				if _, err := f.sign(tok, newCSR(t, p256(t), nil)); err != nil {
					t.Fatalf("use %d of 2: %v", i+1, err)
				}
			}
			return tc{token: tok, code: caserver.CodeTokenUsed}
		},
		"fail/expired": func(t *testing.T, f *fixture) tc {
			tok := f.clientToken("alice", func(r *ca.TokenRequest) { r.TTL = time.Minute })
			f.now.off = 2 * time.Minute
			return tc{token: tok, code: caserver.CodeTokenExpired}
		},
		"fail/revoked-token": func(t *testing.T, f *fixture) tc {
			tok := f.clientToken("alice", nil)
			c, _ := enrolltoken.ParseUnverified(tok)
			if _, err := f.ca.RevokeToken(c.ID); err != nil {
				t.Fatal(err)
			}
			return tc{token: tok, code: caserver.CodeTokenRevoked}
		},
		"fail/unknown-token": func(t *testing.T, f *fixture) tc {
			// Signed with this CA's enrollment key, but never recorded.
			return tc{token: f.forge(t, enrolltoken.NewID(), certattrs.RoleClient, "alice", nil), code: caserver.CodeTokenUnknown}
		},
		"fail/other-ca": func(t *testing.T, f *fixture) tc {
			other := newFixture(t, nil)
			return tc{token: other.clientToken("alice", nil), code: caserver.CodeWrongCA}
		},
		"fail/not-signed-by-ca": func(t *testing.T, f *fixture) tc {
			// Right fingerprint and a recorded id, but another key.
			tok := f.clientToken("alice", nil)
			c, _ := enrolltoken.ParseUnverified(tok)
			forged, err := enrolltoken.Sign(p256(t), c)
			if err != nil {
				t.Fatal(err)
			}
			return tc{token: forged, code: caserver.CodeBadToken}
		},
		"fail/tampered-role": func(t *testing.T, f *fixture) tc {
			// The client token's payload rewritten to say server: the signature breaks.
			return tc{token: tamper(t, f.clientToken("alice", nil), "sentinel_role", "server"), code: caserver.CodeBadToken}
		},
		"fail/record-decides-role": func(t *testing.T, f *fixture) tc {
			// Even a token the enrollment key signed cannot name another role than its record:
			// the record's id with the role server.
			c, _ := enrolltoken.ParseUnverified(f.clientToken("alice", nil))
			return tc{token: f.forge(t, c.ID, certattrs.RoleServer, "server1", nil), code: caserver.CodeWrongRole}
		},
		"fail/rsa-key": func(t *testing.T, f *fixture) tc {
			k, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				t.Fatal(err)
			}
			return tc{token: f.clientToken("alice", nil), csr: newCSR(t, k, nil), code: caserver.CodeBadCSR}
		},
		"fail/cert-shorter-than-backdate": func(t *testing.T, f *fixture) tc {
			// The fixture's backdate is 1s: a 1s certificate would be due at once. Refused
			// before the token's use is spent.
			tok := f.clientToken("alice", func(r *ca.TokenRequest) { r.Spec.CertTTL = time.Second })
			t.Cleanup(func() {
				c, _ := enrolltoken.ParseUnverified(tok)
				if rec, err := f.ca.LookupToken(c.ID); err != nil || rec.Uses != 0 {
					t.Errorf("refused token spent: %+v %v", rec, err)
				}
			})
			return tc{token: tok, code: caserver.CodeNotIssuable}
		},
		"fail/server-revoked-since": func(t *testing.T, f *fixture) tc {
			tok := f.clientToken("alice", nil)
			if _, err := f.ca.Revoke("server1", ca.RevokeOptions{}); err != nil {
				t.Fatal(err)
			}
			return tc{token: tok, code: caserver.CodeNotIssuable}
		},
	}
	for name, build := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, nil)
			if !strings.HasPrefix(name, "ok") {
				// The good path first, on the same CA.
				if _, err := f.sign(f.clientToken("good", nil), newCSR(t, p256(t), nil)); err != nil {
					t.Fatalf("good path: %v", err)
				}
			}
			c := build(t, f)
			if c.csr == nil {
				c.csr = newCSR(t, p256(t), nil)
			}
			resp, err := f.sign(c.token, c.csr)
			if c.code == "" {
				if err != nil {
					t.Fatalf("sign: %v", err)
				}
				if _, _, err := resp.Leaf(); err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil {
				t.Fatalf("signed, want %s", c.code)
			}
			if got := enroll.Code(err); got != c.code {
				t.Fatalf("refusal %q (%v), want %s", got, err, c.code)
			}
		})
	}
}

// forge signs a token with the fixture CA's own enrollment key (a stolen key, or a bug).
func (f *fixture) forge(t *testing.T, id string, role certattrs.Role, name string, mod func(*enrolltoken.Claims)) string {
	t.Helper()
	key, err := f.ca.EnrollKey()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	c := enrolltoken.Claims{ID: id, Role: role, Name: name, Fingerprint: f.ca.Fingerprint(),
		IssuedAt: now, NotBefore: now, Expiry: now.Add(time.Minute)}
	if mod != nil {
		mod(&c)
	}
	tok, err := enrolltoken.Sign(key, c)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// tamper rewrites one claim of a compact JWS, keeping header and signature.
func tamper(t *testing.T, tok, claim, value string) string {
	t.Helper()
	parts := strings.Split(tok, ".")
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	m[claim] = value
	if raw, err = json.Marshal(m); err != nil {
		t.Fatal(err)
	}
	parts[1] = base64.RawURLEncoding.EncodeToString(raw)
	return strings.Join(parts, ".")
}

// TestEnrollIgnoresWhatTheDeviceAsks: a client token with a CSR that asks for a server's
// attributes, other SANs, an e-mail and a CA flag gets exactly the client certificate the
// inventory describes.
func TestEnrollIgnoresWhatTheDeviceAsks(t *testing.T) {
	f := newFixture(t, nil)
	serverRec, err := f.ca.List(ca.Filter{Role: certattrs.RoleServer, Name: "server1"})
	if err != nil || len(serverRec) != 1 {
		t.Fatal(serverRec, err)
	}
	serverAttrs, err := serverRec[0].DecodeAttrs()
	if err != nil {
		t.Fatal(err)
	}
	ext, err := certattrs.Encode(serverAttrs)
	if err != nil {
		t.Fatal(err)
	}
	bc, _ := asn1.Marshal(struct {
		IsCA bool `asn1:"optional"`
	}{true})
	csr := newCSR(t, p256(t), &x509.CertificateRequest{
		Subject:         pkix.Name{CommonName: "server1", Organization: []string{"Evil"}},
		DNSNames:        []string{"evil.example.com", certattrs.IdentityDNS(certattrs.RoleServer, serverAttrs.UUID())},
		EmailAddresses:  []string{"root@example.com"},
		ExtraExtensions: []pkix.Extension{ext, {Id: asn1.ObjectIdentifier{2, 5, 29, 19}, Critical: true, Value: bc}},
	})
	resp, err := f.sign(f.clientToken("alice", nil), csr)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _, err := resp.Leaf()
	if err != nil {
		t.Fatal(err)
	}
	a, err := certattrs.Decode(leaf)
	if err != nil {
		t.Fatal(err)
	}
	if a.Client == nil || a.Server != nil || a.Client.Name != "alice" || a.Client.Server.Name != "server1" {
		t.Fatalf("attributes %+v, want the inventory's client alice", a)
	}
	if leaf.Subject.CommonName != "alice" || len(leaf.Subject.Organization) != 0 || leaf.IsCA || len(leaf.EmailAddresses) != 0 {
		t.Errorf("subject %v, CA %v, e-mail %v", leaf.Subject, leaf.IsCA, leaf.EmailAddresses)
	}
	if want := []string{certattrs.IdentityDNS(certattrs.RoleClient, a.UUID())}; !slices.Equal(leaf.DNSNames, want) {
		t.Errorf("DNS SANs %v, want %v", leaf.DNSNames, want)
	}
	if !slices.Equal(leaf.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}) {
		t.Errorf("EKU %v", leaf.ExtKeyUsage)
	}
}

// TestEnrollPinsTheCA: a device given a token of CA A and the URL of CA B refuses B before
// sending anything (B has no root with A's fingerprint).
func TestEnrollPinsTheCA(t *testing.T) {
	a, b := newFixture(t, nil), newFixture(t, nil)
	_, err := enroll.Enroll(context.Background(), enroll.Options{CA: b.url, Token: a.clientToken("alice", nil), Out: filepath.Join(t.TempDir(), "x")})
	if err == nil || !strings.Contains(err.Error(), "fetch root") {
		t.Fatalf("enroll against another CA: %v", err)
	}
	if recs, _ := b.ca.List(ca.Filter{Role: certattrs.RoleClient}); len(recs) != 0 {
		t.Errorf("CA B issued %d client certificates", len(recs))
	}
}

// TestRenewRefusals: the renewal endpoint renews the holder of a live, unrevoked certificate
// of this CA, proven by a fresh token signed with its key, and nothing else.
func TestRenewRefusals(t *testing.T) {
	type tc struct {
		bearer string
		code   string
	}
	// enrolled returns a fresh client certificate and its key.
	enrolled := func(t *testing.T, f *fixture) (*x509.Certificate, crypto.Signer) {
		key := p256(t)
		resp, err := f.sign(f.clientToken("alice", nil), newCSR(t, key, nil))
		if err != nil {
			t.Fatal(err)
		}
		leaf, _, err := resp.Leaf()
		if err != nil {
			t.Fatal(err)
		}
		return leaf, key
	}
	bearer := func(t *testing.T, f *fixture, leaf *x509.Certificate, key crypto.Signer, aud string) string {
		if aud == "" {
			aud = enrolltoken.RenewAudience(f.ca.Fingerprint())
		}
		tok, err := token.Sign(key, []*x509.Certificate{leaf}, token.Claims{Audience: aud})
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	tests := map[string]func(t *testing.T, f *fixture) tc{
		"ok": func(t *testing.T, f *fixture) tc {
			leaf, key := enrolled(t, f)
			return tc{bearer: bearer(t, f, leaf, key, "")}
		},
		"fail/revoked": func(t *testing.T, f *fixture) tc {
			leaf, key := enrolled(t, f)
			if _, err := f.ca.Revoke(ca.SerialString(leaf), ca.RevokeOptions{}); err != nil {
				t.Fatal(err)
			}
			return tc{bearer: bearer(t, f, leaf, key, ""), code: caserver.CodeRevoked}
		},
		"fail/replayed": func(t *testing.T, f *fixture) tc {
			leaf, key := enrolled(t, f)
			b := bearer(t, f, leaf, key, "")
			if _, err := f.renew(b); err != nil {
				t.Fatalf("first use: %v", err)
			}
			return tc{bearer: b, code: "replay"}
		},
		"fail/other-audience": func(t *testing.T, f *fixture) tc {
			leaf, key := enrolled(t, f)
			return tc{bearer: bearer(t, f, leaf, key, enrolltoken.RenewAudience(strings.Repeat("0", 64))), code: "wrong_audience"}
		},
		"fail/other-ca": func(t *testing.T, f *fixture) tc {
			other := newFixture(t, nil)
			leaf, key := enrolled(t, other)
			return tc{bearer: bearer(t, f, leaf, key, ""), code: "bad_chain"}
		},
		"fail/not-the-holder": func(t *testing.T, f *fixture) tc {
			// The certificate in x5c, but the token signed by another key.
			leaf, _ := enrolled(t, f)
			now := time.Now().Unix()
			payload, _ := json.Marshal(map[string]any{"aud": enrolltoken.RenewAudience(f.ca.Fingerprint()),
				"iat": now, "exp": now + 60, "jti": token.NewID()})
			opts := new(jose.SignerOptions).WithType("JWT").WithHeader("x5c", []string{base64.StdEncoding.EncodeToString(leaf.Raw)})
			signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: p256(t)}, opts)
			if err != nil {
				t.Fatal(err)
			}
			jws, err := signer.Sign(payload)
			if err != nil {
				t.Fatal(err)
			}
			tok, err := jws.CompactSerialize()
			if err != nil {
				t.Fatal(err)
			}
			return tc{bearer: tok, code: "bad_token"}
		},
		"fail/expired": func(t *testing.T, f *fixture) tc {
			leaf, key := enrolled(t, f)
			f.now.off = ca.OnlineClientLifetime + time.Hour
			tok, err := token.Sign(key, []*x509.Certificate{leaf}, token.Claims{Audience: enrolltoken.RenewAudience(f.ca.Fingerprint()),
				IssuedAt: f.now.Now(), Expiry: f.now.Now().Add(time.Minute)})
			if err != nil {
				t.Fatal(err)
			}
			return tc{bearer: tok, code: "expired"}
		},
		"fail/no-proof": func(t *testing.T, f *fixture) tc {
			return tc{bearer: "", code: caserver.CodeBadToken}
		},
	}
	for name, build := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, nil)
			if !strings.HasPrefix(name, "ok") {
				leaf, key := enrolled(t, f)
				if _, err := f.renew(bearer(t, f, leaf, key, "")); err != nil {
					t.Fatalf("good path: %v", err)
				}
			}
			c := build(t, f)
			resp, err := f.renew(c.bearer)
			if c.code == "" {
				if err != nil {
					t.Fatalf("renew: %v", err)
				}
				leaf, _, err := resp.Leaf()
				if err != nil {
					t.Fatal(err)
				}
				rec, err := f.ca.Lookup(ca.SerialString(leaf))
				if err != nil || rec.RenewedFrom == "" || rec.Token == "" {
					t.Errorf("renewal record %+v %v", rec, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("renewed, want %s", c.code)
			}
			if got := enroll.Code(err); got != c.code {
				t.Fatalf("refusal %q (%v), want %s", got, err, c.code)
			}
		})
	}
}

func (f *fixture) renew(bearer string) (*enroll.SignResponse, error) {
	u, _ := url.Parse(f.url)
	return enroll.NewClient(u, f.ca.Root(), nil).Renew(context.Background(), bearer)
}
