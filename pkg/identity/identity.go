package identity

import (
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/sentinel-zt/sentinel/pkg/certattrs"
)

// Identity is one loaded, checked certificate set.
type Identity struct {
	Cert  tls.Certificate     // leaf first, then intermediates; PrivateKey set
	Leaf  *x509.Certificate   // Cert.Leaf
	Chain []*x509.Certificate // leaf and intermediates, for the token's x5c
	Attrs certattrs.Attrs
	CA    *x509.Certificate // the root
	Roots *x509.CertPool    // a pool holding only CA
}

// Signer is the private key.
func (id *Identity) Signer() crypto.Signer { return id.Cert.PrivateKey.(crypto.Signer) }

// Parse checks that the key matches the certificate, that the certificate chains to the CA
// and is valid now, and decodes its attributes. Errors say which of those failed.
func Parse(certPEM, keyPEM, caPEM []byte) (*Identity, error) {
	id, problems := Check(certPEM, keyPEM, caPEM, time.Now())
	if len(problems) > 0 {
		return nil, problems[0]
	}
	return id, nil
}

// Check runs every check Parse runs, at time now, and reports all the problems it finds
// instead of stopping at the first, for diagnostics such as an expired certificate whose
// attributes should still be shown. The Identity is nil only when the certificate, key or
// CA cannot be read at all; otherwise it is returned even with problems (Attrs is zero if
// they did not decode) and must not be used to serve.
func Check(certPEM, keyPEM, caPEM []byte, now time.Time) (*Identity, []error) {
	chain, err := parseCerts(certPEM)
	if err != nil {
		return nil, []error{fmt.Errorf("cert: %w", err)}
	}
	ca, err := parseCA(caPEM)
	if err != nil {
		return nil, []error{fmt.Errorf("ca: %w", err)}
	}
	key, err := parseKey(keyPEM)
	if err != nil {
		return nil, []error{fmt.Errorf("key: %w", err)}
	}
	leaf := chain[0]
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	id := &Identity{
		Cert:  tls.Certificate{PrivateKey: key, Leaf: leaf},
		Leaf:  leaf,
		Chain: chain,
		CA:    ca,
		Roots: roots,
	}
	for _, c := range chain {
		id.Cert.Certificate = append(id.Cert.Certificate, c.Raw)
	}

	var problems []error
	if !publicKeyEqual(leaf.PublicKey, key.Public()) {
		problems = append(problems, errors.New("key does not match certificate"))
	}
	problems = append(problems, checkTime(ca, chain, now)...)
	if err := verifyChain(ca, chain, roots, now); err != nil {
		problems = append(problems, err)
	}
	attrs, err := certattrs.Decode(leaf)
	if err != nil {
		problems = append(problems, fmt.Errorf("certificate attributes: %w", err))
		return id, problems
	}
	id.Attrs = attrs
	san := certattrs.IdentityDNS(attrs.Role(), attrs.UUID())
	if !slices.Contains(leaf.DNSNames, san) {
		problems = append(problems, fmt.Errorf("certificate lacks its identity SAN %s", san))
	}
	if err := checkKeyUsage(leaf, attrs.Role()); err != nil {
		problems = append(problems, err)
	}
	return id, problems
}

// parseCerts returns the CERTIFICATE blocks of data, leaf first. Text around the blocks is
// ignored; other PEM blocks (a key pasted into the certificate file) are errors.
func parseCerts(data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("unexpected PEM block %q, want CERTIFICATE", b.Type)
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse certificate %d: %w", len(certs)+1, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, errors.New("no CERTIFICATE PEM block")
	}
	return certs, nil
}

// parseCA returns the one root certificate in data.
func parseCA(data []byte) (*x509.Certificate, error) {
	certs, err := parseCerts(data)
	if err != nil {
		return nil, err
	}
	if len(certs) != 1 {
		return nil, fmt.Errorf("holds %d certificates, want the one root", len(certs))
	}
	ca := certs[0]
	if !ca.BasicConstraintsValid || !ca.IsCA {
		return nil, fmt.Errorf("certificate %q is not a CA", ca.Subject.CommonName)
	}
	return ca, nil
}

// parseKey reads a PKCS#8 ("PRIVATE KEY": ECDSA, Ed25519, RSA), SEC1 ("EC PRIVATE KEY",
// as go.step.sm/crypto/pemutil and openssl write) or PKCS#1 ("RSA PRIVATE KEY") key.
// An "EC PARAMETERS" block before the key, as openssl ecparam writes, is skipped.
func parseKey(data []byte) (crypto.Signer, error) {
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return nil, errors.New("no private key PEM block")
		}
		var (
			k   any
			err error
		)
		switch b.Type {
		case "EC PARAMETERS":
			continue
		case "PRIVATE KEY":
			k, err = x509.ParsePKCS8PrivateKey(b.Bytes)
		case "EC PRIVATE KEY":
			k, err = x509.ParseECPrivateKey(b.Bytes)
		case "RSA PRIVATE KEY":
			k, err = x509.ParsePKCS1PrivateKey(b.Bytes)
		case "ENCRYPTED PRIVATE KEY":
			return nil, errors.New("encrypted private keys are not supported")
		default:
			return nil, fmt.Errorf("unexpected PEM block %q, want a private key", b.Type)
		}
		if err != nil {
			return nil, fmt.Errorf("parse %s: %w", b.Type, err)
		}
		s, ok := k.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("%T is not a signing key", k)
		}
		return s, nil
	}
}

