package relay

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/sentinel-zt/sentinel/internal/testpki"
	"github.com/sentinel-zt/sentinel/pkg/certattrs"
	"github.com/sentinel-zt/sentinel/pkg/identity"
	"github.com/sentinel-zt/sentinel/pkg/tunnel"
	"github.com/sentinel-zt/sentinel/pkg/wsconn"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func newTestRelay(t *testing.T, cfg Config) *Relay {
	t.Helper()
	ca := testpki.NewCA(t, "relay unit")
	leaf := ca.Issue(t, certattrs.Attrs{Relay: &certattrs.Relay{UUID: uuid.NewString(), Name: "relay1", Address: "127.0.0.1", Port: 8443}}, testpki.Opts{})
	id, err := identity.Parse(leaf.CertPEM, leaf.KeyPEM, ca.PEM)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Identity = identity.NewStore(id)
	r, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r
}

// TestCertificateExpiryMetric: the expiry gauge follows the certificate in use, so a reload
// or renewal shows at the next scrape.
func TestCertificateExpiryMetric(t *testing.T) {
	reg := prometheus.NewRegistry()
	r := newTestRelay(t, Config{Registry: reg})
	expiry := func() float64 {
		t.Helper()
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() == "sentinel_relay_certificate_expiry_timestamp_seconds" && len(mf.GetMetric()) == 1 {
				return mf.GetMetric()[0].GetGauge().GetValue()
			}
		}
		t.Fatal("no sentinel_relay_certificate_expiry_timestamp_seconds")
		return 0
	}
	cur := r.cfg.Identity.Load()
	if got, want := expiry(), float64(cur.Leaf.NotAfter.Unix()); got != want {
		t.Fatalf("expiry = %v, want the certificate's NotAfter %v", got, want)
	}
	ca := testpki.NewCA(t, "relay unit renewed")
	later := time.Now().Add(48 * time.Hour).Truncate(time.Second)
	leaf := ca.Issue(t, certattrs.Attrs{Relay: cur.Attrs.Relay}, testpki.Opts{NotAfter: later})
	renewed, err := identity.Parse(leaf.CertPEM, leaf.KeyPEM, ca.PEM)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.cfg.Identity.Replace(renewed); err != nil {
		t.Fatal(err)
	}
	if got := expiry(); got != float64(later.Unix()) {
		t.Fatalf("expiry after renewal = %v, want %v", got, later.Unix())
	}
}

func TestNewRefusesOtherRoles(t *testing.T) {
	ca := testpki.NewCA(t, "relay unit")
	leaf := ca.Issue(t, certattrs.Attrs{Client: &certattrs.Client{
		Port: 1, Server: certattrs.ServerRef{UUID: uuid.NewString(), Name: "s"}, Target: certattrs.Target{Host: "10.0.0.1", Port: 1},
	}}, testpki.Opts{})
	id, err := identity.Parse(leaf.CertPEM, leaf.KeyPEM, ca.PEM)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(Config{Identity: identity.NewStore(id)}); err == nil || !strings.Contains(err.Error(), `"client", not relay`) {
		t.Fatalf("New with a client certificate: %v", err)
	}
	if _, err := New(Config{}); err == nil {
		t.Fatal("New without identity succeeded")
	}
}

func TestDenyAnswersBeforeUpgrade(t *testing.T) {
	r := newTestRelay(t, Config{})
	srv := httptest.NewServer(r.Handler())
	defer srv.Close()
	for _, path := range []string{tunnel.PathServer, tunnel.PathClient + "?server=x", tunnel.PathBind + "?session=x"} {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		req.Header.Set("Authorization", "Bearer not-a-token")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get(tunnel.HeaderDeny) != tunnel.CodeBadToken {
			t.Errorf("%s: %d %q, want 401 bad_token", path, resp.StatusCode, resp.Header.Get(tunnel.HeaderDeny))
		}
	}
	resp, err := http.Get(srv.URL + tunnel.PathHealthz)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("healthz: %d", resp.StatusCode)
	}
}

