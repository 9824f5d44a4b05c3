//go:build linux

package system

// The harness. TestMain builds the backend binary once (go build ./cmd/backend, without -race,
// into a temp dir). Each test mints its own CA and bundles with the CLI in t.TempDir(), starts
// a throwaway MariaDB (scripts/mariadb.sh --foreground) or an in-process target, and runs
// relay, server and client as processes with their bundle's config.toml plus SENTINEL_* env
// overrides. Every process is stopped by a t.Cleanup (SIGTERM, then SIGKILL of its process
// group after stopTimeout), dies with the test binary (Pdeathsig; a guard for nginx's
// workers), logs to files that are dumped when the test fails, and is waited for by polling
// with a deadline. Ports come from 127.0.0.1:0; a start that loses a port to another process
// meanwhile (errAddrInUse) is retried on fresh ports.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"go.uber.org/goleak"
)

// Environment switches.
const (
	// envRequire = "1" turns missing tools into a failure instead of a skip (make test sets it).
	envRequire = "SENTINEL_SYSTEM_TESTS"
	// envReport = "1" runs TestReportNumbers.
	envReport = "SENTINEL_REPORT"
	// envGuard = PGID makes the test binary a group guard (see guardGroup), not a test run.
	envGuard = "SENTINEL_SYSTEM_GUARD_PGID"
)

// Bounds: every wait in this package has one.
const (
	buildTimeout  = 5 * time.Minute
	cliTimeout    = time.Minute
	readyTimeout  = 30 * time.Second // a process, MariaDB included, answers within this
	stopTimeout   = 10 * time.Second // after SIGTERM, before SIGKILL
	pollInterval  = 25 * time.Millisecond
	startAttempts = 3 // tries of a start that lost a port to another process
	logTail       = 16 << 10
)

// requiredTools must be installed (scripts/deps.sh mariadb nginx).
var requiredTools = []string{"mariadbd", "mariadb-install-db", "mariadb", "nginx"}

var (
	backendBin string                // built by TestMain
	repoRoot   string                // holds go.mod and scripts/
	skipReason string                // non-empty: every test skips with it
	toolPath   = map[string]string{} // requiredTools by name
)

// errAddrInUse marks a start that failed because a port was taken in the meantime.
var errAddrInUse = errors.New("address already in use")

func TestMain(m *testing.M) {
	if pgid := os.Getenv(envGuard); pgid != "" {
		os.Exit(guard(pgid))
	}
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	flag.Parse()
	if testing.Short() {
		skipReason = "system tests do not run with -short"
		return m.Run()
	}
	var missing []string
	for _, name := range requiredTools {
		p, err := lookTool(name)
		if err != nil {
			missing = append(missing, name)
			continue
		}
		toolPath[name] = p
	}
	if len(missing) > 0 {
		msg := fmt.Sprintf("test/system needs %s, not found in PATH, /usr/sbin or /sbin; "+
			"`make test` installs them (scripts/deps.sh mariadb nginx) and runs these tests with %s=1, "+
			"or install them that way and run go test ./test/system",
			strings.Join(missing, ", "), envRequire)
		if os.Getenv(envRequire) == "1" {
			fmt.Fprintf(os.Stderr, "FAIL: %s=1 and %s\n", envRequire, msg)
			return 1
		}
		skipReason = "skipping: " + msg
		fmt.Fprintln(os.Stderr, skipReason)
		return m.Run()
	}
	root, err := findRepoRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, "test/system:", err)
		return 1
	}
	repoRoot = root
	tmp, err := os.MkdirTemp("", "sentinel-system-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "test/system:", err)
		return 1
	}
	defer os.RemoveAll(tmp)
	backendBin = filepath.Join(tmp, "backend")
	if err := buildBackend(root, backendBin); err != nil {
		fmt.Fprintln(os.Stderr, "test/system:", err)
		return 1
	}
	code := m.Run()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "test/system: leaked goroutines: %v\n", err)
			code = 1
		}
	}
	return code
}

// requireSystem skips t when the package cannot run (tools missing without envRequire, -short).
func requireSystem(t *testing.T) {
	t.Helper()
	if skipReason != "" {
		t.Skip(skipReason)
	}
}

// lookTool finds an executable in PATH or in the sbin directories a non-root PATH lacks.
func lookTool(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, dir := range []string{"/usr/sbin", "/sbin", "/usr/local/sbin"} {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found", name)
}

func findRepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

// buildBackend builds the binary the way `make release` does, without -race: the tests
// measure the product, and the test process alone carries the race detector.
func buildBackend(root, out string) error {
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, goTool, "build", "-trimpath", "-o", out, "./cmd/backend")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./cmd/backend: %v\n%s", err, b)
	}
	return nil
}

