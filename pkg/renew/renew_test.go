package renew

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"net"
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
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"

	"github.com/sentinel-zt/sentinel/internal/testpki"
	"github.com/sentinel-zt/sentinel/pkg/certattrs"
	"github.com/sentinel-zt/sentinel/pkg/enroll"
	"github.com/sentinel-zt/sentinel/pkg/enrolltoken"
	"github.com/sentinel-zt/sentinel/pkg/identity"
	"github.com/sentinel-zt/sentinel/pkg/token"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeCA is a /1.0/renew endpoint: it checks the bearer token as the online CA does and
// answers with failures first, then with a renewal of the same key (or of another, badKey).
type fakeCA struct {
	t        *testing.T
	ca       *testpki.CA
	srv      *httptest.Server
	failures atomic.Int64 // requests still to fail with 503
	refuse   string       // "code: reason" to refuse with 401 instead, when set
	badKey   bool         // answer with a certificate for another key
	attrs    certattrs.Attrs
	requests atomic.Int64
}

func newFakeCA(t *testing.T, pki *testpki.CA, attrs certattrs.Attrs) *fakeCA {
	f := &fakeCA{t: t, ca: pki, attrs: attrs}
	sum := sha256.Sum256(pki.Cert.Raw)
	v := &token.Verifier{Roots: pki.Pool, Audience: enrolltoken.RenewAudience(hex.EncodeToString(sum[:])), Replay: token.NewReplayCache(100)}
	f.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.requests.Add(1)
		ver, err := v.Verify(strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "),
			certattrs.RoleClient, certattrs.RoleServer, certattrs.RoleRelay)
		switch {
		case err != nil:
			w.WriteHeader(http.StatusUnauthorized)
			_ = json.NewEncoder(w).Encode(map[string]any{"status": 401, "message": err.Error()})
			return
		case f.failures.Add(-1) >= 0:
			w.WriteHeader(http.StatusServiceUnavailable)
			_ = json.NewEncoder(w).Encode(map[string]any{"status": 503, "message": "internal: down"})
			return
		case f.refuse != "":
			w.WriteHeader(http.StatusUnauthorized)
			_ = json.NewEncoder(w).Encode(map[string]any{"status": 401, "message": f.refuse})
			return
		}
		leaf := f.issue(ver.Leaf.PublicKey)
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(enroll.SignResponse{ServerPEM: string(leaf.CertPEM), CaPEM: string(pki.PEM),
			CertChainPEM: []string{string(leaf.CertPEM), string(pki.PEM)}})
	}))
	f.srv.TLS = &tls.Config{Certificates: []tls.Certificate{pki.Issue(t, certattrs.Attrs{Relay: &certattrs.Relay{Address: "127.0.0.1", Port: 1}},
		testpki.Opts{IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}).TLS}}
	f.srv.StartTLS()
	t.Cleanup(f.srv.Close)
	return f
}

