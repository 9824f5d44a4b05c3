package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestRelayCrashFailover: the preferred relay dies during a transfer. The transfer's local
// connection ends with an error (not a clean EOF that would pass for a complete transfer),
// new connections get through the second relay within seconds, and the server stays
// registered on the second relay throughout.
func TestRelayCrashFailover(t *testing.T) {
	f := newFleet(t, fleetOptions{relays: 2})
	if !f.registered(1) {
		t.Fatal("server is not registered on relay2 before the crash")
	}
	c, err := net.Dial("tcp", f.clientLn.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("before")); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(c, make([]byte, 6)); err != nil {
		t.Fatal(err)
	}

	f.killRelay(0)

	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err = io.Copy(io.Discard, c)
	if err == nil {
		t.Fatal("the local connection ended with a clean EOF; want an error")
	}
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("local connection error %v, want a reset", err)
	}
	took := f.waitVia(3*time.Second, "relay2")
	t.Logf("new connections through relay2 %v after the crash", took)
	if !f.registered(1) {
		t.Fatal("server lost its registration on relay2")
	}
}

// TestRelayRestartAndFailback: after the preferred relay comes back, the server re-registers
// within seconds and the client moves back to it on its next failback check.
func TestRelayRestartAndFailback(t *testing.T) {
	f := newFleet(t, fleetOptions{relays: 2, failback: 200 * time.Millisecond})
	f.killRelay(0)
	f.waitVia(3*time.Second, "relay2")

	f.startRelay(0)
	deadline := time.Now().Add(3 * time.Second)
	for !f.registered(0) {
		if time.Now().After(deadline) {
			t.Fatal("server did not re-register with relay1 within 3s of it listening again")
		}
		time.Sleep(20 * time.Millisecond) // polling interval
	}
	f.waitVia(5*time.Second, "relay1")
}

