package ca

import (
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"math/big"
	"strings"
	"time"
	"unicode"

	"github.com/sentinel-zt/sentinel/pkg/certattrs"
)

// RevokeOptions change Revoke.
type RevokeOptions struct {
	// Reason is recorded as given and mapped to an RFC 5280 reason code in CRLs when it
	// names one (see ReasonCode).
	Reason string
	// Role limits a name to that role's certificates; "" = every role.
	Role certattrs.Role
}

// Revoke revokes by name or serial. A name revokes every not yet revoked certificate of
// that name; otherwise ref is read as a serial (hex, any case, colons and 0x allowed), and
// the certificates linked to it by online renewals are revoked with it.
// Unknown refs wrap ErrNotFound; when everything ref names is already revoked the error
// wraps ErrAlreadyRevoked. It returns the records it revoked.
func (c *CA) Revoke(ref string, opts RevokeOptions) ([]Record, error) {
	if err := validateReason(opts.Reason); err != nil {
		return nil, fieldErr("reason", err)
	}
	if ref == "" {
		return nil, fmt.Errorf("empty name or serial: %w", ErrNotFound)
	}
	now := c.now().UTC().Truncate(time.Second)
	tx, err := c.begin()
	if err != nil {
		return nil, fmt.Errorf("inventory: %w", err)
	}
	defer tx.Rollback()

	var targets []Record
	recs, err := listRecords(tx, Filter{Role: opts.Role, Name: ref})
	if err != nil {
		return nil, err
	}
	if len(recs) > 0 {
		for _, r := range recs {
			if r.RevokedAt == nil {
				targets = append(targets, r)
			}
		}
		if len(targets) == 0 {
			return nil, fmt.Errorf("every certificate named %q is %w", ref, ErrAlreadyRevoked)
		}
	} else {
		serial, ok := NormalizeSerial(ref)
		var r Record
		found := false
		if ok {
			row := tx.QueryRow(`SELECT `+recordColumns+` FROM certificates WHERE serial = ?`, serial)
			if r, err = scanRecord(row); err == nil {
				found = opts.Role == "" || r.Role == opts.Role
			}
		}
		if !found {
			what := "name or serial"
			if opts.Role != "" {
				what = string(opts.Role) + " name or serial"
			}
			return nil, fmt.Errorf("%q %w: no certificate with that %s", ref, ErrNotFound, what)
		}
		if r.RevokedAt != nil {
			return nil, fmt.Errorf("certificate %s (%s %q) %w at %s", r.Serial, r.Role, r.Name, ErrAlreadyRevoked, formatTime(*r.RevokedAt))
		}
		targets = []Record{r}
		// A renewal is the same grant under a new serial: revoking one revokes the chain.
		linked, err := lineage(tx, r.Serial)
		if err != nil {
			return nil, err
		}
		for _, s := range linked {
			if s == r.Serial {
				continue
			}
			lr, err := scanRecord(tx.QueryRow(`SELECT `+recordColumns+` FROM certificates WHERE serial = ?`, s))
			if err != nil {
				return nil, err
			}
			if lr.RevokedAt == nil {
				targets = append(targets, lr)
			}
		}
	}
	for i := range targets {
		if _, err := tx.Exec(`UPDATE certificates SET revoked_at = ?, reason = ? WHERE serial = ? AND revoked_at IS NULL`,
			formatTime(now), opts.Reason, targets[i].Serial); err != nil {
			return nil, fmt.Errorf("inventory: revoke %s: %w", targets[i].Serial, err)
		}
		t := now
		targets[i].RevokedAt, targets[i].Reason = &t, opts.Reason
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("inventory: revoke: %w", err)
	}
	return targets, nil
}

// NormalizeSerial turns "0x0A:1B", "0a1b" or "A1B" into the inventory's "a1b".
func NormalizeSerial(s string) (string, bool) {
	s = strings.TrimPrefix(strings.TrimPrefix(s, "0x"), "0X")
	s = strings.ReplaceAll(s, ":", "")
	if s == "" {
		return "", false
	}
	n, ok := new(big.Int).SetString(s, 16)
	if !ok || n.Sign() <= 0 {
		return "", false
	}
	return n.Text(16), true
}

func validateReason(s string) error {
	if len(s) > 200 {
		return fmt.Errorf("%d bytes, over 200", len(s))
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return fmt.Errorf("control character %U", r)
		}
	}
	return nil
}

