package revoke_test

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"

	"github.com/sentinel-zt/sentinel/internal/testpki"
	"github.com/sentinel-zt/sentinel/pkg/certattrs"
	"github.com/sentinel-zt/sentinel/pkg/revoke"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const interval = 20 * time.Millisecond

type fixture struct {
	ca    *testpki.CA
	other *testpki.CA // same name as ca, another key
	named *testpki.CA // another name
	a, b  *x509.Certificate
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	ca := testpki.NewCA(t, "Test Root")
	leaf := func() *x509.Certificate {
		return ca.Issue(t, certattrs.Attrs{Relay: &certattrs.Relay{Name: "r"}}, testpki.Opts{NoAttrs: true}).Cert
	}
	return fixture{ca: ca, other: testpki.NewCA(t, "Test Root"), named: testpki.NewCA(t, "Other Root"), a: leaf(), b: leaf()}
}

func (f fixture) issuer() *x509.Certificate { return f.ca.Cert }

// writeAtomic replaces path by rename, the way careful tools publish a file.
func writeAtomic(t *testing.T, path string, data []byte) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func toDER(t *testing.T, p []byte) []byte {
	t.Helper()
	b, _ := pem.Decode(p)
	if b == nil || b.Type != "X509 CRL" {
		t.Fatal("testpki CRL is not PEM")
	}
	return b.Bytes
}

// eventually polls cond until it holds or a deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func notified(t *testing.T, ch <-chan struct{}) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
		t.Fatal("no change notification")
	}
}

func quiet(t *testing.T, ch <-chan struct{}) {
	t.Helper()
	select {
	case <-ch:
		t.Fatal("notified without a change of the set")
	default:
	}
}

// run starts l.Run and stops it, waiting for it to return, when the test ends.
func run(t *testing.T, l *revoke.List) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("Run did not return after cancel")
		}
	})
}

func revoked(l *revoke.List, certs ...*x509.Certificate) string {
	var s []string
	for _, c := range certs {
		s = append(s, fmt.Sprint(l.Revoked(c)))
	}
	return strings.Join(s, " ")
}

func want(t *testing.T, l *revoke.List, w string, certs ...*x509.Certificate) {
	t.Helper()
	if got := revoked(l, certs...); got != w {
		t.Fatalf("Revoked = %s, want %s", got, w)
	}
}

