//go:build linux

package system

import (
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"
)

// gracefulBound is how soon an idle process must exit after SIGTERM.
const gracefulBound = 5 * time.Second

// TestGracefulStop: SIGTERM makes each role exit with status 0 within a few seconds, stopping
// from either end. A role with a connection still open drains it for shutdown_timeout (set
// to 2s here through SENTINEL_SHUTDOWN_TIMEOUT), then closes it and exits 0.
func TestGracefulStop(t *testing.T) {
	requireSystem(t)
	const drain = 2 * time.Second
	order := map[string]func(d *deployment) []*role{
		"client-first": func(d *deployment) []*role { return []*role{d.client, d.server, d.relay} },
		"relay-first":  func(d *deployment) []*role { return []*role{d.relay, d.server, d.client} },
	}
	for _, tc := range []struct {
		name      string
		order     string
		holdOpen  bool          // a connection through the tunnel stays open during the stop
		exitBound time.Duration // per process
	}{
		{"idle/client-first", "client-first", false, gracefulBound},
		{"idle/relay-first", "relay-first", false, gracefulBound},
		{"open-connection/client-first", "client-first", true, drain + gracefulBound},
		{"open-connection/relay-first", "relay-first", true, drain + gracefulBound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tg := startTarget(t)
			env := []string{"SENTINEL_SHUTDOWN_TIMEOUT=" + drain.String()}
			d := newDeployment(t, deployOptions{targetPort: tg.port(), relayEnv: env, serverEnv: env, clientEnv: env})

			// One echo round trip, so the session has carried a stream; with holdOpen the
			// connection then stays open, idle, while the processes stop.
			c, err := net.DialTimeout("tcp", d.clientAddr, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(time.Minute))
			msg := []byte("E held open while stopping")
			if _, err := c.Write(msg); err != nil {
				t.Fatal(err)
			}
			if _, err := io.ReadFull(c, make([]byte, len(msg))); err != nil {
				t.Fatalf("echo through the tunnel: %v", err)
			}
			if !tc.holdOpen {
				_ = c.Close()
			}

			for _, r := range order[tc.order](d) {
				start := time.Now()
				if err := r.proc.signal(syscall.SIGTERM); err != nil {
					t.Fatalf("SIGTERM %s: %v", r.name, err)
				}
				if !r.proc.waitExit(tc.exitBound) {
					t.Errorf("%s still running %v after SIGTERM", r.name, tc.exitBound)
					continue
				}
				if err := r.proc.exitErr(); err != nil {
					t.Errorf("%s exited with %v after SIGTERM, want status 0", r.name, err)
				}
				t.Logf("%s exited %v after SIGTERM", r.name, time.Since(start).Round(time.Millisecond))
			}
			if tc.holdOpen {
				// The drained connection was closed, not left hanging.
				_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
				if _, err := c.Read(make([]byte, 1)); errors.Is(err, os.ErrDeadlineExceeded) {
					t.Error("the open connection is still open after every process stopped")
				}
			}
		})
	}
}
