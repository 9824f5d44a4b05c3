package caserver

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/smallstep/certificates/authority/provisioner"
	"github.com/smallstep/certificates/errs"
	"golang.org/x/crypto/ssh"

	"github.com/sentinel-zt/sentinel/pkg/ca"
	"github.com/sentinel-zt/sentinel/pkg/certattrs"
	"github.com/sentinel-zt/sentinel/pkg/enrolltoken"
)

// ProvisionerName is the name of the enrollment provisioner, in the provisioner extension
// (1.3.6.1.4.1.37476.9000.64.1) of every certificate it signs, where step-ca finds it again
// when the certificate is renewed.
const ProvisionerName = "sentinel-enroll"

// Refusal codes, the first word of an error response's message ("token_used: ...").
const (
	CodeBadToken     = "bad_token"     // malformed, or not signed by this CA's enrollment key
	CodeWrongCA      = "wrong_ca"      // a token of another CA
	CodeTokenExpired = "token_expired" // past its expiry
	CodeTokenUsed    = "token_used"    // no use left
	CodeTokenRevoked = "token_revoked" // revoked by an admin
	CodeTokenUnknown = "token_unknown" // signed, but not in the inventory
	CodeWrongRole    = "wrong_role"    // token and inventory record disagree
	CodeBadCSR       = "bad_csr"       // key type not accepted
	CodeNotIssuable  = "not_issuable"  // the inventory cannot resolve the spec now
	CodeNotRenewable = "not_renewable" // unknown, revoked, expired or not yet valid certificate
	CodeRevoked      = "revoked"
	CodeNotAdmin     = "not_admin"
	CodeInternal     = "internal"
)

// refuse is an error step-ca renders as {"status": status, "message": "code: detail"}.
func refuse(status int, code, format string, args ...any) error {
	msg := code + ": " + fmt.Sprintf(format, args...)
	return &errs.Error{Status: status, Msg: msg, Err: errors.New(msg)}
}

// enrollProvisioner is a step-ca provisioner for Sentinel enrollment tokens. It signs only
// what the inventory says for the token's role and name: the CSR contributes its public key
// and nothing else (no subject, no SANs, no extensions, no validity).
type enrollProvisioner struct {
	ca       *ca.CA
	fp       string
	tokenKey crypto.PublicKey
	now      func() time.Time
	backdate time.Duration
}

var _ provisioner.Interface = (*enrollProvisioner)(nil)

func (p *enrollProvisioner) GetID() string         { return ProvisionerName }
func (p *enrollProvisioner) GetIDForToken() string { return enrolltoken.AudiencePrefix + p.fp }
func (p *enrollProvisioner) GetName() string       { return ProvisionerName }

// GetType says JWK, the closest of step-ca's types: a token signed by a provisioner key.
func (p *enrollProvisioner) GetType() provisioner.Type { return provisioner.TypeJWK }

func (p *enrollProvisioner) GetEncryptedKey() (string, string, bool) { return "", "", false }
func (p *enrollProvisioner) Init(provisioner.Config) error           { return nil }

// GetTokenID declines: step-ca's one-time-token table would count a use before the token is
// checked; the inventory counts uses instead, in AuthorizeSign, after every check.
func (p *enrollProvisioner) GetTokenID(string) (string, error) {
	return "", errors.New("enrollment token uses are counted by the inventory")
}