func TestRemoteAddrTrustsForwardedForOnlyBehindProxy(t *testing.T) {
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.RemoteAddr = "192.0.2.1:1234"
	req.Header.Add("X-Forwarded-For", "203.0.113.9, 198.51.100.7")
	direct := newTestRelay(t, Config{})
	if got := direct.remoteAddr(req); got != "192.0.2.1:1234" {
		t.Fatalf("direct relay used X-Forwarded-For: %q", got)
	}
	proxied := newTestRelay(t, Config{BehindProxy: true})
	if got := proxied.remoteAddr(req); got != "198.51.100.7" {
		t.Fatalf("behind_proxy relay: %q, want the right-most entry (the proxy's own)", got)
	}
}

func TestTakePendingKeepsAnotherServersSession(t *testing.T) {
	r := newTestRelay(t, Config{})
	p := &pendingOpen{serverUUID: "server-a", ready: make(chan struct{})}
	if err := r.addPending("sid", p); err != nil {
		t.Fatal(err)
	}
	if _, err := r.takePending("sid", "server-b"); tunnel.DenyCode(err, "") != tunnel.CodeBadSession {
		t.Fatalf("bind by another server: %v, want bad_session", err)
	}
	got, err := r.takePending("sid", "server-a")
	if err != nil || got != p {
		t.Fatalf("the right server's bind after a wrong one: %v", err)
	}
	if _, err := r.takePending("sid", "server-a"); tunnel.DenyCode(err, "") != tunnel.CodeBadSession {
		t.Fatalf("second bind of one session: %v, want bad_session", err)
	}
}

func TestPendingLimit(t *testing.T) {
	r := newTestRelay(t, Config{MaxPendingOpens: 2})
	for i, id := range []string{"a", "b"} {
		if err := r.addPending(id, &pendingOpen{}); err != nil {
			t.Fatalf("pending %d: %v", i, err)
		}
	}
	if err := r.addPending("c", &pendingOpen{}); tunnel.DenyCode(err, "") != tunnel.CodeLimit {
		t.Fatalf("third pending open: %v, want limit", err)
	}
}

func TestCertLimit(t *testing.T) {
	r := newTestRelay(t, Config{MaxSessionsPerCert: 1})
	if err := r.acquireCert("01"); err != nil {
		t.Fatal(err)
	}
	if err := r.acquireCert("01"); tunnel.DenyCode(err, "") != tunnel.CodeLimit {
		t.Fatalf("second session of one certificate: %v, want limit", err)
	}
	if err := r.acquireCert("02"); err != nil {
		t.Fatalf("another certificate is limited too: %v", err)
	}
	r.releaseCert("01")
	if err := r.acquireCert("01"); err != nil {
		t.Fatalf("after release: %v", err)
	}
}

func TestPendingDeliverAbandonRace(t *testing.T) {
	// Whichever of deliver and abandon comes first, the bind connection has exactly one owner.
	for range 100 {
		p := &pendingOpen{ready: make(chan struct{})}
		delivered := make(chan bool, 1)
		go func() { delivered <- p.deliver(nil, nil) }()
		ws, _ := p.abandon()
		ok := <-delivered
		if ok && ws != nil {
			t.Fatal("both sides own the bind")
		}
		select {
		case <-p.ready:
			if !ok {
				t.Fatal("ready closed without a delivery")
			}
		case <-time.After(0):
		}
	}
}

func TestControlsForPrefersLeastUsed(t *testing.T) {
	r := newTestRelay(t, Config{})
	a, b := &control{serverUUID: "s"}, &control{serverUUID: "s"}
	a.opens.Store(5)
	r.controls["s"] = []*control{a, b}
	if got := r.controlsFor("s"); got[0] != b || got[1] != a {
		t.Fatal("the least used channel is not tried first")
	}
}

