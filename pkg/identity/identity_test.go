package identity

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/sentinel-zt/sentinel/internal/testpki"
	"github.com/sentinel-zt/sentinel/pkg/certattrs"
)

func clientAttrs() certattrs.Attrs {
	return certattrs.Attrs{Client: &certattrs.Client{
		Name:   "alice",
		Port:   48080,
		Server: certattrs.ServerRef{UUID: uuid.NewString(), Name: "server1"},
		Target: certattrs.Target{Host: "10.0.0.5", Port: 3306},
	}}
}

func serverAttrs() certattrs.Attrs {
	return certattrs.Attrs{Server: &certattrs.Server{
		Name: "server1",
		Resources: []certattrs.Resource{{
			UUID: uuid.NewString(), Name: "db", Type: "cidr",
			Prefix: netip.MustParsePrefix("10.0.0.0/24"), Ports: certattrs.PortRange{First: 3306, Last: 3306},
		}},
	}}
}

func relayAttrs() certattrs.Attrs {
	return certattrs.Attrs{Relay: &certattrs.Relay{Name: "relay1", Address: "relay.example.com", Port: 8443}}
}

func parseErr(t *testing.T, certPEM, keyPEM, caPEM []byte, want string) {
	t.Helper()
	id, err := Parse(certPEM, keyPEM, caPEM)
	if err == nil {
		t.Fatalf("Parse: no error, want %q", want)
	}
	if id != nil {
		t.Fatal("Parse returned an identity with its error")
	}
	if !strings.Contains(err.Error(), want) {
		t.Fatalf("Parse error %q does not contain %q", err, want)
	}
}

func TestParseGood(t *testing.T) {
	ca := testpki.NewCA(t, "Test Root")
	for name, attrs := range map[string]certattrs.Attrs{
		"client": clientAttrs(), "server": serverAttrs(), "relay": relayAttrs(),
	} {
		t.Run(name, func(t *testing.T) {
			leaf := ca.Issue(t, attrs, testpki.Opts{})
			id, err := Parse(leaf.CertPEM, leaf.KeyPEM, ca.PEM)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if got := string(id.Attrs.Role()); got != name {
				t.Errorf("role = %q, want %q", got, name)
			}
			if id.Attrs.UUID() != leaf.Attrs.UUID() || id.Attrs.UUID() == "" {
				t.Errorf("uuid = %q, want %q", id.Attrs.UUID(), leaf.Attrs.UUID())
			}
			if !id.Leaf.Equal(leaf.Cert) || id.Cert.Leaf != id.Leaf || len(id.Chain) != 1 || !id.Chain[0].Equal(leaf.Cert) {
				t.Error("leaf or chain not the issued certificate")
			}
			if len(id.Cert.Certificate) != 1 || string(id.Cert.Certificate[0]) != string(leaf.Cert.Raw) {
				t.Error("tls.Certificate does not carry the leaf DER")
			}
			if !id.CA.Equal(ca.Cert) || !id.Roots.Equal(ca.Pool) {
				t.Error("CA or Roots not the test root")
			}
			if !id.Signer().Public().(*ecdsa.PublicKey).Equal(leaf.Key.Public()) {
				t.Error("Signer is not the leaf key")
			}
		})
	}
}

// sec1 re-encodes an ECDSA key as "EC PRIVATE KEY", as go.step.sm pemutil writes it.
func sec1(t *testing.T, leaf *testpki.Leaf, withParams bool) []byte {
	t.Helper()
	der, err := x509.MarshalECPrivateKey(leaf.Key.(*ecdsa.PrivateKey))
	if err != nil {
		t.Fatal(err)
	}
	var out []byte
	if withParams {
		out = pem.EncodeToMemory(&pem.Block{Type: "EC PARAMETERS", Bytes: []byte{0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07}})
	}
	return append(out, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})...)
}

func TestParseKeyFormats(t *testing.T) {
	ca := testpki.NewCA(t, "Test Root")
	leaf := ca.Issue(t, clientAttrs(), testpki.Opts{})
	for name, key := range map[string][]byte{
		"sec1":             sec1(t, leaf, false),
		"sec1 with params": sec1(t, leaf, true),
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := Parse(leaf.CertPEM, key, ca.PEM); err != nil {
				t.Fatalf("Parse: %v", err)
			}
		})
	}
	t.Run("ed25519", func(t *testing.T) {
		ed := ca.Issue(t, serverAttrs(), testpki.Opts{Ed25519: true})
		if !strings.Contains(string(ed.KeyPEM), "BEGIN PRIVATE KEY") {
			t.Fatalf("want a PKCS#8 key, got %s", ed.KeyPEM)
		}
		id, err := Parse(ed.CertPEM, ed.KeyPEM, ca.PEM)
		if err != nil {
			t.Fatalf("Parse: %v", err)
		}
		if _, ok := id.Signer().(ed25519.PrivateKey); !ok {
			t.Fatalf("signer is %T", id.Signer())
		}
	})
}

