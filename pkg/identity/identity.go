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
// and is valid now, and decodes its attributes. Its error is the first *Problem Check finds.
func Parse(certPEM, keyPEM, caPEM []byte) (*Identity, error) {
	id, problems := Check(certPEM, keyPEM, caPEM, time.Now())
	if len(problems) > 0 {
		return nil, problems[0]
	}
	return id, nil
}

// Check runs every check Parse runs, at time now, and reports all the problems it finds
// instead of stopping at the first, for diagnostics such as an expired certificate whose
// attributes should still be shown. Each problem is a *Problem, in the order key, time,
// chain, attributes, SAN, key usage. The Identity is nil only when the certificate, key or
// CA cannot be read at all (one KindRead problem); otherwise it is returned even with
// problems (Attrs is zero if they did not decode) and must not be used to serve.
func Check(certPEM, keyPEM, caPEM []byte, now time.Time) (*Identity, []error) {
	chain, err := parseCerts(certPEM)
	if err != nil {
		return nil, []error{problem(KindRead, fmt.Errorf("cert: %w", err))}
	}
	ca, err := parseCA(caPEM)
	if err != nil {
		return nil, []error{problem(KindRead, fmt.Errorf("ca: %w", err))}
	}
	key, err := parseKey(keyPEM)
	if err != nil {
		return nil, []error{problem(KindRead, fmt.Errorf("key: %w", err))}
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
		problems = append(problems, problem(KindKey, errors.New("key does not match certificate")))
	}
	invalid := checkTime(ca, chain, now)
	for _, v := range invalid {
		problems = append(problems, problem(KindTime, v))
	}
	if err := verifyChain(ca, chain, roots, now, len(invalid) > 0); err != nil {
		problems = append(problems, problem(KindChain, err))
	}
	attrs, err := certattrs.Decode(leaf)
	if err != nil {
		problems = append(problems, problem(KindAttrs, fmt.Errorf("certificate attributes: %w", err)))
		return id, problems
	}
	id.Attrs = attrs
	san := certattrs.IdentityDNS(attrs.Role(), attrs.UUID())
	if !slices.Contains(leaf.DNSNames, san) {
		problems = append(problems, problem(KindSAN, fmt.Errorf("certificate lacks its identity SAN %s", san)))
	}
	if err := checkKeyUsage(leaf, attrs.Role()); err != nil {
		problems = append(problems, problem(KindKeyUsage, err))
	}
	return id, problems
}

// ProblemKind says which of Check's checks a Problem failed.
type ProblemKind int

// The kinds of Problem. The zero value is no kind.
const (
	// KindRead: the certificate, key or CA could not be read at all (PEM or DER), or the CA
	// file is not one CA certificate. Check returns no Identity.
	KindRead ProblemKind = iota + 1
	// KindKey: the private key is not the key of the certificate.
	KindKey
	// KindChain: the certificate does not chain to the CA. Err is ErrOtherCA when no chain
	// reaches the CA; otherwise it wraps the error of x509.Certificate.Verify. Validity periods are KindTime's:
	// when a certificate is outside its own, the chain is verified at a time inside all of
	// them if there is one.
	KindChain
	// KindTime: a certificate of the chain, or the CA, is outside its validity period at the
	// time checked. Err is a *ValidityError; there is one such problem per certificate.
	KindTime
	// KindAttrs: the Sentinel attributes are missing or invalid. Err wraps the error of
	// certattrs.Decode (certattrs.ErrNoExtension when there are none). The SAN and key usage
	// checks need the role, so they are not made.
	KindAttrs
	// KindSAN: the certificate lacks its identity name, certattrs.IdentityDNS of its role and
	// uuid.
	KindSAN
	// KindKeyUsage: the certificate lacks an extended key usage its role needs. Err is a
	// *KeyUsageError.
	KindKeyUsage
)

