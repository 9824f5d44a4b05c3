package ca

import (
	"context"
	"database/sql"
	"regexp"
	"strconv"
	"strings"
)

// dialect is the SQL flavour of an inventory. Queries are written once, for SQLite, with '?'
// placeholders and rowid for issue order; rebind turns them into PostgreSQL ($1, $2, ...
// and the seq column its schema has in rowid's place).
type dialect int

const (
	dialectSQLite dialect = iota
	dialectPostgres
)

func (d dialect) String() string {
	if d == dialectPostgres {
		return "postgres"
	}
	return "sqlite"
}

var rowidRE = regexp.MustCompile(`\browid\b`)

// rebind rewrites a query written for SQLite into d's form. Queries never hold '?' inside a
// string literal, so every '?' is a placeholder.
func (d dialect) rebind(q string) string {
	if d != dialectPostgres {
		return q
	}
	q = rowidRE.ReplaceAllString(q, "seq")
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// sqlQuerier is what *sql.DB and *sql.Tx share.
type sqlQuerier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// querier runs SQLite-flavoured queries against either dialect.
type querier interface {
	Query(query string, args ...any) (*sql.Rows, error)
	QueryRow(query string, args ...any) *sql.Row
	Exec(query string, args ...any) (sql.Result, error)
}

// dq binds a database handle or transaction to its dialect.
type dq struct {
	q sqlQuerier
	d dialect
}

func (q dq) Query(query string, args ...any) (*sql.Rows, error) {
	return q.q.QueryContext(context.Background(), q.d.rebind(query), args...)
}

func (q dq) QueryRow(query string, args ...any) *sql.Row {
	return q.q.QueryRowContext(context.Background(), q.d.rebind(query), args...)
}

func (q dq) Exec(query string, args ...any) (sql.Result, error) {
	return q.q.ExecContext(context.Background(), q.d.rebind(query), args...)
}

// tx is one inventory transaction in the inventory's dialect.
type tx struct {
	dq
	raw *sql.Tx
}

func (t *tx) Commit() error   { return t.raw.Commit() }
func (t *tx) Rollback() error { return t.raw.Rollback() }

// begin starts a transaction: on SQLite it takes the write lock up front (_txlock=immediate).
func (c *CA) begin() (*tx, error) {
	raw, err := c.db.Begin()
	if err != nil {
		return nil, err
	}
	return &tx{dq: dq{q: raw, d: c.dialect}, raw: raw}, nil
}

// q runs single statements outside a transaction.
func (c *CA) q() dq { return dq{q: c.db, d: c.dialect} }
