// Package enrolltoken is the enrollment token of the online CA: a compact JWS (ES256) signed by
// the CA directory's enrollment key, naming one role and component name and pinning the CA
// root by its SHA-256 fingerprint, so a device's first contact with the CA is authenticated.
//
// The token grants nothing by itself: the CA looks its id up in the inventory, where the
// attributes the certificate will carry, the number of uses left and the expiry are kept.
//
//	header  {"alg":"ES256","kid":"<JWK thumbprint of the enrollment key>","typ":"JWT"}
//	claims  {"iss":"sentinel-ca","sub":"<name>","aud":"sentinel-enroll:<root fp>",
//	         "jti":"<128 random bits>","iat":..,"nbf":..,"exp":..,
//	         "sentinel_role":"client|server|relay","sentinel_fp":"<root fp>"}
package enrolltoken

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.step.sm/crypto/jose"

	"github.com/sentinel-zt/sentinel/pkg/certattrs"
)

// Issuer is the token's iss.
const Issuer = "sentinel-ca"

// AudiencePrefix starts the token's aud; the root fingerprint follows.
const AudiencePrefix = "sentinel-enroll:"

// RenewAudience is the aud of the renewal tokens (pkg/token, signed by the certificate's own
// key) that the online CA with root fingerprint fp accepts at /1.0/renew.
func RenewAudience(fp string) string { return "sentinel-renew:" + fp }

// MaxSize bounds a token; anything longer is refused before parsing.
const MaxSize = 4 << 10

// Skew is how far in the future a token's nbf and iat may be (CA replicas' clocks). Expiry
// gets none: the CA that checks it is the one that set it, or a replica sharing its inventory.
const Skew = time.Minute

// Refusals, for errors.Is; the returned errors wrap them with the details.
var (
	ErrMalformed   = errors.New("malformed token")
	ErrSignature   = errors.New("token signature does not verify")
	ErrExpired     = errors.New("token expired")
	ErrNotYetValid = errors.New("token not yet valid")
	ErrWrongCA     = errors.New("token is for another CA")
)

// Claims are what a token says.
type Claims struct {
	ID          string         // jti: the inventory's token id
	Role        certattrs.Role // sentinel_role
	Name        string         // sub: the component's name
	Fingerprint string         // sentinel_fp: lower-case hex SHA-256 of the CA root's DER
	IssuedAt    time.Time
	NotBefore   time.Time
	Expiry      time.Time
}

type wireClaims struct {
	Issuer      string `json:"iss"`
	Subject     string `json:"sub"`
	Audience    string `json:"aud"`
	ID          string `json:"jti"`
	IssuedAt    *int64 `json:"iat"`
	NotBefore   *int64 `json:"nbf"`
	Expiry      *int64 `json:"exp"`
	Role        string `json:"sentinel_role"`
	Fingerprint string `json:"sentinel_fp"`
}

// NewID returns a fresh token id: 128 random bits, unpadded base64url.
func NewID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// KeyID is the kid of an enrollment key: its RFC 7638 JWK thumbprint, base64url.
func KeyID(pub crypto.PublicKey) (string, error) {
	jwk := jose.JSONWebKey{Key: pub}
	sum, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return "", fmt.Errorf("enrollment key id: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(sum), nil
}

// Sign makes a token of c with key, an ECDSA P-256 enrollment key.
func Sign(key crypto.Signer, c Claims) (string, error) {
	pub, ok := key.Public().(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		return "", fmt.Errorf("sign token: enrollment key must be ECDSA P-256, got %T", key.Public())
	}
	if err := validate(c); err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	kid, err := KeyID(pub)
	if err != nil {
		return "", err
	}
	iat, nbf, exp := c.IssuedAt.Unix(), c.NotBefore.Unix(), c.Expiry.Unix()
	payload, err := json.Marshal(wireClaims{
		Issuer: Issuer, Subject: c.Name, Audience: AudiencePrefix + c.Fingerprint, ID: c.ID,
		IssuedAt: &iat, NotBefore: &nbf, Expiry: &exp,
		Role: string(c.Role), Fingerprint: c.Fingerprint,
	})
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	opts := new(jose.SignerOptions).WithType("JWT").WithHeader("kid", kid)
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, opts)
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	return jws.CompactSerialize()
}

func validate(c Claims) error {
	switch {
	case c.ID == "":
		return errors.New("empty id")
	case c.Name == "":
		return errors.New("empty name")
	case c.Role != certattrs.RoleClient && c.Role != certattrs.RoleServer && c.Role != certattrs.RoleRelay:
		return fmt.Errorf("role %q: want client, server or relay", c.Role)
	case !validFingerprint(c.Fingerprint):
		return fmt.Errorf("fingerprint %q: want 64 lower-case hex digits", c.Fingerprint)
	case c.IssuedAt.IsZero() || c.NotBefore.IsZero() || c.Expiry.IsZero():
		return errors.New("iat, nbf and exp are required")
	case !c.Expiry.After(c.NotBefore):
		return errors.New("exp must be after nbf")
	}
	return nil
}

func validFingerprint(s string) bool {
	if len(s) != 64 || strings.ToLower(s) != s {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// ParseUnverified reads a token's claims without checking its signature or times: the device
// learns from it which CA root to pin and what it is enrolling as. It still refuses anything
// that is not a well-formed Sentinel enrollment token.
func ParseUnverified(token string) (Claims, error) {
	_, c, err := parse(token)
	return c, err
}

func parse(token string) (*jose.JSONWebToken, Claims, error) {
	token = strings.TrimSpace(token)
	if len(token) > MaxSize {
		return nil, Claims{}, fmt.Errorf("%w: %d bytes, over %d", ErrMalformed, len(token), MaxSize)
	}
	if strings.Count(token, ".") != 2 {
		return nil, Claims{}, fmt.Errorf("%w: not a compact JWS", ErrMalformed)
	}
	jwt, err := jose.ParseSigned(token)
	if err != nil {
		return nil, Claims{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if len(jwt.Headers) != 1 || jwt.Headers[0].Algorithm != string(jose.ES256) {
		return nil, Claims{}, fmt.Errorf("%w: want one ES256 signature", ErrMalformed)
	}
	var w wireClaims
	if err := jwt.UnsafeClaimsWithoutVerification(&w); err != nil {
		return nil, Claims{}, fmt.Errorf("%w: claims: %v", ErrMalformed, err)
	}
	if w.Issuer != Issuer {
		return nil, Claims{}, fmt.Errorf("%w: issuer %q, want %q", ErrMalformed, w.Issuer, Issuer)
	}
	if w.IssuedAt == nil || w.NotBefore == nil || w.Expiry == nil {
		return nil, Claims{}, fmt.Errorf("%w: iat, nbf and exp are required", ErrMalformed)
	}
	c := Claims{
		ID: w.ID, Role: certattrs.Role(w.Role), Name: w.Subject, Fingerprint: w.Fingerprint,
		IssuedAt: time.Unix(*w.IssuedAt, 0), NotBefore: time.Unix(*w.NotBefore, 0), Expiry: time.Unix(*w.Expiry, 0),
	}
	if err := validate(c); err != nil {
		return nil, Claims{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if w.Audience != AudiencePrefix+w.Fingerprint {
		return nil, Claims{}, fmt.Errorf("%w: audience %q does not match the fingerprint", ErrMalformed, w.Audience)
	}
	return jwt, c, nil
}

// Verify checks a token against the CA: its signature by pub (the enrollment key's public
// half), that it names the root with fingerprint fp, and that now is inside nbf..exp.
func Verify(token string, pub crypto.PublicKey, fp string, now time.Time) (Claims, error) {
	jwt, c, err := parse(token)
	if err != nil {
		return Claims{}, err
	}
	// A token of another CA is reported as such, whoever signed it.
	if c.Fingerprint != fp {
		return Claims{}, fmt.Errorf("%w: root %s, this CA's is %s", ErrWrongCA, short(c.Fingerprint), short(fp))
	}
	if kid, err := KeyID(pub); err != nil || jwt.Headers[0].KeyID != kid {
		return Claims{}, fmt.Errorf("%w: signed by another key (kid %q)", ErrSignature, jwt.Headers[0].KeyID)
	}
	var w wireClaims
	if err := jwt.Claims(pub, &w); err != nil {
		return Claims{}, fmt.Errorf("%w: %v", ErrSignature, err)
	}
	if now.Add(Skew).Before(c.NotBefore) || now.Add(Skew).Before(c.IssuedAt) {
		return Claims{}, fmt.Errorf("%w: valid from %s", ErrNotYetValid, c.NotBefore.UTC().Format(time.RFC3339))
	}
	if !now.Before(c.Expiry) {
		return Claims{}, fmt.Errorf("%w at %s", ErrExpired, c.Expiry.UTC().Format(time.RFC3339))
	}
	return c, nil
}

func short(fp string) string {
	if len(fp) > 16 {
		return fp[:16] + "..."
	}
	return fp
}