func TestFile(t *testing.T) {
	f := newFixture(t)
	path := filepath.Join(t.TempDir(), "ca.crl")
	writeAtomic(t, path, f.ca.CRL(t, 1, f.a))
	l, err := revoke.New(path, f.issuer, revoke.Options{Interval: interval, Log: zaptest.NewLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	want(t, l, "true false", f.a, f.b)
	ch, stop := l.Subscribe()
	defer stop()
	run(t, l)

	t.Run("replaced by rename", func(t *testing.T) {
		writeAtomic(t, path, f.ca.CRL(t, 2, f.b))
		notified(t, ch)
		want(t, l, "false true", f.a, f.b)
	})
	t.Run("rewritten in place", func(t *testing.T) {
		if err := os.WriteFile(path, f.ca.CRL(t, 3, f.a, f.b), 0o600); err != nil {
			t.Fatal(err)
		}
		eventually(t, "both revoked", func() bool { return revoked(l, f.a, f.b) == "true true" })
		notified(t, ch)
	})
	t.Run("briefly missing", func(t *testing.T) {
		if err := os.Remove(path); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the failure to show", func() bool { return l.Status().Error != "" })
		want(t, l, "true true", f.a, f.b)
		writeAtomic(t, path, f.ca.CRL(t, 4, f.a))
		notified(t, ch)
		want(t, l, "true false", f.a, f.b)
		eventually(t, "the failure to clear", func() bool { return l.Status().Error == "" })
	})
	t.Run("same set, new number", func(t *testing.T) {
		writeAtomic(t, path, f.ca.CRL(t, 5, f.a))
		eventually(t, "number 5", func() bool { return l.Status().Number == "5" })
		quiet(t, ch)
	})

	// Each refusal: prove the update was looked at (Status shows the failure), then that
	// the set and subscribers saw nothing.
	refusals := map[string]struct {
		data []byte
		msg  string
	}{
		"fail/other-ca":   {f.other.CRL(t, 10, f.b), "verify signature"},
		"fail/other-name": {f.named.CRL(t, 10, f.b), "not by the ca"},
		"fail/rollback":   {f.ca.CRL(t, 3, f.b), "lower than the current"},
		"fail/garbage":    {[]byte("not a crl"), "no X509 CRL block"},
		"fail/bad-der":    {[]byte{0x30, 0x03, 0x02, 0x01, 0x01}, "parse"},
		"fail/empty":      {nil, "empty"},
		"fail/pem-other":  {f.ca.PEM, "no X509 CRL block"},
	}
	for name, tc := range refusals {
		t.Run(name, func(t *testing.T) {
			writeAtomic(t, path, tc.data)
			eventually(t, "the refusal to show", func() bool { return strings.Contains(l.Status().Error, tc.msg) })
			if !strings.Contains(l.Status().Error, path) {
				t.Errorf("error %q does not name the source", l.Status().Error)
			}
			want(t, l, "true false", f.a, f.b)
			quiet(t, ch)
			if st := l.Status(); st.Number != "5" || st.Revoked != 1 {
				t.Errorf("status %+v, want number 5 with 1 serial", st)
			}
			// Recover with a good CRL of the current number so the next case starts clean.
			writeAtomic(t, path, f.ca.CRL(t, 5, f.a))
			eventually(t, "recovery", func() bool { return l.Status().Error == "" })
		})
	}
}

func TestNewRefuses(t *testing.T) {
	f := newFixture(t)
	dir := t.TempDir()
	tests := map[string][]byte{
		"fail/other-ca":   f.other.CRL(t, 1, f.a),
		"fail/other-name": f.named.CRL(t, 1, f.a),
		"fail/garbage":    []byte("-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n"),
		"fail/not-crl":    []byte{0x30, 0x03, 0x02, 0x01, 0x01},
		"fail/text":       []byte("hello"),
	}
	for name, data := range tests {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, strings.TrimPrefix(name, "fail/")+".crl")
			writeAtomic(t, path, data)
			// The good path first: the same file with a CRL of this CA loads.
			writeAtomic(t, path+".ok", f.ca.CRL(t, 1, f.a))
			if _, err := revoke.New(path+".ok", f.issuer, revoke.Options{}); err != nil {
				t.Fatal(err)
			}
			l, err := revoke.New(path, f.issuer, revoke.Options{})
			if err == nil || l != nil {
				t.Fatalf("New = %v, %v; want an error", l, err)
			}
			if !strings.Contains(err.Error(), path) {
				t.Errorf("error %q does not name the source", err)
			}
		})
	}
	t.Run("fail/missing", func(t *testing.T) {
		path := filepath.Join(dir, "missing.crl")
		if _, err := revoke.New(path, f.issuer, revoke.Options{}); err == nil || !strings.Contains(err.Error(), path) {
			t.Fatalf("err = %v, want one naming %s", err, path)
		}
	})
	t.Run("fail/directory", func(t *testing.T) {
		if _, err := revoke.New(dir, f.issuer, revoke.Options{}); err == nil {
			t.Fatal("a directory loaded as a CRL")
		}
	})
	t.Run("fail/no-issuer", func(t *testing.T) {
		path := filepath.Join(dir, "noissuer.crl")
		writeAtomic(t, path, f.ca.CRL(t, 1))
		if _, err := revoke.New(path, func() *x509.Certificate { return nil }, revoke.Options{}); err == nil {
			t.Fatal("loaded with no issuer")
		}
	})
}

