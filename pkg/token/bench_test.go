package token_test

import (
	"crypto/x509"
	"strconv"
	"testing"
	"time"

	"github.com/sentinel-zt/sentinel/internal/testpki"
	"github.com/sentinel-zt/sentinel/pkg/certattrs"
	"github.com/sentinel-zt/sentinel/pkg/token"
)

// BenchmarkVerify measures one full verification (parse, chain, signature, attributes,
// claims) without the replay cache, which BenchmarkReplayCacheAdd covers. DESIGN.md expects
// about 0.1 ms for ES256.
func BenchmarkVerify(b *testing.B) {
	f := newFixture(b)
	for _, c := range []struct {
		name string
		leaf *testpki.Leaf
	}{
		{"ES256", f.client},
		{"EdDSA", f.issueClient(b, f.ca, testpki.Opts{Ed25519: true})},
	} {
		b.Run(c.name, func(b *testing.B) {
			tok := f.sign(b, c.leaf, nil)
			v := f.verifier(1)
			v.Replay = nil
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Verify(tok, certattrs.RoleClient); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkVerifyJunk is the cost of refusing tokens that fail before any public-key work.
func BenchmarkVerifyJunk(b *testing.B) {
	f := newFixture(b)
	v := f.verifier(1)
	for name, tok := range map[string]string{
		"oversized": string(make([]byte, token.MaxSize+1)),
		"garbage":   "AAAA.BBBB.CCCC",
	} {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				if _, err := v.Verify(tok, certattrs.RoleClient); err == nil {
					b.Fatal("accepted")
				}
			}
		})
	}
}

func BenchmarkSign(b *testing.B) {
	f := newFixture(b)
	c := f.claims()
	for b.Loop() {
		c.ID = ""
		if _, err := token.Sign(f.client.Key, []*x509.Certificate{f.client.Cert}, c); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReplayCacheAdd adds fresh ids to a cache at a steady state of about 60k live
// entries: ids expire as fast as they come.
func BenchmarkReplayCacheAdd(b *testing.B) {
	const live = 1 << 16
	c := token.NewReplayCache(2 * live)
	start := time.Unix(1_700_000_000, 0)
	ids := make([]string, 1<<10)
	for i := range ids {
		ids[i] = token.NewID()
	}
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		now := start.Add(time.Duration(i) * time.Millisecond)
		if !c.Add(ids[i%len(ids)]+strconv.Itoa(i), now.Add(live*time.Millisecond), now) {
			b.Fatal("refused")
		}
		i++
	}
}
