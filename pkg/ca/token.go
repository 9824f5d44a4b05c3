package ca

import (
	"crypto"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"go.step.sm/crypto/keyutil"
	"go.step.sm/crypto/pemutil"
	"go.step.sm/crypto/x509util"

	"github.com/sentinel-zt/sentinel/internal/atomicfile"
	"github.com/sentinel-zt/sentinel/pkg/certattrs"
	"github.com/sentinel-zt/sentinel/pkg/enrolltoken"
)

// EnrollKeyFile, in a CA directory, is the ECDSA P-256 key that signs enrollment tokens
// (PKCS #8 PEM, mode 0600), made the first time a token is.
const EnrollKeyFile = "enroll.key"

// Online lifetimes: certificates the online CA signs renew themselves at 2/3 of their
// lifetime, so they can be short. TokenSpec.CertTTL overrides them.
const (
	OnlineClientLifetime = 8 * time.Hour
	OnlineServerLifetime = 7 * 24 * time.Hour
	OnlineRelayLifetime  = 7 * 24 * time.Hour
)

// OnlineLifetime is a role's default lifetime for certificates of the online CA.
func OnlineLifetime(role certattrs.Role) time.Duration {
	switch role {
	case certattrs.RoleClient:
		return OnlineClientLifetime
	case certattrs.RoleServer:
		return OnlineServerLifetime
	default:
		return OnlineRelayLifetime
	}
}

// Token limits.
const (
	DefaultTokenTTL = 10 * time.Minute
	MaxTokenTTL     = 30 * 24 * time.Hour
	MaxTokenUses    = 10000
)

// TokenSpec is what the certificate of an enrollment token will say, in the CLI's terms
// (the flags of `ca issue`), kept in the inventory and resolved at enrollment time so the
// certificate names the relays and server as they are then.
type TokenSpec struct {
	// Relay: Addr and Port. Server: Relays, Resources ("[NAME=]CIDR:PORT"), Host, Port
	// (direct mode), OutPort. Client: Server, Target ("HOST:PORT"), Relays, Port (local),
	// User, Groups, Schedule, AllowOutside.
	Addr         string   `json:"addr,omitempty"`
	Port         int      `json:"port,omitempty"`
	Relays       []string `json:"relays,omitempty"`
	Resources    []string `json:"resources,omitempty"`
	Host         string   `json:"host,omitempty"`
	OutPort      int      `json:"out_port,omitempty"`
	Server       string   `json:"server,omitempty"`
	Target       string   `json:"target,omitempty"`
	User         string   `json:"user,omitempty"`
	Groups       []string `json:"groups,omitempty"`
	Schedule     string   `json:"schedule,omitempty"`
	AllowOutside bool     `json:"allow_outside,omitempty"`
	// CertTTL is the certificate's lifetime; 0 = OnlineLifetime(role).
	CertTTL time.Duration `json:"cert_ttl,omitempty"`
}

// Request turns the spec into the IssueRequest of role and name.
func (s TokenSpec) Request(role certattrs.Role, name string) (IssueRequest, error) {
	req := IssueRequest{Name: name, TTL: s.CertTTL}
	switch role {
	case certattrs.RoleRelay:
		req.Relay = &RelaySpec{Addr: s.Addr, Port: s.Port}
	case certattrs.RoleServer:
		spec := &ServerSpec{Relays: s.Relays, Host: s.Host, Port: s.Port, OutPort: s.OutPort}
		for _, r := range s.Resources {
			res, err := ParseResourceFlag(r)
			if err != nil {
				return req, fieldErr("resources", err)
			}
			spec.Resources = append(spec.Resources, res)
		}
		req.Server = spec
	case certattrs.RoleClient:
		t, err := ParseTarget(s.Target)
		if err != nil {
			return req, fieldErr("target", err)
		}
		spec := &ClientSpec{Server: s.Server, Relays: s.Relays, Target: t, Port: s.Port,
			User: s.User, Groups: s.Groups, AllowOutside: s.AllowOutside}
		if s.Schedule != "" {
			if spec.Schedule, err = ParseSchedule(s.Schedule); err != nil {
				return req, fieldErr("schedule", err)
			}
		}
		req.Client = spec
	default:
		return req, fieldErrorf("role", "%q: want client, server or relay", role)
	}
	return req, nil
}

// TokenRequest asks for an enrollment token.
type TokenRequest struct {
	Role certattrs.Role
	Name string
	Spec TokenSpec
	// TTL is how long the token may be used; 0 = DefaultTokenTTL, at most MaxTokenTTL.
	TTL time.Duration
	// Uses is how many enrollments the token allows; 0 = 1.
	Uses int
	// Ephemeral marks the certificates it enrolls: ca serve removes them from the inventory
	// once expired (devices that come and go, such as CI runners).
	Ephemeral bool
}