// childEnv is the environment of every child: this process's, without any SENTINEL_*
// variable (a child sees only the overrides a test sets), with the sbin directories on PATH,
// plus extra ("KEY=VALUE").
func childEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "SENTINEL_") || strings.HasPrefix(kv, "PATH=") {
			continue
		}
		env = append(env, kv)
	}
	env = append(env, "PATH="+os.Getenv("PATH")+":/usr/sbin:/sbin")
	return append(env, extra...)
}

// ---- processes

// proc is a child process writing to files in the test's temp dir. It never outlives its
// test: a cleanup stops it, and Pdeathsig kills it if the test binary dies first.
type proc struct {
	t    *testing.T
	name string
	cmd  *exec.Cmd
	logs []string // dumped when the test fails; logs[0] gets stdout and stderr

	done     chan struct{}
	err      error // cmd.Wait's result; read it only after done is closed
	stopOnce sync.Once
}

// startProc starts argv with env, stdout and stderr appended to logs[0]; the other logs are
// files the process writes itself, dumped with it.
func startProc(t *testing.T, name string, env, logs []string, argv ...string) (*proc, error) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(logs[0]), 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(logs[0], os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer f.Close() // the child has its own descriptor
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = filepath.Dir(logs[0])
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = f, f
	// Own process group, so a stuck child's children (nginx workers) go with it; SIGKILL
	// when the test binary dies, so nothing survives a panic or a -timeout.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{t: t, name: name, cmd: cmd, logs: logs, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			p.dump()
		}
	})
	return p, nil
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func (p *proc) signal(sig syscall.Signal) error { return p.cmd.Process.Signal(sig) }

// waitExit waits up to d for the process to exit; false on timeout.
func (p *proc) waitExit(d time.Duration) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-p.done:
		return true
	case <-timer.C:
		return false
	}
}

// exitErr is the exit status of an exited process: nil for 0.
func (p *proc) exitErr() error {
	<-p.done
	return p.err
}

// stop sends SIGTERM and waits stopTimeout, then kills the process group. Idempotent; it
// returns the exit status.
func (p *proc) stop() error {
	p.stopOnce.Do(func() {
		if p.exited() {
			return
		}
		_ = p.signal(syscall.SIGTERM)
		if p.waitExit(stopTimeout) {
			return
		}
		p.t.Logf("%s (pid %d) still running %v after SIGTERM; killing its process group", p.name, p.cmd.Process.Pid, stopTimeout)
		// The group leader is not reaped yet (done is open), so its pid is still ours.
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	})
	<-p.done
	return p.err
}

// guardGroup makes sure the process group of p (p and its children: nginx's workers) dies
// with the test binary. Pdeathsig reaches only a direct child, and an orphaned nginx worker
// keeps serving; so a guard, the test binary re-executed with envGuard, gets SIGTERM by its
// own Pdeathsig when the test binary dies and kills the group. It exits by itself once the
// group is gone, which the cleanup waits for after stopping p.
func (p *proc) guardGroup() error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	pgid := p.cmd.Process.Pid
	cmd := exec.Command(self)
	cmd.Env = append(childEnv(), fmt.Sprintf("%s=%d", envGuard, pgid))
	// Its own group too, so a terminal's ^C reaches the test binary, not the guard first.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start guard of %s: %w", p.name, err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	p.t.Cleanup(func() {
		_ = p.stop() // idempotent; the group must be gone before the guard can leave
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			p.t.Logf("guard of %s (pid %d) did not exit; killing it", p.name, cmd.Process.Pid)
			_ = cmd.Process.Kill()
			<-done
		}
	})
	return nil
}

// guard is the body of a guard process (see guardGroup): on SIGTERM it kills process group
// pgid; it returns once the group has no process left.
func guard(pgid string) int {
	id, err := strconv.Atoi(pgid)
	if err != nil || id <= 1 {
		fmt.Fprintf(os.Stderr, "%s=%q: not a process group id\n", envGuard, pgid)
		return 2
	}
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-term:
			_ = syscall.Kill(-id, syscall.SIGKILL)
			return 0
		case <-tick.C:
			if err := syscall.Kill(-id, 0); errors.Is(err, syscall.ESRCH) {
				return 0
			}
		}
	}
}

