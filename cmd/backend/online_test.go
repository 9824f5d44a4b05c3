package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sentinel-zt/sentinel/pkg/ca"
	"github.com/sentinel-zt/sentinel/pkg/certattrs"
	"github.com/sentinel-zt/sentinel/pkg/enrolltoken"
)

// onlineCA is a CA directory with relay1 and server1, made through the CLI.
func onlineCA(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	ok(t, dir, "ca", "init", "--dir", "ca")
	ok(t, dir, "ca", "issue", "relay", "--dir", "ca", "--name", "relay1", "--addr", "relay.example.com", "--out", "b/relay1")
	ok(t, dir, "ca", "issue", "server", "--dir", "ca", "--name", "server1", "--resource", "10.0.0.0/24:3306", "--out", "b/server1")
	return dir
}

func TestCAToken(t *testing.T) {
	dir := onlineCA(t)
	r := runBackend(t, dir, "ca", "token", "client", "--dir", "ca", "--name", "alice", "--server", "server1",
		"--target", "10.0.0.5:3306", "--reusable", "3", "--ttl", "1h", "--cert-ttl", "4h")
	if r.code != 0 {
		t.Fatalf("ca token: exit %d: %s", r.code, r.stderr)
	}
	// stdout is the token alone, for `> alice.token`; the rest goes to stderr.
	out := lines(r.stdout)
	if len(out) != 1 {
		t.Fatalf("stdout %q, want one line", r.stdout)
	}
	c, err := enrolltoken.ParseUnverified(out[0])
	if err != nil || c.Role != certattrs.RoleClient || c.Name != "alice" {
		t.Fatalf("token %+v %v", c, err)
	}
	if !strings.Contains(r.stderr, "3 uses") {
		t.Errorf("stderr %q does not say 3 uses", r.stderr)
	}

	var toks []ca.TokenRecord
	if err := json.Unmarshal([]byte(ok(t, dir, "ca", "token", "list", "--dir", "ca", "--json").stdout), &toks); err != nil {
		t.Fatal(err)
	}
	if len(toks) != 1 || toks[0].ID != c.ID || toks[0].MaxUses != 3 || toks[0].Spec.CertTTL.Hours() != 4 {
		t.Fatalf("token list %+v", toks)
	}
	ok(t, dir, "ca", "token", "revoke", "--dir", "ca", c.ID)
	if table := ok(t, dir, "ca", "token", "list", "--dir", "ca").stdout; !strings.Contains(table, "revoked") {
		t.Errorf("token list after revoke:\n%s", table)
	}
	fails(t, dir, "already revoked", "ca", "token", "revoke", "--dir", "ca", c.ID)

	relay := runBackend(t, dir, "ca", "token", "relay", "--dir", "ca", "--name", "relay2", "--addr", "relay2.example.com", "--ephemeral")
	if relay.code != 0 || !strings.Contains(relay.stderr, "ephemeral") {
		t.Errorf("relay token: %d %s", relay.code, relay.stderr)
	}
	server := runBackend(t, dir, "ca", "token", "server", "--dir", "ca", "--name", "server2", "--resource", "10.1.0.0/16:5432")
	if server.code != 0 {
		t.Errorf("server token: %d %s", server.code, server.stderr)
	}
}

func TestCATokenRefusals(t *testing.T) {
	dir := onlineCA(t)
	client := []string{"ca", "token", "client", "--dir", "ca", "--name", "alice", "--target", "10.0.0.5:3306"}
	for want, extra := range map[string][]string{
		"unknown server":      {"--server", "nope"},
		"--reusable":          {"--server", "server1", "--reusable", "0"},
		"--ttl":               {"--server", "server1", "--ttl", "60d"},
		"--cert-ttl":          {"--server", "server1", "--cert-ttl", "soon"},
		"outside every":       {"--server", "server1", "--target", "10.9.9.9:3306"},
		"--schedule":          {"--server", "server1", "--schedule", "weekdays"},
		"not initialised":     {"--server", "server1", "--dir", "nope"},
		"--db: inventory url": {"--server", "server1", "--db", "mysql://x"},
	} {
		fails(t, dir, want, append(append([]string(nil), client...), extra...)...)
	}
	// Nothing was recorded by the refused commands.
	if toks := ok(t, dir, "ca", "token", "list", "--dir", "ca", "--json").stdout; strings.TrimSpace(toks) != "[]" {
		t.Errorf("tokens after refusals: %s", toks)
	}
}

func TestEnrollRefusals(t *testing.T) {
	dir := onlineCA(t)
	tok := strings.TrimSpace(runBackend(t, dir, "ca", "token", "client", "--dir", "ca", "--name", "alice",
		"--server", "server1", "--target", "10.0.0.5:3306").stdout)
	if err := os.WriteFile(filepath.Join(dir, "alice.token"), []byte(tok+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	fails(t, dir, "want https", "enroll", "--ca", "http://127.0.0.1:9", "--token", "@alice.token", "--out", "dev")
	fails(t, dir, "--token", "enroll", "--ca", "https://127.0.0.1:9", "--token", "@missing.token", "--out", "dev")
	fails(t, dir, "token: malformed token", "enroll", "--ca", "https://127.0.0.1:9", "--token", "not-a-token", "--out", "dev")
	fails(t, dir, "fetch root", "enroll", "--ca", "https://127.0.0.1:9", "--token", "@alice.token", "--out", "dev")
	fails(t, dir, "required flag", "enroll", "--token", tok)
	if _, err := os.Stat(filepath.Join(dir, "dev")); !os.IsNotExist(err) {
		t.Errorf("a refused enrollment left %s: %v", filepath.Join(dir, "dev"), err)
	}
}

func TestCAAdmin(t *testing.T) {
	dir := onlineCA(t)
	ok(t, dir, "ca", "admin", "--dir", "ca", "--name", "ops", "--out", "ops")
	if fi, err := os.Stat(filepath.Join(dir, "ops", "ops.key")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("admin key: %v %v", fi, err)
	}
	fails(t, dir, "--force", "ca", "admin", "--dir", "ca", "--name", "ops", "--out", "ops")
	if r := ok(t, dir, "ca", "admin", "--dir", "ca", "--name", "ops", "--revoke"); !strings.Contains(r.stdout, "revoked 1") {
		t.Errorf("revoke admin: %s", r.stdout)
	}
	fails(t, dir, "not in the inventory", "ca", "admin", "--dir", "ca", "--name", "ops", "--revoke")
}
