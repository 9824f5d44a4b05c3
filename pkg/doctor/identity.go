package doctor

import (
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sentinel-zt/sentinel/pkg/certattrs"
	"github.com/sentinel-zt/sentinel/pkg/config"
	"github.com/sentinel-zt/sentinel/pkg/identity"
)

// warnFraction: less than this share of a certificate's lifetime left is a warning.
const warnFraction = 5 // 1/5 = 20%

// checkIdentity runs checks 2-5 on the certificate set and returns the identity and whether it
// can sign tokens and speak for its role (key matches, attributes decode). An expired or
// foreign-CA certificate is still usable here: the peers' answers to it are worth showing.
//
// identity.Check reports every problem but as plain errors, so the checks that tell the
// problems apart are made here on the identity it parsed; identity.Check then guards that the
// doctor never passes a set the role would refuse to load.
func (r *runner) checkIdentity(cfg *config.Config) (*identity.Identity, bool) {
	now := r.opts.Now()
	id, problems := identity.Check(cfg.Cert, cfg.Key, cfg.CA, now)
	if id == nil {
		r.fail("certificate, key and CA load", errors.Join(problems...).Error(),
			"point cert, key and ca at the files of the bundle `backend ca issue` wrote (PEM)")
		return nil, false
	}

	keyOK := publicKeyEqual(id.Leaf.PublicKey, id.Signer().Public())
	const keyName = "certificate and key match"
	if keyOK {
		r.pass(keyName, fmt.Sprintf("%s key", keyType(id.Signer().Public())))
	} else {
		r.fail(keyName, "the private key in key is not the key of the certificate in cert",
			"use the key file written next to this certificate by `backend ca issue` (NAME.key with NAME.crt)")
	}

	chainOK := r.checkChain(id, now)
	attrsOK := r.checkAttrs(id)
	timeOK := r.checkValidity(id, now)

	if keyOK && chainOK && attrsOK && timeOK && len(problems) > 0 {
		// The checks above mirror identity.Check; should they drift apart, say so rather than
		// pass a set the role would refuse.
		r.fail("certificate set loads as the role loads it", errors.Join(problems...).Error(),
			"fix the problem named; the doctor's own checks missed it, please report that too")
	}
	return id, keyOK && attrsOK
}

func publicKeyEqual(a, b crypto.PublicKey) bool {
	eq, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && eq.Equal(b)
}

func keyType(pub crypto.PublicKey) string {
	s := fmt.Sprintf("%T", pub)
	s = strings.TrimPrefix(s, "*")
	s, _ = strings.CutSuffix(s, ".PublicKey")
	return strings.ToUpper(s)
}

