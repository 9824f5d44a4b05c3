package doctor

import (
	"crypto"
	"errors"
	"fmt"
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
// The verdicts are identity.Check's, the same the role loads with; the checks here sort its
// problems by kind and word them, reading the certificates only for names and times.
func (r *runner) checkIdentity(cfg *config.Config) (*identity.Identity, bool) {
	now := r.opts.Now()
	id, errs := identity.Check(cfg.Cert, cfg.Key, cfg.CA, now)
	if id == nil {
		r.fail("certificate, key and CA load", errors.Join(errs...).Error(),
			"point cert, key and ca at the files of the bundle `backend ca issue` wrote (PEM)")
		return nil, false
	}
	problems := make(map[identity.ProblemKind][]*identity.Problem)
	var unsorted []error
	for _, err := range errs {
		var p *identity.Problem
		if errors.As(err, &p) {
			switch p.Kind {
			case identity.KindKey, identity.KindChain, identity.KindTime, identity.KindAttrs, identity.KindSAN, identity.KindKeyUsage:
				problems[p.Kind] = append(problems[p.Kind], p)
				continue
			}
		}
		unsorted = append(unsorted, err)
	}

	keyOK := len(problems[identity.KindKey]) == 0
	const keyName = "certificate and key match"
	if keyOK {
		r.pass(keyName, fmt.Sprintf("%s key", keyType(id.Signer().Public())))
	} else {
		r.fail(keyName, "the private key in key is not the key of the certificate in cert",
			"use the key file written next to this certificate by `backend ca issue` (NAME.key with NAME.crt)")
	}
	r.checkChain(id, problems[identity.KindChain])
	attrsOK := r.checkAttrs(id, problems)
	r.checkValidity(id, now, problems[identity.KindTime])

	if len(unsorted) > 0 {
		// A problem of a kind the checks above do not know: say so rather than pass a set the
		// role would refuse.
		r.fail("certificate set loads as the role loads it", errors.Join(unsorted...).Error(),
			"fix the problem named; the doctor's own checks missed it, please report that too")
	}
	return id, keyOK && attrsOK
}

func keyType(pub crypto.PublicKey) string {
	s := fmt.Sprintf("%T", pub)
	s = strings.TrimPrefix(s, "*")
	s, _ = strings.CutSuffix(s, ".PublicKey")
	return strings.ToUpper(s)
}

// checkChain reports identity.Check's verdict on the signatures from the leaf to the CA
// (verified at a time inside every validity period, so an expiry is the validity check's).
func (r *runner) checkChain(id *identity.Identity, problems []*identity.Problem) {
	const name = "certificate chains to the CA"
	if len(problems) == 0 {
		r.pass(name, fmt.Sprintf("issued by %q", id.CA.Subject.CommonName))
		return
	}
	p := problems[0]
	if errors.Is(p, identity.ErrOtherCA) {
		r.fail(name, fmt.Sprintf("the certificate (issued by %q) was not signed by the CA in ca (%q)",
			id.Leaf.Issuer.CommonName, id.CA.Subject.CommonName),
			"set ca to the CA that issued this certificate (the ca.crt of its bundle), or re-issue the certificate from this CA")
		return
	}
	r.fail(name, cause(p.Err).Error(), "re-issue the certificate from the CA in ca (`backend ca issue`)")
}

// cause is the error err wraps, or err: the words of x509 or certattrs without the prefix
// identity puts on them for a log line.
func cause(err error) error {
	if c := errors.Unwrap(err); c != nil {
		return c
	}
	return err
}

// checkAttrs reports whether the attributes decoded and what the role needs of the
// certificate around them: the identity SAN and the extended key usages.
func (r *runner) checkAttrs(id *identity.Identity, problems map[identity.ProblemKind][]*identity.Problem) bool {
	const name = "role and attributes decode and validate"
	if ps := problems[identity.KindAttrs]; len(ps) > 0 {
		fix := "re-issue the certificate with `backend ca issue` (this one carries invalid Sentinel attributes)"
		if errors.Is(ps[0], certattrs.ErrNoExtension) {
			fix = "use a certificate issued by `backend ca issue`: this one has no Sentinel attributes"
		}
		r.fail(name, cause(ps[0].Err).Error(), fix)
		return false
	}
	role := id.Attrs.Role()
	var details []string
	if len(problems[identity.KindSAN]) > 0 {
		details = append(details, "certificate lacks its identity name "+certattrs.IdentityDNS(role, id.Attrs.UUID()))
	}
	for _, p := range problems[identity.KindKeyUsage] {
		var ku *identity.KeyUsageError
		if errors.As(p, &ku) {
			details = append(details, fmt.Sprintf("a %s certificate needs extended key usage %s", role, ku.MissingName()))
		} else {
			details = append(details, p.Error())
		}
	}
	if len(details) > 0 {
		r.fail(name, strings.Join(details, "; "), "re-issue the certificate with `backend ca issue "+string(role)+"`")
		return false
	}
	r.pass(name, describeAttrs(id.Attrs))
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

// checkValidity reports identity.Check's verdict on the validity periods at now: the leaf's
// first, then the intermediates' and the CA's; a valid leaf in the last 20% of its lifetime
// is a warning.
func (r *runner) checkValidity(id *identity.Identity, now time.Time, problems []*identity.Problem) {
	const name = "certificate validity"
	leaf := id.Leaf
	renew := "re-issue the certificate (`backend ca issue " + string(id.Attrs.Role()) + " --name " + id.Attrs.Name() +
		" ...`), install it and reload the role (SIGHUP) or restart it"
	if id.Attrs.Role() == "" {
		renew = "re-issue the certificate with `backend ca issue`, install it and reload the role (SIGHUP) or restart it"
	}
	if len(problems) > 0 {
		var v *identity.ValidityError
		switch {
		case !errors.As(problems[0], &v):
			r.fail(name, problems[0].Error(), renew)
		case v.Cert == leaf && v.Expired:
			r.fail(name, fmt.Sprintf("expired at %s (%s ago)", stamp(leaf.NotAfter), human(now.Sub(leaf.NotAfter))), renew)
		case v.Cert == leaf:
			r.fail(name, fmt.Sprintf("not valid before %s (in %s)", stamp(leaf.NotBefore), human(leaf.NotBefore.Sub(now))),
				"check this machine's clock; if it is right, wait or re-issue the certificate")
		default:
			what := fmt.Sprintf("intermediate certificate %q", v.Cert.Subject.CommonName)
			if v.Cert == id.CA {
				what = fmt.Sprintf("the CA certificate %q", v.Cert.Subject.CommonName)
			}
			r.fail(name, fmt.Sprintf("%s is valid only from %s to %s", what, stamp(v.Cert.NotBefore), stamp(v.Cert.NotAfter)),
				"a CA that is not valid now invalidates every certificate under it: create a new CA (`backend ca init`) and re-issue")
		}
		return
	}
	lifetime := leaf.NotAfter.Sub(leaf.NotBefore)
	left := leaf.NotAfter.Sub(now)
	if left < lifetime/warnFraction {
		r.warn(name, fmt.Sprintf("expires at %s: %s left of its %s lifetime (under 20%%)", stamp(leaf.NotAfter), human(left), human(lifetime)), renew)
		return
	}
	r.pass(name, fmt.Sprintf("valid until %s (%s left of %s)", stamp(leaf.NotAfter), human(left), human(lifetime)))
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }
