package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sentinel-zt/sentinel/pkg/ca"
	"github.com/sentinel-zt/sentinel/pkg/certattrs"
)

// The CLI tests run the real main() in a child process (this test binary re-executed), so
// they see what a user sees: the exit status and main's "backend: <err>" line on stderr.
const helperEnv = "SENTINEL_BACKEND_TEST_MAIN"

// TestBackendMainProcess is not a test: it is main() when the test binary is re-executed by
// runBackend.
func TestBackendMainProcess(t *testing.T) {
	if os.Getenv(helperEnv) != "1" {
		t.Skip("helper process for the CLI tests")
	}
	args := os.Args
	for i, a := range args {
		if a == "--" {
			args = args[i+1:]
			break
		}
	}
	os.Args = append([]string{"backend"}, args...)
	main()
	os.Exit(0)
}

type result struct {
	stdout, stderr string
	code           int
}

// runBackend runs `backend args...` in dir and returns its output and exit status.
func runBackend(t *testing.T, dir string, args ...string) result {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"-test.run=^TestBackendMainProcess$", "--"}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), helperEnv+"=1")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := result{stdout: stdout.String(), stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		res.code = ee.ExitCode()
	case err != nil:
		t.Fatalf("run backend %v: %v", args, err)
	}
	return res
}

// ok runs backend and fails the test unless it exits 0 without an error line.
func ok(t *testing.T, dir string, args ...string) result {
	t.Helper()
	r := runBackend(t, dir, args...)
	if r.code != 0 {
		t.Fatalf("backend %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	for _, l := range lines(r.stderr) {
		if !strings.HasPrefix(l, "backend: warning: ") {
			t.Errorf("backend %s: unexpected stderr line %q", strings.Join(args, " "), l)
		}
	}
	return r
}

// fails runs backend and checks it exits 1 with exactly one stderr line, "backend: " +
// something containing want.
func fails(t *testing.T, dir, want string, args ...string) {
	t.Helper()
	r := runBackend(t, dir, args...)
	if r.code != 1 {
		t.Errorf("backend %s: exit %d, want 1\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
		return
	}
	ls := lines(r.stderr)
	if len(ls) != 1 || !strings.HasPrefix(ls[0], "backend: ") {
		t.Errorf("backend %s: stderr %q, want one \"backend: ...\" line", strings.Join(args, " "), r.stderr)
		return
	}
	if !strings.Contains(ls[0], want) {
		t.Errorf("backend %s:\n got %q\nwant it to contain %q", strings.Join(args, " "), ls[0], want)
	}
}

func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		if l != "" {
			out = append(out, l)
		}
	}
	return out
}

// flow is a CA with two relays, a server and a client, issued through the CLI.
type flow struct {
	dir string // working directory: CA/ and bundles/ under it
}

func (f flow) bundle(name string) string { return filepath.Join(f.dir, "bundles", name) }

func newFlow(t *testing.T) flow {
	t.Helper()
	f := flow{dir: t.TempDir()}
	ok(t, f.dir, "ca", "init", "--dir", "CA", "--name", "Acme Root CA")
	ok(t, f.dir, "ca", "issue", "relay", "--dir", "CA", "--name", "relay1", "--addr", "127.0.0.1", "--port", "8443", "--out", "bundles/relay1")
	ok(t, f.dir, "ca", "issue", "relay", "--dir", "CA", "--name", "relay2", "--addr", "wss://relay.example.com/sentinel", "--port", "8080", "--out", "bundles/relay2")
	ok(t, f.dir, "ca", "issue", "server", "--dir", "CA", "--name", "server1", "--relay", "relay1", "--relay", "relay2",
		"--resource", "10.0.0.0/24:3306", "--resource", "web=192.168.2.80/24:8000-8100",
		"--host", "db.example.com", "--port", "9443", "--out-port", "443", "--out", "bundles/server1")
	ok(t, f.dir, "ca", "issue", "client", "--dir", "CA", "--name", "alice", "--server", "server1", "--target", "10.0.0.5:3306",
		"--port", "13306", "--relay", "relay2", "--relay", "relay1", "--user", "alice@example.com", "--group", "dba", "--group", "ops",
		"--schedule", "mon-fri 08:00-18:00 Europe/Paris", "--key-type", "ed25519", "--out", "bundles/alice")
	return f
}

