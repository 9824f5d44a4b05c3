package client

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.uber.org/goleak"

	"github.com/sentinel-zt/sentinel/internal/testpki"
	"github.com/sentinel-zt/sentinel/pkg/certattrs"
	"github.com/sentinel-zt/sentinel/pkg/identity"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func clientStore(t *testing.T, attrs *certattrs.Client) *identity.Store {
	t.Helper()
	ca := testpki.NewCA(t, "client unit")
	leaf := ca.Issue(t, certattrs.Attrs{Client: attrs}, testpki.Opts{})
	id, err := identity.Parse(leaf.CertPEM, leaf.KeyPEM, ca.PEM)
	if err != nil {
		t.Fatal(err)
	}
	return identity.NewStore(id)
}

func baseAttrs() *certattrs.Client {
	return &certattrs.Client{
		Port:   48080,
		Server: certattrs.ServerRef{UUID: uuid.NewString(), Name: "server1"},
		Target: certattrs.Target{Host: "10.0.0.5", Port: 3306},
	}
}

func relay(name string, sort int) certattrs.RelayRef {
	return certattrs.RelayRef{UUID: uuid.NewString(), Name: name, Addr: name + ".example.com", Port: 8443, Sort: sort}
}

func TestRoutesOrder(t *testing.T) {
	a := baseAttrs()
	a.Server.Addr, a.Server.OutPort = "10.0.0.1", 9443
	a.Relays = []certattrs.RelayRef{relay("c", 3), relay("a", 1), relay("b1", 2), relay("b2", 2)}
	c, err := New(Config{Identity: clientStore(t, a), Direct: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var names []string
	for _, r := range c.routes() {
		names = append(names, r.name)
	}
	if got := strings.Join(names, ","); got != "direct,a,b1,b2,c" {
		t.Fatalf("routes %s, want direct first, then relays by sort (stable)", got)
	}
	if r := c.routes()[0]; r.addr != "10.0.0.1" || r.port != 9443 || r.audience != a.Server.UUID {
		t.Fatalf("direct route %+v", r)
	}
}

func TestNewRefusesUnreachableConfigurations(t *testing.T) {
	noRelays := baseAttrs()
	if _, err := New(Config{Identity: clientStore(t, noRelays)}); err == nil || !strings.Contains(err.Error(), "no relay") {
		t.Fatalf("no relays and no direct mode: %v", err)
	}
	withRelay := baseAttrs()
	withRelay.Relays = []certattrs.RelayRef{relay("a", 1)}
	if _, err := New(Config{Identity: clientStore(t, withRelay), Direct: true}); err == nil || !strings.Contains(err.Error(), "direct mode needs a server address") {
		t.Fatalf("direct mode without a server address: %v", err)
	}
	if _, err := New(Config{}); err == nil {
		t.Fatal("New without identity succeeded")
	}
}

func TestSessionWaitIsBoundedAndSaysWhy(t *testing.T) {
	a := baseAttrs()
	a.Relays = []certattrs.RelayRef{relay("a", 1)}
	c, err := New(Config{Identity: clientStore(t, a), WaitSession: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.setErr(errors.New("relay a: connection refused"))
	_, err = c.session(context.Background())
	if err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("session without a connection: %v, want the last attempt's error", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	c.cfg.WaitSession = time.Hour
	if _, err := c.session(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled wait: %v", err)
	}
	if err := c.Ready(); err == nil {
		t.Fatal("Ready without a session")
	}
}

// TestTryOrder: the route whose session just failed is tried after the others, which keep
// their sort order; without one (or out of range) the order is the sort order.
func TestTryOrder(t *testing.T) {
	for _, tc := range []struct {
		limit, last int
		want        []int
	}{
		{3, -1, []int{0, 1, 2}},
		{3, 0, []int{1, 2, 0}},
		{3, 1, []int{0, 2, 1}},
		{3, 2, []int{0, 1, 2}},
		{1, 0, []int{0}},
		{2, 5, []int{0, 1}}, // a failback round is limited to the better routes
		{0, -1, []int{}},
	} {
		if got := tryOrder(tc.limit, tc.last); !slices.Equal(got, tc.want) {
			t.Errorf("tryOrder(%d, %d) = %v, want %v", tc.limit, tc.last, got, tc.want)
		}
	}
}
