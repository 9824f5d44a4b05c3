// Package token makes and verifies the Bearer JWS every WebSocket request to a relay (or to a
// server in direct mode) carries: signed by the caller's private key, the caller's chain in the
// x5c header, claims aud/iat/exp/jti and srv (clients) or sid (binds).
package token

import (
	"crypto"
	"crypto/x509"
	"errors"
	"time"

	"github.com/sentinel-zt/sentinel/pkg/certattrs"
)

// CONTRACT STUB: bodies are replaced by the implementation.

// Lifetime is the exp-iat a signer uses by default; MaxLifetime is what a verifier accepts;
// Skew is the clock difference tolerated on iat and exp.
const (
	Lifetime    = time.Minute
	MaxLifetime = 5 * time.Minute
	Skew        = time.Minute
)

// Claims are the token's claims.
type Claims struct {
	Audience string    // "aud": the uuid of the relay (or server, in direct mode) addressed
	Server   string    // "srv": the server uuid a client asks for; empty otherwise
	Session  string    // "sid": the session id a bind answers; empty otherwise
	IssuedAt time.Time // "iat"
	Expiry   time.Time // "exp"
	ID       string    // "jti": random 128 bits, base64url
}

// Sign returns a compact JWS over c signed by key (ECDSA P-256 → ES256, Ed25519 → EdDSA)
// with chain (leaf first, root excluded) in the x5c header. Zero IssuedAt, Expiry and ID are
// filled with now, now+Lifetime and a fresh random id.
func Sign(key crypto.Signer, chain []*x509.Certificate, c Claims) (string, error) {
	return "", errors.New("token: not implemented")
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

// Verify checks tok: size, algorithm (ES256/EdDSA only; none and HMAC refused), x5c chain to
// Roots valid now, signature by the leaf's key, attributes decode, role is one of roles, not
// revoked, aud == Audience, iat/exp within Skew and exp-iat <= MaxLifetime, jti unseen.
// Every failure is a *tunnel.DenyError (401 bad_token/bad_chain/expired/replay/revoked,
// 403 wrong_role/wrong_audience).
func (v *Verifier) Verify(tok string, roles ...certattrs.Role) (*Verified, error) {
	return nil, errors.New("token: not implemented")
}

// ReplayCache remembers token ids until they expire. Bounded: when full of live entries it
// refuses new ones (fails closed) rather than forgetting one that could be replayed.
type ReplayCache struct{}

// NewReplayCache returns a cache of at most max live entries.
func NewReplayCache(max int) *ReplayCache { return &ReplayCache{} }

// Add records jti until exp. It returns false when jti is already recorded or the cache is full.
func (c *ReplayCache) Add(jti string, exp, now time.Time) bool { return false }

// Len returns the number of live entries.
func (c *ReplayCache) Len() int { return 0 }