func TestCAFlow(t *testing.T) {
	t.Parallel()
	f := newFlow(t)

	// Bundles: four files each, key 0600, dir 0700.
	for _, name := range []string{"relay1", "relay2", "server1", "alice"} {
		dir := f.bundle(name)
		for file, mode := range map[string]os.FileMode{".": 0o700, name + ".key": 0o600, name + ".crt": 0o644, "ca.crt": 0o644, "config.toml": 0o644} {
			fi, err := os.Stat(filepath.Join(dir, file))
			if err != nil {
				t.Errorf("bundle %s: %v", name, err)
				continue
			}
			if fi.Mode().Perm() != mode {
				t.Errorf("bundle %s: %s mode %o, want %o", name, file, fi.Mode().Perm(), mode)
			}
		}
	}

	// inspect shows exactly the allow-lists given.
	r := ok(t, f.dir, "ca", "inspect", "bundles/server1/server1.crt")
	for _, want := range []string{
		"role:          server",
		"name:          server1",
		"direct:        host db.example.com, port 9443, out_port 443",
		"resources:     res1 10.0.0.0/24:3306 (uuid ",
		"               web 192.168.2.0/24:8000-8100 (uuid ",
		"relays:        1. relay1 127.0.0.1 port 8443 (uuid ",
		"               2. relay2 wss://relay.example.com/sentinel port 8080 (uuid ",
		"ext key usage: serverAuth, clientAuth",
		"issuer:        CN=Acme Root CA",
	} {
		if !strings.Contains(r.stdout, want+"") {
			t.Errorf("inspect server1 lacks %q:\n%s", want, r.stdout)
		}
	}
	r = ok(t, f.dir, "ca", "inspect", "bundles/alice/alice.crt")
	for _, want := range []string{
		"role:          client",
		"port:          13306 (local listener)",
		"server:        server1 (uuid ",
		", direct db.example.com out_port 443",
		"target:        10.0.0.5:3306",
		"relays:        1. relay2 wss://relay.example.com/sentinel port 8080",
		"               2. relay1 127.0.0.1 port 8443",
		"user:          alice@example.com",
		"groups:        dba\n               ops\n",
		"schedule:      mon-fri 08:00-18:00 Europe/Paris",
		"key:           Ed25519",
		"ext key usage: clientAuth",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("inspect alice lacks %q:\n%s", want, r.stdout)
		}
	}

	// inspect --json: the attributes exactly as given.
	var info struct {
		Serial   string          `json:"serial"`
		Role     string          `json:"role"`
		DNSNames []string        `json:"dns_names"`
		Attrs    json.RawMessage `json:"attrs"`
	}
	r = ok(t, f.dir, "ca", "inspect", "--json", "bundles/alice/alice.crt")
	if err := json.Unmarshal([]byte(r.stdout), &info); err != nil {
		t.Fatalf("inspect --json: %v\n%s", err, r.stdout)
	}
	a, err := certattrs.UnmarshalJSON([]byte(`{"attrs":` + string(info.Attrs) + `}`))
	if err != nil {
		t.Fatalf("inspect --json attrs: %v", err)
	}
	cl := a.Client
	if info.Role != "client" || cl == nil {
		t.Fatalf("inspect --json: role %q attrs %s", info.Role, info.Attrs)
	}
	var relays []string
	for _, r := range cl.Relays {
		relays = append(relays, r.Name)
	}
	if cl.Target != (certattrs.Target{Host: "10.0.0.5", Port: 3306}) || cl.Port != 13306 || cl.Server.Name != "server1" ||
		!slices.Equal(relays, []string{"relay2", "relay1"}) || !slices.Equal(cl.Groups, []string{"dba", "ops"}) ||
		cl.User != "alice@example.com" || ca.FormatSchedule(cl.Schedule) != "mon-fri 08:00-18:00 Europe/Paris" {
		t.Errorf("client attrs = %s", info.Attrs)
	}
	if !slices.Equal(info.DNSNames, []string{certattrs.IdentityDNS(certattrs.RoleClient, cl.UUID)}) {
		t.Errorf("client SANs = %v", info.DNSNames)
	}

	// list, as a table and as JSON.
	r = ok(t, f.dir, "ca", "list", "--dir", "CA")
	tbl := lines(r.stdout)
	if len(tbl) != 5 || !strings.HasPrefix(tbl[0], "ROLE") || !strings.Contains(tbl[0], "UUID") || !strings.Contains(tbl[0], "REVOKED") {
		t.Errorf("list:\n%s", r.stdout)
	}
	var recs []ca.Record
	r = ok(t, f.dir, "ca", "list", "--dir", "CA", "--json")
	if err := json.Unmarshal([]byte(r.stdout), &recs); err != nil || len(recs) != 4 {
		t.Fatalf("list --json: %v\n%s", err, r.stdout)
	}
	if recs[3].Name != "alice" || recs[3].Serial != info.Serial || recs[3].UUID != cl.UUID || recs[3].RevokedAt != nil {
		t.Errorf("list --json alice = %+v", recs[3])
	}

	// Re-issue keeps the uuid, adds a serial; --force overwrites the bundle.
	fails(t, f.dir, "alice.key already exists", "ca", "issue", "client", "--dir", "CA", "--name", "alice", "--server", "server1",
		"--target", "10.0.0.5:3306", "--out", "bundles/alice")
	r = ok(t, f.dir, "ca", "issue", "client", "--dir", "CA", "--name", "alice", "--server", "server1",
		"--target", "10.0.0.6:3306", "--force", "--out", "bundles/alice")
	if !strings.Contains(r.stdout, "re-issued (uuid kept) client \"alice\": uuid "+cl.UUID) {
		t.Errorf("re-issue output: %s", r.stdout)
	}
	if r := ok(t, f.dir, "ca", "inspect", "bundles/alice/alice.crt"); !strings.Contains(r.stdout, "target:        10.0.0.6:3306") {
		t.Errorf("forced bundle not rewritten:\n%s", r.stdout)
	}

	// Revoke by name (both alice certificates), then the CRL lists them.
	r = ok(t, f.dir, "ca", "revoke", "--dir", "CA", "alice", "--reason", "key-compromise")
	if n := strings.Count(r.stdout, "revoked client \"alice\""); n != 2 {
		t.Errorf("revoke alice: %s", r.stdout)
	}
	fails(t, f.dir, `every certificate named "alice" is already revoked`, "ca", "revoke", "--dir", "CA", "alice")
	fails(t, f.dir, "already revoked", "ca", "revoke", "--dir", "CA", info.Serial)
	r = ok(t, f.dir, "ca", "revoke", "--dir", "CA", recs[0].Serial) // relay1 by serial
	if !strings.Contains(r.stdout, "revoked relay \"relay1\" serial "+recs[0].Serial) {
		t.Errorf("revoke by serial: %s", r.stdout)
	}
	r = ok(t, f.dir, "ca", "crl", "--dir", "CA", "--out", "ca.crl")
	if !strings.Contains(r.stdout, "CRL number 1, 3 revoked") {
		t.Errorf("crl: %s", r.stdout)
	}
	r = ok(t, f.dir, "ca", "crl", "--dir", "CA", "--out", "ca.crl", "--next-update", "24h")
	if !strings.Contains(r.stdout, "CRL number 2, 3 revoked") {
		t.Errorf("second crl: %s", r.stdout)
	}
	r = ok(t, f.dir, "ca", "list", "--dir", "CA")
	if n := strings.Count(r.stdout, "key-compromise"); n != 2 {
		t.Errorf("list after revoke:\n%s", r.stdout)
	}

	// openssl agrees with the CRL, when it is installed.
	if _, err := exec.LookPath("openssl"); err == nil {
		out, err := exec.Command("openssl", "crl", "-in", filepath.Join(f.dir, "ca.crl"), "-CAfile", filepath.Join(f.dir, "CA", "ca.crt"), "-noout", "-text").CombinedOutput()
		if err != nil || !strings.Contains(string(out), "Key Compromise") || !strings.Contains(string(out), "CRL Number") {
			t.Errorf("openssl crl: %v\n%s", err, out)
		}
	}
}

