package ca

import (
	"crypto/x509"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.step.sm/crypto/x509util"
)

// What the online CA (backend ca serve) needs from the inventory beyond Issue: lookups by
// serial, renewals, ephemeral records and admin certificates.

// Lookup returns the record of a serial (hex, any case, colons and 0x allowed); an unknown
// serial wraps ErrNotFound.
func (c *CA) Lookup(serial string) (Record, error) {
	s, ok := NormalizeSerial(serial)
	if !ok {
		return Record{}, fmt.Errorf("serial %q: %w", serial, ErrNotFound)
	}
	r, err := scanRecord(c.q().QueryRow(`SELECT `+recordColumns+` FROM certificates WHERE serial = ?`, s))
	if errors.Is(err, sql.ErrNoRows) {
		return Record{}, fmt.Errorf("serial %s: %w", s, ErrNotFound)
	}
	return r, err
}

// RecordRenewal records renewed as the successor of old: it keeps old's token and ephemeral
// mark and names old in renewed_from, so revoking either revokes both.
func (c *CA) RecordRenewal(old, renewed *x509.Certificate) (Record, error) {
	prev, err := c.Lookup(SerialString(old))
	if err != nil {
		return Record{}, fmt.Errorf("record renewal of %s: %w", SerialString(old), err)
	}
	return c.Record(renewed, RecordOptions{Token: prev.Token, Ephemeral: prev.Ephemeral, RenewedFrom: prev.Serial})
}

// lineage returns the serials linked to serial by renewals, both ways (serial included).
func lineage(q querier, serial string) ([]string, error) {
	seen := map[string]bool{serial: true}
	queue := []string{serial}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		var linked []string
		var from string
		err := q.QueryRow(`SELECT renewed_from FROM certificates WHERE serial = ?`, s).Scan(&from)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("inventory: renewals of %s: %w", s, err)
		}
		if from != "" {
			linked = append(linked, from)
		}
		rows, err := q.Query(`SELECT serial FROM certificates WHERE renewed_from = ?`, s)
		if err != nil {
			return nil, fmt.Errorf("inventory: renewals of %s: %w", s, err)
		}
		for rows.Next() {
			var n string
			if err := rows.Scan(&n); err != nil {
				rows.Close()
				return nil, fmt.Errorf("inventory: renewals of %s: %w", s, err)
			}
			linked = append(linked, n)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("inventory: renewals of %s: %w", s, err)
		}
		for _, n := range linked {
			if !seen[n] {
				seen[n] = true
				queue = append(queue, n)
			}
		}
	}
	out := make([]string, 0, len(seen))
	for s := range seen {
		out = append(out, s)
	}
	slices.Sort(out)
	return out, nil
}

