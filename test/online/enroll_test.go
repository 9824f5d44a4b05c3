package online

import (
	"context"
	"crypto"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/sentinel-zt/sentinel/internal/testnet"
	"github.com/sentinel-zt/sentinel/pkg/ca"
	"github.com/sentinel-zt/sentinel/pkg/caserver"
	"github.com/sentinel-zt/sentinel/pkg/certattrs"
	"github.com/sentinel-zt/sentinel/pkg/client"
	"github.com/sentinel-zt/sentinel/pkg/config"
	"github.com/sentinel-zt/sentinel/pkg/enroll"
	"github.com/sentinel-zt/sentinel/pkg/identity"
	"github.com/sentinel-zt/sentinel/pkg/relay"
	"github.com/sentinel-zt/sentinel/pkg/renew"
	"github.com/sentinel-zt/sentinel/pkg/server"
)

// onlineEnv is a deployment whose three components enrolled through the online CA (backend
// ca serve): each made its own key, and each runs a renewer against the CA.
type onlineEnv struct {
	t      *testing.T
	ctx    context.Context
	ca     *ca.CA
	caURL  string
	caDown atomic.Bool // the renewers' dialer fails while set: the CA is unreachable
	caAddr string

	target      net.Listener
	targetConns atomic.Int64
	relayLn     net.Listener
	clientLn    net.Listener

	stores   map[certattrs.Role]*identity.Store
	bundles  map[certattrs.Role]string // bundle directory
	renewers map[certattrs.Role]*renew.Renewer
	wg       sync.WaitGroup
}

type onlineOptions struct {
	certTTL map[certattrs.Role]time.Duration // 0 = the online default
}