func (k ProblemKind) String() string {
	switch k {
	case KindRead:
		return "read"
	case KindKey:
		return "key"
	case KindChain:
		return "chain"
	case KindTime:
		return "time"
	case KindAttrs:
		return "attrs"
	case KindSAN:
		return "san"
	case KindKeyUsage:
		return "key usage"
	}
	return fmt.Sprintf("ProblemKind(%d)", int(k))
}

// Problem is one thing Check found wrong with a certificate set. Its message is Err's: the
// message Parse returns.
type Problem struct {
	Kind ProblemKind
	Err  error // what is wrong; for the kinds that say so, of a documented type or wrapping the cause
}

func problem(kind ProblemKind, err error) *Problem { return &Problem{Kind: kind, Err: err} }

func (p *Problem) Error() string { return p.Err.Error() }

// Unwrap returns Err, so errors.Is and errors.As see what the kind documents.
func (p *Problem) Unwrap() error { return p.Err }

// ErrOtherCA is the Err of a KindChain problem where no chain from the certificate reaches the
// CA in ca (x509.UnknownAuthorityError): it, or an intermediate, was signed by another CA, or
// an intermediate is missing or is not a CA.
var ErrOtherCA = errors.New("certificate not signed by the CA in ca")

// ValidityError is the Err of a KindTime problem: Cert is outside its validity period.
type ValidityError struct {
	// Cert is the certificate concerned: the Identity's Leaf, one of Chain[1:] (the
	// intermediates), or CA, as the same pointer.
	Cert *x509.Certificate
	// Expired is true when the time checked is after Cert.NotAfter, false when it is before
	// Cert.NotBefore.
	Expired bool

	what string // how the message names Cert: "certificate", "ca certificate", ...
}

func (e *ValidityError) Error() string {
	if e.Expired {
		return fmt.Sprintf("%s expired at %s", e.what, e.Cert.NotAfter.UTC().Format(time.RFC3339))
	}
	return fmt.Sprintf("%s not valid before %s", e.what, e.Cert.NotBefore.UTC().Format(time.RFC3339))
}

// KeyUsageError is the Err of a KindKeyUsage problem: a certificate of Role lacks the
// extended key usage Missing (a relay needs serverAuth, a server both serverAuth and
// clientAuth, a client clientAuth; ExtKeyUsageAny satisfies each).
type KeyUsageError struct {
	Role    certattrs.Role
	Missing x509.ExtKeyUsage // the first usage the role needs that the certificate lacks
}

func (e *KeyUsageError) Error() string {
	return fmt.Sprintf("%s certificate lacks extended key usage %s", e.Role, e.MissingName())
}

// MissingName is Missing by its RFC 5280 name: "serverAuth" or "clientAuth".
func (e *KeyUsageError) MissingName() string {
	switch e.Missing {
	case x509.ExtKeyUsageServerAuth:
		return "serverAuth"
	case x509.ExtKeyUsageClientAuth:
		return "clientAuth"
	}
	return fmt.Sprintf("%d", e.Missing)
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

// checkTime reports each certificate of the chain, leaf first, and then the CA, that is not
// valid at now, with the bound it is outside of.
func checkTime(ca *x509.Certificate, chain []*x509.Certificate, now time.Time) []*ValidityError {
	var problems []*ValidityError
	check := func(what string, c *x509.Certificate) {
		switch {
		case now.After(c.NotAfter):
			problems = append(problems, &ValidityError{Cert: c, Expired: true, what: what})
		case now.Before(c.NotBefore):
			problems = append(problems, &ValidityError{Cert: c, what: what})
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
// checkTime's job, so when now is outside one of them (outside) the chain is verified at a
// time inside all of them, keeping "expired" and "not signed by the CA" apart.
func verifyChain(ca *x509.Certificate, chain []*x509.Certificate, roots *x509.CertPool, now time.Time, outside bool) error {
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	at := now
	if outside {
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
		return ErrOtherCA
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
// client clientAuth (ExtKeyUsageAny satisfies each). Its error is a *KeyUsageError.
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
			return &KeyUsageError{Role: role, Missing: u}
		}
	}
	return nil
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