// AuthorizeSign checks an enrollment token, spends one of its uses and returns the options
// that make the certificate exactly what the inventory says.
func (p *enrollProvisioner) AuthorizeSign(_ context.Context, token string) ([]provisioner.SignOption, error) {
	claims, err := enrolltoken.Verify(token, p.tokenKey, p.fp, p.now())
	if err != nil {
		switch {
		case errors.Is(err, enrolltoken.ErrExpired):
			return nil, refuse(http.StatusUnauthorized, CodeTokenExpired, "%v", err)
		case errors.Is(err, enrolltoken.ErrWrongCA):
			return nil, refuse(http.StatusUnauthorized, CodeWrongCA, "%v", err)
		default:
			return nil, refuse(http.StatusUnauthorized, CodeBadToken, "%v", err)
		}
	}
	// A certificate much shorter than the backdate would be due for renewal the moment it is
	// issued (renewal keeps NotAfter-NotBefore): refuse before spending a use.
	if rec, err := p.ca.LookupToken(claims.ID); err == nil {
		ttl := rec.Spec.CertTTL
		if ttl == 0 {
			ttl = ca.OnlineLifetime(rec.Role)
		}
		if ttl < 2*p.backdate {
			return nil, refuse(http.StatusForbidden, CodeNotIssuable,
				"certificate lifetime %v is under twice the CA's backdate (%v): make the token with a longer --cert-ttl", ttl, p.backdate)
		}
	}
	rec, err := p.ca.UseToken(claims.ID)
	if err != nil {
		switch {
		case errors.Is(err, ca.ErrTokenUsed):
			return nil, refuse(http.StatusUnauthorized, CodeTokenUsed, "%v", err)
		case errors.Is(err, ca.ErrTokenExpired):
			return nil, refuse(http.StatusUnauthorized, CodeTokenExpired, "%v", err)
		case errors.Is(err, ca.ErrTokenRevoked):
			return nil, refuse(http.StatusUnauthorized, CodeTokenRevoked, "%v", err)
		case errors.Is(err, ca.ErrTokenUnknown):
			return nil, refuse(http.StatusUnauthorized, CodeTokenUnknown, "%v", err)
		default:
			return nil, refuse(http.StatusInternalServerError, CodeInternal, "%v", err)
		}
	}
	// The signed claims and the record must agree: the record decides, the token only points.
	if rec.Role != claims.Role || rec.Name != claims.Name {
		return nil, refuse(http.StatusForbidden, CodeWrongRole, "token says %s %q, the inventory %s %q",
			claims.Role, claims.Name, rec.Role, rec.Name)
	}
	req, err := rec.Spec.Request(rec.Role, rec.Name)
	if err != nil {
		return nil, refuse(http.StatusForbidden, CodeNotIssuable, "%v", err)
	}
	plan, err := p.ca.Plan(req, ca.OnlineLifetime)
	if err != nil {
		return nil, refuse(http.StatusForbidden, CodeNotIssuable, "%s %q: %v", rec.Role, rec.Name, err)
	}
	ext := provisioner.Extension{Type: provisioner.TypeJWK, Name: ProvisionerName, CredentialID: rec.ID}
	if rec.Ephemeral {
		ext.KeyValuePairs = []string{"ephemeral", "true"}
	}
	provExt, err := ext.ToExtension()
	if err != nil {
		return nil, refuse(http.StatusInternalServerError, CodeInternal, "provisioner extension: %v", err)
	}
	return []provisioner.SignOption{
		p,
		csrKeyValidator{},
		planModifier{plan: plan, extra: provExt, notBefore: p.now().Add(-p.backdate)},
	}, nil
}

// csrKeyValidator accepts the key types Sentinel uses: ECDSA P-256 and Ed25519.
type csrKeyValidator struct{}

func (csrKeyValidator) Valid(req *x509.CertificateRequest) error {
	switch k := req.PublicKey.(type) {
	case *ecdsa.PublicKey:
		if k.Curve == elliptic.P256() {
			return nil
		}
	case ed25519.PublicKey:
		return nil
	}
	return refuse(http.StatusForbidden, CodeBadCSR, "key %T: want ECDSA P-256 or Ed25519", req.PublicKey)
}

// planModifier overwrites the certificate step-ca built from the CSR with the plan.
type planModifier struct {
	plan      *ca.Plan
	extra     pkix.Extension // the provisioner extension
	notBefore time.Time      // now - the online backdate, which renewals keep too
}

