package main

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// execute runs `backend args...` in process, through newRootCmd, and returns its stdout.
func execute(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root := newRootCmd()
	var stdout, stderr bytes.Buffer
	root.SetArgs(args)
	root.SetOut(&stdout)
	root.SetErr(&stderr)
	err := root.ExecuteContext(context.Background())
	return stdout.String(), err
}

// TestDoctorCLI: `backend doctor -c` prints one line per check and a fix under each failure,
// exits 0 when every check passes and 1 (with main's one-line reason on stderr) otherwise.
func TestDoctorCLI(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"ca", "init", "--dir", filepath.Join(dir, "CA"), "--name", "Acme Root CA"},
		{"ca", "init", "--dir", filepath.Join(dir, "Other"), "--name", "Other Root CA"},
		{"ca", "issue", "relay", "--dir", filepath.Join(dir, "CA"), "--name", "relay1", "--addr", "127.0.0.1", "--port", "8443", "--out", filepath.Join(dir, "relay1")},
	} {
		if _, err := execute(t, args...); err != nil {
			t.Fatalf("backend %s: %v", strings.Join(args, " "), err)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	free := ln.Addr().String()
	_ = ln.Close()
	writeConfig := func(name, ca string) string {
		path := filepath.Join(dir, name)
		cfg := "cert = \"relay1/relay1.crt\"\nkey = \"relay1/relay1.key\"\nca = " + strconv.Quote(ca) + "\n[relay]\nlisten = \"" + free + "\"\n"
		if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	good := writeConfig("good.toml", "relay1/ca.crt")
	bad := writeConfig("bad.toml", "Other/ca.crt")

	t.Run("ok", func(t *testing.T) {
		out, err := execute(t, "doctor", "-c", good)
		if err != nil {
			t.Fatalf("doctor: %v\n%s", err, out)
		}
		ls := lines(out)
		if len(ls) != 6 {
			t.Fatalf("%d lines, want 6:\n%s", len(ls), out)
		}
		for _, l := range ls {
			if !strings.HasPrefix(l, "✓ ") {
				t.Errorf("line %q does not start with ✓", l)
			}
		}
		if want := "✓ relay.listen " + free + ": free to bind"; !strings.HasPrefix(ls[5], want) {
			t.Errorf("last line %q, want %q...", ls[5], want)
		}
	})

	t.Run("fail/wrong-ca", func(t *testing.T) {
		out, err := execute(t, "doctor", "-c", bad)
		if err == nil || err.Error() != "doctor: 1 of 6 checks failed" {
			t.Fatalf("doctor: error %v, want \"doctor: 1 of 6 checks failed\"\n%s", err, out)
		}
		ls := lines(out)
		i := -1
		for n, l := range ls {
			if strings.HasPrefix(l, "✗ ") {
				i = n
			}
		}
		if i < 0 || !strings.HasPrefix(ls[i], `✗ certificate chains to the CA: the certificate (issued by "Acme Root CA") was not signed by the CA in ca ("Other Root CA")`) {
			t.Fatalf("no ✗ line for the chain:\n%s", out)
		}
		if i+1 >= len(ls) || !strings.HasPrefix(ls[i+1], "    fix: set ca to the CA that issued this certificate") {
			t.Errorf("the ✗ line is not followed by its fix:\n%s", out)
		}
	})

	t.Run("fail/no-config-flag", func(t *testing.T) {
		if _, err := execute(t, "doctor"); err == nil || !strings.Contains(err.Error(), "missing -c") {
			t.Errorf("doctor without -c: error %v", err)
		}
	})

	t.Run("exit-status", func(t *testing.T) {
		r := runBackend(t, dir, "doctor", "-c", good)
		if r.code != 0 || r.stderr != "" || !strings.Contains(r.stdout, "✓ relay.listen") {
			t.Errorf("healthy: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
		}
		r = runBackend(t, dir, "doctor", "-c", bad)
		if r.code != 1 || r.stderr != "backend: doctor: 1 of 6 checks failed\n" || !strings.Contains(r.stdout, "✗ certificate chains to the CA") {
			t.Errorf("failing: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
		}
	})
}