// TestCAOpenSSLVerify checks every bundle's certificate with `openssl verify -CAfile ca.crt`.
func TestCAOpenSSLVerify(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl not on PATH")
	}
	f := newFlow(t)
	for name, purposes := range map[string][]string{
		"relay1": {"sslserver"}, "relay2": {"sslserver"}, "server1": {"sslserver", "sslclient"}, "alice": {"sslclient"},
	} {
		dir := f.bundle(name)
		out, err := exec.Command("openssl", "verify", "-CAfile", filepath.Join(dir, "ca.crt"), filepath.Join(dir, name+".crt")).CombinedOutput()
		if err != nil || !strings.Contains(string(out), ": OK") {
			t.Errorf("openssl verify %s: %v\n%s", name, err, out)
		}
		for _, p := range purposes {
			out, err := exec.Command("openssl", "verify", "-purpose", p, "-CAfile", filepath.Join(dir, "ca.crt"), filepath.Join(dir, name+".crt")).CombinedOutput()
			if err != nil || !strings.Contains(string(out), ": OK") {
				t.Errorf("openssl verify -purpose %s %s: %v\n%s", p, name, err, out)
			}
		}
	}
	// And the relay must not pass as a client.
	dir := f.bundle("relay1")
	if out, err := exec.Command("openssl", "verify", "-purpose", "sslclient", "-CAfile", filepath.Join(dir, "ca.crt"), filepath.Join(dir, "relay1.crt")).CombinedOutput(); err == nil && !strings.Contains(string(out), "error") {
		t.Errorf("relay certificate verifies as a TLS client:\n%s", out)
	}
}

func TestCAErrors(t *testing.T) {
	t.Parallel()
	f := newFlow(t)
	client := func(extra ...string) []string {
		return append([]string{"ca", "issue", "client", "--dir", "CA", "--name", "bob", "--out", "bundles/bob"}, extra...)
	}
	server := func(extra ...string) []string {
		return append([]string{"ca", "issue", "server", "--dir", "CA", "--name", "server2", "--out", "bundles/server2"}, extra...)
	}
	relay := func(extra ...string) []string {
		return append([]string{"ca", "issue", "relay", "--dir", "CA", "--name", "relay3", "--out", "bundles/relay3"}, extra...)
	}
	missing := filepath.Join(f.dir, "nowhere")
	for name, tc := range map[string]struct {
		args []string
		want string
	}{
		"missing-ca-dir/issue":  {[]string{"ca", "issue", "relay", "--dir", missing, "--name", "r", "--addr", "x", "--out", "o"}, "ca dir " + missing + ": not initialised, run backend ca init --dir " + missing},
		"missing-ca-dir/list":   {[]string{"ca", "list", "--dir", missing}, "ca dir " + missing + ": not initialised, run backend ca init --dir " + missing},
		"missing-ca-dir/revoke": {[]string{"ca", "revoke", "--dir", missing, "x"}, "not initialised, run backend ca init --dir"},
		"missing-ca-dir/crl":    {[]string{"ca", "crl", "--dir", missing, "--out", "x.crl"}, "not initialised, run backend ca init --dir"},
		"init-twice":            {[]string{"ca", "init", "--dir", "CA"}, "ca dir CA: already exists (ca.crt found), refusing to overwrite"},
		"missing-dir-flag":      {[]string{"ca", "list"}, `required flag(s) "dir" not set`},

		"unknown-server":        {client("--server", "nope", "--target", "10.0.0.5:3306"), `unknown server "nope" (known: server1)`},
		"unknown-relay/client":  {client("--server", "server1", "--target", "10.0.0.5:3306", "--relay", "relay9"), `unknown relay "relay9" (known: relay1, relay2)`},
		"unknown-relay/server":  {server("--resource", "10.0.0.0/24:22", "--relay", "relay9"), `unknown relay "relay9"`},
		"duplicate-relay":       {server("--resource", "10.0.0.0/24:22", "--relay", "relay1", "--relay", "relay1"), `--relay: duplicate relay "relay1"`},
		"target-outside/ip":     {client("--server", "server1", "--target", "10.0.9.5:3306"), `target 10.0.9.5:3306 outside every resource of server "server1" (resources: res1 10.0.0.0/24:3306, web 192.168.2.0/24:8000-8100); pass --force to issue anyway`},
		"target-outside/port":   {client("--server", "server1", "--target", "10.0.0.5:3307"), "outside every resource"},
		"bad/target":            {client("--server", "server1", "--target", "10.0.0.5"), `--target: "10.0.0.5": want HOST:PORT`},
		"bad/schedule":          {client("--server", "server1", "--target", "10.0.0.5:3306", "--schedule", "weekdays 9-5"), "--schedule: "},
		"bad/schedule-zone":     {client("--server", "server1", "--target", "10.0.0.5:3306", "--schedule", "mon-fri 08:00-18:00 Mars/Olympus"), `--schedule: "mon-fri 08:00-18:00 Mars/Olympus": zone "Mars/Olympus"`},
		"bad/client-port":       {client("--server", "server1", "--target", "10.0.0.5:3306", "--port", "70000"), "--port: 70000 out of range 1-65535"},
		"bad/ttl":               {client("--server", "server1", "--target", "10.0.0.5:3306", "--ttl", "1 day"), `--ttl: "1 day"`},
		"bad/ttl-negative":      {client("--server", "server1", "--target", "10.0.0.5:3306", "--ttl", "-1h"), "--ttl: "},
		"bad/key-type":          {client("--server", "server1", "--target", "10.0.0.5:3306", "--key-type", "rsa"), `--key-type: "rsa": want ecdsa-p256 or ed25519`},
		"bad/group":             {client("--server", "server1", "--target", "10.0.0.5:3306", "--group", "a", "--group", "a"), `--group: duplicate group "a"`},
		"missing/target":        {client("--server", "server1"), `required flag(s) "target" not set`},
		"bad/name":              {relay("--addr", "x", "--name", "../evil"), `--name: "../evil"`},
		"bad/addr-scheme":       {relay("--addr", "https://relay.example.com"), `--addr: "https://relay.example.com": scheme "https", want ws or wss`},
		"bad/addr-port":         {relay("--addr", "relay.example.com:443"), "--addr: "},
		"bad/relay-port":        {relay("--addr", "x", "--port", "0"), "--port: 0 out of range 1-65535"},
		"bad/relay-port-syntax": {relay("--addr", "x", "--port", "x"), `invalid argument "x" for "--port" flag`},
		"bad/resource":          {server("--resource", "10.0.0.0/33:22"), "--resource: "},
		"bad/resource-name":     {server("--resource", "bad name=10.0.0.0/24:22"), `--resource: "bad name=10.0.0.0/24:22": name`},
		"bad/resource-dup":      {server("--resource", "a=10.0.0.0/24:22", "--resource", "a=10.0.1.0/24:22"), `--resource: duplicate resource name "a"`},
		"bad/out-port":          {server("--resource", "10.0.0.0/24:22", "--out-port", "443"), "--out-port: 443: needs a direct-mode port"},
		"bad/port-no-host":      {server("--resource", "10.0.0.0/24:22", "--port", "9443"), "--port: 9443: direct mode needs a host"},
		"bad/host":              {server("--resource", "10.0.0.0/24:22", "--host", "a b", "--port", "1"), "--host: "},
		"missing/resource":      {server(), `required flag(s) "resource" not set`},
		"bundle-exists":         {[]string{"ca", "issue", "relay", "--dir", "CA", "--name", "relay1", "--addr", "127.0.0.1", "--out", "bundles/relay1"}, "bundle dir bundles/relay1: relay1.key already exists, refusing to overwrite; pass --force to overwrite"},
		"bundle-in-ca-dir":      {[]string{"ca", "issue", "relay", "--dir", "CA", "--name", "relay9", "--addr", "127.0.0.1", "--out", "CA"}, "bundle dir CA is the CA dir"},
		"revoke-unknown":        {[]string{"ca", "revoke", "--dir", "CA", "nobody"}, `"nobody" not in the inventory: no certificate with that name or serial`},
		"revoke-bad-role":       {[]string{"ca", "revoke", "--dir", "CA", "--role", "admin", "relay1"}, `--role: "admin"`},
		"revoke-no-arg":         {[]string{"ca", "revoke", "--dir", "CA"}, "accepts 1 arg(s), received 0"},
		"crl-bad-next-update":   {[]string{"ca", "crl", "--dir", "CA", "--out", "x.crl", "--next-update", "soon"}, `--next-update: "soon"`},
		"inspect-missing":       {[]string{"ca", "inspect", "nothing.crt"}, "inspect: stat nothing.crt: no such file or directory"},
		"inspect-garbage":       {[]string{"ca", "inspect", "bundles/alice/config.toml"}, "inspect: error parsing bundles/alice/config.toml"},
	} {
		t.Run(name, func(t *testing.T) {
			fails(t, f.dir, tc.want, tc.args...)
		})
	}

	// Nothing refused above reached the inventory or the bundles.
	var recs []ca.Record
	if err := json.Unmarshal([]byte(ok(t, f.dir, "ca", "list", "--dir", "CA", "--json").stdout), &recs); err != nil || len(recs) != 4 {
		t.Errorf("inventory after refusals: %d records, %v", len(recs), err)
	}
	for _, b := range []string{"bob", "server2", "relay3", "relay9"} {
		if _, err := os.Stat(f.bundle(b)); err == nil {
			t.Errorf("refused issue wrote bundle %s", b)
		}
	}
}