// exitedErr describes a process that exited before it was ready.
func (p *proc) exitedErr() error {
	<-p.done
	err := fmt.Errorf("%s exited before it was ready (%v); last log lines:\n%s", p.name, p.err, tail(p.logText(), 2048))
	if strings.Contains(strings.ToLower(p.logText()), "address already in use") {
		return fmt.Errorf("%w: %w", errAddrInUse, err)
	}
	return err
}

func (p *proc) logText() string {
	var b strings.Builder
	for _, path := range p.logs {
		data, _ := os.ReadFile(path)
		b.Write(data)
	}
	return b.String()
}

func (p *proc) dump() {
	for _, path := range p.logs {
		data, err := os.ReadFile(path)
		if err != nil {
			p.t.Logf("---- %s: %s: %v", p.name, path, err)
			continue
		}
		p.t.Logf("---- %s: %s (last %d of %d bytes)\n%s", p.name, path, min(len(data), logTail), len(data), tail(string(data), logTail))
	}
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}

// waitReady polls check until it returns nil, fails when one of procs exits first or after
// timeout. Sleeping between polls is the poll interval, never a guess at readiness.
func waitReady(timeout time.Duration, what string, procs []*proc, check func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		for _, p := range procs {
			if p.exited() {
				return p.exitedErr()
			}
		}
		err := check()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after %v: %w", what, timeout, err)
		}
		time.Sleep(pollInterval)
	}
}

// eventually polls cond (nil = done) until timeout, then fails t with its last error.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() error) {
	t.Helper()
	if err := waitReady(timeout, what, nil, cond); err != nil {
		t.Fatal(err)
	}
}

// freePorts returns n distinct ports free on 127.0.0.1 a moment ago. Another process may
// take one before it is used; starters see errAddrInUse and retry on fresh ports.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	ports := make([]int, 0, n)
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("free port: %v", err)
		}
		defer ln.Close() // held until all n are picked, so they are distinct
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports
}

// retryAddrInUse calls start until it succeeds, fails with something other than
// errAddrInUse, or startAttempts have lost a port.
func retryAddrInUse(t *testing.T, what string, start func(attempt int) error) {
	t.Helper()
	for attempt := 1; ; attempt++ {
		err := start(attempt)
		if err == nil {
			return
		}
		if !errors.Is(err, errAddrInUse) || attempt == startAttempts {
			t.Fatalf("%s: %v", what, err)
		}
		t.Logf("%s, attempt %d: a port was taken meanwhile; retrying on fresh ports: %v", what, attempt, err)
	}
}

// ---- the backend CLI

// backendCLI runs the built binary with args and returns its stdout; failure fails t.
func backendCLI(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cliTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, backendBin, args...)
	cmd.Env = childEnv()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("backend %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String()
}

// ---- MariaDB

// mariaDB is a throwaway MariaDB on 127.0.0.1, started by scripts/mariadb.sh --foreground
// (so the process is mariadbd itself), root without a password.
type mariaDB struct {
	proc *proc
	dir  string
	port int
}

// mariaDBOptions are what the harness adds to scripts/mariadb.sh's: a throwaway database
// trades durability for speed.
var mariaDBOptions = []string{
	"--innodb-flush-log-at-trx-commit=0",
	"--innodb-buffer-pool-dump-at-shutdown=OFF",
	"--innodb-buffer-pool-load-at-startup=OFF",
	"--innodb-fast-shutdown=2",
}

// startMariaDB starts a MariaDB for t and waits until it answers a ping. extra options go
// to mariadbd last.
func startMariaDB(t *testing.T, extra ...string) *mariaDB {
	t.Helper()
	var db *mariaDB
	retryAddrInUse(t, "mariadb", func(attempt int) error {
		dir := filepath.Join(t.TempDir(), "mariadb")
		port := freePorts(t, 1)[0]
		argv := append([]string{"bash", filepath.Join(repoRoot, "scripts", "mariadb.sh"), "--foreground", dir, strconv.Itoa(port)}, mariaDBOptions...)
		p, err := startProc(t, "mariadb", childEnv(),
			[]string{filepath.Join(dir, "script.log"), filepath.Join(dir, "install.log"), filepath.Join(dir, "error.log")},
			append(argv, extra...)...)
		if err != nil {
			return err
		}
		db = &mariaDB{proc: p, dir: dir, port: port}
		sqlDB := openMySQL(t, db.addr(), "")
		defer sqlDB.Close()
		err = waitReady(readyTimeout, "mariadb", []*proc{p}, func() error {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			return sqlDB.PingContext(ctx)
		})
		if err != nil {
			_ = p.stop()
		}
		return err
	})
	return db
}