// TestRelayDrainMovesClients: a relay shutting down tells its server, which tells the client
// to move; new connections go through the other relay while a connection already open
// through the draining relay keeps working to its end.
func TestRelayDrainMovesClients(t *testing.T) {
	f := newFleet(t, fleetOptions{relays: 2, shutdownTimeout: 20 * time.Second})
	old, err := net.Dial("tcp", f.clientLn.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	_ = old.SetDeadline(time.Now().Add(30 * time.Second))
	echo := func(msg string) {
		t.Helper()
		if _, err := old.Write([]byte(msg)); err != nil {
			t.Fatalf("old connection write: %v", err)
		}
		got := make([]byte, len(msg))
		if _, err := io.ReadFull(old, got); err != nil || string(got) != msg {
			t.Fatalf("old connection echo: %q, %v", got, err)
		}
	}
	echo("first")

	drained := make(chan struct{})
	go func() {
		defer close(drained)
		f.relays[0].stop()
	}()
	f.waitVia(5*time.Second, "relay2")
	echo("still alive through the draining relay")
	select {
	case <-drained:
		t.Fatal("relay finished draining while a session still carried a connection")
	default:
	}
	_ = old.Close()
	select {
	case <-drained:
	case <-time.After(15 * time.Second):
		t.Fatal("relay did not finish draining after its last session ended")
	}
	f.relays[0].node = nil
}

// TestServerRestart: a restarted server is found again without restarting anything else.
func TestServerRestart(t *testing.T) {
	f := newFleet(t, fleetOptions{relays: 1})
	f.server.stop()
	f.startServer()
	f.waitVia(5*time.Second, "relay1")
}

// TestServerGracefulShutdown: an open connection finishes after the server is asked to stop.
func TestServerGracefulShutdown(t *testing.T) {
	f := newFleet(t, fleetOptions{relays: 1, shutdownTimeout: 20 * time.Second})
	c, err := net.Dial("tcp", f.clientLn.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := c.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(c, make([]byte, 1)); err != nil {
		t.Fatal(err)
	}
	stopped := make(chan struct{})
	go func() { defer close(stopped); f.server.stop() }()
	deadline := time.Now().Add(5 * time.Second)
	for f.relays[0].role.Status().Servers != nil && len(f.relays[0].role.Status().Servers) > 0 {
		if time.Now().After(deadline) {
			t.Fatal("server stayed registered after shutdown began")
		}
		time.Sleep(20 * time.Millisecond) // polling interval
	}
	payload := bytes.Repeat([]byte("after shutdown began "), 1000)
	if _, err := c.Write(payload); err != nil {
		t.Fatalf("write during shutdown: %v", err)
	}
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(c)
	if err != nil || !bytes.Equal(got, payload) {
		t.Fatalf("during shutdown got %d bytes, err %v; want %d bytes", len(got), err, len(payload))
	}
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		t.Fatal("server did not stop after its last stream ended")
	}
	f.server = nil
}

// TestDirectMode: with a direct listener and a client configured for it, the session goes
// straight to the server; when the server's direct port is gone the client falls back to a
// relay.
func TestDirectMode(t *testing.T) {
	f := newFleet(t, fleetOptions{relays: 1, direct: true})
	if !strings.Contains(f.audit.String(), `"via":"direct"`) {
		t.Fatal("no audit event shows the direct session")
	}
	f.server.stop()
	f.serverLn = nil // the restarted server has no direct listener
	f.startServer()
	f.waitVia(5*time.Second, "relay1")
}

// TestSlowReaderDoesNotStallOtherStreams: one local connection sends a lot and never reads its
// echo, so its stream's window fills; other connections on the same session keep working.
func TestSlowReaderDoesNotStallOtherStreams(t *testing.T) {
	f := newFleet(t, fleetOptions{relays: 1})
	stalled, err := net.Dial("tcp", f.clientLn.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer stalled.Close()
	var wg sync.WaitGroup
	wg.Add(1)
	ctx, cancel := context.WithCancel(context.Background())
	defer func() { cancel(); _ = stalled.Close(); wg.Wait() }()
	go func() {
		defer wg.Done()
		chunk := make([]byte, 64<<10)
		for ctx.Err() == nil {
			_ = stalled.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
			if _, err := stalled.Write(chunk); err != nil && !errors.Is(err, context.DeadlineExceeded) {
				var ne net.Error
				if !errors.As(err, &ne) || !ne.Timeout() {
					return
				}
			}
		}
	}()
	// The stalled stream's buffers fill within a moment; every other stream must still flow.
	for i := range 50 {
		if err := roundTripTo(f.clientLn.Addr().String(), bytes.Repeat([]byte{byte(i)}, 16<<10)); err != nil {
			t.Fatalf("round trip %d while another stream is stalled: %v", i, err)
		}
	}
}

// TestFrozenPreferredRelay: the preferred relay accepts connections and never answers. Routes
// are tried side by side after a short stagger, so the session through the second relay is
// open while the client is still waiting on the first; tried one after the other, the client
// would give up on the first (after a handshake timeout) before even dialling the second.
func TestFrozenPreferredRelay(t *testing.T) {
	start := time.Now()
	f := newFleet(t, fleetOptions{relays: 2, frozen: map[int]bool{0: true}, handshakeTimeout: time.Minute})
	if via := f.via(); via != "relay2" {
		t.Fatalf("session via %q, want relay2", via)
	}
	opened := time.Time{}
	for _, line := range strings.Split(f.audit.String(), "\n") {
		var ev struct {
			Event, Role, Name string
			Time              time.Time
		}
		if json.Unmarshal([]byte(line), &ev) == nil && ev.Event == "session.open" && ev.Role == "relay" && ev.Name == "relay2" {
			opened = ev.Time
			break
		}
	}
	if opened.IsZero() {
		t.Fatal("no session.open at relay2 in the audit trail")
	}
	if gaveUp := f.firstFrozenClose(); !gaveUp.IsZero() && gaveUp.Before(opened) {
		t.Fatalf("the client gave up on frozen relay1 (%v) before its session through relay2 opened (%v): routes were tried one after the other",
			gaveUp.Sub(start), opened.Sub(start))
	}
	t.Logf("through relay2 %v after start, with relay1 frozen", opened.Sub(start))
}