func TestCAWarnings(t *testing.T) {
	t.Parallel()
	f := newFlow(t)
	// A DNS target cannot be checked: a warning on stderr, exit 0.
	r := ok(t, f.dir, "ca", "issue", "client", "--dir", "CA", "--name", "bob", "--server", "server1", "--target", "db.internal:3306", "--out", "bundles/bob")
	if ls := lines(r.stderr); len(ls) != 1 || !strings.Contains(ls[0], "backend: warning: target db.internal:3306 is a DNS name") {
		t.Errorf("stderr = %q", r.stderr)
	}
	// --force issues an outside target, with a warning.
	r = ok(t, f.dir, "ca", "issue", "client", "--dir", "CA", "--name", "carol", "--server", "server1", "--target", "10.9.9.9:22", "--force", "--out", "bundles/carol")
	if !strings.Contains(r.stderr, "backend: warning: target 10.9.9.9:22 outside every resource") {
		t.Errorf("stderr = %q", r.stderr)
	}
	// Without --relay, a client takes every relay of the inventory in inventory order.
	r = ok(t, f.dir, "ca", "inspect", "bundles/bob/bob.crt")
	if !strings.Contains(r.stdout, "relays:        1. relay1 ") || !strings.Contains(r.stdout, "               2. relay2 ") {
		t.Errorf("bob's relays:\n%s", r.stdout)
	}
	// inspect works on a CA certificate without a CA dir, and on any Sentinel file.
	r = ok(t, f.dir, "ca", "inspect", "CA/ca.crt")
	if !strings.Contains(r.stdout, "role:          none (CA certificate)") {
		t.Errorf("inspect ca.crt:\n%s", r.stdout)
	}
	// `backend ca` alone prints help.
	if r := ok(t, f.dir, "ca"); !strings.Contains(r.stdout, "issue") {
		t.Errorf("backend ca: %s", r.stdout)
	}
}
