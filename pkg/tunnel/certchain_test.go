package tunnel

import (
	"bytes"
	"crypto/x509"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/sentinel-zt/sentinel/internal/testpki"
	"github.com/sentinel-zt/sentinel/pkg/certattrs"
)

func testChain(t testing.TB) []*x509.Certificate {
	ca := testpki.NewCA(t, "chain")
	leaf := ca.Issue(t, certattrs.Attrs{Relay: &certattrs.Relay{UUID: uuid.NewString(), Address: "relay.example.com", Port: 443}}, testpki.Opts{})
	return []*x509.Certificate{leaf.Cert, ca.Cert}
}

func TestCertChainRoundTrip(t *testing.T) {
	chain := testChain(t)
	var buf bytes.Buffer
	if err := WriteCertChain(&buf, chain); err != nil {
		t.Fatal(err)
	}
	got, err := ReadCertChain(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || !got[0].Equal(chain[0]) || !got[1].Equal(chain[1]) {
		t.Fatal("chain changed in transit")
	}
}

func TestReadCertChainRefuses(t *testing.T) {
	chain := testChain(t)
	var one bytes.Buffer
	_ = WriteCertChain(&one, chain[:1])
	certLine := strings.TrimSuffix(one.String(), "end\n")
	tests := map[string]string{
		"fail/empty":            "end\n",
		"fail/no-end":           certLine,
		"fail/garbage-line":     "hello\nend\n",
		"fail/bad-base64":       "cert !!!\nend\n",
		"fail/non-canonical":    strings.Replace(certLine, "\n", "=\n", 1) + "end\n",
		"fail/not-der":          "cert aGVsbG8=\nend\n",
		"fail/too-many":         strings.Repeat(certLine, MaxChainCerts+1) + "end\n",
		"fail/line-too-long":    "cert " + strings.Repeat("A", maxCertLine+100) + "\nend\n",
		"fail/trailing-newline": certLine + "\nend\n",
	}
	for name, input := range tests {
		t.Run(name, func(t *testing.T) {
			if got, err := ReadCertChain(strings.NewReader(input)); err == nil {
				t.Fatalf("accepted %d certificates", len(got))
			}
		})
	}
}

func FuzzReadCertChain(f *testing.F) {
	var buf bytes.Buffer
	_ = WriteCertChain(&buf, testChain(f))
	f.Add(buf.Bytes())
	f.Add([]byte("end\n"))
	f.Add([]byte("cert AAAA\nend\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		chain, err := ReadCertChain(bytes.NewReader(data))
		if err != nil {
			return
		}
		if len(chain) == 0 || len(chain) > MaxChainCerts {
			t.Fatalf("accepted a chain of %d", len(chain))
		}
		var again bytes.Buffer
		if err := WriteCertChain(&again, chain); err != nil {
			t.Fatal(err)
		}
		back, err := ReadCertChain(&again)
		if err != nil || len(back) != len(chain) {
			t.Fatalf("round trip: %v", err)
		}
	})
}