func (m *mariaDB) addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(m.port)) }

// openMySQL opens a pool to addr as root, bounded in time; t's cleanup closes it.
func openMySQL(t *testing.T, addr, dbName string) *sql.DB {
	t.Helper()
	cfg := mysql.NewConfig()
	cfg.User = "root"
	cfg.Net = "tcp"
	cfg.Addr = addr
	cfg.DBName = dbName
	cfg.Timeout = 10 * time.Second
	cfg.ReadTimeout = time.Minute
	cfg.WriteTimeout = time.Minute
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		t.Fatalf("mysql config: %v", err)
	}
	db := sql.OpenDB(conn)
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// ---- in-process target

// target is a TCP service in the test process, for tests that need no database: a
// connection whose first byte is 'S' is a sink (it reads to EOF, then answers the count as
// 8 bytes big-endian); 'G' is a source (it writes genByte(0), genByte(1), ... until the
// connection fails, counting them in generated); any other first byte starts an echo of
// everything, that byte included.
type target struct {
	ln    net.Listener
	wg    sync.WaitGroup
	mu    sync.Mutex
	conns map[net.Conn]struct{}

	generated atomic.Int64 // bytes the sources have written, all connections together
}

// genByte is byte i of a source connection: a pattern that a lost, repeated or reordered
// chunk breaks (period 251, prime, so no power-of-two chunking lines up with it).
func genByte(i int64) byte { return byte(i % 251) }

func startTarget(t *testing.T) *target {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("target listen: %v", err)
	}
	tg := &target{ln: ln, conns: map[net.Conn]struct{}{}}
	tg.wg.Add(1)
	go tg.serve()
	t.Cleanup(func() {
		_ = ln.Close()
		tg.mu.Lock()
		for c := range tg.conns {
			_ = c.Close()
		}
		tg.mu.Unlock()
		tg.wg.Wait()
	})
	return tg
}

func (tg *target) port() int    { return tg.ln.Addr().(*net.TCPAddr).Port }
func (tg *target) addr() string { return tg.ln.Addr().String() }

func (tg *target) serve() {
	defer tg.wg.Done()
	for {
		c, err := tg.ln.Accept()
		if err != nil {
			return
		}
		tg.mu.Lock()
		tg.conns[c] = struct{}{}
		tg.mu.Unlock()
		tg.wg.Add(1)
		go func() {
			defer tg.wg.Done()
			defer func() {
				tg.mu.Lock()
				delete(tg.conns, c)
				tg.mu.Unlock()
				_ = c.Close()
			}()
			tg.handle(c)
		}()
	}
}

func (tg *target) handle(c net.Conn) {
	var first [1]byte
	if _, err := io.ReadFull(c, first[:]); err != nil {
		return
	}
	if first[0] == 'G' {
		// One period more than a write, so every write is a slice of it.
		const chunk = 64 << 10
		pattern := make([]byte, chunk+251)
		for i := range pattern {
			pattern[i] = genByte(int64(i))
		}
		var off int64
		for {
			start := off % 251
			n, err := c.Write(pattern[start : start+chunk])
			off += int64(n)
			tg.generated.Add(int64(n))
			if err != nil {
				return
			}
		}
	}
	if first[0] == 'S' {
		// Large reads: io.Discard's 8 KiB buffer would make the sink the bottleneck.
		buf := make([]byte, 256<<10)
		var n int64
		for {
			k, err := c.Read(buf)
			n += int64(k)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return
			}
		}
		var b [8]byte
		binary.BigEndian.PutUint64(b[:], uint64(n))
		_, _ = c.Write(b[:])
		return
	}
	if _, err := c.Write(first[:]); err != nil {
		return
	}
	_, _ = io.Copy(c, c)
}

// ---- a deployment: CA, bundles, relay, server, client

type deployOptions struct {
	targetPort  int  // the server's resource and the client's target, on 127.0.0.1 (required)
	behindProxy bool // relay on plain HTTP behind nginx, which terminates TLS with the relay's certificate
	// nginx adjusts nginx's config before it starts (behindProxy only).
	nginx func(*nginxConfig)
	// Extra KEY=VALUE environment per role, after the harness's own.
	relayEnv, serverEnv, clientEnv []string
}

