package e2e

import (
	"context"
	"io"
	"net"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/sentinel-zt/sentinel/internal/testnet"
	"github.com/sentinel-zt/sentinel/internal/testpki"
	"github.com/sentinel-zt/sentinel/pkg/certattrs"
	"github.com/sentinel-zt/sentinel/pkg/client"
	"github.com/sentinel-zt/sentinel/pkg/identity"
	"github.com/sentinel-zt/sentinel/pkg/relay"
	"github.com/sentinel-zt/sentinel/pkg/server"
	"github.com/sentinel-zt/sentinel/pkg/tunnel"
)

// TestRenewalExtendsLiveSession: a live session outlives the certificate it was opened with
// only when the client holds a renewal of it (same key, same identity): the server asks for
// it in the last quarter of the certificate's life. Without one, or with a certificate for
// another key, the session ends at the original expiry.
func TestRenewalExtendsLiveSession(t *testing.T) {
	clock := newFakeClock()
	e := newEnv(t, envOptions{configure: func(_ *env, _ *relay.Config, sc *server.Config) {
		sc.Now, sc.CheckInterval = clock.Now, 20*time.Millisecond
	}})

	run := func(t *testing.T, renew func(orig *testpki.Leaf) *testpki.Leaf) (conn net.Conn, orig *testpki.Leaf, mark int) {
		t.Helper()
		clock.Set(clock.at(0))
		now := time.Now()
		orig = e.issueClient(t, nil, testpki.Opts{NotBefore: now.Add(-time.Minute), NotAfter: now.Add(59 * time.Minute)})
		store := storeFor(t, e.ca, orig)
		c, err := client.New(client.Config{
			Identity: store, Log: zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)), Registry: prometheus.NewRegistry(),
		})
		if err != nil {
			t.Fatal(err)
		}
		ln := testnet.Listen(t)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); _ = c.Serve(ctx, ln) }()
		t.Cleanup(func() { cancel(); <-done })

		if conn, err = net.Dial("tcp", ln.Addr().String()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = conn.Close() })
		echoOn(t, conn, "before renewal")
		if renewed := renew(orig); renewed != nil {
			id, err := identity.Parse(renewed.CertPEM, renewed.KeyPEM, e.ca.PEM)
			if err != nil {
				t.Fatal(err)
			}
			if err := store.Replace(id); err != nil {
				t.Fatal(err)
			}
		}
		mark = e.auditMark()
		clock.Set(orig.Cert.NotBefore.Add(50 * time.Minute)) // past 3/4 of the hour: renewal due
		return conn, orig, mark
	}

	runAttacks(t, map[string]func(t *testing.T){
		"ok/renewed-same-key": func(t *testing.T) {
			conn, orig, mark := run(t, func(orig *testpki.Leaf) *testpki.Leaf {
				return e.ca.Issue(t, certattrs.Attrs{Client: orig.Attrs.Client}, testpki.Opts{Key: orig.Key, NotAfter: time.Now().Add(3 * time.Hour)})
			})
			e.waitAudit(t, mark, map[string]string{"event": "session.reauth", "role": "server", "peer_uuid": orig.Attrs.Client.UUID})
			clock.Set(orig.Cert.NotAfter.Add(time.Minute))
			time.Sleep(200 * time.Millisecond) // ten enforcement ticks past the original expiry
			echoOn(t, conn, "after the original certificate expired")
		},
		"fail/not-renewed": func(t *testing.T) {
			conn, orig, mark := run(t, func(*testpki.Leaf) *testpki.Leaf { return nil })
			since := time.Now()
			clock.Set(orig.Cert.NotAfter.Add(time.Second))
			waitClosed(t, conn, since)
			e.waitAudit(t, mark, map[string]string{"event": "session.close", "role": "server", "reason": tunnel.CodeExpired})
		},
		"fail/renewed-with-another-key": func(t *testing.T) {
			conn, orig, mark := run(t, func(orig *testpki.Leaf) *testpki.Leaf {
				return e.ca.Issue(t, certattrs.Attrs{Client: orig.Attrs.Client}, testpki.Opts{NotAfter: time.Now().Add(3 * time.Hour)})
			})
			e.waitAudit(t, mark, map[string]string{"event": "auth.deny", "role": "server", "reason": tunnel.CodeNotAllowed})
			since := time.Now()
			clock.Set(orig.Cert.NotAfter.Add(time.Second))
			waitClosed(t, conn, since)
		},
	})
}

func echoOn(t *testing.T, c net.Conn, msg string) {
	t.Helper()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte(msg)); err != nil {
		t.Fatalf("write %q: %v", msg, err)
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil || string(got) != msg {
		t.Fatalf("echo of %q: %q, %v", msg, got, err)
	}
}
