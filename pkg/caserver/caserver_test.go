package caserver_test

import (
	"context"
	"net"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/goleak"
	"go.uber.org/zap/zaptest"

	"github.com/sentinel-zt/sentinel/pkg/ca"
	"github.com/sentinel-zt/sentinel/pkg/caserver"
	"github.com/sentinel-zt/sentinel/pkg/certattrs"
)

// The authority links github.com/golang/glog (through step-ca's nosql drivers), whose init
// starts a flush goroutine.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("github.com/golang/glog.(*fileSink).flushDaemon"))
}

// fixture is a CA directory with a relay and a server in its inventory and the online CA
// serving it on 127.0.0.1.
type fixture struct {
	t   *testing.T
	ca  *ca.CA
	srv *caserver.Server
	url string
	now *clock
}

type clock struct{ off time.Duration }

func (c *clock) Now() time.Time { return time.Now().Add(c.off) }

func newFixture(t *testing.T, mod func(*caserver.Config)) *fixture {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "ca")
	c, err := ca.Init(dir, ca.InitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := c.Issue(ca.IssueRequest{Name: "relay1", Relay: &ca.RelaySpec{Addr: "127.0.0.1", Port: 8443}}); err != nil {
		t.Fatal(err)
	}
	res, err := certattrs.ParseResource("10.0.0.0/24:3306")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Issue(ca.IssueRequest{Name: "server1", Server: &ca.ServerSpec{Resources: []certattrs.Resource{res}}}); err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, ca: c, now: &clock{}}
	cfg := caserver.Config{CA: c, DNSNames: []string{"127.0.0.1", "localhost"}, Log: zaptest.NewLogger(t), Now: f.now.Now, Backdate: time.Second}
	if mod != nil {
		mod(&cfg)
	}
	f.srv, err = caserver.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f.url = "https://" + ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return f
}

func (f *fixture) clientToken(name string, mod func(*ca.TokenRequest)) string {
	f.t.Helper()
	req := ca.TokenRequest{Role: certattrs.RoleClient, Name: name, Spec: ca.TokenSpec{Server: "server1", Target: "10.0.0.5:3306"}}
	if mod != nil {
		mod(&req)
	}
	tok, err := f.ca.NewToken(req)
	if err != nil {
		f.t.Fatal(err)
	}
	return tok.JWT
}
