package doctor_test

import (
	"context"
	"crypto/x509"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/sentinel-zt/sentinel/internal/testnet"
	"github.com/sentinel-zt/sentinel/internal/testpki"
	"github.com/sentinel-zt/sentinel/pkg/certattrs"
	"github.com/sentinel-zt/sentinel/pkg/doctor"
	"github.com/sentinel-zt/sentinel/pkg/identity"
	"github.com/sentinel-zt/sentinel/pkg/relay"
	"github.com/sentinel-zt/sentinel/pkg/revoke"
	"github.com/sentinel-zt/sentinel/pkg/server"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// deployment is an in-process relay and server (registered with the relay) in front of an
// echo target, each on its own 127.0.0.1 listener, the shape of test/e2e's env. Doctor runs
// play the client, the server or the relay against it.
type deployment struct {
	t  *testing.T
	ca *testpki.CA

	relayLn    net.Listener
	relayAttrs *certattrs.Relay
	relayLeaf  *testpki.Leaf
	relay      *relay.Relay
	ref        certattrs.RelayRef // how certificates name the relay

	serverAttrs *certattrs.Server
	serverLeaf  *testpki.Leaf

	crlPath       string
	crl           *revoke.List // the relay's
	serverCRLPath string
	serverCRL     *revoke.List // the server's

	echoPort int
}

type deployOptions struct {
	behindProxy bool // plain HTTP relay, named ws://127.0.0.1 in certificates
	noServer    bool // no server runs (it still has a certificate)
}

func newDeployment(t *testing.T, opts deployOptions) *deployment {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	d := &deployment{t: t, ca: testpki.NewCA(t, "doctor root")}
	var wg sync.WaitGroup
	serve := func(f func() error) {
		wg.Go(func() {
			if err := f(); err != nil {
				t.Errorf("serve: %v", err)
			}
		})
	}

	echo := testnet.Listen(t)
	d.echoPort = echo.Addr().(*net.TCPAddr).Port
	wg.Go(func() { testnet.ServeEcho(echo, nil) })

	d.relayLn = testnet.Listen(t)
	relayPort := d.relayLn.Addr().(*net.TCPAddr).Port
	addr := "127.0.0.1"
	if opts.behindProxy {
		addr = "ws://127.0.0.1"
	}
	d.relayAttrs = &certattrs.Relay{UUID: uuid.NewString(), Name: "relay1", Address: addr, Port: relayPort}
	d.relayLeaf = d.ca.Issue(t, certattrs.Attrs{Relay: d.relayAttrs}, testpki.Opts{IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}})
	d.ref = certattrs.RelayRef{UUID: d.relayAttrs.UUID, Name: "relay1", Addr: addr, Port: relayPort, Sort: 1}

	// Every port on 127.0.0.1 is a resource, so a closed port gives dial_failed and any other
	// address not_allowed.
	res, err := certattrs.ParseResource("127.0.0.1/32:1-65535")
	if err != nil {
		t.Fatal(err)
	}
	res.UUID, res.Name = uuid.NewString(), "loopback"
	d.serverAttrs = &certattrs.Server{UUID: uuid.NewString(), Name: "server1", Resources: []certattrs.Resource{res}, Relays: []certattrs.RelayRef{d.ref}}
	d.serverLeaf = d.ca.Issue(t, certattrs.Attrs{Server: d.serverAttrs}, testpki.Opts{})

	dir := t.TempDir()
	d.crlPath, d.serverCRLPath = filepath.Join(dir, "relay.crl"), filepath.Join(dir, "server.crl")
	d.writeCRL(d.crlPath, 1)
	d.writeCRL(d.serverCRLPath, 1)
	issuer := func() *x509.Certificate { return d.ca.Cert }
	if d.crl, err = revoke.New(d.crlPath, issuer, revoke.Options{}); err != nil {
		t.Fatal(err)
	}
	if d.serverCRL, err = revoke.New(d.serverCRLPath, issuer, revoke.Options{}); err != nil {
		t.Fatal(err)
	}

	log := zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))
	d.relay, err = relay.New(relay.Config{Identity: d.store(d.relayLeaf), Revoked: d.crl, Log: log, BehindProxy: opts.behindProxy})
	if err != nil {
		t.Fatal(err)
	}
	serve(func() error { return d.relay.Serve(ctx, d.relayLn) })
	var srv *server.Server
	if !opts.noServer {
		srv, err = server.New(server.Config{Identity: d.store(d.serverLeaf), Revoked: d.serverCRL, Log: log})
		if err != nil {
			t.Fatal(err)
		}
		serve(func() error { return srv.Serve(ctx, nil) })
	}
	t.Cleanup(func() {
		cancel()
		if srv != nil {
			_ = srv.Close()
		}
		_ = d.relay.Close()
		_ = echo.Close()
		wg.Wait()
	})
	if !opts.noServer {
		d.waitRegistered()
	}
	return d
}

func (d *deployment) store(l *testpki.Leaf) *identity.Store {
	d.t.Helper()
	id, err := identity.Parse(l.CertPEM, l.KeyPEM, d.ca.PEM)
	if err != nil {
		d.t.Fatalf("identity: %v", err)
	}
	return identity.NewStore(id)
}

// waitRegistered polls until the server's control channel is up at the relay.
func (d *deployment) waitRegistered() {
	d.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if len(d.relay.Status().Servers) > 0 {
			return
		}
		time.Sleep(10 * time.Millisecond) // polling interval, not a readiness guess
	}
	d.t.Fatal("server never registered with the relay")
}

func (d *deployment) writeCRL(path string, number int64, revoked ...*x509.Certificate) {
	d.t.Helper()
	if err := os.WriteFile(path, d.ca.CRL(d.t, number, revoked...), 0o600); err != nil {
		d.t.Fatal(err)
	}
}

// revoke makes the relay's revocation list hold exactly certs.
func (d *deployment) revoke(number int64, certs ...*x509.Certificate) {
	d.t.Helper()
	d.writeCRL(d.crlPath, number, certs...)
	if err := d.crl.Reload(); err != nil {
		d.t.Fatal(err)
	}
}

// revokeAtServer makes the server's revocation list hold exactly certs.
func (d *deployment) revokeAtServer(number int64, certs ...*x509.Certificate) {
	d.t.Helper()
	d.writeCRL(d.serverCRLPath, number, certs...)
	if err := d.serverCRL.Reload(); err != nil {
		d.t.Fatal(err)
	}
}

// client issues a client certificate for server1 via relay1 and the echo target; edit
// changes its attributes first.
func (d *deployment) client(edit func(*certattrs.Client), opts testpki.Opts) *testpki.Leaf {
	d.t.Helper()
	c := &certattrs.Client{
		UUID: uuid.NewString(), Name: "alice", Port: 48080,
		Relays: []certattrs.RelayRef{d.ref},
		Server: certattrs.ServerRef{UUID: d.serverAttrs.UUID, Name: "server1"},
		Target: certattrs.Target{Host: "127.0.0.1", Port: d.echoPort},
	}
	if edit != nil {
		edit(c)
	}
	return d.ca.Issue(d.t, certattrs.Attrs{Client: c}, opts)
}

// writeConfig writes cert, key and ca as files next to a config.toml naming them, plus extra
// TOML, and returns the config's path.
func writeConfig(t *testing.T, certPEM, keyPEM, caPEM []byte, extra string) string {
	t.Helper()
	dir := t.TempDir()
	for name, data := range map[string][]byte{"node.crt": certPEM, "node.key": keyPEM, "ca.crt": caPEM} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cfg := "cert = \"node.crt\"\nkey = \"node.key\"\nca = \"ca.crt\"\n" + extra
	path := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func noEnv(string) (string, bool) { return "", false }

// run runs the doctor with test options (no environment) and logs the report.
func run(t *testing.T, path string, opts doctor.Options) doctor.Report {
	t.Helper()
	opts.LookupEnv = noEnv
	rep := doctor.Run(context.Background(), path, opts)
	t.Logf("report:\n%s", format(rep))
	return rep
}

func format(rep doctor.Report) string {
	var b strings.Builder
	for _, c := range rep.Checks {
		b.WriteString(string(c.Status) + " " + c.Name)
		if c.Detail != "" {
			b.WriteString(": " + c.Detail)
		}
		b.WriteString("\n")
		if c.Fix != "" {
			b.WriteString("    fix: " + c.Fix + "\n")
		}
	}
	return b.String()
}

// find returns the first check whose name contains name.
func find(t *testing.T, rep doctor.Report, name string) doctor.Check {
	t.Helper()
	for _, c := range rep.Checks {
		if strings.Contains(c.Name, name) {
			return c
		}
	}
	t.Fatalf("no check named like %q", name)
	return doctor.Check{}
}

// expect asserts that the check named like name has status st and that its detail and fix
// contain the given substrings.
func expect(t *testing.T, rep doctor.Report, name string, st doctor.Status, detail, fix string) {
	t.Helper()
	c := find(t, rep, name)
	if c.Status != st {
		t.Errorf("%s: status %s, want %s (detail %q)", c.Name, c.Status, st, c.Detail)
	}
	if !strings.Contains(c.Detail, detail) {
		t.Errorf("%s: detail %q does not contain %q", c.Name, c.Detail, detail)
	}
	if !strings.Contains(c.Fix, fix) {
		t.Errorf("%s: fix %q does not contain %q", c.Name, c.Fix, fix)
	}
	if (st == doctor.StatusFail) && c.Fix == "" {
		t.Errorf("%s: failed without a fix", c.Name)
	}
}

// allPass asserts that every check passed.
func allPass(t *testing.T, rep doctor.Report) {
	t.Helper()
	if !rep.OK() {
		t.Error("report is not OK")
	}
	for _, c := range rep.Checks {
		if c.Status != doctor.StatusPass {
			t.Errorf("%s: %s: %s", c.Name, c.Status, c.Detail)
		}
	}
}

// closedPort returns a port nothing listens on (one that was just released).
func closedPort(t *testing.T) int {
	t.Helper()
	ln := testnet.Listen(t)
	port := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close()
	return port
}

// blackhole accepts connections and never answers, until the test ends.
func blackhole(t *testing.T) int {
	t.Helper()
	ln := testnet.Listen(t)
	var (
		mu    sync.Mutex
		conns []net.Conn
		wg    sync.WaitGroup
	)
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	})
	t.Cleanup(func() {
		_ = ln.Close()
		wg.Wait()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return ln.Addr().(*net.TCPAddr).Port
}

func port(p int) string { return strconv.Itoa(p) }
