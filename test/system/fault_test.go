//go:build linux

package system

// Fault tests (issue 5): relays killed and restarted, the server restarted, nginx reloaded
// and idling out quiet WebSockets, one stream's reader stalled; each against the built binary
// as real processes (deployment in fleet_test.go). They log what they measure (go test -v).

import (
	"context"
	"database/sql"
	"errors"
	"io"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Bounds from issue 5.
const (
	// failoverBound: after a kill -9 of the preferred relay, a new connection works through
	// the next one within this.
	failoverBound = 3 * time.Second
	// comebackBound: after a relay listens again, servers are registered with it and clients
	// have a session through it within this.
	comebackBound = 3 * time.Second
	// cutBound: a connection whose session died is closed (with an error) within this.
	cutBound = 5 * time.Second
)

// TestFaultRelayKill: kill -9 of the preferred relay during a transfer, then the relay back.
//
// The transfer's local connection fails with a reset, its bytes so far intact; a new
// connection works through relay2 within failoverBound; the server stays registered with
// relay2 the whole time (polled, and no server.unregister in relay2's trail). When relay1
// listens again the server re-registers within comebackBound and the client moves back to
// it within a failback interval (client.failback_interval, 500ms here) more.
func TestFaultRelayKill(t *testing.T) {
	requireSystem(t)
	const failback = 500 * time.Millisecond
	tg := startTarget(t)
	f := newFleet(t, fleetOptions{relays: 2, targetPort: tg.port(),
		clientEnv: []string{"SENTINEL_CLIENT_FAILBACK_INTERVAL=" + failback.String()}})
	stopWatch := f.watchRegistrations(1)

	src, err := dialSource(f.clientAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if err := src.readN(8<<20, 30*time.Second); err != nil {
		t.Fatalf("transfer through relay1: %v", err)
	}
	ended := make(chan error, 1)
	go func() { ended <- src.readToEnd(30 * time.Second) }()

	killed := time.Now()
	f.kill(f.relays[0])

	select {
	case err := <-ended:
		cut := time.Since(killed)
		switch {
		case errors.Is(err, io.EOF):
			t.Fatalf("the transfer ended with a clean EOF after %d bytes: a truncated transfer that looks complete", src.off)
		case errors.Is(err, os.ErrDeadlineExceeded):
			t.Fatalf("the transfer's connection was still open %v after the kill", 30*time.Second)
		case !isReset(err):
			t.Fatalf("the transfer ended with %v, want a reset", err)
		}
		if cut > cutBound {
			t.Errorf("the transfer's connection was reset %v after the kill, want within %v", cut, cutBound)
		}
		t.Logf("transfer: %.1f MiB read and checked, then reset %v after the kill (%v)", mib(src.off), cut.Round(time.Millisecond), err)
	case <-time.After(40 * time.Second):
		t.Fatal("the transfer neither ended nor timed out")
	}

	took, err := waitEcho(f.clientAddr, failoverBound-time.Since(killed))
	if err != nil {
		t.Fatalf("failover: %v", err)
	}
	failover := time.Since(killed)
	st, err := f.clientStatus()
	if err != nil {
		t.Fatal(err)
	}
	if st.Session == nil || st.Session.Via != "relay2" {
		t.Fatalf("after the kill the client's session is %+v, want one via relay2", st.Session)
	}
	t.Logf("failover: a new connection echoed through relay2 %v after the kill (%v of retrying)", failover.Round(time.Millisecond), took.Round(time.Millisecond))

	up, err := f.startRelay(0)
	if err != nil {
		t.Fatalf("restart relay1: %v", err)
	}
	var reg time.Duration
	eventually(t, comebackBound, "server1 registered with the restarted relay1", func() error {
		reg = time.Since(up)
		return f.registered(0)
	})
	if _, err := f.waitVia("relay1", comebackBound+failback-time.Since(up)); err != nil {
		t.Fatalf("failback: %v", err)
	}
	back := time.Since(up)
	if err := echoOnce(f.clientAddr, 5*time.Second); err != nil {
		t.Fatalf("echo after failing back: %v", err)
	}
	t.Logf("relay1 back: server1 re-registered %v and the client failed back %v after its /healthz answered", reg.Round(time.Millisecond), back.Round(time.Millisecond))

	polls, misses := stopWatch()
	if len(misses) > 0 {
		t.Errorf("server1 missing from relay2's /status in %d of %d polls:\n%s", len(misses), polls, strings.Join(misses, "\n"))
	}
	evs, err := readAudit(f.relays[1].audit)
	if err != nil {
		t.Fatal(err)
	}
	if un := findEvents(evs, "server.unregister", ""); len(un) > 0 {
		t.Errorf("relay2 audit has server.unregister: %v", un)
	}
	if reg := findEvents(evs, "server.register", ""); len(reg) != 1 {
		t.Errorf("relay2 audit has %d server.register events, want 1 (one registration all along)", len(reg))
	}
	t.Logf("server1 registered with relay2 in all %d polls (every %v) from before the kill to after the failback", polls, pollInterval)
}

// TestFaultRelayFreeze: the preferred relay hangs (SIGSTOP) during a transfer instead of
// dying: its TCP connections stay open and new ones are still accepted by the kernel, but
// nothing answers. With pings every 1s and idle_timeout 3s, the transfer's connection is reset
// once the silence is noticed, and a new connection works through relay2 within
// failoverBound of that: the client tries the route that just failed last, so the frozen
// relay's handshake timeout (10s) does not delay the failover. The server stays registered
// with relay2 throughout.
func TestFaultRelayFreeze(t *testing.T) {
	requireSystem(t)
	const idleTimeout = 3 * time.Second
	pings := []string{"SENTINEL_PING_INTERVAL=1s", "SENTINEL_IDLE_TIMEOUT=" + idleTimeout.String()}
	tg := startTarget(t)
	f := newFleet(t, fleetOptions{relays: 2, targetPort: tg.port(), relayEnv: pings, serverEnv: pings, clientEnv: pings})
	stopWatch := f.watchRegistrations(1)

	src, err := dialSource(f.clientAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if err := src.readN(4<<20, 30*time.Second); err != nil {
		t.Fatalf("transfer through relay1: %v", err)
	}
	relay1 := f.relays[0].proc
	// Thawed before its stop (cleanups run last in, first out), which a stopped process
	// would not see until its SIGKILL.
	t.Cleanup(func() { _ = relay1.signal(syscall.SIGCONT) })
	frozen := time.Now()
	if err := relay1.signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}

	err = src.readToEnd(idleTimeout + cutBound)
	cut := time.Since(frozen)
	if errors.Is(err, io.EOF) || errors.Is(err, os.ErrDeadlineExceeded) || !isReset(err) {
		t.Fatalf("the transfer through the frozen relay ended with %v after %v, want a reset within %v", err, cut, idleTimeout+cutBound)
	}
	took, err := waitEcho(f.clientAddr, failoverBound)
	if err != nil {
		t.Fatalf("failover from the frozen relay: %v", err)
	}
	st, err := f.clientStatus()
	if err != nil || st.Session == nil || st.Session.Via != "relay2" {
		t.Fatalf("after the freeze the client's session is %+v (%v), want one via relay2", st.Session, err)
	}
	t.Logf("relay1 frozen: the transfer was reset %v later (idle_timeout %v), a new connection echoed through relay2 %v after that",
		cut.Round(time.Millisecond), idleTimeout, took.Round(time.Millisecond))
	if polls, misses := stopWatch(); len(misses) > 0 {
		t.Errorf("server1 missing from relay2's /status in %d of %d polls:\n%s", len(misses), polls, strings.Join(misses, "\n"))
	}
}

// TestFaultRelayRestart: the only relay goes away (kill -9, or SIGTERM and its drain) and
// starts again on the same port; the server is registered again and the client has a session
// that carries a new connection within comebackBound of the relay's /healthz answering.
func TestFaultRelayRestart(t *testing.T) {
	requireSystem(t)
	tg := startTarget(t)
	f := newFleet(t, fleetOptions{targetPort: tg.port(), relayEnv: []string{"SENTINEL_SHUTDOWN_TIMEOUT=2s"}})
	relay := f.relays[0]
	for _, how := range []string{"kill", "term"} {
		t.Run(how, func(t *testing.T) {
			before, err := f.clientStatus()
			if err != nil || before.Session == nil {
				t.Fatalf("client before the restart: %+v, %v", before, err)
			}
			if how == "kill" {
				f.kill(relay)
			} else {
				f.terminate(relay, 10*time.Second)
			}
			down := time.Now()
			up, err := f.startRelay(0)
			if err != nil {
				t.Fatal(err)
			}
			var reg time.Duration
			eventually(t, comebackBound, "server1 registered again", func() error {
				reg = time.Since(up)
				return f.registered(0)
			})
			if _, err := waitEcho(f.clientAddr, comebackBound-time.Since(up)); err != nil {
				t.Fatalf("client: %v", err)
			}
			back := time.Since(up)
			after, err := f.clientStatus()
			if err != nil || after.Session == nil {
				t.Fatalf("client after the restart: %+v, %v", after, err)
			}
			if after.Session.ID == before.Session.ID {
				t.Fatalf("client still reports session %s from before the restart", after.Session.ID)
			}
			t.Logf("relay %s, listening again %v later: server1 re-registered %v and a new connection echoed %v after its /healthz answered",
				how, up.Sub(down).Round(time.Millisecond), reg.Round(time.Millisecond), back.Round(time.Millisecond))
		})
	}
}

// TestFaultServerRestart: the server stops (SIGTERM, or kill -9 with a connection open) and
// starts again, several times over; each time the client's session is re-established within
// comebackBound of the server's start, without restarting the relay or the client. A
// connection open through the killed server is reset, not ended cleanly. (The client reconnects
// the moment the stopping server tells it to move, sometimes before the relay has seen that
// server's channel close: the relay must not hold that attempt for its bind_timeout.)
func TestFaultServerRestart(t *testing.T) {
	requireSystem(t)
	tg := startTarget(t)
	f := newFleet(t, fleetOptions{targetPort: tg.port(), serverEnv: []string{"SENTINEL_SHUTDOWN_TIMEOUT=2s"}})
	relayPID, clientPID := f.relays[0].proc.cmd.Process.Pid, f.client.proc.cmd.Process.Pid
	for _, tc := range []struct {
		how    string
		rounds int
	}{{"term", 10}, {"kill", 3}} {
		t.Run(tc.how, func(t *testing.T) {
			var ready, back []time.Duration
			for range tc.rounds {
				before, err := f.clientStatus()
				if err != nil || before.Session == nil {
					t.Fatalf("client before the restart: %+v, %v", before, err)
				}
				if tc.how == "kill" {
					src, err := dialSource(f.clientAddr)
					if err != nil {
						t.Fatal(err)
					}
					if err := src.readN(1<<20, 30*time.Second); err != nil {
						t.Fatal(err)
					}
					f.kill(f.server)
					err = src.readToEnd(cutBound)
					_ = src.Close()
					if errors.Is(err, io.EOF) || errors.Is(err, os.ErrDeadlineExceeded) || !isReset(err) {
						t.Fatalf("open connection through the killed server ended with %v after %d bytes, want a reset within %v", err, src.off, cutBound)
					}
				} else {
					f.terminate(f.server, 10*time.Second)
				}
				start := time.Now()
				if err := f.startRole(f.server); err != nil {
					t.Fatal(err)
				}
				ready = append(ready, time.Since(start))
				if _, err := waitEcho(f.clientAddr, comebackBound); err != nil {
					t.Fatalf("client: %v", err)
				}
				back = append(back, time.Since(start))
				after, err := f.clientStatus()
				if err != nil || after.Session == nil || after.Session.ID == before.Session.ID {
					t.Fatalf("client after the restart: %+v, %v; want a new session (was %s)", after.Session, err, before.Session.ID)
				}
			}
			slices.Sort(ready)
			slices.Sort(back)
			t.Logf("server %s and restarted, %d times: registered %v (median) after its start; a new connection echoed %v (median), %v (worst) after its start",
				tc.how, tc.rounds, ready[len(ready)/2].Round(time.Millisecond), back[len(back)/2].Round(time.Millisecond), back[len(back)-1].Round(time.Millisecond))
		})
	}
	for _, r := range []*role{f.relays[0], f.client} {
		if r.proc.exited() {
			t.Errorf("%s exited", r.name)
		}
	}
	if f.relays[0].proc.cmd.Process.Pid != relayPID || f.client.proc.cmd.Process.Pid != clientPID {
		t.Error("relay or client was restarted")
	}
}

// TestFaultNginx: a behind_proxy relay behind a real nginx whose proxy_read_timeout and
// proxy_send_timeout are 3s, with every role pinging every 1s (idle_timeout 4s).
//
// reload: one MySQL connection runs a full session (DDL, DML, a blob both ways); nginx
// reloads mid-session; the connection idles longer than proxy_read_timeout and is used again,
// on the same session (through the old worker when it kept the session, else the new one).
// What a reload does to the open session, as observed with nginx 1.22:
//   - The old worker keeps its open connections, the session's WebSockets included, so the
//     MySQL connection keeps working right after the reload.
//   - With worker_shutdown_timeout (2s here), the old worker then closes them: the session
//     is lost, the next query on the MySQL connection fails with an error from the driver
//     ("driver: bad connection": the client reset the local connection), and by then the
//     client has reconnected through the new worker, so a new MySQL connection works at once.
//     The test accepts the connection still working too, and logs which it saw.
//   - Without worker_shutdown_timeout the old worker carries the session (pinged) for as long
//     as it lives: the MySQL connection keeps working, through the idle period too (asserted).
//
// control: without the 1s pings (default ping_interval 20s) the same idle period makes nginx
// cut the session and the MySQL connection fails, so the idle check above proves something.
func TestFaultNginx(t *testing.T) {
	requireSystem(t)
	const (
		readTimeout  = 3 * time.Second
		idle         = readTimeout + time.Second
		newConnBound = 3 * time.Second
	)
	pings := []string{"SENTINEL_PING_INTERVAL=1s", "SENTINEL_IDLE_TIMEOUT=4s"}
	db := startMariaDB(t)
	for _, tc := range []struct {
		name           string
		workerShutdown time.Duration // 0: unset
		pings          bool
		reload, full   bool
	}{
		{name: "reload/worker_shutdown_timeout=2s", workerShutdown: 2 * time.Second, pings: true, reload: true, full: true},
		{name: "reload/no_worker_shutdown_timeout", pings: true, reload: true},
		{name: "control/idle_without_pings"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := deployOptions{
				targetPort: db.port, behindProxy: true,
				nginx: func(c *nginxConfig) {
					c.ProxyReadTimeout, c.ProxySendTimeout = readTimeout, readTimeout
					c.WorkerShutdownTimeout = tc.workerShutdown
				},
			}
			if tc.pings {
				opts.relayEnv, opts.serverEnv, opts.clientEnv = pings, pings, pings
			}
			d := newDeployment(t, opts)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			pool := openMySQL(t, d.clientAddr, "")
			conn, err := pool.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = conn.Close() }()
			if tc.full {
				for _, q := range []string{
					"CREATE DATABASE nginx_reload",
					"CREATE TABLE nginx_reload.kv (id INT PRIMARY KEY, v VARCHAR(64) NOT NULL)",
					"INSERT INTO nginx_reload.kv VALUES (1, 'one'), (2, 'two')",
					"UPDATE nginx_reload.kv SET v = 'deux' WHERE id = 2",
					"CREATE DATABASE e2e",
					"CREATE TABLE e2e.blobs (id INT PRIMARY KEY, data LONGBLOB NOT NULL)",
				} {
					if _, err := conn.ExecContext(ctx, q); err != nil {
						t.Fatalf("%s: %v", q, err)
					}
				}
				if err := blobRoundTrip(ctx, conn, 1, 2<<20, 1); err != nil {
					t.Fatal(err)
				}
			}
			id := connectionID(ctx, t, conn)
			sid, err := d.clientSession()
			if err != nil {
				t.Fatal(err)
			}

			if tc.reload {
				d.nginx.Reload(func(*nginxConfig) {})
				reloaded := time.Now()
				if got, err := queryID(ctx, conn); err != nil || got != id {
					t.Fatalf("MySQL connection right after nginx reload: id %d, %v; want id %d", got, err, id)
				}
				// Past worker_shutdown_timeout, when the old worker has closed what it held.
				// Without one, the idle period below shows the old worker keeping the session.
				if tc.workerShutdown > 0 {
					time.Sleep(time.Until(reloaded.Add(tc.workerShutdown + time.Second)))
				}
				gotID, err := queryID(ctx, conn)
				switch {
				case err == nil && gotID == id && tc.workerShutdown == 0:
					t.Logf("nginx reload: the MySQL connection works right after it (the old worker keeps the session)")
				case err == nil && gotID == id:
					t.Logf("nginx reload: the MySQL connection works right after it and still %v after it (the old worker kept the session)",
						time.Since(reloaded).Round(time.Millisecond))
				case err == nil:
					t.Fatalf("MySQL connection answered as connection %d after the reload, was %d", gotID, id)
				case tc.workerShutdown == 0:
					t.Fatalf("MySQL connection %v after a reload without worker_shutdown_timeout: %v", time.Since(reloaded), err)
				default:
					t.Logf("nginx reload: the MySQL connection works right after it; %v after it (worker_shutdown_timeout %v) the old worker had closed the session and a query failed with %q",
						time.Since(reloaded).Round(time.Millisecond), tc.workerShutdown, err)
					_ = conn.Close()
					start := time.Now()
					nctx, ncancel := context.WithTimeout(ctx, newConnBound)
					conn, err = pool.Conn(nctx)
					if err == nil {
						id, err = queryID(nctx, conn)
					}
					ncancel()
					if err != nil {
						t.Fatalf("a new MySQL connection after the reload: %v", err)
					}
					t.Logf("nginx reload: a new MySQL connection (id %d) worked %v later", id, time.Since(start).Round(time.Millisecond))
					if sid, err = d.clientSession(); err != nil {
						t.Fatal(err)
					}
				}
			}

			// Idle past nginx's proxy_read_timeout.
			time.Sleep(idle)
			got, err := queryID(ctx, conn)
			if !tc.pings {
				if err == nil {
					t.Fatalf("without pings, MySQL connection %d still works after %v idle: nginx's proxy_read_timeout %v did not cut the session, so the idle checks prove nothing",
						got, idle, readTimeout)
				}
				t.Logf("control: without pings, nginx cut the session within %v idle; the MySQL connection failed with %q", idle, err)
				return
			}
			if err != nil || got != id {
				t.Fatalf("MySQL connection after %v idle (proxy_read_timeout %v): id %d, %v; want id %d", idle, readTimeout, got, err, id)
			}
			if tc.full {
				var v string
				if err := conn.QueryRowContext(ctx, "SELECT v FROM nginx_reload.kv WHERE id = 2").Scan(&v); err != nil || v != "deux" {
					t.Fatalf("SELECT after idle: %q, %v", v, err)
				}
			}
			if after, err := d.clientSession(); err != nil || after != sid {
				t.Fatalf("client session after idle: %q, %v; want the same session %s", after, err, sid)
			}
			t.Logf("idle %v (proxy_read_timeout %v, ping_interval 1s): the same MySQL connection and session still work", idle, readTimeout)
		})
	}
}

