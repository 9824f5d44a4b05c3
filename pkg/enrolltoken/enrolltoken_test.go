package enrolltoken

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"go.step.sm/crypto/jose"

	"github.com/sentinel-zt/sentinel/pkg/certattrs"
)

var fp = strings.Repeat("ab", 32)

func key(t testing.TB) crypto.Signer {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func claims(now time.Time) Claims {
	return Claims{ID: NewID(), Role: certattrs.RoleClient, Name: "alice", Fingerprint: fp,
		IssuedAt: now, NotBefore: now, Expiry: now.Add(10 * time.Minute)}
}

func TestSignVerify(t *testing.T) {
	k := key(t)
	now := time.Now().Truncate(time.Second)
	c := claims(now)
	tok, err := Sign(k, c)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Verify(tok, k.Public(), fp, now)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != c.ID || got.Role != c.Role || got.Name != c.Name || !got.Expiry.Equal(c.Expiry) {
		t.Errorf("claims %+v, want %+v", got, c)
	}
	if u, err := ParseUnverified(tok); err != nil || u.Fingerprint != fp {
		t.Errorf("ParseUnverified %+v %v", u, err)
	}
}

// resign signs an arbitrary payload with k and the right kid (forging shapes Sign refuses).
func resign(t *testing.T, k crypto.Signer, alg jose.SignatureAlgorithm, payload map[string]any) string {
	t.Helper()
	kid, _ := KeyID(k.Public())
	b, _ := json.Marshal(payload)
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: k}, new(jose.SignerOptions).WithHeader("kid", kid))
	if err != nil {
		t.Fatal(err)
	}
	jws, err := s.Sign(b)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := jws.CompactSerialize()
	return out
}

func TestVerifyRefusals(t *testing.T) {
	k := key(t)
	now := time.Now().Truncate(time.Second)
	good := func() map[string]any {
		return map[string]any{"iss": Issuer, "sub": "alice", "aud": AudiencePrefix + fp, "jti": NewID(),
			"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Minute).Unix(), "sentinel_role": "client", "sentinel_fp": fp}
	}
	tests := map[string]struct {
		tok  func(t *testing.T) string
		now  time.Time
		want error
	}{
		"ok": {tok: func(t *testing.T) string { return resign(t, k, jose.ES256, good()) }},
		"fail/expired": {tok: func(t *testing.T) string { return resign(t, k, jose.ES256, good()) },
			now: now.Add(time.Minute), want: ErrExpired},
		"fail/not-yet-valid": {tok: func(t *testing.T) string { return resign(t, k, jose.ES256, good()) },
			now: now.Add(-2 * time.Minute), want: ErrNotYetValid},
		"fail/other-key": {tok: func(t *testing.T) string { return resign(t, key(t), jose.ES256, good()) }, want: ErrSignature},
		"fail/other-ca": {tok: func(t *testing.T) string {
			p := good()
			p["sentinel_fp"], p["aud"] = strings.Repeat("cd", 32), AudiencePrefix+strings.Repeat("cd", 32)
			return resign(t, k, jose.ES256, p)
		}, want: ErrWrongCA},
		"fail/aud-mismatch": {tok: func(t *testing.T) string { p := good(); p["aud"] = "x"; return resign(t, k, jose.ES256, p) }, want: ErrMalformed},
		"fail/bad-role": {tok: func(t *testing.T) string {
			p := good()
			p["sentinel_role"] = "admin"
			return resign(t, k, jose.ES256, p)
		}, want: ErrMalformed},
		"fail/no-exp": {tok: func(t *testing.T) string { p := good(); delete(p, "exp"); return resign(t, k, jose.ES256, p) }, want: ErrMalformed},
		"fail/issuer": {tok: func(t *testing.T) string { p := good(); p["iss"] = "step"; return resign(t, k, jose.ES256, p) }, want: ErrMalformed},
		"fail/eddsa": {tok: func(t *testing.T) string {
			_, ek, _ := ed25519.GenerateKey(rand.Reader)
			return resign(t, ek, jose.EdDSA, good())
		}, want: ErrMalformed},
		"fail/tampered": {tok: func(t *testing.T) string {
			parts := strings.Split(resign(t, k, jose.ES256, good()), ".")
			p := good()
			p["sentinel_role"] = "server"
			b, _ := json.Marshal(p)
			parts[1] = base64.RawURLEncoding.EncodeToString(b)
			return strings.Join(parts, ".")
		}, want: ErrSignature},
		"fail/oversized": {tok: func(t *testing.T) string { return strings.Repeat("a", MaxSize+1) }, want: ErrMalformed},
		"fail/garbage":   {tok: func(t *testing.T) string { return "a.b.c" }, want: ErrMalformed},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			at := tc.now
			if at.IsZero() {
				at = now
			}
			_, err := Verify(tc.tok(t), k.Public(), fp, at)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("Verify: %v, want %v", err, tc.want)
			}
		})
	}
}

func TestSignRefusesBadClaims(t *testing.T) {
	k := key(t)
	c := claims(time.Now())
	c.Role = "admin"
	if _, err := Sign(k, c); err == nil {
		t.Error("signed a token for role admin")
	}
	_, ek, _ := ed25519.GenerateKey(rand.Reader)
	if _, err := Sign(ek, claims(time.Now())); err == nil {
		t.Error("signed with an Ed25519 enrollment key")
	}
}

// FuzzParseUnverified: no input panics the parser, and what it accepts it describes fully.
func FuzzParseUnverified(f *testing.F) {
	k := key(f)
	tok, err := Sign(k, claims(time.Now()))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(tok)
	f.Add("a.b.c")
	f.Add("")
	f.Add(strings.Replace(tok, ".", "..", 1))
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseUnverified(s)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v is not ErrMalformed", err)
			}
			return
		}
		if c.ID == "" || c.Name == "" || !validFingerprint(c.Fingerprint) || !c.Expiry.After(c.NotBefore) {
			t.Fatalf("accepted incomplete claims %+v", c)
		}
		_, _ = Verify(s, k.Public(), c.Fingerprint, time.Now())
	})
}