// TokenRecord is an enrollment token as the inventory keeps it.
type TokenRecord struct {
	ID         string          `json:"id"`
	Role       certattrs.Role  `json:"role"`
	Name       string          `json:"name"`
	Spec       TokenSpec       `json:"spec"`
	MaxUses    int             `json:"max_uses"`
	Uses       int             `json:"uses"`
	Ephemeral  bool            `json:"ephemeral,omitempty"`
	CreatedAt  time.Time       `json:"created_at"`
	ExpiresAt  time.Time       `json:"expires_at"`
	LastUsedAt *time.Time      `json:"last_used_at,omitempty"`
	RevokedAt  *time.Time      `json:"revoked_at,omitempty"`
	raw        json.RawMessage // spec as stored
}

// Status is "revoked", "used", "expired" or "valid" at now.
func (t TokenRecord) Status(now time.Time) string {
	switch {
	case t.RevokedAt != nil:
		return "revoked"
	case t.Uses >= t.MaxUses:
		return "used"
	case !now.Before(t.ExpiresAt):
		return "expired"
	}
	return "valid"
}

// Token is a new enrollment token.
type Token struct {
	Record TokenRecord
	// JWT is the token to give the device.
	JWT string
	// Warnings come from resolving the spec now (unchecked DNS targets, ...).
	Warnings []string
}

// Fingerprint is the root certificate's SHA-256 fingerprint, lower-case hex: what enrollment
// tokens pin.
func (c *CA) Fingerprint() string { return x509util.Fingerprint(c.root) }

// EnrollKey returns the key that signs enrollment tokens, making it the first time.
func (c *CA) EnrollKey() (crypto.Signer, error) {
	path := filepath.Join(c.dir, EnrollKeyFile)
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		key, err := keyutil.GenerateSigner("EC", "P-256", 0)
		if err != nil {
			return nil, fmt.Errorf("generate enrollment key: %w", err)
		}
		data, err := encodeKey(key)
		if err != nil {
			return nil, err
		}
		// Another process may make it at the same moment: whoever loses reads the winner's.
		if err := atomicfile.Create(path, data, 0o600); err != nil && !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("write %s: %w", EnrollKeyFile, err)
		}
	}
	k, err := pemutil.Read(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", EnrollKeyFile, err)
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%s holds no private key", EnrollKeyFile)
	}
	return s, nil
}

