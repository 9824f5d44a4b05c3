//go:build linux

package system

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sentinel-zt/sentinel/pkg/ca"
)

// TestEnrollBinaryMySQL is issue 8's "done when" with the built binary: the online CA runs
// beside an offline-issued relay and server (backend ca serve), the admin makes a token
// (backend ca token), a fresh device directory enrolls (backend enroll) and runs
// (backend -c config.toml), and a MySQL session goes through it. The device's key is made in
// its directory and appears nowhere else. Its 12-second certificate renews under the live
// MySQL connection, which keeps working past the original expiry.
func TestEnrollBinaryMySQL(t *testing.T) {
	requireSystem(t)
	db := startMariaDB(t)
	d := newDeployment(t, deployOptions{targetPort: db.port})
	ports := freePorts(t, 3)
	caAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[0]))
	caLog := filepath.Join(d.dir, "ca.log")
	caProc, err := startProc(t, "ca", childEnv(), []string{caLog}, backendBin,
		"ca", "serve", "--dir", d.caDir, "--listen", caAddr, "--backdate", "1s")
	if err != nil {
		t.Fatal(err)
	}
	if err := waitReady(readyTimeout, "ca serve", []*proc{caProc}, func() error {
		return httpOK(d.tls, "https://"+caAddr+"/health")
	}); err != nil {
		t.Fatal(err)
	}
	// The CRL is served too, over plain HTTP.
	if err := httpOK(d.http, "http://"+caAddr+"/crl"); err != nil {
		t.Fatal(err)
	}

	token := strings.TrimSpace(backendCLI(t, "ca", "token", "client", "--dir", d.caDir, "--name", "bob",
		"--server", d.server.name, "--relay", d.relay.name, "--target", fmt.Sprintf("127.0.0.1:%d", db.port),
		"--port", strconv.Itoa(ports[1]), "--cert-ttl", "12s"))
	device := filepath.Join(t.TempDir(), "device")
	backendCLI(t, "enroll", "--ca", "https://"+caAddr, "--token", token, "--out", device)
	if fi, err := os.Stat(filepath.Join(device, "bob.key")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("device key: %v %v", fi, err)
	}
	if m, _ := filepath.Glob(filepath.Join(d.caDir, "bob*")); len(m) != 0 {
		t.Fatalf("the CA directory holds %v", m)
	}
	// A second enrollment with the same token is refused.
	if out, err := runBackend("enroll", "--ca", "https://"+caAddr, "--token", token, "--out", filepath.Join(t.TempDir(), "again")); err == nil ||
		!strings.Contains(out, "token_used") {
		t.Fatalf("token reuse: %v\n%s", err, out)
	}

	bob := &role{name: "bob", bundle: device, audit: filepath.Join(d.dir, "bob-audit.jsonl"),
		metrics: net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[2])), log: filepath.Join(d.dir, "bob.log")}
	if err := d.startRole(bob, nil); err != nil {
		t.Fatal(err)
	}
	clientAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[1]))
	exerciseMySQL(t, clientAddr, db.port)

	orig, err := ca.ReadCertificates(filepath.Join(device, "bob.crt"))
	if err != nil {
		t.Fatal(err)
	}
	conn, err := openMySQL(t, clientAddr, "").Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	first := connectionID(context.Background(), t, conn)
	for time.Now().Before(orig[0].NotAfter.Add(3 * time.Second)) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		id, err := queryID(ctx, conn)
		cancel()
		if err != nil || id != first {
			t.Fatalf("live MySQL connection: id %d (was %d): %v", id, first, err)
		}
		time.Sleep(500 * time.Millisecond) // the pace of the conversation
	}
	now, err := ca.ReadCertificates(filepath.Join(device, "bob.crt"))
	if err != nil || !now[0].NotAfter.After(orig[0].NotAfter) {
		t.Fatalf("certificate file not renewed: %v", err)
	}
	if !strings.Contains(bob.proc.logText(), "certificate renewed") {
		t.Error("bob's log does not mention a renewal")
	}
}

// runBackend runs the binary and returns its combined output and error.
func runBackend(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), cliTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, backendBin, args...)
	cmd.Env = childEnv()
	out, err := cmd.CombinedOutput()
	return string(out), err
}