// issue signs the fake CA's attributes for pub, valid for an hour from now.
func (f *fakeCA) issue(pub crypto.PublicKey) *testpki.Leaf {
	l := f.ca.Issue(f.t, f.attrs, testpki.Opts{})
	if f.badKey {
		return l
	}
	// Re-sign the same template for pub: testpki makes a key of its own.
	tmpl := *l.Cert
	for _, e := range l.Cert.Extensions {
		if e.Id.Equal(certattrs.OID) { // parsed extensions are not re-emitted unless extra
			tmpl.ExtraExtensions = append(tmpl.ExtraExtensions, e)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, &tmpl, f.ca.Cert, pub, f.ca.Key)
	if err != nil {
		f.t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return &testpki.Leaf{Cert: c, CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// renewable returns a store whose certificate is already due (40 of its 60 minutes gone) and
// its file.
func renewable(t *testing.T, pki *testpki.CA) (*identity.Store, string, certattrs.Attrs) {
	t.Helper()
	now := time.Now()
	attrs := certattrs.Attrs{Client: &certattrs.Client{Port: 1, Server: certattrs.ServerRef{UUID: "6f1c1c34-8d3e-4c59-9a4e-0c2f5b7a1d01", Name: "s"},
		Target: certattrs.Target{Host: "10.0.0.5", Port: 3306}, Relays: []certattrs.RelayRef{{UUID: "6f1c1c34-8d3e-4c59-9a4e-0c2f5b7a1d02", Name: "r", Addr: "127.0.0.1", Port: 1, Sort: 1}}}}
	l := pki.Issue(t, attrs, testpki.Opts{NotBefore: now.Add(-45 * time.Minute), NotAfter: now.Add(15 * time.Minute)})
	id, err := identity.Parse(l.CertPEM, l.KeyPEM, pki.PEM)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "alice.crt")
	if err := os.WriteFile(path, l.CertPEM, 0o640); err != nil {
		t.Fatal(err)
	}
	return identity.NewStore(id), path, l.Attrs
}

// fakeSleep records waits and ends Run (by cancelling) once stop says so.
type fakeSleep struct {
	mu     sync.Mutex
	waits  []time.Duration
	stop   func() bool
	cancel context.CancelFunc
}

func (s *fakeSleep) Sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.waits = append(s.waits, d)
	n := len(s.waits)
	s.mu.Unlock()
	if s.stop() || n > 50 {
		s.cancel()
	}
	return ctx.Err()
}

func TestRenewAfterFailures(t *testing.T) {
	pki := testpki.NewCA(t, "renew test")
	store, path, attrs := renewable(t, pki)
	orig := store.Load()
	ca := newFakeCA(t, pki, attrs)
	ca.failures.Store(3)
	core, logs := observer.New(zap.InfoLevel)
	var renewed atomic.Int64
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sl := &fakeSleep{cancel: cancel, stop: func() bool { return renewed.Load() > 0 }}
	r, err := New(Config{Store: store, CA: ca.srv.URL, CertPath: path, Log: zap.New(core), Sleep: sl.Sleep,
		MinBackoff: time.Second, MaxBackoff: 4 * time.Second, OnRenew: func(*identity.Identity) { renewed.Add(1) }})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if r.Renewals() != 1 || r.Failures() != 3 {
		t.Fatalf("%d renewals, %d failures, want 1 and 3", r.Renewals(), r.Failures())
	}
	// Backoff: 1s, 2s, 4s, each jittered into its upper half.
	for i, max := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second} {
		if w := sl.waits[i]; w < max/2 || w > max {
			t.Errorf("wait %d = %v, want within [%v, %v]", i, w, max/2, max)
		}
	}
	now := store.Load()
	if now == orig || !now.Leaf.NotAfter.After(orig.Leaf.NotAfter) || now.Attrs.UUID() != orig.Attrs.UUID() {
		t.Fatalf("store not renewed: %v", now.Leaf.NotAfter)
	}
	data, err := os.ReadFile(path)
	if err != nil || !strings.Contains(string(data), strings.TrimSpace(string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: now.Leaf.Raw})))) {
		t.Errorf("certificate file not renewed: %v", err)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o640 {
		t.Errorf("certificate file mode %v, want 0640 kept", fi.Mode().Perm())
	}
	if n := logs.FilterMessageSnippet("renewal failed").Len(); n != 3 {
		t.Errorf("%d failure logs, want 3", n)
	}
}

func TestRenewRefusedKeepsCertificate(t *testing.T) {
	for name, setup := range map[string]func(*fakeCA){
		"revoked":     func(f *fakeCA) { f.refuse = "revoked: certificate 1 was revoked" },
		"another-key": func(f *fakeCA) { f.badKey = true },
	} {
		t.Run(name, func(t *testing.T) {
			pki := testpki.NewCA(t, "renew test")
			store, path, attrs := renewable(t, pki)
			orig := store.Load()
			ca := newFakeCA(t, pki, attrs)
			setup(ca)
			r, err := New(Config{Store: store, CA: ca.srv.URL, CertPath: path, Log: zaptest.NewLogger(t)})
			if err != nil {
				t.Fatal(err)
			}
			err = r.RenewNow(context.Background())
			if err == nil {
				t.Fatal("renewed")
			}
			if name == "revoked" && enroll.Code(err) != "revoked" {
				t.Errorf("code %q (%v)", enroll.Code(err), err)
			}
			if store.Load() != orig {
				t.Error("the store changed")
			}
		})
	}
}

func TestRenewAt(t *testing.T) {
	r, err := New(Config{Store: identity.NewStore(&identity.Identity{Leaf: &x509.Certificate{}}), CA: "https://ca.example.com:9000"})
	if err != nil {
		t.Fatal(err)
	}
	nb := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if got := r.RenewAt(&x509.Certificate{NotBefore: nb, NotAfter: nb.Add(3 * time.Hour)}); !got.Equal(nb.Add(2 * time.Hour)) {
		t.Errorf("RenewAt = %v, want 2/3 of the lifetime", got)
	}
	for _, bad := range []string{"http://ca:9000", "https://ca:9000/x", "ca:9000"} {
		if _, err := New(Config{Store: r.cfg.Store, CA: bad}); err == nil {
			t.Errorf("accepted ca_url %q", bad)
		}
	}
}