func publicKeyEqual(a, b crypto.PublicKey) bool {
	eq, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && eq.Equal(b)
}

// checkTime reports each certificate of the chain, and the CA, that is not valid at now,
// with the bound it is outside of.
func checkTime(ca *x509.Certificate, chain []*x509.Certificate, now time.Time) []error {
	var problems []error
	check := func(what string, c *x509.Certificate) {
		switch {
		case now.After(c.NotAfter):
			problems = append(problems, fmt.Errorf("%s expired at %s", what, c.NotAfter.UTC().Format(time.RFC3339)))
		case now.Before(c.NotBefore):
			problems = append(problems, fmt.Errorf("%s not valid before %s", what, c.NotBefore.UTC().Format(time.RFC3339)))
		}
	}
	check("certificate", chain[0])
	for i, c := range chain[1:] {
		check(fmt.Sprintf("intermediate certificate %d (%s)", i+1, c.Subject.CommonName), c)
	}
	check("ca certificate", ca)
	return problems
}

// verifyChain checks the signatures from the leaf to the CA. Validity periods are
// checkTime's job, so when now is outside them the chain is verified at a time inside all
// of them, keeping "expired" and "not signed by the CA" apart.
func verifyChain(ca *x509.Certificate, chain []*x509.Certificate, roots *x509.CertPool, now time.Time) error {
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	at := now
	if len(checkTime(ca, chain, now)) > 0 {
		at = overlap(append([]*x509.Certificate{ca}, chain...))
	}
	_, err := chain[0].Verify(x509.VerifyOptions{
		Roots:         roots,
		Intermediates: inter,
		CurrentTime:   at,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	if err == nil {
		return nil
	}
	var unknown x509.UnknownAuthorityError
	if errors.As(err, &unknown) {
		return errors.New("certificate not signed by the CA in ca")
	}
	return fmt.Errorf("verify certificate chain: %w", err)
}

// overlap returns a time inside every certificate's validity, or the latest NotBefore when
// there is none (verification then reports the period, which checkTime already did).
func overlap(certs []*x509.Certificate) time.Time {
	from, to := certs[0].NotBefore, certs[0].NotAfter
	for _, c := range certs[1:] {
		if c.NotBefore.After(from) {
			from = c.NotBefore
		}
		if c.NotAfter.Before(to) {
			to = c.NotAfter
		}
	}
	if to.Before(from) {
		return from
	}
	return from.Add(to.Sub(from) / 2)
}

// checkKeyUsage enforces the role's extended key usages: relay serverAuth, server both,
// client clientAuth (ExtKeyUsageAny satisfies each).
func checkKeyUsage(leaf *x509.Certificate, role certattrs.Role) error {
	var need []x509.ExtKeyUsage
	switch role {
	case certattrs.RoleRelay:
		need = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	case certattrs.RoleServer:
		need = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
	case certattrs.RoleClient:
		need = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	if slices.Contains(leaf.ExtKeyUsage, x509.ExtKeyUsageAny) {
		return nil
	}
	for _, u := range need {
		if !slices.Contains(leaf.ExtKeyUsage, u) {
			return fmt.Errorf("%s certificate lacks extended key usage %s", role, ekuName(u))
		}
	}
	return nil
}

func ekuName(u x509.ExtKeyUsage) string {
	switch u {
	case x509.ExtKeyUsageServerAuth:
		return "serverAuth"
	case x509.ExtKeyUsageClientAuth:
		return "clientAuth"
	}
	return fmt.Sprintf("%d", u)
}

// Store holds the current Identity.
type Store struct{ cur atomic.Pointer[Identity] }

// NewStore returns a store holding id.
func NewStore(id *Identity) *Store { s := &Store{}; s.cur.Store(id); return s }

// Load returns the current identity.
func (s *Store) Load() *Identity { return s.cur.Load() }

// Replace swaps in id if it keeps the same role and uuid (a reload must not change who we
// are); otherwise the current identity stays.
func (s *Store) Replace(id *Identity) error {
	if id == nil {
		return errors.New("replace identity: nil identity")
	}
	for {
		cur := s.cur.Load()
		if cur != nil {
			if got, want := id.Attrs.Role(), cur.Attrs.Role(); got != want {
				return fmt.Errorf("replace identity: role changes from %s to %s", want, got)
			}
			if got, want := id.Attrs.UUID(), cur.Attrs.UUID(); got != want {
				return fmt.Errorf("replace identity: uuid changes from %s to %s", want, got)
			}
		}
		if s.cur.CompareAndSwap(cur, id) {
			return nil
		}
	}
}

// Roots returns the current CA pool.
func (s *Store) Roots() *x509.CertPool { return s.Load().Roots }

// GetCertificate and GetClientCertificate serve the current certificate to crypto/tls.
func (s *Store) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return &s.Load().Cert, nil
}

// GetClientCertificate serves the current certificate to crypto/tls as a client.
func (s *Store) GetClientCertificate(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
	return &s.Load().Cert, nil
}
