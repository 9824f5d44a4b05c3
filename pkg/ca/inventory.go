package ca

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers the pure-Go "sqlite" driver

	"github.com/sentinel-zt/sentinel/internal/atomicfile"
	"github.com/sentinel-zt/sentinel/pkg/certattrs"
)

// schemaVersion is the inventory layout this code writes; see migrations.
const schemaVersion = 2

// migrations[i] takes a SQLite inventory from version i to i+1.
var migrations = []string{
	// 0 -> 1
	`CREATE TABLE schema_version (version INTEGER NOT NULL);
	 CREATE TABLE certificates (
	   serial     TEXT PRIMARY KEY,          -- lower-case hex, no leading zeros
	   role       TEXT NOT NULL CHECK (role IN ('client', 'server', 'relay')),
	   name       TEXT NOT NULL,
	   uuid       TEXT NOT NULL,
	   attrs      TEXT NOT NULL,             -- the {"attrs": {...}} document in the certificate
	   not_before TEXT NOT NULL,             -- RFC 3339, UTC
	   not_after  TEXT NOT NULL,
	   issued_at  TEXT NOT NULL,
	   revoked_at TEXT,                      -- NULL while valid
	   reason     TEXT NOT NULL DEFAULT '',
	   der        BLOB NOT NULL              -- the certificate
	 );
	 CREATE INDEX certificates_role_name ON certificates (role, name);
	 CREATE TABLE crl (
	   id     INTEGER PRIMARY KEY CHECK (id = 1),
	   number INTEGER NOT NULL               -- last CRL number issued; 0 = none yet
	 );
	 INSERT INTO crl (id, number) VALUES (1, 0);
	 INSERT INTO schema_version (version) VALUES (0);`,
	// 1 -> 2: the online CA (ca serve): enrollment tokens, renewals, admin certificates.
	migrationV2("BLOB"),
}

// migrationV2 is the same for both dialects but for the binary column type.
func migrationV2(blob string) string {
	return `ALTER TABLE certificates ADD COLUMN ephemeral INTEGER NOT NULL DEFAULT 0;
	 ALTER TABLE certificates ADD COLUMN token TEXT NOT NULL DEFAULT '';        -- enrollment token id, '' = offline issue
	 ALTER TABLE certificates ADD COLUMN renewed_from TEXT NOT NULL DEFAULT ''; -- serial this one renewed
	 CREATE INDEX certificates_renewed_from ON certificates (renewed_from);
	 CREATE TABLE tokens (
	   id           TEXT PRIMARY KEY,        -- the token's jti
	   role         TEXT NOT NULL CHECK (role IN ('client', 'server', 'relay')),
	   name         TEXT NOT NULL,
	   spec         TEXT NOT NULL,           -- TokenSpec, JSON
	   max_uses     INTEGER NOT NULL,
	   uses         INTEGER NOT NULL DEFAULT 0,
	   ephemeral    INTEGER NOT NULL DEFAULT 0,
	   created_at   TEXT NOT NULL,
	   expires_at   TEXT NOT NULL,
	   last_used_at TEXT,
	   revoked_at   TEXT
	 );
	 CREATE TABLE admins (
	   serial     TEXT PRIMARY KEY,
	   name       TEXT NOT NULL,
	   not_before TEXT NOT NULL,
	   not_after  TEXT NOT NULL,
	   issued_at  TEXT NOT NULL,
	   revoked_at TEXT,
	   der        ` + blob + ` NOT NULL
	 );`
}

// pgMigrations are migrations for PostgreSQL: seq stands in for SQLite's rowid (issue order).
var pgMigrations = []string{
	`CREATE TABLE schema_version (version INTEGER NOT NULL);
	 CREATE TABLE certificates (
	   seq        BIGSERIAL UNIQUE,
	   serial     TEXT PRIMARY KEY,
	   role       TEXT NOT NULL CHECK (role IN ('client', 'server', 'relay')),
	   name       TEXT NOT NULL,
	   uuid       TEXT NOT NULL,
	   attrs      TEXT NOT NULL,
	   not_before TEXT NOT NULL,
	   not_after  TEXT NOT NULL,
	   issued_at  TEXT NOT NULL,
	   revoked_at TEXT,
	   reason     TEXT NOT NULL DEFAULT '',
	   der        BYTEA NOT NULL
	 );
	 CREATE INDEX certificates_role_name ON certificates (role, name);
	 CREATE TABLE crl (
	   id     INTEGER PRIMARY KEY CHECK (id = 1),
	   number BIGINT NOT NULL
	 );
	 INSERT INTO crl (id, number) VALUES (1, 0);
	 INSERT INTO schema_version (version) VALUES (0);`,
	migrationV2("BYTEA"),
}