func connectionID(ctx context.Context, t *testing.T, conn *sql.Conn) int64 {
	t.Helper()
	id, err := queryID(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func queryID(ctx context.Context, conn *sql.Conn) (int64, error) {
	var id int64
	err := conn.QueryRowContext(ctx, "SELECT CONNECTION_ID()").Scan(&id)
	return id, err
}

// TestFaultSlowReader: one stream's reader stops reading for stallFor while another stream
// on the same session sends into a sink. The second stream keeps its throughput (logged as a
// ratio to before the stall; asserted only above a generous floor, as the machine is shared);
// flow control stops the source instead of buffering: the target gets to write little more
// than the windows and socket buffers on the way; RSS of relay, server and client stays
// within rssBound of its level before; the stalled stream resumes with its bytes intact.
//
// stallFor is 5s, not issue 5's 10s, to keep `make test` short: the stalled stream's window
// and socket buffers fill within milliseconds, after which nothing changes until the reader
// resumes (no timer on the path comes near: yamux's write timeout is 30s). Runs with 10s
// measured the same ratio, source overshoot and RSS peaks.
func TestFaultSlowReader(t *testing.T) {
	requireSystem(t)
	const (
		stallFor  = 5 * time.Second
		sinkSize  = 64 << 20
		minRatio  = 0.2       // throughput during the stall / before, asserted floor
		rssBound  = 200 << 20 // growth of any process's RSS
		sentBound = 128 << 20 // bytes the source may write beyond what was read
	)
	tg := startTarget(t)
	f := newFleet(t, fleetOptions{targetPort: tg.port()})
	procs := []*role{f.relays[0], f.server, f.client}

	// Warm up, then the throughput and RSS before.
	if _, err := sinkRate(f.clientAddr, sinkSize); err != nil {
		t.Fatal(err)
	}
	before := medianRate(t, f.clientAddr, sinkSize, 3)
	rssBefore := map[*role]int64{}
	for _, r := range procs {
		v, err := rss(r.proc)
		if err != nil {
			t.Fatal(err)
		}
		rssBefore[r] = v
	}

	sess, err := f.clientStatus()
	if err != nil || sess.Session == nil {
		t.Fatalf("client status: %+v, %v", sess, err)
	}
	src, err := dialSource(f.clientAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if err := src.readN(4<<20, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	sampler := sampleRSS(100*time.Millisecond, f.relays[0].proc, f.server.proc, f.client.proc)
	stalled := time.Now()

	// The reader stops. Another stream on the same session sends into the sink meanwhile.
	var rates []float64
	var sent int64
	for time.Since(stalled) < stallFor-time.Second {
		r, err := sinkRate(f.clientAddr, sinkSize)
		if err != nil {
			t.Fatalf("second stream during the stall: %v", err)
		}
		rates = append(rates, r)
		sent += sinkSize
	}
	// One session carried both streams: the client holds one at a time, and it never changed.
	if st, err := f.clientStatus(); err != nil || st.Session == nil || st.Session.ID != sess.Session.ID {
		t.Fatalf("client session during the stall: %+v, %v; want %s throughout", st.Session, err, sess.Session.ID)
	}
	time.Sleep(time.Until(stalled.Add(stallFor)))
	generated := tg.generated.Load()
	peaks := sampler.stop()

	during := median(rates)
	ratio := during / before
	t.Logf("second stream: %.0f MiB/s before the stall, %.0f MiB/s during it (median of %d × %d MiB, %.0f MiB in all): ratio %.2f",
		before, during, len(rates), sinkSize>>20, mib(sent), ratio)
	if ratio < minRatio {
		t.Errorf("throughput of the second stream during the stall is %.2f of before, want at least %.2f", ratio, minRatio)
	}
	t.Logf("stalled stream: the target wrote %.1f MiB, %.1f MiB more than the reader had read", mib(generated), mib(generated-src.off))
	if generated-src.off > sentBound {
		t.Errorf("the source wrote %.1f MiB beyond what the stalled reader read, want at most %d MiB: something buffers without bound",
			mib(generated-src.off), sentBound>>20)
	}
	for _, r := range procs {
		peak := peaks[r.proc]
		t.Logf("%s RSS: %.1f MiB before, peak %.1f MiB during the stall (+%.1f MiB)", r.name, mib(rssBefore[r]), mib(peak), mib(peak-rssBefore[r]))
		if peak-rssBefore[r] > rssBound {
			t.Errorf("%s RSS grew by %.1f MiB during the stall, want at most %d MiB", r.name, mib(peak-rssBefore[r]), rssBound>>20)
		}
	}

	// The reader resumes: the bytes held back all arrive, in order.
	if err := src.readN(generated-src.off+8<<20, 30*time.Second); err != nil {
		t.Fatalf("stalled stream after it resumed: %v", err)
	}
}

// medianRate is the median of n sinkRate runs.
func medianRate(t *testing.T, addr string, size, n int) float64 {
	t.Helper()
	rates := make([]float64, n)
	for i := range rates {
		r, err := sinkRate(addr, size)
		if err != nil {
			t.Fatal(err)
		}
		rates[i] = r
	}
	return median(rates)
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(v))
	return s[len(s)/2]
}
