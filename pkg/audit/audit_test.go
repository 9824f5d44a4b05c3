package audit_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/sentinel-zt/sentinel/pkg/audit"
)

// lines decodes every line of b as one JSON object; any other shape fails the test.
func lines(t *testing.T, b []byte) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		var m map[string]any
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		if err := dec.Decode(&m); err != nil {
			t.Fatalf("line %d is not one JSON object: %v: %q", len(out)+1, err, sc.Text())
		}
		if dec.More() {
			t.Fatalf("line %d holds more than one JSON value: %q", len(out)+1, sc.Text())
		}
		out = append(out, m)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(b) > 0 && b[len(b)-1] != '\n' {
		t.Fatalf("output does not end with a newline: %q", b)
	}
	return out
}

func TestLogFields(t *testing.T) {
	var buf bytes.Buffer
	l := audit.New(audit.NewJSON(&buf), "relay", "r-uuid", "relay1")
	before := time.Now()
	l.With(audit.Session("s1")).Log(audit.SessionClose,
		audit.Peer{UUID: "c-uuid", Name: "alice", Role: "client", User: "alice@example.com", Serial: big.NewInt(0xbeef)}.Field(),
		audit.RemoteAddr("192.0.2.1:5555"),
		audit.Target("10.0.0.5:3306"),
		audit.Allow(),
		audit.Bytes(10, 20),
		audit.Duration(1500*time.Millisecond),
	)
	l.Log(audit.AuthDeny, audit.Deny("revoked"), audit.Detail("serial on crl"), audit.Peer{Name: "bob"}.Field())

	got := lines(t, buf.Bytes())
	if len(got) != 2 {
		t.Fatalf("got %d lines, want 2:\n%s", len(got), buf.String())
	}
	want := map[string]any{
		"event": "session.close", "role": "relay", "uuid": "r-uuid", "name": "relay1", "session": "s1",
		"peer_uuid": "c-uuid", "peer_name": "alice", "peer_role": "client", "user": "alice@example.com",
		"serial": "beef", "remote_addr": "192.0.2.1:5555", "target": "10.0.0.5:3306", "decision": "allow",
		"bytes_in": 10.0, "bytes_out": 20.0, "duration": 1.5,
	}
	checkEvent(t, got[0], want, before)

	want = map[string]any{
		"event": "auth.deny", "role": "relay", "uuid": "r-uuid", "name": "relay1",
		"decision": "deny", "reason": "revoked", "detail": "serial on crl", "peer_name": "bob",
	}
	checkEvent(t, got[1], want, before)
	for _, k := range []string{"session", "peer_uuid", "user", "serial"} {
		if _, ok := got[1][k]; ok {
			t.Errorf("auth.deny has %q; empty and unset fields must be left out", k)
		}
	}
}

func checkEvent(t *testing.T, got, want map[string]any, after time.Time) {
	t.Helper()
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %s = %#v, want %#v", want["event"], k, got[k], v)
		}
	}
	if len(got) != len(want)+1 {
		t.Errorf("%s: keys %v, want those of %v plus time", want["event"], keys(got), keys(want))
	}
	ts, _ := got["time"].(string)
	tm, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil || !strings.HasSuffix(ts, "Z") {
		t.Fatalf("time %q is not RFC 3339 UTC: %v", ts, err)
	}
	if tm.Before(after.Add(-time.Second)) || tm.After(time.Now().Add(time.Second)) {
		t.Errorf("time %v is not now", tm)
	}
}

func keys(m map[string]any) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

func TestNilLogger(t *testing.T) {
	var l *audit.Logger
	l.Log(audit.AuthDeny, audit.Deny("x")) // must not panic
	if l.With(audit.Session("s")) != nil {
		t.Fatal("With on a nil Logger should stay nil")
	}
	audit.New(nil, "relay", "u", "n").Log(audit.SessionOpen)
}

func TestOpenFallback(t *testing.T) {
	core, logs := observer.New(zap.InfoLevel)
	z, c, err := audit.Open("", zap.New(core))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	audit.New(z, "server", "s-uuid", "server1").Log(audit.StreamOpen, audit.Target("10.0.0.5:3306"))
	entries := logs.All()
	if len(entries) != 1 {
		t.Fatalf("got %d entries, want 1", len(entries))
	}
	e := entries[0]
	if e.LoggerName != "audit" || e.Message != audit.StreamOpen {
		t.Errorf("entry logger %q message %q, want audit / %s", e.LoggerName, e.Message, audit.StreamOpen)
	}
	m := e.ContextMap()
	for k, v := range map[string]any{"event": "stream.open", "role": "server", "uuid": "s-uuid", "name": "server1", "target": "10.0.0.5:3306"} {
		if m[k] != v {
			t.Errorf("%s = %#v, want %#v", k, m[k], v)
		}
	}
	if _, ok := m["time"]; !ok {
		t.Error("no time field")
	}
}

func TestOpenFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	if err := os.WriteFile(path, []byte(`{"event":"earlier"}`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// The file is JSON even when the log is console-formatted.
	var logBuf bytes.Buffer
	console := zap.New(zapcore.NewCore(zapcore.NewConsoleEncoder(zap.NewDevelopmentEncoderConfig()), zapcore.AddSync(&logBuf), zap.DebugLevel))
	z, c, err := audit.Open(path, console)
	if err != nil {
		t.Fatal(err)
	}
	l := audit.New(z, "client", "c-uuid", "alice")
	l.Log(audit.SessionOpen, audit.Session("s1"))
	l.Log(audit.SessionClose, audit.Session("s1"), audit.Duration(time.Second))
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	got := lines(t, b)
	if len(got) != 3 || got[0]["event"] != "earlier" || got[1]["event"] != "session.open" || got[2]["event"] != "session.close" {
		t.Fatalf("file holds %v, want the earlier line then two appended events", got)
	}
	if logBuf.Len() != 0 {
		t.Errorf("audit events leaked into the log: %q", logBuf.String())
	}
	path2 := filepath.Join(t.TempDir(), "new.jsonl")
	_, c2, err := audit.Open(path2, console)
	if err != nil {
		t.Fatal(err)
	}
	c2.Close()
	fi2, err := os.Stat(path2)
	if err != nil {
		t.Fatal(err)
	}
	if fi2.Mode().Perm() != 0o600 {
		t.Errorf("new audit file mode %v, want 0600", fi2.Mode())
	}
}

// TestReopenAfterRotation: after the file is renamed away (logrotate), Reopen sends the next
// events to a new file at the path; nothing is lost or written twice.
func TestReopenAfterRotation(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.jsonl")
	z, sink, err := audit.Open(path, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	l := audit.New(z, "server", "s-uuid", "server1")
	l.Log(audit.SessionOpen, audit.Session("before"))
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	l.Log(audit.SessionClose, audit.Session("before")) // still the rotated file: not reopened yet
	if err := sink.Reopen(); err != nil {
		t.Fatal(err)
	}
	l.Log(audit.SessionOpen, audit.Session("after"))
	if err := sink.Close(); err != nil {
		t.Fatal(err)
	}
	read := func(p string) []map[string]any {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return lines(t, b)
	}
	old, cur := read(path+".1"), read(path)
	if len(old) != 2 || old[0]["session"] != "before" || old[1]["event"] != "session.close" {
		t.Fatalf("rotated file holds %v, want the two events before the reopen", old)
	}
	if len(cur) != 1 || cur[0]["session"] != "after" {
		t.Fatalf("new file holds %v, want the one event after the reopen", cur)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("reopened file: %v, %v; want mode 0600", fi, err)
	}
	if err := sink.Reopen(); err == nil {
		t.Fatal("Reopen after Close succeeded")
	}
}

// TestReopenFailureKeepsFile: when the path cannot be opened again, the current file stays in
// use and the error says so.
func TestReopenFailureKeepsFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "logs")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "audit.jsonl")
	z, sink, err := audit.Open(path, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	moved := dir + ".moved"
	if err := os.Rename(dir, moved); err != nil { // the directory is gone from the path
		t.Fatal(err)
	}
	if err := sink.Reopen(); err == nil || !strings.HasPrefix(err.Error(), "open audit file: ") {
		t.Fatalf("Reopen = %v, want open audit file: ...", err)
	}
	audit.New(z, "relay", "r", "relay1").Log(audit.SessionOpen, audit.Session("kept"))
	if err := sink.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(moved, "audit.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if got := lines(t, b); len(got) != 1 || got[0]["session"] != "kept" {
		t.Fatalf("file holds %v, want the event written after the failed reopen", got)
	}
}

// TestReopenWhileWriting: events written while the file is reopened again and again all land
// whole, in one file or the other.
func TestReopenWhileWriting(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	z, sink, err := audit.Open(path, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	const writers, each = 4, 200
	var wg sync.WaitGroup
	for w := range writers {
		l := audit.New(z, "relay", "r", fmt.Sprintf("w%d", w))
		wg.Go(func() {
			for i := range each {
				l.Log(audit.StreamOpen, audit.Session(fmt.Sprintf("%d-%d", w, i)))
			}
		})
	}
	var rotations []string
	for i := range 20 {
		rotated := fmt.Sprintf("%s.%d", path, i)
		if err := os.Rename(path, rotated); err != nil {
			t.Fatal(err)
		}
		rotations = append(rotations, rotated)
		if err := sink.Reopen(); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	if err := sink.Close(); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, p := range append(rotations, path) {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range lines(t, b) {
			id, _ := e["session"].(string)
			if seen[id] {
				t.Fatalf("event %s written twice", id)
			}
			seen[id] = true
		}
	}
	if len(seen) != writers*each {
		t.Fatalf("%d events across the files, want %d", len(seen), writers*each)
	}
}

func TestOpenFileError(t *testing.T) {
	_, _, err := audit.Open(filepath.Join(t.TempDir(), "missing", "audit.jsonl"), zap.NewNop())
	if err == nil || !strings.HasPrefix(err.Error(), "open audit file: ") {
		t.Fatalf("err = %v, want open audit file: ...", err)
	}
}

func TestConcurrentWriters(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	z, c, err := audit.Open(path, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	const writers, each = 8, 100
	detail := strings.Repeat("x", 4<<10) // lines larger than a pipe buffer make torn writes visible
	var wg sync.WaitGroup
	for w := range writers {
		l := audit.New(z, "relay", "r", fmt.Sprintf("w%d", w))
		wg.Go(func() {
			for i := range each {
				l.Log(audit.StreamOpen, audit.Session(fmt.Sprintf("%d-%d", w, i)), audit.Detail(detail))
			}
		})
	}
	wg.Wait()
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	got := lines(t, b)
	if len(got) != writers*each {
		t.Fatalf("got %d lines, want %d", len(got), writers*each)
	}
	seen := map[string]bool{}
	for _, m := range got {
		s, _ := m["session"].(string)
		if seen[s] || m["detail"] != detail {
			t.Fatalf("duplicate or damaged event %q", s)
		}
		seen[s] = true
	}
}