// NewToken records an enrollment token and signs it. The spec is resolved against the
// inventory now, as Issue would, so a bad flag or an unknown server fails here and not on
// the device; it is resolved again at enrollment.
func (c *CA) NewToken(req TokenRequest) (*Token, error) {
	if err := ValidateName(req.Name); err != nil {
		return nil, fieldErr("name", err)
	}
	ttl := req.TTL
	switch {
	case ttl < 0 || ttl > MaxTokenTTL:
		return nil, fieldErrorf("token_ttl", "%v: want up to %v", ttl, MaxTokenTTL)
	case ttl == 0:
		ttl = DefaultTokenTTL
	}
	uses := req.Uses
	switch {
	case uses < 0 || uses > MaxTokenUses:
		return nil, fieldErrorf("uses", "%d: want 1-%d", uses, MaxTokenUses)
	case uses == 0:
		uses = 1
	}
	if req.Spec.CertTTL < 0 {
		return nil, fieldErrorf("ttl", "%v: must be positive", req.Spec.CertTTL)
	}
	ireq, err := req.Spec.Request(req.Role, req.Name)
	if err != nil {
		return nil, err
	}
	plan, err := c.Plan(ireq, OnlineLifetime)
	if err != nil {
		return nil, err
	}
	key, err := c.EnrollKey()
	if err != nil {
		return nil, err
	}
	spec, err := json.Marshal(req.Spec)
	if err != nil {
		return nil, fmt.Errorf("token spec: %w", err)
	}
	now := c.now().UTC().Truncate(time.Second)
	rec := TokenRecord{
		ID: enrolltoken.NewID(), Role: req.Role, Name: req.Name, Spec: req.Spec,
		MaxUses: uses, Ephemeral: req.Ephemeral, CreatedAt: now, ExpiresAt: now.Add(ttl),
	}
	jwt, err := enrolltoken.Sign(key, enrolltoken.Claims{
		ID: rec.ID, Role: rec.Role, Name: rec.Name, Fingerprint: c.Fingerprint(),
		IssuedAt: now, NotBefore: now, Expiry: rec.ExpiresAt,
	})
	if err != nil {
		return nil, err
	}
	if _, err := c.q().Exec(`INSERT INTO tokens (id, role, name, spec, max_uses, uses, ephemeral, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?, 0, ?, ?, ?)`, rec.ID, string(rec.Role), rec.Name, string(spec), rec.MaxUses,
		boolInt(rec.Ephemeral), formatTime(rec.CreatedAt), formatTime(rec.ExpiresAt)); err != nil {
		return nil, fmt.Errorf("inventory: record token: %w", err)
	}
	return &Token{Record: rec, JWT: jwt, Warnings: plan.Warnings}, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

const tokenColumns = `id, role, name, spec, max_uses, uses, ephemeral, created_at, expires_at, last_used_at, revoked_at`

func scanToken(s scanner) (TokenRecord, error) {
	var (
		t                  TokenRecord
		role, spec         string
		ephemeral          int
		created, expires   string
		lastUsed, revoked  sql.NullString
		errC, errE, errSpc error
	)
	if err := s.Scan(&t.ID, &role, &t.Name, &spec, &t.MaxUses, &t.Uses, &ephemeral, &created, &expires, &lastUsed, &revoked); err != nil {
		return TokenRecord{}, err
	}
	t.Role, t.Ephemeral, t.raw = certattrs.Role(role), ephemeral != 0, json.RawMessage(spec)
	t.CreatedAt, errC = parseTime(created)
	t.ExpiresAt, errE = parseTime(expires)
	errSpc = json.Unmarshal([]byte(spec), &t.Spec)
	if err := errors.Join(errC, errE, errSpc); err != nil {
		return TokenRecord{}, fmt.Errorf("inventory token %s: %w", t.ID, err)
	}
	for _, p := range []struct {
		s  sql.NullString
		at **time.Time
	}{{lastUsed, &t.LastUsedAt}, {revoked, &t.RevokedAt}} {
		if p.s.Valid {
			v, err := parseTime(p.s.String)
			if err != nil {
				return TokenRecord{}, fmt.Errorf("inventory token %s: %w", t.ID, err)
			}
			*p.at = &v
		}
	}
	return t, nil
}

// Tokens lists the recorded enrollment tokens, oldest first.
func (c *CA) Tokens() ([]TokenRecord, error) {
	rows, err := c.q().Query(`SELECT ` + tokenColumns + ` FROM tokens ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("inventory: tokens: %w", err)
	}
	defer rows.Close()
	var out []TokenRecord
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, fmt.Errorf("inventory: tokens: %w", err)
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// LookupToken returns the token with id; ErrTokenUnknown when there is none.
func (c *CA) LookupToken(id string) (TokenRecord, error) {
	t, err := scanToken(c.q().QueryRow(`SELECT `+tokenColumns+` FROM tokens WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return TokenRecord{}, fmt.Errorf("token %s: %w", id, ErrTokenUnknown)
	}
	if err != nil {
		return TokenRecord{}, fmt.Errorf("inventory: token %s: %w", id, err)
	}
	return t, nil
}

// UseToken spends one use of token id, atomically across processes and CA replicas. It
// refuses, wrapping ErrTokenUnknown, ErrTokenRevoked, ErrTokenExpired or ErrTokenUsed, a token
// that cannot be used now, and returns the record with the use counted.
func (c *CA) UseToken(id string) (TokenRecord, error) {
	now := c.now()
	t, err := c.LookupToken(id)
	if err != nil {
		return TokenRecord{}, err
	}
	if err := t.usable(now); err != nil {
		return TokenRecord{}, err
	}
	at := formatTime(now)
	res, err := c.q().Exec(`UPDATE tokens SET uses = uses + 1, last_used_at = ?
		WHERE id = ? AND uses < max_uses AND revoked_at IS NULL AND expires_at > ?`, at, id, at)
	if err != nil {
		return TokenRecord{}, fmt.Errorf("inventory: use token %s: %w", id, err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		// Another enrollment took the last use between the read and the update.
		return TokenRecord{}, fmt.Errorf("token %s: %w (all %d uses taken)", id, ErrTokenUsed, t.MaxUses)
	}
	t.Uses++
	u := now.UTC().Truncate(time.Second)
	t.LastUsedAt = &u
	return t, nil
}

func (t TokenRecord) usable(now time.Time) error {
	switch {
	case t.RevokedAt != nil:
		return fmt.Errorf("token %s: %w at %s", t.ID, ErrTokenRevoked, formatTime(*t.RevokedAt))
	case !now.Before(t.ExpiresAt):
		return fmt.Errorf("token %s: %w at %s", t.ID, ErrTokenExpired, formatTime(t.ExpiresAt))
	case t.Uses >= t.MaxUses:
		return fmt.Errorf("token %s: %w (%d of %d uses)", t.ID, ErrTokenUsed, t.Uses, t.MaxUses)
	}
	return nil
}

// RevokeToken makes a token unusable; uses already made keep their certificates.
func (c *CA) RevokeToken(id string) (TokenRecord, error) {
	t, err := c.LookupToken(id)
	if err != nil {
		return TokenRecord{}, err
	}
	if t.RevokedAt != nil {
		return TokenRecord{}, fmt.Errorf("token %s: %w", id, ErrAlreadyRevoked)
	}
	now := c.now().UTC().Truncate(time.Second)
	if _, err := c.q().Exec(`UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL`, formatTime(now), id); err != nil {
		return TokenRecord{}, fmt.Errorf("inventory: revoke token %s: %w", id, err)
	}
	t.RevokedAt = &now
	return t, nil
}