// checkChain verifies the signatures from the leaf to the CA. Validity periods are the expiry
// check's, so the chain is verified at a time inside all of them when now is not.
func (r *runner) checkChain(id *identity.Identity, now time.Time) bool {
	const name = "certificate chains to the CA"
	all := append([]*x509.Certificate{id.CA}, id.Chain...)
	at := now
	if !validAt(all, now) {
		at = overlap(all)
	}
	inter := x509.NewCertPool()
	for _, c := range id.Chain[1:] {
		inter.AddCert(c)
	}
	_, err := id.Leaf.Verify(x509.VerifyOptions{
		Roots:         id.Roots,
		Intermediates: inter,
		CurrentTime:   at,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	if err == nil {
		r.pass(name, fmt.Sprintf("issued by %q", id.CA.Subject.CommonName))
		return true
	}
	var unknown x509.UnknownAuthorityError
	if errors.As(err, &unknown) {
		r.fail(name, fmt.Sprintf("the certificate (issued by %q) was not signed by the CA in ca (%q)",
			id.Leaf.Issuer.CommonName, id.CA.Subject.CommonName),
			"set ca to the CA that issued this certificate (the ca.crt of its bundle), or re-issue the certificate from this CA")
		return false
	}
	r.fail(name, err.Error(), "re-issue the certificate from the CA in ca (`backend ca issue`)")
	return false
}

func validAt(certs []*x509.Certificate, t time.Time) bool {
	for _, c := range certs {
		if t.Before(c.NotBefore) || t.After(c.NotAfter) {
			return false
		}
	}
	return true
}

// overlap returns a time inside every certificate's validity, or the latest NotBefore when
// there is none.
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

// checkAttrs decodes the attributes and checks what the role needs of the certificate around
// them: the identity SAN and the extended key usages.
func (r *runner) checkAttrs(id *identity.Identity) bool {
	const name = "role and attributes decode and validate"
	attrs, err := certattrs.Decode(id.Leaf)
	if err != nil {
		fix := "re-issue the certificate with `backend ca issue` (this one carries invalid Sentinel attributes)"
		if errors.Is(err, certattrs.ErrNoExtension) {
			fix = "use a certificate issued by `backend ca issue`: this one has no Sentinel attributes"
		}
		r.fail(name, err.Error(), fix)
		return false
	}
	role := attrs.Role()
	var problems []string
	if san := certattrs.IdentityDNS(role, attrs.UUID()); !slices.Contains(id.Leaf.DNSNames, san) {
		problems = append(problems, "certificate lacks its identity name "+san)
	}
	if missing := missingEKU(id.Leaf, role); missing != "" {
		problems = append(problems, fmt.Sprintf("a %s certificate needs extended key usage %s", role, missing))
	}
	if len(problems) > 0 {
		r.fail(name, strings.Join(problems, "; "), "re-issue the certificate with `backend ca issue "+string(role)+"`")
		return false
	}
	r.pass(name, describeAttrs(attrs))
	return true
}

func describeAttrs(a certattrs.Attrs) string {
	s := fmt.Sprintf("role %s, name %q, uuid %s", a.Role(), a.Name(), a.UUID())
	switch {
	case a.Client != nil:
		s += fmt.Sprintf("; server %q, target %s", a.Client.Server.Name, hostPort(a.Client.Target.Host, a.Client.Target.Port))
	case a.Server != nil:
		s += fmt.Sprintf("; %d resources", len(a.Server.Resources))
	case a.Relay != nil:
		s += "; address " + hostPort(a.Relay.Address, a.Relay.Port)
	}
	return s
}

func hostPort(host string, port int) string {
	if strings.Contains(host, "://") {
		return host + ":" + strconv.Itoa(port)
	}
	if strings.Contains(host, ":") {
		return "[" + host + "]:" + strconv.Itoa(port)
	}
	return host + ":" + strconv.Itoa(port)
}

// missingEKU names the first extended key usage role needs that leaf lacks, or "".
func missingEKU(leaf *x509.Certificate, role certattrs.Role) string {
	if slices.Contains(leaf.ExtKeyUsage, x509.ExtKeyUsageAny) {
		return ""
	}
	need := map[certattrs.Role][]x509.ExtKeyUsage{
		certattrs.RoleRelay:  {x509.ExtKeyUsageServerAuth},
		certattrs.RoleServer: {x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		certattrs.RoleClient: {x509.ExtKeyUsageClientAuth},
	}[role]
	for _, u := range need {
		if !slices.Contains(leaf.ExtKeyUsage, u) {
			if u == x509.ExtKeyUsageServerAuth {
				return "serverAuth"
			}
			return "clientAuth"
		}
	}
	return ""
}

// checkValidity judges the leaf's validity period at now (and the CA's and intermediates').
func (r *runner) checkValidity(id *identity.Identity, now time.Time) bool {
	const name = "certificate validity"
	leaf := id.Leaf
	renew := "re-issue the certificate (`backend ca issue " + string(id.Attrs.Role()) + " --name " + id.Attrs.Name() +
		" ...`), install it and reload the role (SIGHUP) or restart it"
	if id.Attrs.Role() == "" {
		renew = "re-issue the certificate with `backend ca issue`, install it and reload the role (SIGHUP) or restart it"
	}
	switch {
	case now.After(leaf.NotAfter):
		r.fail(name, fmt.Sprintf("expired at %s (%s ago)", stamp(leaf.NotAfter), human(now.Sub(leaf.NotAfter))), renew)
		return false
	case now.Before(leaf.NotBefore):
		r.fail(name, fmt.Sprintf("not valid before %s (in %s)", stamp(leaf.NotBefore), human(leaf.NotBefore.Sub(now))),
			"check this machine's clock; if it is right, wait or re-issue the certificate")
		return false
	}
	for i, c := range append(id.Chain[1:len(id.Chain):len(id.Chain)], id.CA) {
		what := fmt.Sprintf("the CA certificate %q", c.Subject.CommonName)
		if i < len(id.Chain)-1 {
			what = fmt.Sprintf("intermediate certificate %q", c.Subject.CommonName)
		}
		if now.After(c.NotAfter) || now.Before(c.NotBefore) {
			r.fail(name, fmt.Sprintf("%s is valid only from %s to %s", what, stamp(c.NotBefore), stamp(c.NotAfter)),
				"a CA that is not valid now invalidates every certificate under it: create a new CA (`backend ca init`) and re-issue")
			return false
		}
	}
	lifetime := leaf.NotAfter.Sub(leaf.NotBefore)
	left := leaf.NotAfter.Sub(now)
	if left < lifetime/warnFraction {
		r.warn(name, fmt.Sprintf("expires at %s: %s left of its %s lifetime (under 20%%)", stamp(leaf.NotAfter), human(left), human(lifetime)), renew)
		return true
	}
	r.pass(name, fmt.Sprintf("valid until %s (%s left of %s)", stamp(leaf.NotAfter), human(left), human(lifetime)))
	return true
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }
