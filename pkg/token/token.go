// Package token makes and verifies the Bearer JWS every WebSocket request to a relay (or to a
// server in direct mode) carries: signed by the caller's private key, the caller's chain in the
// x5c header, claims aud/iat/exp/jti and srv (clients) or sid (binds).
package token

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	gojose "github.com/go-jose/go-jose/v4"
	"go.step.sm/crypto/jose"

	"github.com/sentinel-zt/sentinel/pkg/certattrs"
	"github.com/sentinel-zt/sentinel/pkg/tunnel"
)

// Lifetime is the exp-iat a signer uses by default; MaxLifetime is what a verifier accepts;
// Skew is the clock difference tolerated on iat and exp.
const (
	Lifetime    = time.Minute
	MaxLifetime = 5 * time.Minute
	Skew        = time.Minute
)

// MaxSize bounds a token; Verify refuses anything longer before parsing it. A chain of a
// leaf and an intermediate with a full attribute document stays well below it.
const MaxSize = 16 << 10

// Claims are the token's claims.
type Claims struct {
	Audience string    // "aud": the uuid of the relay (or server, in direct mode) addressed
	Server   string    // "srv": the server uuid a client asks for; empty otherwise
	Session  string    // "sid": the session id a bind answers; empty otherwise
	IssuedAt time.Time // "iat"
	Expiry   time.Time // "exp"
	ID       string    // "jti": random 128 bits, base64url
}

// wireClaims is the JSON payload. Times are whole seconds (RFC 7519 NumericDate); pointers
// tell a missing claim from a zero one.
type wireClaims struct {
	Audience string `json:"aud"`
	IssuedAt *int64 `json:"iat"`
	Expiry   *int64 `json:"exp"`
	ID       string `json:"jti"`
	Server   string `json:"srv,omitempty"`
	Session  string `json:"sid,omitempty"`
}

// idBytes is the size of a token id before encoding.
const idBytes = 16

// NewID returns a fresh random token id: 128 bits, unpadded base64url.
func NewID() string {
	var b [idBytes]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// validID reports whether s is what NewID produces.
func validID(s string) bool {
	if len(s) != base64.RawURLEncoding.EncodedLen(idBytes) {
		return false
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	return err == nil && len(b) == idBytes
}

// algorithmFor returns the JWS algorithm for a public key: ES256 for ECDSA P-256, EdDSA for
// Ed25519, "" for anything else.
func algorithmFor(pub crypto.PublicKey) jose.SignatureAlgorithm {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if k.Curve == elliptic.P256() {
			return jose.ES256
		}
	case ed25519.PublicKey:
		return jose.EdDSA
	}
	return ""
}

// Sign returns a compact JWS over c signed by key (ECDSA P-256 → ES256, Ed25519 → EdDSA)
// with chain (leaf first, root excluded) in the x5c header. Zero IssuedAt, Expiry and ID are
// filled with now, now+Lifetime and a fresh random id.
func Sign(key crypto.Signer, chain []*x509.Certificate, c Claims) (string, error) {
	if key == nil {
		return "", errors.New("sign token: no key")
	}
	if c.Audience == "" {
		return "", errors.New("sign token: empty audience")
	}
	alg := algorithmFor(key.Public())
	if alg == "" {
		return "", fmt.Errorf("sign token: unsupported key type %T (want ECDSA P-256 or Ed25519)", key.Public())
	}
	// ValidateX5C checks that key matches the leaf and that the leaf may sign, and returns
	// the chain as standard base64 DER, as RFC 7515 §4.1.6 wants.
	x5c, err := jose.ValidateX5C(chain, key)
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	if c.IssuedAt.IsZero() {
		c.IssuedAt = time.Now()
	}
	if c.Expiry.IsZero() {
		c.Expiry = c.IssuedAt.Add(Lifetime)
	}
	if c.ID == "" {
		c.ID = NewID()
	}
	iat, exp := c.IssuedAt.Unix(), c.Expiry.Unix()
	payload, err := json.Marshal(wireClaims{
		Audience: c.Audience,
		IssuedAt: &iat,
		Expiry:   &exp,
		ID:       c.ID,
		Server:   c.Server,
		Session:  c.Session,
	})
	if err != nil {
		return "", fmt.Errorf("sign token: marshal claims: %w", err)
	}
	opts := new(jose.SignerOptions).WithType("JWT").WithHeader("x5c", x5c)
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	tok, err := jws.CompactSerialize()
	if err != nil {
		return "", fmt.Errorf("sign token: serialize: %w", err)
	}
	return tok, nil
}

// Verified is what a successful verification yields.
type Verified struct {
	Claims Claims
	Leaf   *x509.Certificate
	Attrs  certattrs.Attrs
}

// Verifier checks tokens. Safe for concurrent use.
type Verifier struct {
	Roots    *x509.CertPool               // the Sentinel CA
	Audience string                       // our own uuid
	Now      func() time.Time             // nil = time.Now
	Revoked  func(*x509.Certificate) bool // nil = nothing revoked
	Replay   *ReplayCache                 // nil = no replay protection (tests only)
}

func badToken(format string, args ...any) error {
	return tunnel.Deny(http.StatusUnauthorized, tunnel.CodeBadToken, format, args...)
}

// Verify checks tok: size, algorithm (ES256/EdDSA only; none and HMAC refused), x5c chain to
// Roots valid now, signature by the leaf's key, attributes decode, role is one of roles, not
// revoked, aud == Audience, iat/exp within Skew and exp-iat <= MaxLifetime, jti unseen.
// Every failure is a *tunnel.DenyError (401 bad_token/bad_chain/expired/replay/revoked,
// 403 wrong_role/wrong_audience, 503 limit when the replay cache is full): bad_chain covers
// another CA and a certificate without Sentinel attributes, expired a certificate outside its
// validity period as well as a token past exp+Skew. No reason ever quotes the token. With no
// roles given, every token is refused.
//
// The checks run cheapest first, so a flood of junk costs little: the size and shape before
// parsing, the algorithm before any public-key operation, the chain before the signature.
func (v *Verifier) Verify(tok string, roles ...certattrs.Role) (*Verified, error) {
	now := time.Now()
	if v.Now != nil {
		now = v.Now()
	}

	// Size and shape. Only the compact serialization is accepted (no JSON serialization, no
	// whitespace), and the signature must be canonical base64url, so a token has exactly one
	// encoding of a given signature.
	if tok == "" {
		return nil, badToken("missing token")
	}
	if len(tok) > MaxSize {
		return nil, badToken("token of %d bytes exceeds %d", len(tok), MaxSize)
	}
	if !compact(tok) {
		return nil, badToken("not a compact JWS")
	}

	// Parse. Parse errors are not quoted: some of them repeat header values.
	jwt, err := jose.ParseSigned(tok)
	if err != nil {
		return nil, badToken("malformed token")
	}
	if len(jwt.Headers) != 1 {
		return nil, badToken("want exactly one signature, got %d", len(jwt.Headers))
	}
	h := jwt.Headers[0]
	alg := jose.SignatureAlgorithm(h.Algorithm)
	if alg != jose.ES256 && alg != jose.EdDSA {
		return nil, badToken("algorithm %.16q not allowed", h.Algorithm)
	}
	if typ, ok := h.ExtraHeaders[gojose.HeaderType]; ok && typ != "JWT" {
		return nil, badToken("token type is not JWT")
	}

	// Chain. Any extended key usage will do here; the role in the attributes decides. A nil
	// pool would mean the system roots: refuse instead.
	if v.Roots == nil {
		return nil, tunnel.Deny(http.StatusUnauthorized, tunnel.CodeBadChain, "no trusted CA loaded")
	}
	chains, err := h.Certificates(x509.VerifyOptions{
		Roots:       v.Roots,
		CurrentTime: now,
		KeyUsages:   []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	if err != nil {
		return nil, chainError(err)
	}
	leaf := chains[0][0]
	if leaf.KeyUsage != 0 && leaf.KeyUsage&x509.KeyUsageDigitalSignature == 0 {
		return nil, tunnel.Deny(http.StatusUnauthorized, tunnel.CodeBadChain, "certificate %s may not sign", leaf.SerialNumber.Text(16))
	}

	// Signature, by the leaf's key and with the algorithm that key calls for: a token
	// carrying someone else's certificate but signed by another key fails here.
	if algorithmFor(leaf.PublicKey) != alg {
		return nil, badToken("algorithm %s does not match the certificate key", alg)
	}
	payload, err := jwtPayload(jwt, leaf.PublicKey)
	if err != nil {
		return nil, err
	}
	var wc wireClaims
	if err := json.Unmarshal(payload, &wc); err != nil {
		return nil, badToken("malformed claims")
	}

	// Who.
	attrs, err := certattrs.Decode(leaf)
	if err != nil {
		return nil, tunnel.Deny(http.StatusUnauthorized, tunnel.CodeBadChain, "certificate attributes: %v", err)
	}
	if role := attrs.Role(); !slices.Contains(roles, role) {
		return nil, tunnel.Deny(http.StatusForbidden, tunnel.CodeWrongRole, "role %q not accepted here", role)
	}
	if v.Revoked != nil && v.Revoked(leaf) {
		return nil, tunnel.Deny(http.StatusUnauthorized, tunnel.CodeRevoked, "certificate %s is revoked", leaf.SerialNumber.Text(16))
	}

	// For whom and when.
	if wc.Audience == "" {
		return nil, badToken("missing aud")
	}
	if wc.Audience != v.Audience {
		return nil, tunnel.Deny(http.StatusForbidden, tunnel.CodeWrongAudience, "token is for another audience")
	}
	if wc.IssuedAt == nil || wc.Expiry == nil {
		return nil, badToken("missing iat or exp")
	}
	iat, exp := time.Unix(*wc.IssuedAt, 0), time.Unix(*wc.Expiry, 0)
	if iat.After(now.Add(Skew)) {
		return nil, badToken("token issued in the future (iat %s, now %s)", iat.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	if !exp.After(iat) {
		return nil, badToken("exp not after iat")
	}
	if exp.Sub(iat) > MaxLifetime {
		return nil, badToken("token lifetime %s exceeds %s", exp.Sub(iat), MaxLifetime)
	}
	if now.After(exp.Add(Skew)) {
		return nil, tunnel.Deny(http.StatusUnauthorized, tunnel.CodeExpired, "token expired at %s", exp.UTC().Format(time.RFC3339))
	}
	if !validID(wc.ID) {
		return nil, badToken("missing or malformed jti")
	}

	// Once. The token is accepted until exp+Skew, so the id is kept that long.
	if v.Replay != nil {
		switch v.Replay.add(wc.ID, exp.Add(Skew), now) {
		case addDuplicate:
			return nil, tunnel.Deny(http.StatusUnauthorized, tunnel.CodeReplay, "token id already used")
		case addFull:
			return nil, tunnel.Deny(http.StatusServiceUnavailable, tunnel.CodeLimit, "replay cache full")
		}
	}

	return &Verified{
		Claims: Claims{
			Audience: wc.Audience,
			Server:   wc.Server,
			Session:  wc.Session,
			IssuedAt: iat,
			Expiry:   exp,
			ID:       wc.ID,
		},
		Leaf:  leaf,
		Attrs: attrs,
	}, nil
}

// jwtPayload verifies the signature with pub and returns the payload.
func jwtPayload(jwt *jose.JSONWebToken, pub crypto.PublicKey) ([]byte, error) {
	var raw json.RawMessage
	if err := jose.Verify(jwt, pub, &raw); err != nil {
		if errors.Is(err, jose.ErrCryptoFailure) {
			return nil, badToken("signature does not verify with the certificate key")
		}
		return nil, badToken("malformed claims")
	}
	return raw, nil
}

// chainError maps an x5c chain verification error to a refusal: a certificate outside its
// validity period is "expired", anything else (another CA, a broken chain) is "bad_chain".
func chainError(err error) error {
	var inv x509.CertificateInvalidError
	if errors.As(err, &inv) && inv.Reason == x509.Expired {
		return tunnel.Deny(http.StatusUnauthorized, tunnel.CodeExpired, "certificate expired or not yet valid")
	}
	var ua x509.UnknownAuthorityError
	if errors.As(err, &ua) {
		return tunnel.Deny(http.StatusUnauthorized, tunnel.CodeBadChain, "certificate not issued by a trusted CA")
	}
	if errors.Is(err, gojose.ErrMissingX5cHeader) { // not re-exported by go.step.sm/crypto/jose
		return badToken("missing x5c header")
	}
	return tunnel.Deny(http.StatusUnauthorized, tunnel.CodeBadChain, "certificate chain does not verify")
}

// compact reports whether tok has the shape of a JWS compact serialization: three
// base64url parts, the last one canonically encoded (no stray trailing bits).
func compact(tok string) bool {
	for i := 0; i < len(tok); i++ {
		c := tok[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	parts := strings.Split(tok, ".")
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
		return false
	}
	_, err := base64.RawURLEncoding.Strict().DecodeString(parts[2])
	return err == nil
}
