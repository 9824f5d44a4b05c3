// Package testpki mints throwaway CAs and role certificates for tests: good ones and the
// broken ones attack tests need (expired, not yet valid, other CA, wrong role, wrong uuid,
// wrong key usage), by setting the template directly.
package testpki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/sentinel-zt/sentinel/pkg/certattrs"
)

// CA is a throwaway root.
type CA struct {
	Cert *x509.Certificate
	Key  crypto.Signer
	PEM  []byte
	Pool *x509.CertPool
}

// NewCA returns a fresh ECDSA P-256 root named name.
func NewCA(t testing.TB, name string) *CA {
	t.Helper()
	key := newKey(t, false)
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial(t),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatalf("testpki: create root: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("testpki: parse root: %v", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &CA{Cert: cert, Key: key, PEM: certPEM(der), Pool: pool}
}

// Opts change what Issue puts in a certificate; the zero value gives a good one.
type Opts struct {
	NotBefore, NotAfter time.Time          // zero: now-1m .. now+1h
	ExtKeyUsage         []x509.ExtKeyUsage // nil: the role's usages per DESIGN.md
	DNSNames            []string           // added to the identity SAN
	IPAddresses         []net.IP
	Ed25519             bool            // Ed25519 key instead of ECDSA P-256
	Key                 crypto.Signer   // certify this key (a renewal) instead of a new one
	NoAttrs             bool            // leave the Sentinel extension out
	Extension           *pkix.Extension // use this raw extension instead of encoding attrs
	NoIdentitySAN       bool            // leave out <uuid>.<role>.sentinel.internal
}

// Leaf is an issued certificate with its key.
type Leaf struct {
	Cert    *x509.Certificate
	Key     crypto.Signer
	CertPEM []byte
	KeyPEM  []byte
	TLS     tls.Certificate
	Attrs   certattrs.Attrs
}

// Issue signs a certificate carrying attrs. Fields of attrs left empty that every role needs
// (uuid, name) are filled so tests only set what they are about.
func (ca *CA) Issue(t testing.TB, attrs certattrs.Attrs, opts Opts) *Leaf {
	t.Helper()
	role := attrs.Role()
	var id, name string
	switch {
	case attrs.Client != nil:
		if attrs.Client.UUID == "" {
			attrs.Client.UUID = uuid.NewString()
		}
		if attrs.Client.Name == "" {
			attrs.Client.Name = "test-client"
		}
		id, name = attrs.Client.UUID, attrs.Client.Name
	case attrs.Server != nil:
		if attrs.Server.UUID == "" {
			attrs.Server.UUID = uuid.NewString()
		}
		if attrs.Server.Name == "" {
			attrs.Server.Name = "test-server"
		}
		id, name = attrs.Server.UUID, attrs.Server.Name
	case attrs.Relay != nil:
		if attrs.Relay.UUID == "" {
			attrs.Relay.UUID = uuid.NewString()
		}
		if attrs.Relay.Name == "" {
			attrs.Relay.Name = "test-relay"
		}
		id, name = attrs.Relay.UUID, attrs.Relay.Name
	}
	key := opts.Key
	if key == nil {
		key = newKey(t, opts.Ed25519)
	}
	now := time.Now()
	nb, na := opts.NotBefore, opts.NotAfter
	if nb.IsZero() {
		nb = now.Add(-time.Minute)
	}
	if na.IsZero() {
		na = now.Add(time.Hour)
	}
	eku := opts.ExtKeyUsage
	if eku == nil {
		switch role {
		case certattrs.RoleClient:
			eku = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
		case certattrs.RoleServer:
			eku = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
		default:
			eku = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		}
	}
	dns := append([]string(nil), opts.DNSNames...)
	if !opts.NoIdentitySAN && id != "" {
		dns = append([]string{certattrs.IdentityDNS(role, id)}, dns...)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(t),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    nb,
		NotAfter:     na,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  eku,
		DNSNames:     dns,
		IPAddresses:  opts.IPAddresses,
	}
	switch {
	case opts.Extension != nil:
		tmpl.ExtraExtensions = []pkix.Extension{*opts.Extension}
	case !opts.NoAttrs:
		ext, err := certattrs.Encode(attrs)
		if err != nil {
			t.Fatalf("testpki: encode attrs: %v", err)
		}
		tmpl.ExtraExtensions = []pkix.Extension{ext}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, key.Public(), ca.Key)
	if err != nil {
		t.Fatalf("testpki: create leaf: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("testpki: parse leaf: %v", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatalf("testpki: marshal key: %v", err)
	}
	return &Leaf{
		Cert:    cert,
		Key:     key,
		CertPEM: certPEM(der),
		KeyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
		TLS:     tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert},
		Attrs:   attrs,
	}
}

// CRL returns a PEM CRL signed by ca listing revoked, with the given CRL number.
func (ca *CA) CRL(t testing.TB, number int64, revoked ...*x509.Certificate) []byte {
	t.Helper()
	now := time.Now()
	tmpl := &x509.RevocationList{
		Number:     big.NewInt(number),
		ThisUpdate: now.Add(-time.Minute),
		NextUpdate: now.Add(time.Hour),
	}
	for _, c := range revoked {
		tmpl.RevokedCertificateEntries = append(tmpl.RevokedCertificateEntries,
			x509.RevocationListEntry{SerialNumber: c.SerialNumber, RevocationTime: now})
	}
	der, err := x509.CreateRevocationList(rand.Reader, tmpl, ca.Cert, ca.Key)
	if err != nil {
		t.Fatalf("testpki: create CRL: %v", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der})
}

func newKey(t testing.TB, ed bool) crypto.Signer {
	t.Helper()
	if ed {
		_, k, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatalf("testpki: ed25519 key: %v", err)
		}
		return k
	}
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("testpki: ecdsa key: %v", err)
	}
	return k
}

func serial(t testing.TB) *big.Int {
	t.Helper()
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		t.Fatalf("testpki: serial: %v", err)
	}
	return n.Add(n, big.NewInt(1))
}

func certPEM(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}
