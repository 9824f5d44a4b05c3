//go:build linux

package system

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"net"
	"os/exec"
	"sync"
	"testing"
	"time"
)

// TestMySQLThroughTLSRelay: a MySQL client on the client's local port reaches MariaDB through
// a relay serving TLS itself.
func TestMySQLThroughTLSRelay(t *testing.T) {
	requireSystem(t)
	db := startMariaDB(t)
	d := newDeployment(t, deployOptions{targetPort: db.port})
	exerciseMySQL(t, d.clientAddr, db.port)
}

// TestMySQLThroughBehindProxyRelay: the relay serves plain HTTP (behind_proxy = true) behind
// a real nginx that terminates TLS with the relay's certificate; clients and servers dial
// wss://127.0.0.1:<nginx port>, where only nginx listens.
func TestMySQLThroughBehindProxyRelay(t *testing.T) {
	requireSystem(t)
	db := startMariaDB(t)
	d := newDeployment(t, deployOptions{targetPort: db.port, behindProxy: true})
	exerciseMySQL(t, d.clientAddr, db.port)

	// The relay saw the session through nginx: its remote address is the X-Forwarded-For
	// entry nginx appended (an IP without a port), not a TCP peer.
	sid, err := d.clientSession()
	if err != nil {
		t.Fatal(err)
	}
	evs, err := readAudit(d.relay.audit)
	if err != nil {
		t.Fatal(err)
	}
	opens := findEvents(evs, "session.open", sid)
	if len(opens) != 1 {
		t.Fatalf("relay audit: %d session.open events for session %s, want 1", len(opens), sid)
	}
	if got := opens[0].str("remote_addr"); got != "127.0.0.1" {
		t.Errorf("relay session.open remote_addr = %q, want 127.0.0.1 (from nginx's X-Forwarded-For)", got)
	}
}

// TestMySQLCLI runs the stock mariadb client through the tunnel.
func TestMySQLCLI(t *testing.T) {
	requireSystem(t)
	db := startMariaDB(t)
	d := newDeployment(t, deployOptions{targetPort: db.port})
	host, port, err := net.SplitHostPort(d.clientAddr)
	if err != nil {
		t.Fatal(err)
	}
	query := "CREATE DATABASE cli; CREATE TABLE cli.t (id INT PRIMARY KEY, what VARCHAR(64)); " +
		"INSERT INTO cli.t VALUES (1, 'reached through Sentinel'), (2, 'behind the firewall'); " +
		"SELECT id, what, @@port FROM cli.t ORDER BY id;"
	ctx, cancel := context.WithTimeout(context.Background(), cliTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, toolPath["mariadb"], "--no-defaults", "-h"+host, "-P"+port, "-uroot",
		"--connect-timeout=10", "--batch", "--skip-column-names", "-e", query)
	cmd.Env = childEnv()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("mariadb -e: %v\n%s", err, stderr.String())
	}
	// @@port is MariaDB's own port: the statement ran there, not at the client's.
	want := fmt.Sprintf("1\treached through Sentinel\t%d\n2\tbehind the firewall\t%d\n", db.port, db.port)
	if got := stdout.String(); got != want {
		t.Errorf("mariadb output:\n%q\nwant:\n%q", got, want)
	}
}