// busyTimeout is how long a writer waits for another process's lock.
const busyTimeout = 10 * time.Second

func openInventory(path string, create bool) (*sql.DB, error) {
	if strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("inventory %s: path must not contain '?' or '#'", path)
	}
	if create {
		// Create the file ourselves so it is 0600 from the start.
		if err := atomicfile.Create(path, nil, 0o600); err != nil {
			return nil, fmt.Errorf("inventory: %w", err)
		}
	}
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeout.Milliseconds()))
	q.Add("_pragma", "foreign_keys(1)")
	q.Set("_txlock", "immediate") // writers take the lock up front: no upgrade deadlocks
	db, err := sql.Open("sqlite", path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("inventory: %w", err)
	}
	// One connection: a CA does little I/O, and this keeps every statement of a process in
	// order without SQLITE_BUSY between its own connections.
	db.SetMaxOpenConns(1)
	if err := migrate(db, dialectSQLite); err != nil {
		db.Close()
		return nil, fmt.Errorf("inventory %s: %w", path, err)
	}
	return db, nil
}

func migrate(db *sql.DB, d dialect) error {
	ctx := context.Background()
	raw, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer raw.Rollback()
	t := dq{q: raw, d: d}
	steps := migrations
	exists := `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'`
	if d == dialectPostgres {
		steps = pgMigrations
		exists = `SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = 'schema_version'`
		// Two CA processes starting at once must not both create the tables.
		if _, err := t.Exec(`SELECT pg_advisory_xact_lock(7160526)`); err != nil {
			return fmt.Errorf("lock schema: %w", err)
		}
	}
	var version int
	var n int
	if err := t.QueryRow(exists).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		if err := t.QueryRow(`SELECT version FROM schema_version`).Scan(&version); err != nil {
			return fmt.Errorf("schema version: %w", err)
		}
	}
	if version > schemaVersion {
		return fmt.Errorf("schema version %d is newer than this program's (%d); use a newer backend", version, schemaVersion)
	}
	if version == schemaVersion {
		return nil
	}
	for v := version; v < schemaVersion; v++ {
		if err := execScript(t, steps[v]); err != nil {
			return fmt.Errorf("migrate to schema version %d: %w", v+1, err)
		}
	}
	if _, err := t.Exec(`UPDATE schema_version SET version = ?`, schemaVersion); err != nil {
		return err
	}
	return raw.Commit()
}

// execScript runs a migration. SQLite takes the script whole; PostgreSQL's extended
// protocol takes one statement at a time, so the script is split on ';' (migrations hold
// none inside literals) and "--" comments are dropped.
func execScript(t dq, script string) error {
	if t.d == dialectSQLite {
		_, err := t.Exec(script)
		return err
	}
	var lines []string
	for _, l := range strings.Split(script, "\n") {
		if i := strings.Index(l, "--"); i >= 0 {
			l = l[:i]
		}
		lines = append(lines, l)
	}
	for _, stmt := range strings.Split(strings.Join(lines, "\n"), ";") {
		if strings.TrimSpace(stmt) == "" {
			continue
		}
		if _, err := t.Exec(stmt); err != nil {
			return fmt.Errorf("%s: %w", strings.Join(strings.Fields(stmt), " "), err)
		}
	}
	return nil
}

// Record is one issued certificate as the inventory holds it.
type Record struct {
	Serial    string         `json:"serial"` // lower-case hex
	Role      certattrs.Role `json:"role"`
	Name      string         `json:"name"`
	UUID      string         `json:"uuid"`
	NotBefore time.Time      `json:"not_before"`
	NotAfter  time.Time      `json:"not_after"`
	IssuedAt  time.Time      `json:"issued_at"`
	RevokedAt *time.Time     `json:"revoked_at,omitempty"` // nil while not revoked
	Reason    string         `json:"reason,omitempty"`     // revocation reason as given
	// Ephemeral: enrolled with an ephemeral token; ca serve removes its records once expired.
	Ephemeral bool `json:"ephemeral,omitempty"`
	// Token is the id of the enrollment token the certificate came from ("" = offline issue).
	Token string `json:"token,omitempty"`
	// RenewedFrom is the serial of the certificate this one renewed ("" = not a renewal).
	RenewedFrom string `json:"renewed_from,omitempty"`
	// Attrs is the attributes object of the certificate's extension (the value of its
	// "attrs" key); DecodeAttrs gives the typed form.
	Attrs json.RawMessage `json:"attrs"`
}

// Status is "revoked", "expired", "not yet valid" or "valid" at now.
func (r Record) Status(now time.Time) string {
	switch {
	case r.RevokedAt != nil:
		return "revoked"
	case !now.Before(r.NotAfter):
		return "expired"
	case now.Before(r.NotBefore):
		return "not yet valid"
	}
	return "valid"
}

