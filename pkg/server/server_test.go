package server

import (
	"context"
	"crypto/x509"
	"errors"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.uber.org/goleak"

	"github.com/sentinel-zt/sentinel/internal/testpki"
	"github.com/sentinel-zt/sentinel/pkg/certattrs"
	"github.com/sentinel-zt/sentinel/pkg/identity"
	"github.com/sentinel-zt/sentinel/pkg/tunnel"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type fakeResolver map[string][]netip.Addr

func (f fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if a, ok := f[host]; ok {
		return a, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

// dialRecorder records every address dialed and refuses them all.
type dialRecorder struct {
	mu    sync.Mutex
	addrs []string
}

func (d *dialRecorder) dial(_ context.Context, _, addr string) (net.Conn, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.addrs = append(d.addrs, addr)
	return nil, errors.New("refused by test")
}

func (d *dialRecorder) dialed() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.addrs...)
}

func newTestServer(t *testing.T, resources []string, cfg Config) (*Server, *testpki.CA) {
	t.Helper()
	ca := testpki.NewCA(t, "server unit")
	attrs := &certattrs.Server{UUID: uuid.NewString(), Name: "server1"}
	for i, spec := range resources {
		r, err := certattrs.ParseResource(spec)
		if err != nil {
			t.Fatal(err)
		}
		r.UUID, r.Name = uuid.NewString(), "res"+string(rune('a'+i))
		attrs.Resources = append(attrs.Resources, r)
	}
	leaf := ca.Issue(t, certattrs.Attrs{Server: attrs}, testpki.Opts{})
	id, err := identity.Parse(leaf.CertPEM, leaf.KeyPEM, ca.PEM)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Identity = identity.NewStore(id)
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, ca
}

func TestDialTargetPolicy(t *testing.T) {
	resolver := fakeResolver{
		"db.internal":     {netip.MustParseAddr("10.0.0.5")},
		"evil.internal":   {netip.MustParseAddr("10.9.9.9")},
		"mixed.internal":  {netip.MustParseAddr("10.9.9.9"), netip.MustParseAddr("10.0.0.7")},
		"mapped.internal": {netip.MustParseAddr("::ffff:10.0.0.8")},
	}
	tests := map[string]struct {
		host   string
		port   int
		dialed []string // nil: refused before any dial
	}{
		"ok/ip-inside":                 {"10.0.0.5", 3306, []string{"10.0.0.5:3306"}},
		"ok/name-resolving-inside":     {"db.internal", 3306, []string{"10.0.0.5:3306"}},
		"ok/only-the-inside-address":   {"mixed.internal", 3306, []string{"10.0.0.7:3306"}},
		"ok/mapped-answer-is-unmapped": {"mapped.internal", 3306, []string{"10.0.0.8:3306"}},
		"ok/mapped-literal-inside":     {"::ffff:10.0.0.5", 3306, []string{"10.0.0.5:3306"}},
		"ok/port-range-edge":           {"10.0.0.5", 8100, []string{"10.0.0.5:8100"}},
		"fail/ip-outside":              {"10.0.1.5", 3306, nil},
		"fail/port-outside":            {"10.0.0.5", 3307, nil},
		"fail/port-past-range":         {"10.0.0.5", 8101, nil},
		"fail/name-resolving-outside":  {"evil.internal", 3306, nil},
		"fail/mapped-literal-outside":  {"::ffff:10.0.1.5", 3306, nil},
		"fail/unknown-name":            {"nowhere.internal", 3306, nil},
		"fail/ipv6-never-matches-ipv4": {"fe80::1", 3306, nil},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			rec := &dialRecorder{}
			s, _ := newTestServer(t, []string{"10.0.0.0/24:3306", "10.0.0.5/32:8000-8100"}, Config{Resolver: resolver, Dial: rec.dial})
			_, _, err := s.dialTarget(context.Background(), certattrs.Target{Host: tc.host, Port: tc.port})
			got := rec.dialed()
			if tc.dialed == nil {
				if len(got) != 0 {
					t.Fatalf("dialed %v, want nothing dialed", got)
				}
				if err == nil {
					t.Fatal("no refusal")
				}
				return
			}
			if strings.Join(got, ",") != strings.Join(tc.dialed, ",") {
				t.Fatalf("dialed %v, want %v (the checked address, never the name)", got, tc.dialed)
			}
			if tunnel.DenyCode(err, "") != tunnel.CodeDialFailed {
				t.Fatalf("error %v, want dial_failed from the recorder", err)
			}
		})
	}
}

func TestAdmit(t *testing.T) {
	s, _ := newTestServer(t, []string{"10.0.0.0/24:3306"}, Config{})
	leaf := &x509.Certificate{}
	client := func(server string, sched *certattrs.Schedule) certattrs.Attrs {
		return certattrs.Attrs{Client: &certattrs.Client{Server: certattrs.ServerRef{UUID: server}, Schedule: sched}}
	}
	if err := s.admit(leaf, client(s.self.UUID, nil)); err != nil {
		t.Fatalf("own client refused: %v", err)
	}
	if err := s.admit(leaf, client(uuid.NewString(), nil)); tunnel.DenyCode(err, "") != tunnel.CodeNotAllowed {
		t.Fatalf("client of another server: %v, want not_allowed", err)
	}
	if err := s.admit(leaf, certattrs.Attrs{Relay: &certattrs.Relay{}}); tunnel.DenyCode(err, "") != tunnel.CodeWrongRole {
		t.Fatalf("relay certificate: %v, want wrong_role", err)
	}
	never := &certattrs.Schedule{TZ: "UTC", Days: []string{"mon"}, From: "00:00", To: "00:01"}
	s.cfg.Now = func() time.Time { return time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC) } // a Tuesday
	if err := s.admit(leaf, client(s.self.UUID, never)); tunnel.DenyCode(err, "") != tunnel.CodeSchedule {
		t.Fatalf("outside the schedule: %v, want schedule", err)
	}
}

func TestNewRefusesOtherRoles(t *testing.T) {
	if _, err := New(Config{}); err == nil {
		t.Fatal("New without identity succeeded")
	}
	ca := testpki.NewCA(t, "server unit")
	leaf := ca.Issue(t, certattrs.Attrs{Relay: &certattrs.Relay{Address: "relay.example.com", Port: 8443}}, testpki.Opts{})
	id, err := identity.Parse(leaf.CertPEM, leaf.KeyPEM, ca.PEM)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(Config{Identity: identity.NewStore(id)}); err == nil || !strings.Contains(err.Error(), "not server") {
		t.Fatalf("New with a relay certificate: %v", err)
	}
}

func TestCertSessionLimit(t *testing.T) {
	s, _ := newTestServer(t, []string{"10.0.0.0/24:3306"}, Config{MaxSessionsPerCert: 2})
	if !s.acquireCert("a") || !s.acquireCert("a") {
		t.Fatal("sessions under the limit refused")
	}
	if s.acquireCert("a") {
		t.Fatal("a third session of one certificate admitted")
	}
	s.releaseCert("a")
	if !s.acquireCert("a") {
		t.Fatal("a session after a release refused")
	}
}