func TestParseIntermediate(t *testing.T) {
	root := testpki.NewCA(t, "Test Root")
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(7),
		Subject:               pkix.Name{CommonName: "Test Intermediate"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(time.Hour),
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, root.Cert, key.Public(), root.Key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	inter := &testpki.CA{Cert: cert, Key: key}
	leaf := inter.Issue(t, relayAttrs(), testpki.Opts{})
	bundle := append(append([]byte(nil), leaf.CertPEM...), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)

	id, err := Parse(bundle, leaf.KeyPEM, root.PEM)
	if err != nil {
		t.Fatalf("Parse leaf+intermediate: %v", err)
	}
	if len(id.Chain) != 2 || len(id.Cert.Certificate) != 2 || !id.Chain[1].Equal(cert) {
		t.Fatalf("chain has %d certificates", len(id.Chain))
	}
	parseErr(t, leaf.CertPEM, leaf.KeyPEM, root.PEM, "certificate not signed by the CA in ca")
}

func TestParseRefusals(t *testing.T) {
	ca := testpki.NewCA(t, "Test Root")
	other := testpki.NewCA(t, "Other Root")
	good := ca.Issue(t, clientAttrs(), testpki.Opts{})
	now := time.Now()

	// Prove the good path before each refusal.
	if _, err := Parse(good.CertPEM, good.KeyPEM, ca.PEM); err != nil {
		t.Fatalf("good certificate: %v", err)
	}

	tests := map[string]func(t *testing.T) (certPEM, keyPEM, caPEM []byte, want string){
		"fail/key-mismatch": func(t *testing.T) ([]byte, []byte, []byte, string) {
			k := ca.Issue(t, clientAttrs(), testpki.Opts{})
			return good.CertPEM, k.KeyPEM, ca.PEM, "key does not match certificate"
		},
		"fail/other-ca": func(t *testing.T) ([]byte, []byte, []byte, string) {
			l := other.Issue(t, clientAttrs(), testpki.Opts{})
			return l.CertPEM, l.KeyPEM, ca.PEM, "certificate not signed by the CA in ca"
		},
		"fail/expired": func(t *testing.T) ([]byte, []byte, []byte, string) {
			l := ca.Issue(t, clientAttrs(), testpki.Opts{NotBefore: now.Add(-2 * time.Hour), NotAfter: now.Add(-time.Hour)})
			return l.CertPEM, l.KeyPEM, ca.PEM, "certificate expired at " + l.Cert.NotAfter.UTC().Format(time.RFC3339)
		},
		"fail/not-yet-valid": func(t *testing.T) ([]byte, []byte, []byte, string) {
			l := ca.Issue(t, clientAttrs(), testpki.Opts{NotBefore: now.Add(time.Hour), NotAfter: now.Add(2 * time.Hour)})
			return l.CertPEM, l.KeyPEM, ca.PEM, "certificate not valid before " + l.Cert.NotBefore.UTC().Format(time.RFC3339)
		},
		"fail/no-attrs": func(t *testing.T) ([]byte, []byte, []byte, string) {
			l := ca.Issue(t, clientAttrs(), testpki.Opts{NoAttrs: true})
			return l.CertPEM, l.KeyPEM, ca.PEM, "certificate attributes: "
		},
		"fail/bad-attrs": func(t *testing.T) ([]byte, []byte, []byte, string) {
			ext := pkix.Extension{Id: certattrs.OID, Value: []byte{0x0c, 0x02, '{', '}'}}
			l := ca.Issue(t, clientAttrs(), testpki.Opts{Extension: &ext})
			return l.CertPEM, l.KeyPEM, ca.PEM, "certificate attributes: "
		},
		"fail/no-identity-san": func(t *testing.T) ([]byte, []byte, []byte, string) {
			l := ca.Issue(t, clientAttrs(), testpki.Opts{NoIdentitySAN: true, DNSNames: []string{"alice.example.com"}})
			return l.CertPEM, l.KeyPEM, ca.PEM, "certificate lacks its identity SAN " +
				certattrs.IdentityDNS(certattrs.RoleClient, l.Attrs.UUID())
		},
		"fail/wrong-key-usage": func(t *testing.T) ([]byte, []byte, []byte, string) {
			l := ca.Issue(t, relayAttrs(), testpki.Opts{ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
			return l.CertPEM, l.KeyPEM, ca.PEM, "relay certificate lacks extended key usage serverAuth"
		},
		"fail/server-missing-client-auth": func(t *testing.T) ([]byte, []byte, []byte, string) {
			l := ca.Issue(t, serverAttrs(), testpki.Opts{ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
			return l.CertPEM, l.KeyPEM, ca.PEM, "server certificate lacks extended key usage clientAuth"
		},
		"fail/no-cert": func(t *testing.T) ([]byte, []byte, []byte, string) {
			return []byte("nothing"), good.KeyPEM, ca.PEM, "cert: no CERTIFICATE PEM block"
		},
		"fail/key-in-cert-file": func(t *testing.T) ([]byte, []byte, []byte, string) {
			return append(append([]byte(nil), good.CertPEM...), good.KeyPEM...), good.KeyPEM, ca.PEM,
				`cert: unexpected PEM block "PRIVATE KEY"`
		},
		"fail/no-key": func(t *testing.T) ([]byte, []byte, []byte, string) {
			return good.CertPEM, nil, ca.PEM, "key: no private key PEM block"
		},
		"fail/cert-as-key": func(t *testing.T) ([]byte, []byte, []byte, string) {
			return good.CertPEM, good.CertPEM, ca.PEM, `key: unexpected PEM block "CERTIFICATE"`
		},
		"fail/encrypted-key": func(t *testing.T) ([]byte, []byte, []byte, string) {
			enc := pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: []byte{1}})
			return good.CertPEM, enc, ca.PEM, "key: encrypted private keys are not supported"
		},
		"fail/garbage-key": func(t *testing.T) ([]byte, []byte, []byte, string) {
			g := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1, 2, 3}})
			return good.CertPEM, g, ca.PEM, "key: parse PRIVATE KEY: "
		},
		"fail/no-ca": func(t *testing.T) ([]byte, []byte, []byte, string) {
			return good.CertPEM, good.KeyPEM, nil, "ca: no CERTIFICATE PEM block"
		},
		"fail/two-cas": func(t *testing.T) ([]byte, []byte, []byte, string) {
			return good.CertPEM, good.KeyPEM, append(append([]byte(nil), ca.PEM...), other.PEM...), "ca: holds 2 certificates"
		},
		"fail/leaf-as-ca": func(t *testing.T) ([]byte, []byte, []byte, string) {
			return good.CertPEM, good.KeyPEM, good.CertPEM, "ca: certificate \"alice\" is not a CA"
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			c, k, a, want := tc(t)
			parseErr(t, c, k, a, want)
		})
	}
}