func TestControlChannelsPerServerLimit(t *testing.T) {
	r := newTestRelay(t, Config{MaxChannelsPerServer: 2, MaxServerChannels: 3})
	for i := range 2 {
		if err := r.reserveControl("server-a"); err != nil {
			t.Fatalf("channel %d of server-a: %v", i, err)
		}
	}
	if err := r.reserveControl("server-a"); tunnel.DenyCode(err, "") != tunnel.CodeLimit {
		t.Fatalf("third channel of one server: %v, want limit", err)
	}
	if err := r.reserveControl("server-b"); err != nil {
		t.Fatalf("another server is crowded out: %v", err)
	}
	if err := r.reserveControl("server-c"); tunnel.DenyCode(err, "") != tunnel.CodeLimit {
		t.Fatalf("relay-wide limit: %v, want limit", err)
	}
	r.releaseControl("server-a")
	if err := r.reserveControl("server-a"); err != nil {
		t.Fatalf("a released slot is not reusable: %v", err)
	}
	if err := r.reserveControl("server-b"); tunnel.DenyCode(err, "") != tunnel.CodeLimit {
		t.Fatalf("relay-wide limit after reuse: %v, want limit", err)
	}
}

// wsPair returns the two ends of a WebSocket over loopback: the accepting end as the relay
// holds a server's control channel, and the dialing end as the server reads it.
func wsPair(t *testing.T) (*wsconn.Conn, *websocket.Conn) {
	t.Helper()
	accepted := make(chan *websocket.Conn, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		ws, err := wsconn.Upgrader().Upgrade(w, req, nil)
		if err != nil {
			t.Errorf("upgrade: %v", err)
			return
		}
		accepted <- ws
	}))
	t.Cleanup(srv.Close)
	peer, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = peer.Close() })
	c := wsconn.New(<-accepted, wsconn.Options{PingInterval: -1, IdleTimeout: -1})
	t.Cleanup(func() { _ = c.Close() })
	return c, peer
}

// readOpen reads one control message from a server's end of its channel and checks that it
// asks to bind session id.
func readOpen(t *testing.T, peer *websocket.Conn, id string, within time.Duration) {
	t.Helper()
	_ = peer.SetReadDeadline(time.Now().Add(within))
	_, line, err := peer.ReadMessage()
	if err != nil {
		t.Fatalf("no open within %v: %v", within, err)
	}
	msg, err := tunnel.ParseControl(bytes.TrimSuffix(line, []byte("\n")))
	if err != nil || msg.Type != tunnel.MsgOpen || msg.Session != id {
		t.Fatalf("control message %q (%v), want an open of session %s", line, err, id)
	}
}

// TestOpenMovesOnWhenChannelCloses: a server's channel that closes while asked to bind (the
// server stopped) is given up at once, and a channel registered meanwhile (the server back)
// is asked next, long before BindTimeout; its bind completes the open.
func TestOpenMovesOnWhenChannelCloses(t *testing.T) {
	r := newTestRelay(t, Config{BindTimeout: time.Minute})
	addChannel := func() (*control, *websocket.Conn) {
		conn, peer := wsPair(t)
		c := &control{serverUUID: "s", serverName: "server1", conn: conn, gone: make(chan struct{})}
		if err := r.reserveControl("s"); err != nil {
			t.Fatal(err)
		}
		r.addControl(c)
		return c, peer
	}
	old, oldPeer := addChannel()
	id := tunnel.NewSessionID()
	done := make(chan error, 1)
	go func() {
		_, _, err := r.open(context.Background(), "s", id, "c")
		done <- err
	}()
	readOpen(t, oldPeer, id, 5*time.Second)

	fresh, freshPeer := addChannel()
	defer r.removeControl(fresh)
	r.removeControl(old)
	readOpen(t, freshPeer, id, 5*time.Second)
	p, err := r.takePending(id, "s")
	if err != nil {
		t.Fatal(err)
	}
	p.deliver(nil, nil)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("open: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("open did not return after the bind")
	}
}