func newOnlineEnv(t *testing.T, opts onlineOptions) *onlineEnv {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	e := &onlineEnv{t: t, ctx: ctx, stores: map[certattrs.Role]*identity.Store{},
		bundles: map[certattrs.Role]string{}, renewers: map[certattrs.Role]*renew.Renewer{}}
	log := zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))
	var err error
	if e.ca, err = ca.Init(filepath.Join(t.TempDir(), "ca"), ca.InitOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.ca.Close() }) // after the deployment's cleanup: cleanups run last first
	srv, err := caserver.New(caserver.Config{CA: e.ca, DNSNames: []string{"127.0.0.1"}, Log: log, Backdate: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	caLn := testnet.Listen(t)
	e.caAddr = caLn.Addr().String()
	e.caURL = "https://" + e.caAddr
	e.serve(func() error { return srv.Serve(ctx, caLn) })

	e.target = testnet.Listen(t)
	e.wg.Add(1)
	go func() { defer e.wg.Done(); testnet.ServeEcho(e.target, &e.targetConns) }()
	e.relayLn = testnet.Listen(t)
	e.clientLn = testnet.Listen(t)
	relayPort := e.relayLn.Addr().(*net.TCPAddr).Port
	targetPort := e.target.Addr().(*net.TCPAddr).Port

	// The admin's side: one token per component, each enrolled before the next is made (a
	// server token needs a relay in the inventory, a client token a server).
	specs := []struct {
		role certattrs.Role
		name string
		spec ca.TokenSpec
	}{
		{certattrs.RoleRelay, "relay1", ca.TokenSpec{Addr: "127.0.0.1", Port: relayPort}},
		{certattrs.RoleServer, "server1", ca.TokenSpec{Resources: []string{"echo=127.0.0.1/32:" + strconv.Itoa(targetPort)}}},
		{certattrs.RoleClient, "alice", ca.TokenSpec{Server: "server1", Target: "127.0.0.1:" + strconv.Itoa(targetPort),
			Port: e.clientLn.Addr().(*net.TCPAddr).Port, User: "alice@example.com"}},
	}
	for _, s := range specs {
		s.spec.CertTTL = opts.certTTL[s.role]
		tok, err := e.ca.NewToken(ca.TokenRequest{Role: s.role, Name: s.name, Spec: s.spec})
		if err != nil {
			t.Fatalf("token %s: %v", s.name, err)
		}
		// The device's side.
		dir := filepath.Join(t.TempDir(), s.name)
		res, err := enroll.Enroll(ctx, enroll.Options{CA: e.caURL, Token: tok.JWT, Out: dir})
		if err != nil {
			t.Fatalf("enroll %s: %v", s.name, err)
		}
		cfg, err := config.Load(res.Config, nil)
		if err != nil {
			t.Fatalf("%s: %v", res.Config, err)
		}
		id, err := identity.Parse(cfg.Cert, cfg.Key, cfg.CA)
		if err != nil {
			t.Fatal(err)
		}
		e.stores[s.role] = identity.NewStore(id)
		e.bundles[s.role] = dir
		r, err := renew.New(renew.Config{
			Store: e.stores[s.role], CA: cfg.CAURL, CertPath: cfg.CertPath, Log: log.Named(s.name),
			MinBackoff: 100 * time.Millisecond, MaxBackoff: time.Second, CheckEvery: 200 * time.Millisecond,
			Dial: e.dialCA,
		})
		if err != nil {
			t.Fatal(err)
		}
		e.renewers[s.role] = r
	}

	rl, err := relay.New(relay.Config{Identity: e.stores[certattrs.RoleRelay], Log: log, Registry: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	sv, err := server.New(server.Config{Identity: e.stores[certattrs.RoleServer], Log: log, Registry: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	cl, err := client.New(client.Config{Identity: e.stores[certattrs.RoleClient], Log: log, Registry: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	e.serve(func() error { return rl.Serve(ctx, e.relayLn) })
	e.serve(func() error { return sv.Serve(ctx, nil) })
	e.serve(func() error { return cl.Serve(ctx, e.clientLn) })
	for _, r := range e.renewers {
		e.serve(func() error { return r.Run(ctx) })
	}
	t.Cleanup(func() {
		cancel()
		_ = cl.Close()
		_ = sv.Close()
		_ = rl.Close()
		_ = srv.Close()
		_ = e.target.Close()
		e.wg.Wait()
	})
	e.waitReady()
	return e
}

// dialCA reaches the CA unless the test took it down, then the address refuses.
func (e *onlineEnv) dialCA(ctx context.Context, network, addr string) (net.Conn, error) {
	if e.caDown.Load() {
		return nil, errors.New("test: CA unreachable")
	}
	var d net.Dialer
	return d.DialContext(ctx, network, addr)
}

func (e *onlineEnv) serve(f func() error) {
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		if err := f(); err != nil {
			e.t.Errorf("serve: %v", err)
		}
	}()
}

func (e *onlineEnv) waitReady() {
	e.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	var last error
	for time.Now().Before(deadline) {
		if last = e.roundTrip(); last == nil {
			return
		}
		time.Sleep(20 * time.Millisecond) // polling interval, not a readiness guess
	}
	e.t.Fatalf("tunnel never became ready: %v", last)
}

func (e *onlineEnv) roundTrip() error {
	c, err := net.Dial("tcp", e.clientLn.Addr().String())
	if err != nil {
		return err
	}
	defer c.Close()
	return echo(c, "ping")
}

func echo(c net.Conn, msg string) error {
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, msg); err != nil {
		return err
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil {
		return err
	}
	if string(got) != msg {
		return errors.New("echo mismatch")
	}
	return nil
}

// TestEnrollEndToEnd: a relay, a server and a client each go from a token to a working tunnel
// with keys made on their own side; the inventory records each with its token.
func TestEnrollEndToEnd(t *testing.T) {
	t.Parallel()
	e := newOnlineEnv(t, onlineOptions{})
	for role, dir := range e.bundles {
		id := e.stores[role].Load()
		fi, err := os.Stat(filepath.Join(dir, id.Attrs.Name()+".key"))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s key file: %v %v", role, fi, err)
		}
		rec, err := e.ca.Lookup(id.Leaf.SerialNumber.Text(16))
		if err != nil || rec.Token == "" || rec.Name != id.Attrs.Name() {
			t.Errorf("%s inventory record %+v %v", role, rec, err)
		}
	}
	if life := e.stores[certattrs.RoleClient].Load().Leaf; life.NotAfter.Sub(life.NotBefore) > ca.OnlineClientLifetime+time.Minute {
		t.Errorf("client lifetime %v, want the online default %v", life.NotAfter.Sub(life.NotBefore), ca.OnlineClientLifetime)
	}
}

// liveConn opens a connection through the tunnel and proves it works.
func (e *onlineEnv) liveConn() net.Conn {
	e.t.Helper()
	c, err := net.Dial("tcp", e.clientLn.Addr().String())
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { _ = c.Close() })
	if err := echo(c, "before renewal"); err != nil {
		e.t.Fatal(err)
	}
	return c
}

// keepTalking echoes on c every 200 ms until the deadline; any failure fails the test.
func keepTalking(t *testing.T, c net.Conn, until time.Time, during func()) {
	t.Helper()
	for i := 0; time.Now().Before(until); i++ {
		if err := echo(c, "tick "+strconv.Itoa(i)); err != nil {
			t.Fatalf("live connection broke after %d echoes: %v", i, err)
		}
		if during != nil {
			during()
		}
		time.Sleep(200 * time.Millisecond) // the pace of the conversation
	}
}

// TestRenewalKeepsLiveSession: relay, server and client hold 6-second certificates; each
// renews at 2/3 through the online CA (the relay's is serverAuth only, so no mTLS), and one
// connection opened before keeps working past every original expiry.
func TestRenewalKeepsLiveSession(t *testing.T) {
	t.Parallel()
	ttl := 6 * time.Second
	e := newOnlineEnv(t, onlineOptions{certTTL: map[certattrs.Role]time.Duration{
		certattrs.RoleRelay: ttl, certattrs.RoleServer: ttl, certattrs.RoleClient: ttl}})
	orig := map[certattrs.Role]*identity.Identity{}
	var last time.Time
	for role, s := range e.stores {
		orig[role] = s.Load()
		if orig[role].Leaf.NotAfter.After(last) {
			last = orig[role].Leaf.NotAfter
		}
	}
	c := e.liveConn()
	keepTalking(t, c, last.Add(1500*time.Millisecond), nil)

	for role, s := range e.stores {
		now := s.Load()
		if e.renewers[role].Renewals() < 1 || !now.Leaf.NotAfter.After(orig[role].Leaf.NotAfter) {
			t.Errorf("%s: %d renewals, certificate until %s (was %s)", role, e.renewers[role].Renewals(), now.Leaf.NotAfter, orig[role].Leaf.NotAfter)
			continue
		}
		if !now.Leaf.PublicKey.(interface{ Equal(crypto.PublicKey) bool }).Equal(orig[role].Leaf.PublicKey) {
			t.Errorf("%s: renewal changed the key", role)
		}
		// The file on disk is the renewal, so a restart (or the config watcher) loads it.
		onDisk, err := ca.ReadCertificates(filepath.Join(e.bundles[role], now.Attrs.Name()+".crt"))
		if err != nil || !onDisk[0].Equal(now.Leaf) && onDisk[0].NotAfter.Before(now.Leaf.NotAfter) {
			t.Errorf("%s: certificate file not renewed: %v", role, err)
		}
		rec, err := e.ca.Lookup(now.Leaf.SerialNumber.Text(16))
		if err != nil || rec.RenewedFrom == "" {
			t.Errorf("%s: renewal not in the inventory: %+v %v", role, rec, err)
		}
	}
	if err := echo(c, "after every original expiry"); err != nil {
		t.Fatal(err)
	}
	if err := e.roundTrip(); err != nil {
		t.Fatalf("new connection after renewal: %v", err)
	}
}

// TestRenewalWhileCADown: the CA is unreachable when the client's certificate is due; the
// renewer keeps the running certificate, retries with backoff, and renews once the CA is
// back, before expiry; the live connection never notices.
func TestRenewalWhileCADown(t *testing.T) {
	t.Parallel()
	e := newOnlineEnv(t, onlineOptions{certTTL: map[certattrs.Role]time.Duration{certattrs.RoleClient: 9 * time.Second}})
	r, store := e.renewers[certattrs.RoleClient], e.stores[certattrs.RoleClient]
	orig := store.Load()
	e.caDown.Store(true)
	c := e.liveConn()
	// Down through the renewal point and a second more.
	keepTalking(t, c, r.RenewAt(orig.Leaf).Add(time.Second), nil)
	if r.Failures() < 1 || r.Renewals() != 0 || store.Load() != orig {
		t.Fatalf("while the CA is down: %d failures, %d renewals, certificate swapped %v", r.Failures(), r.Renewals(), store.Load() != orig)
	}
	e.caDown.Store(false)
	keepTalking(t, c, orig.Leaf.NotAfter.Add(1500*time.Millisecond), nil)
	if r.Renewals() < 1 || !store.Load().Leaf.NotAfter.After(orig.Leaf.NotAfter) {
		t.Fatalf("after the CA came back: %d renewals", r.Renewals())
	}
}