// exerciseMySQL runs DDL and DML, a multi-MiB blob both ways and concurrent connections
// against addr (the client's local port), where MariaDB listening on dbPort must answer.
func exerciseMySQL(t *testing.T, addr string, dbPort int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	db := openMySQL(t, addr, "")
	var port int
	if err := db.QueryRowContext(ctx, "SELECT @@port").Scan(&port); err != nil {
		t.Fatalf("SELECT @@port through the tunnel: %v", err)
	}
	if port != dbPort {
		t.Fatalf("@@port = %d, want MariaDB's %d", port, dbPort)
	}
	for _, q := range []string{
		"CREATE DATABASE e2e",
		"CREATE TABLE e2e.kv (id INT PRIMARY KEY, v VARCHAR(64) NOT NULL)",
		"CREATE TABLE e2e.blobs (id INT PRIMARY KEY, data LONGBLOB NOT NULL)",
		"CREATE TABLE e2e.rows (worker INT NOT NULL, n INT NOT NULL, v VARCHAR(64) NOT NULL, PRIMARY KEY (worker, n))",
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}

	t.Run("insert-select", func(t *testing.T) {
		for i := range 10 {
			if _, err := db.ExecContext(ctx, "INSERT INTO e2e.kv VALUES (?, ?)", i, fmt.Sprintf("value %d", i)); err != nil {
				t.Fatalf("insert %d: %v", i, err)
			}
		}
		rows, err := db.QueryContext(ctx, "SELECT id, v FROM e2e.kv ORDER BY id")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		n := 0
		for rows.Next() {
			var id int
			var v string
			if err := rows.Scan(&id, &v); err != nil {
				t.Fatal(err)
			}
			if id != n || v != fmt.Sprintf("value %d", n) {
				t.Fatalf("row %d = (%d, %q)", n, id, v)
			}
			n++
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		if n != 10 {
			t.Fatalf("read %d rows, want 10", n)
		}
	})

	t.Run("blob-8MiB", func(t *testing.T) {
		checkBlob(ctx, t, db, 1, 8<<20, 1)
	})

	t.Run("concurrent", func(t *testing.T) {
		const workers, rowsEach = 8, 25
		conns := make([]*sql.Conn, workers)
		for i := range conns {
			c, err := db.Conn(ctx) // one connection each, so one tunnel stream each
			if err != nil {
				t.Fatalf("conn %d: %v", i, err)
			}
			defer c.Close()
			conns[i] = c
		}
		var wg sync.WaitGroup
		errs := make(chan error, workers)
		ids := make([]int64, workers)
		for w, c := range conns {
			wg.Go(func() {
				if err := c.QueryRowContext(ctx, "SELECT CONNECTION_ID()").Scan(&ids[w]); err != nil {
					errs <- fmt.Errorf("worker %d: connection id: %w", w, err)
					return
				}
				tx, err := c.BeginTx(ctx, nil)
				if err != nil {
					errs <- fmt.Errorf("worker %d: begin: %w", w, err)
					return
				}
				for n := range rowsEach {
					if _, err := tx.ExecContext(ctx, "INSERT INTO e2e.rows VALUES (?, ?, ?)", w, n, fmt.Sprintf("w%d n%d", w, n)); err != nil {
						_ = tx.Rollback()
						errs <- fmt.Errorf("worker %d: insert %d: %w", w, n, err)
						return
					}
				}
				if err := tx.Commit(); err != nil {
					errs <- fmt.Errorf("worker %d: commit: %w", w, err)
					return
				}
				var count int
				if err := c.QueryRowContext(ctx, "SELECT COUNT(*) FROM e2e.rows WHERE worker = ?", w).Scan(&count); err != nil || count != rowsEach {
					errs <- fmt.Errorf("worker %d: count = %d, %v; want %d", w, count, err, rowsEach)
					return
				}
				// A blob per connection, so large transfers share the session concurrently.
				if err := blobRoundTrip(ctx, c, 100+w, 1<<20, uint64(100+w)); err != nil {
					errs <- fmt.Errorf("worker %d: %w", w, err)
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		seen := map[int64]bool{}
		for _, id := range ids {
			if seen[id] {
				t.Errorf("connection id %d used by two workers; want %d distinct connections", id, workers)
			}
			seen[id] = true
		}
		var total int
		if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM e2e.rows").Scan(&total); err != nil || total != workers*rowsEach {
			t.Errorf("total rows = %d, %v; want %d", total, err, workers*rowsEach)
		}
	})
}

// queryer is what *sql.DB and *sql.Conn share.
type queryer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func checkBlob(ctx context.Context, t *testing.T, q queryer, id, size int, seed uint64) {
	t.Helper()
	if err := blobRoundTrip(ctx, q, id, size, seed); err != nil {
		t.Fatal(err)
	}
}

// blobRoundTrip inserts size random bytes as e2e.blobs row id, and checks them by SHA-256
// twice: as MariaDB stored them (the way up) and as read back (the way down).
func blobRoundTrip(ctx context.Context, q queryer, id, size int, seed uint64) error {
	data := make([]byte, size)
	_, _ = rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), 's', 'y', 's'}).Read(data)
	sum := sha256.Sum256(data)
	if _, err := q.ExecContext(ctx, "INSERT INTO e2e.blobs VALUES (?, ?)", id, data); err != nil {
		return fmt.Errorf("insert %d-byte blob: %w", size, err)
	}
	var stored string
	if err := q.QueryRowContext(ctx, "SELECT SHA2(data, 256) FROM e2e.blobs WHERE id = ?", id).Scan(&stored); err != nil {
		return fmt.Errorf("server-side sha256: %w", err)
	}
	if stored != hex.EncodeToString(sum[:]) {
		return fmt.Errorf("blob %d as stored: sha256 %s, sent %x", id, stored, sum)
	}
	var back []byte
	if err := q.QueryRowContext(ctx, "SELECT data FROM e2e.blobs WHERE id = ?", id).Scan(&back); err != nil {
		return fmt.Errorf("read blob back: %w", err)
	}
	if got := sha256.Sum256(back); got != sum || len(back) != size {
		return fmt.Errorf("blob %d read back: %d bytes sha256 %x, sent %d bytes sha256 %x", id, len(back), got, size, sum)
	}
	return nil
}