func (m planModifier) Modify(cert *x509.Certificate, _ provisioner.SignOptions) error {
	p := m.plan
	cert.Subject = pkix.Name{CommonName: p.Name}
	cert.RawSubject = nil
	cert.DNSNames = slices.Clone(p.DNSNames)
	cert.IPAddresses = slices.Clone(p.IPAddresses)
	cert.EmailAddresses, cert.URIs = nil, nil
	cert.KeyUsage = p.KeyUsage
	cert.ExtKeyUsage = slices.Clone(p.ExtKeyUsage)
	cert.UnknownExtKeyUsage = nil
	cert.BasicConstraintsValid, cert.IsCA, cert.MaxPathLen, cert.MaxPathLenZero = true, false, 0, false
	cert.NotBefore, cert.NotAfter = m.notBefore, p.NotAfter
	cert.Extensions = nil
	cert.ExtraExtensions = []pkix.Extension{p.Extension, m.extra}
	return nil
}

// AuthorizeRenew allows renewing a certificate the inventory holds, unrevoked, inside its
// validity period. The authority has already checked the chain and its own revocation view.
func (p *enrollProvisioner) AuthorizeRenew(_ context.Context, cert *x509.Certificate) error {
	return checkRenewable(p.ca, cert, p.now())
}

func (p *enrollProvisioner) AuthorizeRevoke(context.Context, string) error {
	return refuse(http.StatusUnauthorized, CodeNotAdmin, "revoke with backend ca revoke or the admin endpoint")
}

func (p *enrollProvisioner) AuthorizeSSHSign(context.Context, string) ([]provisioner.SignOption, error) {
	return nil, errs.NotImplemented("ssh certificates are not issued here")
}

func (p *enrollProvisioner) AuthorizeSSHRevoke(context.Context, string) error {
	return errs.NotImplemented("ssh certificates are not issued here")
}

func (p *enrollProvisioner) AuthorizeSSHRenew(context.Context, string) (*ssh.Certificate, error) {
	return nil, errs.NotImplemented("ssh certificates are not issued here")
}

func (p *enrollProvisioner) AuthorizeSSHRekey(context.Context, string) (*ssh.Certificate, []provisioner.SignOption, error) {
	return nil, nil, errs.NotImplemented("ssh certificates are not issued here")
}

// checkRenewable is the inventory's word on renewing cert at now: the certificate must be
// one the inventory holds, not revoked (nor any certificate of its renewal chain, which
// Revoke revokes together), and inside its validity period: an expired certificate proves
// nothing and has to enroll again.
func checkRenewable(c *ca.CA, cert *x509.Certificate, now time.Time) error {
	rec, err := c.Lookup(ca.SerialString(cert))
	switch {
	case errors.Is(err, ca.ErrNotFound):
		return refuse(http.StatusUnauthorized, CodeNotRenewable, "certificate %s is not in the inventory", ca.SerialString(cert))
	case err != nil:
		return refuse(http.StatusInternalServerError, CodeInternal, "%v", err)
	case rec.RevokedAt != nil:
		return refuse(http.StatusUnauthorized, CodeRevoked, "certificate %s was revoked at %s",
			rec.Serial, rec.RevokedAt.UTC().Format(time.RFC3339))
	case !now.Before(cert.NotAfter):
		return refuse(http.StatusUnauthorized, CodeNotRenewable, "certificate %s expired at %s: enroll again",
			rec.Serial, cert.NotAfter.UTC().Format(time.RFC3339))
	case now.Before(cert.NotBefore):
		return refuse(http.StatusUnauthorized, CodeNotRenewable, "certificate %s is not valid yet", rec.Serial)
	}
	if _, err := certattrs.Decode(cert); err != nil {
		return refuse(http.StatusUnauthorized, CodeNotRenewable, "certificate %s: %v", rec.Serial, err)
	}
	return nil
}