func TestCheckReportsEveryProblem(t *testing.T) {
	ca := testpki.NewCA(t, "Test Root")
	other := testpki.NewCA(t, "Other Root")
	now := time.Now()
	l := other.Issue(t, clientAttrs(), testpki.Opts{NotBefore: now.Add(-2 * time.Hour), NotAfter: now.Add(-time.Hour)})
	k := ca.Issue(t, clientAttrs(), testpki.Opts{})
	id, problems := Check(l.CertPEM, k.KeyPEM, ca.PEM, now)
	if id == nil {
		t.Fatal("Check returned no identity")
	}
	if id.Attrs.UUID() != l.Attrs.UUID() {
		t.Errorf("attrs not decoded despite problems: %q", id.Attrs.UUID())
	}
	var got []string
	for _, p := range problems {
		got = append(got, p.Error())
	}
	joined := strings.Join(got, "\n")
	for _, want := range []string{"key does not match certificate", "certificate expired at", "certificate not signed by the CA in ca"} {
		if !strings.Contains(joined, want) {
			t.Errorf("problems lack %q:\n%s", want, joined)
		}
	}
	if len(problems) != 3 {
		t.Errorf("got %d problems, want 3:\n%s", len(problems), joined)
	}

	// A good certificate checked at a later time reports its expiry only.
	_, problems = Check(k.CertPEM, k.KeyPEM, ca.PEM, k.Cert.NotAfter.Add(time.Minute))
	if len(problems) != 1 || !strings.Contains(problems[0].Error(), "certificate expired at") {
		t.Errorf("Check after expiry = %v", problems)
	}
}