func TestFormats(t *testing.T) {
	f := newFixture(t)
	dir := t.TempDir()
	p := f.ca.CRL(t, 1, f.a)
	formats := map[string][]byte{
		"pem":            p,
		"der":            toDER(t, p),
		"pem-after-cert": append(append([]byte("leading text\n"), f.ca.PEM...), p...),
	}
	for name, data := range formats {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, name)
			writeAtomic(t, path, data)
			l, err := revoke.New(path, f.issuer, revoke.Options{})
			if err != nil {
				t.Fatal(err)
			}
			want(t, l, "true false", f.a, f.b)
		})
	}
}

func TestReload(t *testing.T) {
	f := newFixture(t)
	path := filepath.Join(t.TempDir(), "ca.crl")
	writeAtomic(t, path, f.ca.CRL(t, 1))
	l, err := revoke.New(path, f.issuer, revoke.Options{Interval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	ch, stop := l.Subscribe()
	defer stop()
	want(t, l, "false", f.a)

	writeAtomic(t, path, f.ca.CRL(t, 2, f.a))
	if err := l.Reload(); err != nil {
		t.Fatal(err)
	}
	notified(t, ch)
	want(t, l, "true", f.a)

	writeAtomic(t, path, f.ca.CRL(t, 1))
	if err := l.Reload(); !errors.Is(err, revoke.ErrRollback) {
		t.Fatalf("Reload of an older CRL = %v, want ErrRollback", err)
	}
	quiet(t, ch)
	want(t, l, "true", f.a)
}

func TestSubscribe(t *testing.T) {
	f := newFixture(t)
	path := filepath.Join(t.TempDir(), "ca.crl")
	writeAtomic(t, path, f.ca.CRL(t, 1))
	l, err := revoke.New(path, f.issuer, revoke.Options{Interval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	live, stopLive := l.Subscribe()
	defer stopLive()
	gone, stopGone := l.Subscribe()
	stopGone()
	stopGone() // twice is fine

	// Two changes with nobody reading: the list does not block, one notification waits.
	for i, c := range []*x509.Certificate{f.a, f.b} {
		writeAtomic(t, path, f.ca.CRL(t, int64(i+2), c))
		if err := l.Reload(); err != nil {
			t.Fatal(err)
		}
	}
	notified(t, live)
	quiet(t, live)
	quiet(t, gone)
}

func TestRateLimitedLog(t *testing.T) {
	f := newFixture(t)
	var hits atomic.Int32
	var fail atomic.Bool
	crl := f.ca.CRL(t, 1, f.a)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if fail.Load() {
			http.Error(w, "down", http.StatusInternalServerError)
			return
		}
		w.Write(crl)
	}))
	defer srv.Close()
	core, logs := observer.New(zapcore.WarnLevel)
	l, err := revoke.New(srv.URL, f.issuer, revoke.Options{Interval: interval, Log: zap.New(core)})
	if err != nil {
		t.Fatal(err)
	}
	fail.Store(true)
	run(t, l)
	base := hits.Load()
	eventually(t, "several failed polls", func() bool { return hits.Load() >= base+5 })
	if n := logs.Len(); n != 1 {
		t.Fatalf("%d warnings for one repeated failure, want 1: %v", n, logs.All())
	}
	want(t, l, "true", f.a)
}

// crlServer serves a CRL with an ETag and Last-Modified and counts 304 answers.
type crlServer struct {
	mu         sync.Mutex
	data       []byte
	etag       string
	modified   time.Time
	down       bool
	notMod     int
	conditonal int
}

func (s *crlServer) set(data []byte, version int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.data, s.etag = data, fmt.Sprintf(`"v%d"`, version)
	s.modified = time.Date(2025, 1, 1, 0, 0, version, 0, time.UTC)
}

func (s *crlServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.Header.Get("If-None-Match") != "" && r.Header.Get("If-Modified-Since") != "" {
		s.conditonal++
	}
	if r.Header.Get("If-None-Match") == s.etag {
		s.notMod++
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("ETag", s.etag)
	w.Header().Set("Last-Modified", s.modified.Format(http.TimeFormat))
	w.Header().Set("Content-Type", "application/pkix-crl")
	w.Write(s.data)
}

func (s *crlServer) counts() (notMod, conditional int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.notMod, s.conditonal
}

func TestHTTP(t *testing.T) {
	f := newFixture(t)
	cs := &crlServer{}
	cs.set(toDER(t, f.ca.CRL(t, 1, f.a)), 1)
	srv := httptest.NewServer(cs)
	defer srv.Close()

	l, err := revoke.New(srv.URL+"/ca.crl", f.issuer, revoke.Options{Interval: interval, Log: zaptest.NewLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	want(t, l, "true false", f.a, f.b)
	ch, stop := l.Subscribe()
	defer stop()
	run(t, l)

	t.Run("unchanged is 304", func(t *testing.T) {
		eventually(t, "two 304 answers", func() bool { n, _ := cs.counts(); return n >= 2 })
		if _, c := cs.counts(); c == 0 {
			t.Error("polls sent no If-None-Match with If-Modified-Since")
		}
		quiet(t, ch)
	})
	t.Run("update", func(t *testing.T) {
		cs.set(f.ca.CRL(t, 2, f.b), 2) // PEM this time
		notified(t, ch)
		want(t, l, "false true", f.a, f.b)
	})
	t.Run("other ca ignored", func(t *testing.T) {
		cs.set(f.other.CRL(t, 3, f.a, f.b), 3)
		eventually(t, "the refusal", func() bool { return strings.Contains(l.Status().Error, "verify signature") })
		want(t, l, "false true", f.a, f.b)
		quiet(t, ch)
	})
	t.Run("server down keeps the set", func(t *testing.T) {
		srv.Close()
		eventually(t, "the fetch failure", func() bool { return strings.Contains(l.Status().Error, "fetch") })
		want(t, l, "false true", f.a, f.b)
		quiet(t, ch)
	})
}

func TestHTTPNew(t *testing.T) {
	f := newFixture(t)
	good := f.ca.CRL(t, 1, f.a)
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) { w.Write(good) })
	mux.HandleFunc("/missing", http.NotFound)
	mux.HandleFunc("/huge", func(w http.ResponseWriter, r *http.Request) {
		io.CopyN(w, zeros{}, revoke.MaxCRLSize+1)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	if _, err := revoke.New(srv.URL+"/ok", f.issuer, revoke.Options{}); err != nil {
		t.Fatalf("good path: %v", err)
	}
	for path, msg := range map[string]string{"/missing": "404", "/huge": "larger than"} {
		_, err := revoke.New(srv.URL+path, f.issuer, revoke.Options{})
		if err == nil || !strings.Contains(err.Error(), msg) || !strings.Contains(err.Error(), srv.URL+path) {
			t.Errorf("%s: err = %v, want %q naming the url", path, err, msg)
		}
	}
	// A password in the URL never reaches an error.
	u := strings.Replace(srv.URL, "http://", "http://user:s3cret@", 1) + "/missing"
	if _, err := revoke.New(u, f.issuer, revoke.Options{}); err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("err = %v, want one without the password", err)
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

func TestNilList(t *testing.T) {
	var l *revoke.List
	f := newFixture(t)
	if l.Revoked(f.a) {
		t.Error("nil List revoked a certificate")
	}
	ch, stop := l.Subscribe()
	stop()
	if ch != nil {
		t.Error("nil List gave a live channel")
	}
	if err := l.Reload(); err != nil {
		t.Error(err)
	}
	if st := l.Status(); st != (revoke.Status{}) {
		t.Errorf("status %+v", st)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := l.Run(ctx); err != nil {
		t.Error(err)
	}
}
