package e2e

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/sentinel-zt/sentinel/internal/testpki"
	"github.com/sentinel-zt/sentinel/pkg/certattrs"
	"github.com/sentinel-zt/sentinel/pkg/relay"
	"github.com/sentinel-zt/sentinel/pkg/server"
	"github.com/sentinel-zt/sentinel/pkg/token"
	"github.com/sentinel-zt/sentinel/pkg/tunnel"
	"github.com/sentinel-zt/sentinel/pkg/wsconn"
)

const handshakeTimeout = 500 * time.Millisecond

// waitDropped reads c until the far side closes it, failing the test if that takes longer
// than within after start.
func waitDropped(t *testing.T, c net.Conn, start time.Time, within time.Duration) {
	t.Helper()
	_ = c.SetReadDeadline(start.Add(within))
	_, err := io.Copy(io.Discard, c)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("the relay still holds the connection after %s", within)
	}
	t.Logf("dropped after %s (%v)", time.Since(start).Round(time.Millisecond), err)
}

// eventually polls cond for 5 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond) // polling interval
	}
}

// TestExhaustion: what an unauthenticated or over-eager peer can hold at the relay and the
// server is bounded, and a valid client still gets through.
func TestExhaustion(t *testing.T) {
	e := newEnv(t, envOptions{configure: func(_ *env, rc *relay.Config, sc *server.Config) {
		rc.HandshakeTimeout = handshakeTimeout
		rc.MaxSessionsPerCert = 2
		rc.MaxPendingOpens = 2
		rc.BindTimeout = 5 * time.Second
		sc.MaxStreamsPerSession = 2
	}})
	relayAddr := e.relayLn.Addr().String()
	dropWithin := 2*handshakeTimeout + 1500*time.Millisecond // handshake, then headers, then slack

	runAttacks(t, map[string]func(t *testing.T){
		"ok": func(t *testing.T) {
			s := e.mustSession(t, e.issueClient(t, nil, testpki.Opts{}))
			if _, err := s.stream([]byte("good path")); err != nil {
				t.Fatal(err)
			}
		},
		"fail/silent-tcp-peer": func(t *testing.T) {
			before := e.targetMark()
			c, err := net.Dial("tcp", relayAddr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			waitDropped(t, c, time.Now(), dropWithin)
			e.assertUntouched(t, before)
		},
		"fail/one-byte-per-second-handshake": func(t *testing.T) {
			c, err := net.Dial("tcp", relayAddr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			start := time.Now()
			done := make(chan struct{})
			defer close(done)
			go func() {
				// The start of a TLS ClientHello record, one byte a second.
				for _, b := range []byte{0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03} {
					if _, err := c.Write([]byte{b}); err != nil {
						return
					}
					select {
					case <-done:
						return
					case <-time.After(time.Second):
					}
				}
			}()
			waitDropped(t, c, start, dropWithin)
		},
		"fail/one-byte-per-100ms-headers": func(t *testing.T) {
			// The TLS handshake is quick; the request headers trickle.
			c, err := tls.Dial("tcp", relayAddr, &tls.Config{RootCAs: e.ca.Pool, ServerName: "127.0.0.1"})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			start := time.Now()
			done := make(chan struct{})
			defer close(done)
			go func() {
				for _, b := range []byte("GET /v1/client?server=" + e.serverAttrs.UUID + " HTTP/1.1\r\nHost: relay\r\n") {
					if _, err := c.Write([]byte{b}); err != nil {
						return
					}
					select {
					case <-done:
						return
					case <-time.After(100 * time.Millisecond):
					}
				}
			}()
			waitDropped(t, c, start, dropWithin)
		},
		"fail/websocket-read-limit": func(t *testing.T) {
			before := e.targetMark()
			leaf := e.issueClient(t, nil, testpki.Opts{})
			ws, resp, err := e.relayDial(t, tunnel.PathClient, e.clientQuery(), bearer(sign(t, leaf, e.clientClaims())))
			if err != nil {
				t.Fatal(err)
			}
			defer ws.Close()
			mark := e.auditMark()
			// Only the header of a frame announcing one byte over the limit (FIN, binary,
			// masked, 64-bit length, mask key), and no payload: a relay that enforces its limit
			// closes on the header; one that does not waits for the payload.
			frame := []byte{0x82, 0x80 | 127}
			frame = binary.BigEndian.AppendUint64(frame, uint64(wsconn.DefaultReadLimit+1))
			frame = append(frame, 1, 2, 3, 4)
			raw := ws.UnderlyingConn()
			if _, err := raw.Write(frame); err != nil {
				t.Fatal(err)
			}
			_ = ws.SetReadDeadline(time.Now().Add(3 * time.Second))
			_, _, err = ws.ReadMessage()
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatal("the relay waits for the payload of a message over its read limit")
			}
			if !websocket.IsCloseError(err, websocket.CloseMessageTooBig) {
				t.Logf("read after the oversized frame: %v", err)
			}
			ev := e.waitAudit(t, mark, map[string]string{"event": "session.close", "role": "relay", "session": resp.Header.Get(tunnel.HeaderSession)})
			if !strings.Contains(ev.str("detail"), "read limit") {
				t.Errorf("relay closed the session for %q, not its read limit", ev.str("detail"))
			}
			e.assertUntouched(t, before)
		},
		"fail/per-certificate-session-limit": func(t *testing.T) {
			dave := e.issueClient(t, nil, testpki.Opts{})
			first := e.mustSession(t, dave)
			e.mustSession(t, dave)
			e.attackRelay(t, relayAttack{path: tunnel.PathClient, query: e.clientQuery(),
				header: bearer(sign(t, dave, e.clientClaims())), status: http.StatusTooManyRequests, code: tunnel.CodeLimit})
			// Another certificate is not affected, and closing a session frees a place.
			e.mustSession(t, e.issueClient(t, nil, testpki.Opts{}))
			first.Close()
			eventually(t, "a freed session place", func() bool {
				s, err := e.dialSession(t, dave, e.clientTLS(dave))
				if err != nil {
					return false
				}
				s.Close()
				return true
			})
		},
		"fail/per-session-stream-limit": func(t *testing.T) {
			s := e.mustSession(t, e.issueClient(t, nil, testpki.Opts{}))
			var open []net.Conn
			for range 2 {
				st, err := s.stream([]byte("held"))
				if err != nil {
					t.Fatal(err)
				}
				open = append(open, st)
			}
			mark, before := e.auditMark(), e.targetMark()
			if _, err := s.stream([]byte("one too many")); tunnel.DenyCode(err, "") != tunnel.CodeLimit {
				t.Fatalf("third stream: %v, want error limit", err)
			}
			e.waitAudit(t, mark, map[string]string{"event": "stream.open", "role": "server", "session": s.id, "decision": "deny", "reason": tunnel.CodeLimit})
			e.assertUntouched(t, before)
			_ = open[0].Close()
			eventually(t, "a freed stream place", func() bool {
				st, err := s.stream([]byte("again"))
				if err != nil {
					return false
				}
				_ = st.Close()
				return true
			})
			_ = open[1].Close()
		},
		"fail/pending-opens-bounded": func(t *testing.T) { pendingOpensBounded(t, e) },
		"fail/bad-handshake-flood":   func(t *testing.T) { badHandshakeFlood(t, e) },
	})
}

// pendingOpensBounded: a registered server that never binds holds clients waiting; past
// MaxPendingOpens the relay refuses at once instead of queueing.
func pendingOpensBounded(t *testing.T, e *env) {
	relayAUD := e.relayAttrs.UUID
	mute := e.issueServer(t, nil, testpki.Opts{})
	muteUUID := mute.Attrs.Server.UUID
	ctl, _, err := e.relayDial(t, tunnel.PathServer, nil, bearer(sign(t, mute, token.Claims{Audience: relayAUD})))
	if err != nil {
		t.Fatal(err)
	}
	defer ctl.Close()
	go func() { // drain the opens it will never answer
		for {
			if _, _, err := ctl.ReadMessage(); err != nil {
				return
			}
		}
	}()
	waiter := e.issueClient(t, func(c *certattrs.Client) { c.Server.UUID = muteUUID }, testpki.Opts{})
	q := url.Values{tunnel.QueryServer: {muteUUID}}
	claims := token.Claims{Audience: relayAUD, Server: muteUUID}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range 2 {
		tok := sign(t, e.issueClient(t, func(c *certattrs.Client) { c.Server.UUID = muteUUID }, testpki.Opts{}), claims)
		wg.Go(func() {
			if ws, _, err := e.rawDialContext(ctx, e.relayURL(t, tunnel.PathClient, q), bearer(tok)); err == nil {
				_ = ws.Close()
			}
		})
	}
	defer func() { cancel(); wg.Wait() }()
	eventually(t, "two pending opens", func() bool { return e.relay.Status().Pending == 2 })
	e.attackRelay(t, relayAttack{path: tunnel.PathClient, query: q, header: bearer(sign(t, waiter, claims)),
		status: http.StatusServiceUnavailable, code: tunnel.CodeLimit})
	cancel() // the waiting clients leave
	wg.Wait()
	eventually(t, "no pending opens", func() bool { return e.relay.Status().Pending == 0 })
	if err := e.roundTrip([]byte("alice")); err != nil {
		t.Fatalf("alice after the pending flood: %v", err)
	}
}

// badHandshakeFlood: 500 garbage-token requests leave goroutines and memory where they were,
// and a valid client still connects.
func badHandshakeFlood(t *testing.T, e *env) {
	const requests, workers = 500, 8
	settle := func() (int, uint64) {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return runtime.NumGoroutine(), m.HeapInuse
	}
	g0, h0 := settle()
	mark, before := e.auditMark(), e.targetMark()
	u := e.relayURL(t, tunnel.PathClient, e.clientQuery())
	jobs := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex
	refused, dropped := 0, 0
	for range workers {
		wg.Go(func() {
			for i := range jobs {
				ws, resp, err := e.rawDial(u, bearer("garbage."+strings.Repeat("x", i%64)+".junk"))
				mu.Lock()
				switch {
				case err == nil:
					_ = ws.Close()
					t.Error("garbage token admitted")
				case resp == nil:
					dropped++ // a handshake slower than the 500 ms timeout on a loaded machine
				case resp.StatusCode == http.StatusUnauthorized && resp.Header.Get(tunnel.HeaderDeny) == tunnel.CodeBadToken:
					refused++
				default:
					t.Errorf("garbage token: %s, want 401 bad_token", denyOf(resp))
				}
				mu.Unlock()
			}
		})
	}
	start := time.Now()
	for i := range requests {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	t.Logf("%d bad handshakes in %s: %d refused, %d dropped in the handshake", requests, time.Since(start).Round(time.Millisecond), refused, dropped)
	if refused < requests*9/10 {
		t.Fatalf("only %d of %d refused with 401 bad_token", refused, requests)
	}
	var g1 int
	var h1 uint64
	eventually(t, "goroutines back to their baseline", func() bool {
		g1, h1 = settle()
		return g1 <= g0+10
	})
	t.Logf("goroutines %d → %d, heap in use %d → %d KiB", g0, g1, h0>>10, h1>>10)
	if h1 > h0+32<<20 {
		t.Errorf("heap in use grew by %d MiB", (h1-h0)>>20)
	}
	if n := len(e.auditSince(t, mark)); n < refused {
		t.Errorf("%d audit events for %d refusals", n, refused)
	}
	e.assertUntouched(t, before)
	s := e.mustSession(t, e.issueClient(t, nil, testpki.Opts{}))
	if _, err := s.stream([]byte("after the flood")); err != nil {
		t.Fatal(err)
	}
}

// TestReplayCacheBounded: the relay remembers at most ReplayCacheSize live token ids; when
// they are all taken it refuses new tokens (fails closed) instead of forgetting one.
func TestReplayCacheBounded(t *testing.T) {
	const size = 16
	e := newEnv(t, envOptions{configure: func(_ *env, rc *relay.Config, _ *server.Config) {
		rc.ReplayCacheSize = size
	}})
	relayAUD := e.relayAttrs.UUID
	bind := func(t *testing.T) (int, string) {
		id := tunnel.NewSessionID()
		_, resp, err := e.relayDial(t, tunnel.PathBind, url.Values{tunnel.QuerySession: {id}},
			bearer(sign(t, e.serverLeaf, token.Claims{Audience: relayAUD, Session: id})))
		if err == nil || resp == nil {
			t.Fatalf("bind of an unknown session: %v", err)
		}
		return resp.StatusCode, resp.Header.Get(tunnel.HeaderDeny)
	}
	// Each verified token takes a place, even when the request is refused after.
	for i := 0; ; i++ {
		status, code := bind(t)
		if code == tunnel.CodeBadSession {
			if i > size {
				t.Fatalf("%d tokens accepted with a cache of %d", i, size)
			}
			continue
		}
		if status != http.StatusServiceUnavailable || code != tunnel.CodeLimit {
			t.Fatalf("got %d %s, want 503 limit once the cache is full", status, code)
		}
		break
	}
	e.attackRelay(t, relayAttack{path: tunnel.PathClient, query: e.clientQuery(),
		header: bearer(sign(t, e.issueClient(t, nil, testpki.Opts{}), e.clientClaims())), status: http.StatusServiceUnavailable, code: tunnel.CodeLimit})
}
