package ca

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// A throwaway PostgreSQL for the inventory tests, started once per test binary by
// scripts/postgres.sh --foreground and stopped by TestMain. SENTINEL_TEST_POSTGRES, a URL,
// uses an existing server instead. Without PostgreSQL installed the tests that need it skip,
// unless SENTINEL_SYSTEM_TESTS=1 (make test), which makes that a failure.

func TestMain(m *testing.M) {
	code := m.Run()
	pg.stop()
	os.Exit(code)
}

var pg pgServer

type pgServer struct {
	once   sync.Once
	url    string
	err    error
	skip   string
	proc   *os.Process
	exited chan struct{} // closed when proc has been waited for
	dir    string
}

func (p *pgServer) stop() {
	if p.proc != nil {
		_ = p.proc.Signal(syscall.SIGINT) // fast shutdown: drops the pooled connections
		select {
		case <-p.exited:
		case <-time.After(20 * time.Second):
			_ = p.proc.Kill()
			<-p.exited
		}
	}
	if p.dir != "" {
		os.RemoveAll(p.dir)
	}
}

func havePostgres() bool {
	if _, err := exec.LookPath("initdb"); err == nil {
		return true
	}
	m, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	return len(m) > 0
}

func (p *pgServer) start() {
	if u := os.Getenv("SENTINEL_TEST_POSTGRES"); u != "" {
		p.url = u
		return
	}
	if !havePostgres() {
		p.skip = "PostgreSQL is not installed (scripts/deps.sh postgres)"
		return
	}
	// Not t.TempDir: the server may run as the postgres user, who must reach the directory.
	dir, err := os.MkdirTemp("", "sentinel-pg-")
	if err == nil {
		err = os.Chmod(dir, 0o755)
	}
	if err != nil {
		p.err = err
		return
	}
	p.dir = dir
	for attempt := 0; attempt < 3; attempt++ {
		port, err := freePort()
		if err != nil {
			p.err = err
			return
		}
		cmd := exec.Command("bash", filepath.Join("..", "..", "scripts", "postgres.sh"), "--foreground", dir, strconv.Itoa(port))
		log, _ := os.Create(filepath.Join(dir, "server.log"))
		cmd.Stdout, cmd.Stderr = log, log
		if err := cmd.Start(); err != nil {
			p.err = err
			return
		}
		url := fmt.Sprintf("postgres://sentinel@127.0.0.1:%d/sentinel?sslmode=disable", port)
		exited := make(chan struct{})
		go func() { _ = cmd.Wait(); close(exited) }()
		err = waitPostgres(url, exited)
		if err == nil {
			p.url, p.proc, p.exited, p.err = url, cmd.Process, exited, nil
			return
		}
		p.err = err
		_ = cmd.Process.Kill()
		<-exited
	}
	if data, err := os.ReadFile(filepath.Join(dir, "server.log")); err == nil {
		p.err = fmt.Errorf("%w\n%s", p.err, data)
	}
}

func waitPostgres(url string, exited <-chan struct{}) error {
	db, err := sql.Open("pgx", url)
	if err != nil {
		return err
	}
	defer db.Close()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err = db.PingContext(ctx)
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-exited:
			return errors.New("scripts/postgres.sh exited")
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("postgres not ready in 30s: %w", err)
		}
		time.Sleep(100 * time.Millisecond) // polling interval
	}
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// postgresURL returns the URL of a fresh, empty schema of the test server, or skips.
func postgresURL(t *testing.T) string {
	t.Helper()
	pg.once.Do(pg.start)
	switch {
	case pg.err != nil:
		t.Fatalf("postgres: %v", pg.err)
	case pg.skip != "" && os.Getenv("SENTINEL_SYSTEM_TESTS") == "1":
		t.Fatalf("%s, and SENTINEL_SYSTEM_TESTS=1 requires it", pg.skip)
	case pg.skip != "":
		t.Skip(pg.skip)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "t_" + hex.EncodeToString(b[:])
	db, err := sql.Open("pgx", pg.url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE SCHEMA ` + schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		db, err := sql.Open("pgx", pg.url)
		if err == nil {
			_, _ = db.Exec(`DROP SCHEMA ` + schema + ` CASCADE`)
			db.Close()
		}
	})
	sep := "?"
	if strings.Contains(pg.url, "?") {
		sep = "&"
	}
	return pg.url + sep + "search_path=" + schema
}

// inventories are the backends the online tests run on: a fresh CA directory each, reopened
// on the backend with clk.
var inventories = map[string]func(t *testing.T, clk *clock) *CA{
	"sqlite": func(t *testing.T, clk *clock) *CA { return newTestCA(t, clk, InitOptions{}) },
	"postgres": func(t *testing.T, clk *clock) *CA {
		url := postgresURL(t)
		c := newTestCA(t, clk, InitOptions{})
		dir := c.Dir()
		c.Close()
		c, err := Open(dir, WithClock(clk.Now), WithInventory(url))
		if err != nil {
			t.Fatalf("Open on postgres: %v", err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	},
}