// role is one running component.
type role struct {
	name    string // relay1, server1, alice
	bundle  string // bundle directory written by backend ca issue
	audit   string // SENTINEL_AUDIT_PATH
	metrics string // SENTINEL_METRICS_LISTEN (host:port): /readyz, /status, /metrics
	log     string
	proc    *proc
}

func (r *role) config() string { return filepath.Join(r.bundle, "config.toml") }

type deployment struct {
	t     *testing.T
	dir   string
	caDir string

	relay, server, client *role

	relayPort   int    // the port clients and servers dial: the relay's TLS port, or nginx's
	relayListen string // the relay's own listener
	clientAddr  string // the client's local listener, 127.0.0.1:attrs.port
	nginx       *nginx // behindProxy only

	http *http.Client // plain HTTP to the metrics listeners
	tls  *http.Client // HTTPS trusting the deployment's CA
}

// newDeployment mints a CA and the relay1, server1 and alice bundles, starts relay (and
// nginx), server and client, and returns once the client holds a session to the server.
func newDeployment(t *testing.T, opts deployOptions) *deployment {
	t.Helper()
	if opts.targetPort == 0 {
		t.Fatal("deployOptions.targetPort is required")
	}
	base := t.TempDir()
	var d *deployment
	retryAddrInUse(t, "deployment", func(attempt int) error {
		d = &deployment{t: t, dir: filepath.Join(base, fmt.Sprintf("try%d", attempt))}
		err := d.start(opts)
		if err != nil {
			d.stopAll()
		}
		return err
	})
	return d
}

func (d *deployment) start(opts deployOptions) error {
	t := d.t
	t.Helper()
	ports := freePorts(t, 6)
	d.relayPort = ports[0]
	relayListenPort := ports[0]
	if opts.behindProxy {
		relayListenPort = ports[1]
	}
	d.relayListen = net.JoinHostPort("127.0.0.1", strconv.Itoa(relayListenPort))
	d.clientAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[2]))
	newRole := func(name string, metricsPort int) *role {
		return &role{
			name:    name,
			bundle:  filepath.Join(d.dir, name),
			audit:   filepath.Join(d.dir, name+"-audit.jsonl"),
			metrics: net.JoinHostPort("127.0.0.1", strconv.Itoa(metricsPort)),
			log:     filepath.Join(d.dir, name+".log"),
		}
	}
	d.relay, d.server, d.client = newRole("relay1", ports[3]), newRole("server1", ports[4]), newRole("alice", ports[5])

	// The CLI contract (DESIGN.md): init, then issue relay, server and client by name.
	d.caDir = filepath.Join(d.dir, "ca")
	backendCLI(t, "ca", "init", "--dir", d.caDir, "--name", "System Test Root CA")
	backendCLI(t, "ca", "issue", "relay", "--dir", d.caDir, "--name", d.relay.name,
		"--addr", "127.0.0.1", "--port", strconv.Itoa(d.relayPort), "--out", d.relay.bundle)
	backendCLI(t, "ca", "issue", "server", "--dir", d.caDir, "--name", d.server.name, "--relay", d.relay.name,
		"--resource", fmt.Sprintf("target=127.0.0.1/32:%d", opts.targetPort), "--out", d.server.bundle)
	backendCLI(t, "ca", "issue", "client", "--dir", d.caDir, "--name", d.client.name, "--server", d.server.name,
		"--relay", d.relay.name, "--target", fmt.Sprintf("127.0.0.1:%d", opts.targetPort),
		"--port", strconv.Itoa(ports[2]), "--user", "alice@example.com", "--out", d.client.bundle)

	var err error
	if d.http, d.tls, err = httpClients(d.caDir); err != nil {
		return err
	}

	relayEnv := []string{"SENTINEL_RELAY_LISTEN=" + d.relayListen}
	if opts.behindProxy {
		relayEnv = append(relayEnv, "SENTINEL_RELAY_BEHIND_PROXY=true")
	}
	if err := d.startRole(d.relay, append(relayEnv, opts.relayEnv...)); err != nil {
		return err
	}
	if opts.behindProxy {
		cfg := nginxConfig{
			Listen:   d.relayPort,
			CertFile: filepath.Join(d.relay.bundle, d.relay.name+".crt"),
			KeyFile:  filepath.Join(d.relay.bundle, d.relay.name+".key"),
			Upstream: d.relayListen,
		}
		if opts.nginx != nil {
			opts.nginx(&cfg)
		}
		if d.nginx, err = startNginx(t, filepath.Join(d.dir, "nginx"), cfg); err != nil {
			return err
		}
	}
	// The relay's public endpoint, TLS with its certificate (nginx's when behind it).
	healthz := fmt.Sprintf("https://127.0.0.1:%d/healthz", d.relayPort)
	if err := waitReady(readyTimeout, "relay "+healthz, d.procs(), func() error { return httpOK(d.tls, healthz) }); err != nil {
		return err
	}
	if err := d.startRole(d.server, opts.serverEnv); err != nil {
		return err
	}
	return d.startRole(d.client, opts.clientEnv)
}

