package server

import (
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sentinel-zt/sentinel/internal/testpki"
	"github.com/sentinel-zt/sentinel/pkg/certattrs"
	"github.com/sentinel-zt/sentinel/pkg/identity"
	"github.com/sentinel-zt/sentinel/pkg/tunnel"
	"github.com/sentinel-zt/sentinel/pkg/wsconn"
)

// rogueRelay accepts the server's registration, floods it with opens and holds every bind
// request open, counting how many the server attempts at once.
type rogueRelay struct {
	opens int

	mu        sync.Mutex
	inFlight  int
	maxFlight int
	total     int
	release   chan struct{}
}

func (rr *rogueRelay) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case tunnel.PathServer:
		ws, err := wsconn.Upgrader().Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer ws.Close()
		for range rr.opens {
			msg := tunnel.Control{Type: tunnel.MsgOpen, Session: tunnel.NewSessionID(), Client: uuid.NewString()}
			if err := ws.WriteMessage(websocket.BinaryMessage, append(msg.Marshal(), '\n')); err != nil {
				return
			}
		}
		<-rr.release
	case tunnel.PathBind:
		rr.mu.Lock()
		rr.inFlight++
		rr.total++
		rr.maxFlight = max(rr.maxFlight, rr.inFlight)
		rr.mu.Unlock()
		select {
		case <-rr.release:
		case <-r.Context().Done():
		}
		rr.mu.Lock()
		rr.inFlight--
		rr.mu.Unlock()
		http.Error(w, "never", http.StatusServiceUnavailable)
	}
}

func (rr *rogueRelay) snapshot() (inFlight, maxFlight, total int) {
	rr.mu.Lock()
	defer rr.mu.Unlock()
	return rr.inFlight, rr.maxFlight, rr.total
}

// TestRelayCannotFloodBinds: a compromised relay sending opens without end gets at most
// DefaultMaxBindsPerRelay bind attempts at once out of the server, at most DefaultMaxQueuedOpens more wait,
// and the rest are dropped (and counted).
func TestRelayCannotFloodBinds(t *testing.T) {
	const beyond = 50
	rr := &rogueRelay{opens: DefaultMaxBindsPerRelay + DefaultMaxQueuedOpens + beyond, release: make(chan struct{})}
	hs := httptest.NewServer(rr)
	defer hs.Close()
	defer close(rr.release)
	port := hs.Listener.Addr().(*net.TCPAddr).Port

	ca := testpki.NewCA(t, "bind flood")
	res, _ := certattrs.ParseResource("10.0.0.0/24:3306")
	res.UUID, res.Name = uuid.NewString(), "db"
	ref := certattrs.RelayRef{UUID: uuid.NewString(), Name: "rogue", Addr: "ws://127.0.0.1", Port: port, Sort: 1}
	leaf := ca.Issue(t, certattrs.Attrs{Server: &certattrs.Server{Resources: []certattrs.Resource{res}, Relays: []certattrs.RelayRef{ref}}}, testpki.Opts{})
	id, err := identity.Parse(leaf.CertPEM, leaf.KeyPEM, ca.PEM)
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{Identity: identity.NewStore(id), HandshakeTimeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(t.Context(), nil) }()
	defer func() { _ = s.Close(); <-done }()

	// Wait until the server has taken all it will: the cap in flight, the excess dropped.
	dropped := func() float64 { return testutil.ToFloat64(s.metrics.authFailures.WithLabelValues(tunnel.CodeLimit)) }
	deadline := time.Now().Add(20 * time.Second)
	for {
		inFlight, _, _ := rr.snapshot()
		if (inFlight >= DefaultMaxBindsPerRelay && dropped() >= beyond) || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond) // polling interval
	}
	if got := dropped(); got != beyond {
		t.Fatalf("%v opens dropped, want the %d beyond %d at once and %d waiting", got, beyond, DefaultMaxBindsPerRelay, DefaultMaxQueuedOpens)
	}
	_, maxFlight, total := rr.snapshot()
	if maxFlight != DefaultMaxBindsPerRelay {
		t.Fatalf("rogue relay saw %d concurrent binds (total %d), want exactly the cap %d", maxFlight, total, DefaultMaxBindsPerRelay)
	}
	if total > DefaultMaxBindsPerRelay {
		t.Fatalf("server attempted %d binds for %d opens while %d were stuck; the rest should wait", total, rr.opens, DefaultMaxBindsPerRelay)
	}
}