// reasonCodes are the RFC 5280 §5.3.1 codes a revocation reason may name. certificateHold
// and removeFromCRL are left out: a Sentinel revocation is final.
var reasonCodes = map[string]int{
	"unspecified":          0,
	"keycompromise":        1,
	"cacompromise":         2,
	"affiliationchanged":   3,
	"superseded":           4,
	"cessationofoperation": 5,
	"privilegewithdrawn":   9,
	"aacompromise":         10,
}

// ReasonCode maps a reason to its RFC 5280 code, ignoring case, '-', '_' and spaces:
// "key-compromise", "keyCompromise" and "Key Compromise" are all 1. ok is false for free
// text, which is kept in the inventory but gets no code in the CRL.
func ReasonCode(reason string) (code int, ok bool) {
	k := strings.Map(func(r rune) rune {
		switch r {
		case '-', '_', ' ':
			return -1
		}
		return unicode.ToLower(r)
	}, reason)
	code, ok = reasonCodes[k]
	return code, ok
}

// DefaultCRLNextUpdate is CRLOptions.NextUpdate's default.
const DefaultCRLNextUpdate = 7 * 24 * time.Hour

// CRLOptions change CRL.
type CRLOptions struct {
	// NextUpdate is how long after now the CRL says the next one is due; 0 = 7 days.
	NextUpdate time.Duration
}

// CRL is a signed certificate revocation list.
type CRL struct {
	Number     int64
	ThisUpdate time.Time
	NextUpdate time.Time
	Entries    []x509.RevocationListEntry
	DER        []byte
	PEM        []byte // "X509 CRL"
}

// CRL signs a revocation list of every revoked certificate in the inventory, with its
// revocation time and reason code when the reason maps to one. Each call takes the next
// CRL number, so numbers strictly increase.
func (c *CA) CRL(opts CRLOptions) (*CRL, error) {
	next := opts.NextUpdate
	if next < 0 {
		return nil, fieldErrorf("next_update", "%v: must be positive", next)
	}
	if next == 0 {
		next = DefaultCRLNextUpdate
	}
	now := c.now().UTC().Truncate(time.Second)
	tx, err := c.begin()
	if err != nil {
		return nil, fmt.Errorf("inventory: %w", err)
	}
	defer tx.Rollback()
	var number int64
	if err := tx.QueryRow(`UPDATE crl SET number = number + 1 WHERE id = 1 RETURNING number`).Scan(&number); err != nil {
		return nil, fmt.Errorf("inventory: CRL number: %w", err)
	}
	rows, err := tx.Query(`SELECT serial, revoked_at, reason FROM certificates WHERE revoked_at IS NOT NULL ORDER BY revoked_at, rowid`)
	if err != nil {
		return nil, fmt.Errorf("inventory: revoked: %w", err)
	}
	var entries []x509.RevocationListEntry
	for rows.Next() {
		var serial, at, reason string
		if err := rows.Scan(&serial, &at, &reason); err != nil {
			rows.Close()
			return nil, fmt.Errorf("inventory: revoked: %w", err)
		}
		n, ok := new(big.Int).SetString(serial, 16)
		t, err := parseTime(at)
		if !ok || err != nil {
			rows.Close()
			return nil, fmt.Errorf("inventory: revoked serial %q: bad record", serial)
		}
		e := x509.RevocationListEntry{SerialNumber: n, RevocationTime: t}
		if code, ok := ReasonCode(reason); ok {
			e.ReasonCode = code // 0 (unspecified) leaves the extension out, as RFC 5280 asks
		}
		entries = append(entries, e)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("inventory: revoked: %w", err)
	}
	tmpl := &x509.RevocationList{
		Number:                    big.NewInt(number),
		ThisUpdate:                now,
		NextUpdate:                now.Add(next),
		RevokedCertificateEntries: entries,
	}
	der, err := x509.CreateRevocationList(rand.Reader, tmpl, c.root, c.key)
	if err != nil {
		return nil, fmt.Errorf("sign CRL: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("inventory: CRL number: %w", err)
	}
	return &CRL{
		Number:     number,
		ThisUpdate: tmpl.ThisUpdate,
		NextUpdate: tmpl.NextUpdate,
		Entries:    entries,
		DER:        der,
		PEM:        pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der}),
	}, nil
}