// PruneEphemeral deletes the records of ephemeral certificates that expired more than grace
// ago, and returns how many. Their names are forgotten once none is left.
func (c *CA) PruneEphemeral(grace time.Duration) (int, error) {
	cutoff := formatTime(c.now().Add(-grace))
	res, err := c.q().Exec(`DELETE FROM certificates WHERE ephemeral = 1 AND not_after < ?`, cutoff)
	if err != nil {
		return 0, fmt.Errorf("inventory: prune ephemeral: %w", err)
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// RevocationState summarises the revocations in the inventory; it changes whenever a
// certificate is revoked or a revoked record is removed, so a cached CRL knows to renew.
func (c *CA) RevocationState() (string, error) {
	var n int
	var last sql.NullString
	if err := c.q().QueryRow(`SELECT count(*), max(revoked_at) FROM certificates WHERE revoked_at IS NOT NULL`).Scan(&n, &last); err != nil {
		return "", fmt.Errorf("inventory: revocations: %w", err)
	}
	return fmt.Sprintf("%d/%s", n, last.String), nil
}

// AdminDNSSuffix ends the DNS SAN of admin certificates: "<name>.admin.sentinel.internal".
const AdminDNSSuffix = "admin.sentinel.internal"

// AdminLifetime is an admin certificate's default lifetime.
const AdminLifetime = 30 * 24 * time.Hour

// AdminIssued is a new admin certificate and its key.
type AdminIssued struct {
	Name    string
	Serial  string
	Cert    *x509.Certificate
	CertPEM []byte
	KeyPEM  []byte
}

// IssueAdmin issues an admin certificate: a client certificate (clientAuth) without Sentinel
// attributes, so no relay or server accepts it, that the online CA's admin endpoints accept
// over mTLS while its record is live.
func (c *CA) IssueAdmin(name string, ttl time.Duration) (*AdminIssued, error) {
	if err := ValidateName(name); err != nil {
		return nil, fieldErr("name", err)
	}
	switch {
	case ttl < 0:
		return nil, fieldErrorf("ttl", "%v: must be positive", ttl)
	case ttl == 0:
		ttl = AdminLifetime
	}
	now := c.now()
	if !now.Before(c.root.NotAfter) {
		return nil, fmt.Errorf("%w on %s: make a new CA", ErrRootExpired, formatTime(c.root.NotAfter))
	}
	key, err := generateKey(KeyECDSAP256)
	if err != nil {
		return nil, err
	}
	notAfter := now.Add(ttl)
	if notAfter.After(c.root.NotAfter) {
		notAfter = c.root.NotAfter
	}
	tmpl := &x509util.Certificate{
		Subject:          x509util.Subject{CommonName: name},
		DNSNames:         []string{name + "." + AdminDNSSuffix},
		NotBefore:        now.Add(-backdate),
		NotAfter:         notAfter,
		KeyUsage:         x509util.KeyUsage(x509.KeyUsageDigitalSignature),
		ExtKeyUsage:      x509util.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		BasicConstraints: &x509util.BasicConstraints{IsCA: false},
		PublicKey:        key.Public(),
	}
	cert, err := x509util.CreateCertificate(tmpl.GetCertificate(), c.root, key.Public(), c.key)
	if err != nil {
		return nil, fmt.Errorf("sign admin %s: %w", name, err)
	}
	keyPEM, err := encodeKey(key)
	if err != nil {
		return nil, err
	}
	serial := SerialString(cert)
	if _, err := c.q().Exec(`INSERT INTO admins (serial, name, not_before, not_after, issued_at, der) VALUES (?, ?, ?, ?, ?, ?)`,
		serial, name, formatTime(cert.NotBefore), formatTime(cert.NotAfter), formatTime(now), cert.Raw); err != nil {
		return nil, fmt.Errorf("inventory: record admin %s: %w", name, err)
	}
	return &AdminIssued{Name: name, Serial: serial, Cert: cert, CertPEM: encodeCert(cert), KeyPEM: keyPEM}, nil
}

// CheckAdmin returns the admin name of a verified client certificate, or an error wrapping
// ErrNotAdmin when it is not a live admin certificate of this inventory.
func (c *CA) CheckAdmin(cert *x509.Certificate) (string, error) {
	serial := SerialString(cert)
	var name string
	var revoked sql.NullString
	err := c.q().QueryRow(`SELECT name, revoked_at FROM admins WHERE serial = ?`, serial).Scan(&name, &revoked)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return "", fmt.Errorf("certificate %s: %w", serial, ErrNotAdmin)
	case err != nil:
		return "", fmt.Errorf("inventory: admin %s: %w", serial, err)
	case revoked.Valid:
		return "", fmt.Errorf("admin %s (serial %s) revoked at %s: %w", name, serial, revoked.String, ErrNotAdmin)
	case !c.now().Before(cert.NotAfter):
		return "", fmt.Errorf("admin %s (serial %s) expired: %w", name, serial, ErrNotAdmin)
	case !slices.Contains(cert.DNSNames, name+"."+AdminDNSSuffix) || !strings.EqualFold(cert.Subject.CommonName, name):
		return "", fmt.Errorf("certificate %s does not name admin %s: %w", serial, name, ErrNotAdmin)
	}
	return name, nil
}

// RevokeAdmin revokes every live admin certificate of name.
func (c *CA) RevokeAdmin(name string) (int, error) {
	res, err := c.q().Exec(`UPDATE admins SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL`,
		formatTime(c.now()), name)
	if err != nil {
		return 0, fmt.Errorf("inventory: revoke admin %s: %w", name, err)
	}
	n, _ := res.RowsAffected()
	if n == 0 {
		return 0, fmt.Errorf("admin %q: %w", name, ErrNotFound)
	}
	return int(n), nil
}