// httpClients returns a plain HTTP client for the metrics listeners and an HTTPS one trusting
// the CA in caDir, for the relays' public endpoints.
func httpClients(caDir string) (plain, secure *http.Client, err error) {
	caPEM, err := os.ReadFile(filepath.Join(caDir, "ca.crt"))
	if err != nil {
		return nil, nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, nil, errors.New("ca.crt: no certificate")
	}
	plain = &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	secure = &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{
		DisableKeepAlives: true, TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
	}}
	return plain, secure, nil
}

// startRole runs `backend -c BUNDLE/config.toml` with the harness's overrides and waits
// until its /readyz answers 200 (relay serving, server registered, client in session).
func (d *deployment) startRole(r *role, env []string) error {
	env = append([]string{
		"SENTINEL_AUDIT_PATH=" + r.audit,
		"SENTINEL_METRICS_LISTEN=" + r.metrics,
	}, env...)
	p, err := startProc(d.t, r.name, childEnv(env...), []string{r.log, r.audit}, backendBin, "-c", r.config())
	if err != nil {
		return err
	}
	r.proc = p
	readyz := "http://" + r.metrics + "/readyz"
	return waitReady(readyTimeout, r.name+" "+readyz, d.procs(), func() error { return httpOK(d.http, readyz) })
}

// procs lists the deployment's started processes.
func (d *deployment) procs() []*proc {
	var ps []*proc
	for _, r := range []*role{d.relay, d.server, d.client} {
		if r != nil && r.proc != nil {
			ps = append(ps, r.proc)
		}
	}
	if d.nginx != nil {
		ps = append(ps, d.nginx.proc)
	}
	return ps
}

// stopAll stops client, server, nginx and relay, in that order.
func (d *deployment) stopAll() {
	for _, r := range []*role{d.client, d.server} {
		if r != nil && r.proc != nil {
			_ = r.proc.stop()
		}
	}
	if d.nginx != nil {
		_ = d.nginx.proc.stop()
	}
	if d.relay != nil && d.relay.proc != nil {
		_ = d.relay.proc.stop()
	}
}

// clientSession is the id of the client's current session, from its /status.
func (d *deployment) clientSession() (string, error) {
	var st struct {
		Session *struct {
			ID  string `json:"id"`
			Via string `json:"via"`
		} `json:"session"`
	}
	if err := getJSON(d.http, "http://"+d.client.metrics+"/status", &st); err != nil {
		return "", err
	}
	if st.Session == nil || st.Session.ID == "" {
		return "", errors.New("client has no session")
	}
	return st.Session.ID, nil
}

func httpOK(c *http.Client, url string) error {
	resp, err := c.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s: %s", url, resp.Status, strings.TrimSpace(string(body)))
	}
	return nil
}

func getJSON(c *http.Client, url string, v any) error {
	resp, err := c.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(v)
}

// ---- audit trails

// auditEvent is one JSON line of an audit file.
type auditEvent map[string]any

func (e auditEvent) str(key string) string {
	s, _ := e[key].(string)
	return s
}

func (e auditEvent) num(key string) float64 {
	f, _ := e[key].(float64)
	return f
}

// readAudit parses every complete line of an audit file (a missing file has none).
func readAudit(path string) ([]auditEvent, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var evs []auditEvent
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var e auditEvent
		if err := json.Unmarshal(line, &e); err != nil {
			// The last line may be half written; anything else is a broken trail.
			if !bytes.HasSuffix(data, []byte("\n")) && bytes.HasSuffix(data, line) {
				break
			}
			return nil, fmt.Errorf("%s: bad line %q: %w", path, line, err)
		}
		evs = append(evs, e)
	}
	return evs, sc.Err()
}

// findEvents returns the events named event whose session is id ("" = any session).
func findEvents(evs []auditEvent, event, session string) []auditEvent {
	var out []auditEvent
	for _, e := range evs {
		if e.str("event") == event && (session == "" || e.str("session") == session) {
			out = append(out, e)
		}
	}
	return out
}
