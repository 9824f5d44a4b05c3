package token_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/sentinel-zt/sentinel/internal/testpki"
	"github.com/sentinel-zt/sentinel/pkg/certattrs"
	"github.com/sentinel-zt/sentinel/pkg/tunnel"
)

// FuzzVerifyToken feeds Verify arbitrary strings, seeded with valid tokens and near misses.
// Properties: it never panics, every refusal is a *tunnel.DenyError, and it accepts nothing
// but the valid tokens themselves: any mutation of a valid token is refused. (The check
// compares the signed parts, header and payload; only the signature part could in theory
// change without changing what was signed, through ECDSA's (r, n-s) twin, which a fuzzer will
// not find. Non-canonical base64 in the signature is refused.)
func FuzzVerifyToken(f *testing.F) {
	fx := newFixture(f)
	ed := fx.issueClient(f, fx.ca, testpki.Opts{Ed25519: true})
	valid := []string{fx.sign(f, fx.client, nil), fx.sign(f, ed, nil)}
	v := fx.verifier(16)
	v.Replay = nil // the same valid token may come back any number of times
	for _, tok := range valid {
		if _, err := v.Verify(tok, certattrs.RoleClient); err != nil {
			f.Fatalf("seed refused: %v", err)
		}
		f.Add(tok)
		parts := strings.Split(tok, ".")
		f.Add(parts[0] + "." + parts[1] + ".")
		f.Add(parts[0] + "." + parts[1] + "." + parts[2] + "A")
		f.Add(strings.Join(parts[:2], "."))
	}
	f.Add("")
	f.Add("..")
	f.Add("e30.e30.e30")
	f.Add(`{"protected":"e30","payload":"e30","signature":"e30"}`)

	signed := map[string]bool{}
	for _, tok := range valid {
		signed[tok[:strings.LastIndexByte(tok, '.')]] = true
	}
	f.Fuzz(func(t *testing.T, tok string) {
		got, err := v.Verify(tok, certattrs.RoleClient)
		if err != nil {
			var d *tunnel.DenyError
			if !errors.As(err, &d) {
				t.Fatalf("refusal %v (%T) is not a *tunnel.DenyError", err, err)
			}
			if len(tok) > 8 && strings.Contains(d.Reason, tok) {
				t.Fatal("reason quotes the token")
			}
			return
		}
		i := strings.LastIndexByte(tok, '.')
		if i < 0 || !signed[tok[:i]] {
			t.Fatalf("accepted a token whose signed content differs from every valid one: %q", tok)
		}
		if got.Leaf == nil || got.Attrs.Role() != certattrs.RoleClient {
			t.Fatal("accepted without a leaf or role")
		}
	})
}