func TestStoreReplace(t *testing.T) {
	ca := testpki.NewCA(t, "Test Root")
	mustParse := func(l *testpki.Leaf) *Identity {
		t.Helper()
		id, err := Parse(l.CertPEM, l.KeyPEM, ca.PEM)
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	first := ca.Issue(t, serverAttrs(), testpki.Opts{})
	s := NewStore(mustParse(first))

	// Renewal: same role and uuid, new key and certificate.
	renewedAttrs := serverAttrs()
	renewedAttrs.Server.UUID = first.Attrs.UUID()
	renewed := mustParse(ca.Issue(t, renewedAttrs, testpki.Opts{}))
	if err := s.Replace(renewed); err != nil {
		t.Fatalf("Replace renewed: %v", err)
	}
	if s.Load() != renewed {
		t.Fatal("Load does not return the renewed identity")
	}
	if c, _ := s.GetCertificate(nil); !c.Leaf.Equal(renewed.Leaf) {
		t.Fatal("GetCertificate serves the old certificate")
	}
	if c, _ := s.GetClientCertificate(nil); !c.Leaf.Equal(renewed.Leaf) {
		t.Fatal("GetClientCertificate serves the old certificate")
	}
	if !s.Roots().Equal(ca.Pool) {
		t.Fatal("Roots is not the CA pool")
	}

	otherUUID := mustParse(ca.Issue(t, serverAttrs(), testpki.Opts{}))
	if err := s.Replace(otherUUID); err == nil || !strings.Contains(err.Error(), "uuid changes from "+first.Attrs.UUID()) {
		t.Fatalf("Replace with another uuid: %v", err)
	}
	relayWithSameUUID := relayAttrs()
	relayWithSameUUID.Relay.UUID = first.Attrs.UUID()
	otherRole := mustParse(ca.Issue(t, relayWithSameUUID, testpki.Opts{}))
	if err := s.Replace(otherRole); err == nil || !strings.Contains(err.Error(), "role changes from server to relay") {
		t.Fatalf("Replace with another role: %v", err)
	}
	if err := s.Replace(nil); err == nil {
		t.Fatal("Replace(nil): no error")
	}
	if s.Load() != renewed {
		t.Fatal("a refused Replace changed the identity")
	}
}

// TestCheckProblemKinds: each problem Check reports is a *Problem of its kind, and carries
// what the kind documents (ErrOtherCA, *ValidityError, *KeyUsageError, the decode error).
func TestCheckProblemKinds(t *testing.T) {
	ca := testpki.NewCA(t, "Test Root")
	other := testpki.NewCA(t, "Other Root")
	now := time.Now()

	type tc struct {
		certPEM, keyPEM, caPEM []byte
		kind                   ProblemKind
		check                  func(t *testing.T, id *Identity, p *Problem)
	}
	tests := map[string]func(t *testing.T) tc{
		"fail/read": func(t *testing.T) tc {
			l := ca.Issue(t, clientAttrs(), testpki.Opts{})
			return tc{l.CertPEM, nil, ca.PEM, KindRead, nil}
		},
		"fail/key-mismatch": func(t *testing.T) tc {
			l, k := ca.Issue(t, clientAttrs(), testpki.Opts{}), ca.Issue(t, clientAttrs(), testpki.Opts{})
			return tc{l.CertPEM, k.KeyPEM, ca.PEM, KindKey, nil}
		},
		"fail/other-ca": func(t *testing.T) tc {
			l := other.Issue(t, clientAttrs(), testpki.Opts{})
			return tc{l.CertPEM, l.KeyPEM, ca.PEM, KindChain, func(t *testing.T, _ *Identity, p *Problem) {
				if !errors.Is(p, ErrOtherCA) {
					t.Errorf("problem %v is not ErrOtherCA", p)
				}
			}}
		},
		"fail/expired": func(t *testing.T) tc {
			l := ca.Issue(t, clientAttrs(), testpki.Opts{NotBefore: now.Add(-2 * time.Hour), NotAfter: now.Add(-time.Hour)})
			return tc{l.CertPEM, l.KeyPEM, ca.PEM, KindTime, func(t *testing.T, id *Identity, p *Problem) {
				var v *ValidityError
				if !errors.As(p, &v) || v.Cert != id.Leaf || !v.Expired {
					t.Errorf("problem %v: want an expired *ValidityError about the leaf, got %+v", p, v)
				}
			}}
		},
		"fail/not-yet-valid": func(t *testing.T) tc {
			l := ca.Issue(t, clientAttrs(), testpki.Opts{NotBefore: now.Add(time.Hour), NotAfter: now.Add(2 * time.Hour)})
			return tc{l.CertPEM, l.KeyPEM, ca.PEM, KindTime, func(t *testing.T, id *Identity, p *Problem) {
				var v *ValidityError
				if !errors.As(p, &v) || v.Cert != id.Leaf || v.Expired {
					t.Errorf("problem %v: want a not-yet-valid *ValidityError about the leaf, got %+v", p, v)
				}
			}}
		},
		"fail/no-attrs": func(t *testing.T) tc {
			l := ca.Issue(t, clientAttrs(), testpki.Opts{NoAttrs: true})
			return tc{l.CertPEM, l.KeyPEM, ca.PEM, KindAttrs, func(t *testing.T, _ *Identity, p *Problem) {
				if !errors.Is(p, certattrs.ErrNoExtension) {
					t.Errorf("problem %v does not wrap certattrs.ErrNoExtension", p)
				}
			}}
		},
		"fail/no-identity-san": func(t *testing.T) tc {
			l := ca.Issue(t, clientAttrs(), testpki.Opts{NoIdentitySAN: true, DNSNames: []string{"alice.example.com"}})
			return tc{l.CertPEM, l.KeyPEM, ca.PEM, KindSAN, nil}
		},
		"fail/wrong-key-usage": func(t *testing.T) tc {
			l := ca.Issue(t, serverAttrs(), testpki.Opts{ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
			return tc{l.CertPEM, l.KeyPEM, ca.PEM, KindKeyUsage, func(t *testing.T, _ *Identity, p *Problem) {
				var k *KeyUsageError
				if !errors.As(p, &k) || k.Role != certattrs.RoleServer || k.Missing != x509.ExtKeyUsageClientAuth || k.MissingName() != "clientAuth" {
					t.Errorf("problem %v: want a *KeyUsageError for a server's clientAuth, got %+v", p, k)
				}
			}}
		},
	}
	// Prove the good path first.
	good := ca.Issue(t, clientAttrs(), testpki.Opts{})
	if _, problems := Check(good.CertPEM, good.KeyPEM, ca.PEM, now); len(problems) != 0 {
		t.Fatalf("good certificate: %v", problems)
	}
	for name, setup := range tests {
		t.Run(name, func(t *testing.T) {
			c := setup(t)
			id, problems := Check(c.certPEM, c.keyPEM, c.caPEM, now)
			if len(problems) != 1 {
				t.Fatalf("got %d problems, want 1: %v", len(problems), problems)
			}
			var p *Problem
			if !errors.As(problems[0], &p) {
				t.Fatalf("problem %v (%T) is not a *Problem", problems[0], problems[0])
			}
			if p.Kind != c.kind {
				t.Errorf("kind = %s, want %s (%v)", p.Kind, c.kind, p)
			}
			if p.Error() != p.Err.Error() || errors.Unwrap(p) != p.Err {
				t.Errorf("Problem does not read as and unwrap to its Err")
			}
			if (id == nil) != (c.kind == KindRead) {
				t.Errorf("identity %v with a %s problem", id, c.kind)
			}
			if c.check != nil {
				c.check(t, id, p)
			}
		})
	}
}

// TestCheckCAValidity: an expired CA is a KindTime problem about the CA, not the leaf.
func TestCheckCAValidity(t *testing.T) {
	ca := testpki.NewCA(t, "Test Root")
	l := ca.Issue(t, clientAttrs(), testpki.Opts{})
	at := ca.Cert.NotAfter.Add(time.Minute) // the leaf, valid for an hour, expires first
	id, problems := Check(l.CertPEM, l.KeyPEM, ca.PEM, at)
	var certs []*x509.Certificate
	for _, p := range problems {
		var v *ValidityError
		if !errors.As(p, &v) || !v.Expired {
			t.Fatalf("problem %v is not an expiry", p)
		}
		certs = append(certs, v.Cert)
	}
	if len(certs) != 2 || certs[0] != id.Leaf || certs[1] != id.CA {
		t.Fatalf("expired certificates %v, want the leaf then the CA", problems)
	}
	if got := problems[1].Error(); got != "ca certificate expired at "+ca.Cert.NotAfter.UTC().Format(time.RFC3339) {
		t.Errorf("CA problem = %q", got)
	}
}