// Live reports whether the certificate is neither revoked nor expired at now.
func (r Record) Live(now time.Time) bool { return r.RevokedAt == nil && now.Before(r.NotAfter) }

// DecodeAttrs strictly decodes Attrs.
func (r Record) DecodeAttrs() (certattrs.Attrs, error) {
	doc, err := json.Marshal(struct {
		Attrs json.RawMessage `json:"attrs"`
	}{r.Attrs})
	if err != nil {
		return certattrs.Attrs{}, err
	}
	a, err := certattrs.UnmarshalJSON(doc)
	if err != nil {
		return certattrs.Attrs{}, fmt.Errorf("inventory serial %s: %w", r.Serial, err)
	}
	return a, nil
}

// Filter selects records; zero fields match everything.
type Filter struct {
	Role certattrs.Role
	Name string
}

// List returns the inventory's records in issue order.
func (c *CA) List(f Filter) ([]Record, error) {
	return listRecords(c.q(), f)
}

const recordColumns = `serial, role, name, uuid, attrs, not_before, not_after, issued_at, revoked_at, reason, ephemeral, token, renewed_from`

func listRecords(q querier, f Filter) ([]Record, error) {
	query := `SELECT ` + recordColumns + ` FROM certificates WHERE 1 = 1`
	var args []any
	if f.Role != "" {
		query += ` AND role = ?`
		args = append(args, string(f.Role))
	}
	if f.Name != "" {
		query += ` AND name = ?`
		args = append(args, f.Name)
	}
	query += ` ORDER BY rowid`
	rows, err := q.Query(query, args...)
	if err != nil {
		return nil, fmt.Errorf("inventory: list: %w", err)
	}
	defer rows.Close()
	var out []Record
	for rows.Next() {
		r, err := scanRecord(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("inventory: list: %w", err)
	}
	return out, nil
}

type scanner interface{ Scan(dest ...any) error }

func scanRecord(s scanner) (Record, error) {
	var (
		r                Record
		role, doc        string
		nb, na, issued   string
		revoked          sql.NullString
		ephemeral        int
		err1, err2, err3 error
	)
	if err := s.Scan(&r.Serial, &role, &r.Name, &r.UUID, &doc, &nb, &na, &issued, &revoked, &r.Reason,
		&ephemeral, &r.Token, &r.RenewedFrom); err != nil {
		return Record{}, fmt.Errorf("inventory: read record: %w", err)
	}
	r.Role = certattrs.Role(role)
	r.Ephemeral = ephemeral != 0
	r.NotBefore, err1 = parseTime(nb)
	r.NotAfter, err2 = parseTime(na)
	r.IssuedAt, err3 = parseTime(issued)
	if err := errors.Join(err1, err2, err3); err != nil {
		return Record{}, fmt.Errorf("inventory serial %s: %w", r.Serial, err)
	}
	if revoked.Valid {
		t, err := parseTime(revoked.String)
		if err != nil {
			return Record{}, fmt.Errorf("inventory serial %s: %w", r.Serial, err)
		}
		r.RevokedAt = &t
	}
	if r.Attrs = innerAttrs([]byte(doc)); r.Attrs == nil {
		return Record{}, fmt.Errorf("inventory serial %s: attrs: not a {\"attrs\": {...}} document", r.Serial)
	}
	return r, nil
}

func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func parseTime(s string) (time.Time, error) { return time.Parse(time.RFC3339, s) }

// latest returns the newest record of role and name, preferring live ones: (record, true)
// when some record is live at now; (newest record, false) when all are revoked or expired;
// ok=false and an empty record when the name is unknown.
func latest(q querier, role certattrs.Role, name string, now time.Time) (r Record, live, found bool, err error) {
	if name == "" { // an empty Filter.Name would match every name
		return Record{}, false, false, nil
	}
	recs, err := listRecords(q, Filter{Role: role, Name: name})
	if err != nil || len(recs) == 0 {
		return Record{}, false, false, err
	}
	for i := len(recs) - 1; i >= 0; i-- {
		if recs[i].Live(now) {
			return recs[i], true, true, nil
		}
	}
	return recs[len(recs)-1], false, true, nil
}

// names returns the distinct names of role in first-issue order.
func names(q querier, role certattrs.Role) ([]string, error) {
	rows, err := q.Query(`SELECT name FROM certificates WHERE role = ? GROUP BY name ORDER BY min(rowid)`, string(role))
	if err != nil {
		return nil, fmt.Errorf("inventory: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, fmt.Errorf("inventory: %w", err)
		}
		out = append(out, n)
	}
	return out, rows.Err()
}
