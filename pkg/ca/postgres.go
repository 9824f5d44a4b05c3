package ca

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the pure-Go "pgx" driver

	"github.com/sentinel-zt/sentinel/internal/atomicfile"
)

// InventoryURLFile, in a CA directory, holds the URL of a PostgreSQL inventory (mode 0600: it
// may hold a password). When present, every command on the directory uses that database
// instead of inventory.db; WithInventory writes it the first time.
const InventoryURLFile = "inventory.url"

// WithInventory makes Open use the PostgreSQL inventory at dsn ("postgres://user:pw@host:5432/db")
// and records dsn in the directory's inventory.url, so later commands need not repeat it. A
// directory already bound to another URL is refused. A new PostgreSQL inventory starts with a
// copy of the directory's SQLite records, so a CA can move to PostgreSQL once it grows.
func WithInventory(dsn string) Option { return func(c *CA) { c.dsn = dsn } }

// pgConnectTimeout bounds how long Open waits for PostgreSQL.
const pgConnectTimeout = 15 * time.Second

// ValidateInventoryURL checks a PostgreSQL URL's shape.
func ValidateInventoryURL(dsn string) error {
	u, err := url.Parse(dsn)
	if err != nil {
		return fmt.Errorf("inventory url: %w", err)
	}
	if u.Scheme != "postgres" && u.Scheme != "postgresql" {
		return fmt.Errorf("inventory url: scheme %q, want postgres://", u.Scheme)
	}
	if u.Host == "" && u.Query().Get("host") == "" {
		return errors.New("inventory url: no host")
	}
	return nil
}

// RedactURL hides a URL's password, for messages.
func RedactURL(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "(unparsable url)"
	}
	return u.Redacted()
}

// inventoryURL decides which PostgreSQL URL, if any, Open uses: the option, else the file.
func (c *CA) inventoryURL() (string, error) {
	path := filepath.Join(c.dir, InventoryURLFile)
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if c.dsn == "" {
			return "", nil
		}
		if err := ValidateInventoryURL(c.dsn); err != nil {
			return "", err
		}
		if err := atomicfile.Create(path, []byte(c.dsn+"\n"), 0o600); err != nil {
			return "", fmt.Errorf("record inventory url: %w", err)
		}
		return c.dsn, nil
	case err != nil:
		return "", fmt.Errorf("read %s: %w", InventoryURLFile, err)
	}
	recorded := strings.TrimSpace(string(data))
	if c.dsn != "" && c.dsn != recorded {
		return "", fmt.Errorf("inventory url %s differs from the one recorded in %s (%s): edit or remove the file to move",
			RedactURL(c.dsn), InventoryURLFile, RedactURL(recorded))
	}
	if err := ValidateInventoryURL(recorded); err != nil {
		return "", fmt.Errorf("%s: %w", InventoryURLFile, err)
	}
	return recorded, nil
}

// openPostgres opens and migrates a PostgreSQL inventory.
func openPostgres(dsn string) (*sql.DB, error) {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, fmt.Errorf("inventory %s: %w", RedactURL(dsn), err)
	}
	db.SetMaxOpenConns(8)
	db.SetConnMaxIdleTime(time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), pgConnectTimeout)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("inventory %s: %w", RedactURL(dsn), err)
	}
	if err := migrate(db, dialectPostgres); err != nil {
		db.Close()
		return nil, fmt.Errorf("inventory %s: %w", RedactURL(dsn), err)
	}
	return db, nil
}

// copyTables are the tables seedFromSQLite copies, with their columns.
var copyTables = []struct{ name, cols string }{
	{"certificates", `serial, role, name, uuid, attrs, not_before, not_after, issued_at, revoked_at, reason, der, ephemeral, token, renewed_from`},
	{"tokens", `id, role, name, spec, max_uses, uses, ephemeral, created_at, expires_at, last_used_at, revoked_at`},
	{"admins", `serial, name, not_before, not_after, issued_at, revoked_at, der`},
}

// seedFromSQLite copies the directory's SQLite inventory into an empty PostgreSQL one, in
// issue order, with the CRL number, in one transaction.
func (c *CA) seedFromSQLite() error {
	var n int
	if err := c.q().QueryRow(`SELECT count(*) FROM certificates`).Scan(&n); err != nil {
		return fmt.Errorf("inventory: %w", err)
	}
	if n > 0 {
		return nil
	}
	path := filepath.Join(c.dir, InventoryFile)
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	src, err := openInventory(path, false)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := c.begin()
	if err != nil {
		return fmt.Errorf("inventory: %w", err)
	}
	defer dst.Rollback()
	for _, tbl := range copyTables {
		if err := copyTable(src, dst, tbl.name, tbl.cols); err != nil {
			return fmt.Errorf("copy %s from %s: %w", tbl.name, InventoryFile, err)
		}
	}
	var number int64
	if err := src.QueryRow(`SELECT number FROM crl WHERE id = 1`).Scan(&number); err != nil {
		return fmt.Errorf("copy crl number: %w", err)
	}
	if _, err := dst.Exec(`UPDATE crl SET number = ? WHERE id = 1`, number); err != nil {
		return fmt.Errorf("copy crl number: %w", err)
	}
	return dst.Commit()
}

func copyTable(src *sql.DB, dst *tx, name, cols string) error {
	rows, err := src.Query(`SELECT ` + cols + ` FROM ` + name + ` ORDER BY rowid`)
	if err != nil {
		return err
	}
	defer rows.Close()
	n := len(strings.Split(cols, ","))
	insert := `INSERT INTO ` + name + ` (` + cols + `) VALUES (` + strings.TrimSuffix(strings.Repeat("?, ", n), ", ") + `)`
	for rows.Next() {
		vals := make([]any, n)
		ptrs := make([]any, n)
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		if _, err := dst.Exec(insert, vals...); err != nil {
			return err
		}
	}
	return rows.Err()
}
