//go:build linux

package system

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"text/template"
	"time"
)

// nginxConfig fills testdata/nginx.conf.tmpl: nginx on 127.0.0.1:Listen terminating TLS with
// CertFile/KeyFile and proxying WebSocket upgrades to Upstream, with X-Forwarded-For.
type nginxConfig struct {
	Listen   int    // TLS port on 127.0.0.1
	CertFile string // PEM certificate nginx serves (the relay's own, from its bundle)
	KeyFile  string // its key
	Upstream string // host:port of the relay's plain HTTP listener

	// ProxyReadTimeout and ProxySendTimeout are how long nginx lets a proxied connection be
	// silent in each direction (proxy_read_timeout, proxy_send_timeout); 0 = 1h. Sentinel
	// pings every 20 s, so a lower value is a fault test's knob.
	ProxyReadTimeout, ProxySendTimeout time.Duration
	// WorkerShutdownTimeout bounds how long a worker retired by a reload keeps its open
	// WebSockets (worker_shutdown_timeout); 0 = unset: until they close.
	WorkerShutdownTimeout time.Duration

	// Set by startNginx and Reload.
	Prefix    string   // directory of nginx.conf, pid, logs/ and tmp/
	User      string   // "root" when run as root, so workers may use Prefix
	TempPaths []string // fastcgi, uwsgi, scgi: those compiled in, whose default paths need root
}

// nginx is a running nginx master (its workers are in its process group).
type nginx struct {
	t         *testing.T
	proc      *proc
	cfg       nginxConfig
	conf      string // nginx.conf
	errorLog  string
	accessLog string
}

var nginxTemplate = sync.OnceValues(func() (*template.Template, error) {
	return template.New("nginx.conf.tmpl").Funcs(template.FuncMap{
		"ms": func(d time.Duration) string { return fmt.Sprintf("%dms", d.Milliseconds()) },
	}).ParseFiles(filepath.Join("testdata", "nginx.conf.tmpl"))
})

// nginxTempPaths lists the *_temp_path modules compiled into nginx ("nginx -V").
var nginxTempPaths = sync.OnceValues(func() ([]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), cliTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, toolPath["nginx"], "-V").CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("nginx -V: %v: %s", err, out)
	}
	var paths []string
	for _, m := range []string{"fastcgi", "uwsgi", "scgi"} {
		if !bytes.Contains(out, []byte("--without-http_"+m+"_module")) {
			paths = append(paths, m)
		}
	}
	return paths, nil
})

// startNginx writes cfg into prefix and runs nginx in the foreground (daemon off), and
// returns once its worker runs. A port taken meanwhile is errAddrInUse, for the caller to
// retry on fresh ports. A cleanup stops it.
func startNginx(t *testing.T, prefix string, cfg nginxConfig) (*nginx, error) {
	t.Helper()
	for _, dir := range []string{"logs", "tmp"} {
		if err := os.MkdirAll(filepath.Join(prefix, dir), 0o755); err != nil {
			return nil, err
		}
	}
	n := &nginx{
		t:         t,
		conf:      filepath.Join(prefix, "nginx.conf"),
		errorLog:  filepath.Join(prefix, "logs", "error.log"),
		accessLog: filepath.Join(prefix, "logs", "access.log"),
	}
	if err := n.write(prefix, cfg); err != nil {
		return nil, err
	}
	p, err := startProc(t, "nginx", childEnv(), []string{filepath.Join(prefix, "logs", "stderr.log"), n.errorLog, n.accessLog},
		toolPath["nginx"], "-p", prefix+"/", "-c", n.conf, "-e", n.errorLog)
	if err != nil {
		return nil, err
	}
	n.proc = p
	if err := p.guardGroup(); err != nil {
		_ = p.stop()
		return nil, err
	}
	err = waitReady(readyTimeout, "nginx", []*proc{p}, func() error {
		if n.workersStarted() == 0 {
			return fmt.Errorf("no worker started yet (%s)", n.errorLog)
		}
		return nil
	})
	if err != nil {
		_ = p.stop()
		return nil, err
	}
	return n, nil
}

// write renders cfg into n.conf and checks it with nginx -t.
func (n *nginx) write(prefix string, cfg nginxConfig) error {
	tmpl, err := nginxTemplate()
	if err != nil {
		return err
	}
	if cfg.TempPaths, err = nginxTempPaths(); err != nil {
		return err
	}
	cfg.Prefix = strings.TrimSuffix(prefix, "/")
	if os.Geteuid() == 0 {
		cfg.User = "root"
	}
	if cfg.ProxyReadTimeout == 0 {
		cfg.ProxyReadTimeout = time.Hour
	}
	if cfg.ProxySendTimeout == 0 {
		cfg.ProxySendTimeout = time.Hour
	}
	var b bytes.Buffer
	if err := tmpl.Execute(&b, cfg); err != nil {
		return err
	}
	if err := os.WriteFile(n.conf, b.Bytes(), 0o644); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), cliTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, toolPath["nginx"], "-t", "-q", "-p", prefix+"/", "-c", n.conf, "-e", filepath.Join(prefix, "logs", "check.log")).CombinedOutput()
	if err != nil {
		return fmt.Errorf("nginx -t %s: %v: %s", n.conf, err, out)
	}
	n.cfg = cfg
	return nil
}

// workersStarted counts the "start worker process" notices in the error log: one per worker
// of the first start and of every reload.
func (n *nginx) workersStarted() int {
	data, _ := os.ReadFile(n.errorLog)
	return bytes.Count(data, []byte("start worker process "))
}

// Reload applies change to the config, checks it, sends SIGHUP and waits until the new
// worker runs. Workers of the old config keep their open connections until they close or
// WorkerShutdownTimeout passes.
func (n *nginx) Reload(change func(*nginxConfig)) {
	n.t.Helper()
	cfg := n.cfg
	change(&cfg)
	if err := n.write(cfg.Prefix, cfg); err != nil {
		n.t.Fatalf("nginx reload: %v", err)
	}
	before := n.workersStarted()
	if err := n.proc.signal(syscall.SIGHUP); err != nil {
		n.t.Fatalf("nginx reload: %v", err)
	}
	err := waitReady(readyTimeout, "nginx reload", []*proc{n.proc}, func() error {
		if n.workersStarted() <= before {
			return fmt.Errorf("no new worker yet (%s)", n.errorLog)
		}
		return nil
	})
	if err != nil {
		n.t.Fatal(err)
	}
}
