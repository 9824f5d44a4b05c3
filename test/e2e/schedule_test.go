package e2e

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/sentinel-zt/sentinel/internal/testpki"
	"github.com/sentinel-zt/sentinel/pkg/certattrs"
	"github.com/sentinel-zt/sentinel/pkg/relay"
	"github.com/sentinel-zt/sentinel/pkg/server"
	"github.com/sentinel-zt/sentinel/pkg/tunnel"
)

// fakeClock is the server's injected clock, set by the test. Its times stay within the hour
// after the real now, so certificates (valid for an hour) are not expired by it: only the
// schedule decides.
type fakeClock struct {
	base time.Time // the real now, to the minute, when the test started
	t    atomic.Pointer[time.Time]
}

func newFakeClock() *fakeClock {
	c := &fakeClock{base: time.Now().UTC().Truncate(time.Minute)}
	c.Set(c.base)
	return c
}

func (c *fakeClock) Now() time.Time  { return *c.t.Load() }
func (c *fakeClock) Set(t time.Time) { c.t.Store(&t) }

// at is base+d.
func (c *fakeClock) at(d time.Duration) time.Time { return c.base.Add(d) }

// windowEnd is where the schedule's window ends, relative to base.
const windowEnd = 30 * time.Minute

// schedule is a window every day from an hour before base to windowEnd after it, in UTC
// (wrapping past midnight if it must).
func (c *fakeClock) schedule() *certattrs.Schedule {
	return &certattrs.Schedule{TZ: "UTC", From: c.at(-time.Hour).Format("15:04"), To: c.at(windowEnd).Format("15:04")}
}

func scheduleEnv(t *testing.T, clock *fakeClock, interval time.Duration) (*env, *testpki.Leaf) {
	t.Helper()
	e := newEnv(t, envOptions{configure: func(_ *env, _ *relay.Config, sc *server.Config) {
		sc.Now, sc.CheckInterval = clock.Now, interval
	}})
	return e, e.issueClient(t, func(c *certattrs.Client) { c.Schedule = clock.schedule() }, testpki.Opts{})
}

// TestSchedule: the server admits sessions and streams only inside the certificate's schedule,
// judged by its own (injected) clock.
func TestSchedule(t *testing.T) {
	clock := newFakeClock()
	e, worker := scheduleEnv(t, clock, time.Hour) // no periodic enforcement: each check alone
	runAttacks(t, map[string]func(t *testing.T){
		"ok": func(t *testing.T) {
			clock.Set(clock.at(0))
			s := e.mustSession(t, worker)
			if _, err := s.stream([]byte("in office hours")); err != nil {
				t.Fatal(err)
			}
		},
		"fail/session-outside-window": func(t *testing.T) {
			clock.Set(clock.at(windowEnd + 15*time.Minute))
			defer clock.Set(clock.at(0))
			mark, before := e.auditMark(), e.targetMark()
			s, err := e.dialSession(t, worker, e.clientTLS(worker))
			if err == nil {
				s.Close()
				t.Fatal("session admitted at 20:00")
			}
			if s == nil {
				t.Fatalf("refused before the server: %v", err)
			}
			want := denyEvent("server", tunnel.CodeSchedule)
			want["session"] = s.id
			e.waitAudit(t, mark, want)
			e.assertUntouched(t, before)
		},
		"fail/stream-outside-window": func(t *testing.T) {
			clock.Set(clock.at(windowEnd - 10*time.Minute))
			defer clock.Set(clock.at(0))
			s := e.mustSession(t, worker)
			clock.Set(clock.at(windowEnd)) // the window ends; nothing enforces it periodically here
			mark, before := e.auditMark(), e.targetMark()
			_, err := s.stream([]byte("after hours"))
			if tunnel.DenyCode(err, "") != tunnel.CodeSchedule {
				t.Fatalf("stream status %v, want error schedule", err)
			}
			e.waitAudit(t, mark, map[string]string{"event": "stream.open", "role": "server", "session": s.id, "decision": "deny", "reason": tunnel.CodeSchedule})
			e.assertUntouched(t, before)
		},
	})
}

// TestScheduleWindowCloses: live streams end when the server's clock passes the window's end,
// or the end of the client certificate's validity.
func TestScheduleWindowCloses(t *testing.T) {
	clock := newFakeClock()
	e, worker := scheduleEnv(t, clock, 20*time.Millisecond)
	runAttacks(t, map[string]func(t *testing.T){
		"ok": func(t *testing.T) {
			clock.Set(clock.at(0))
			s := e.mustSession(t, worker)
			st, err := s.stream([]byte("in office hours"))
			if err != nil {
				t.Fatal(err)
			}
			time.Sleep(100 * time.Millisecond) // five enforcement rounds: the session must survive them
			if _, err := s.stream([]byte("still in office hours")); err != nil {
				t.Fatalf("session cut inside its window: %v", err)
			}
			_ = st.Close()
		},
		"fail/window-closes-on-live-stream": func(t *testing.T) {
			clock.Set(clock.at(windowEnd - time.Minute))
			s := e.mustSession(t, worker)
			st, err := s.stream([]byte("last minute"))
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			mark, since := e.auditMark(), time.Now()
			clock.Set(clock.at(windowEnd))
			waitClosed(t, st, since)
			e.waitAudit(t, mark, map[string]string{"event": "session.close", "role": "server", "session": s.id, "reason": tunnel.CodeSchedule})
		},
		"fail/certificate-expires-on-live-stream": func(t *testing.T) {
			// No schedule; the certificate is valid for ten more minutes.
			short := e.issueClient(t, nil, testpki.Opts{NotAfter: time.Now().Add(10 * time.Minute)})
			clock.Set(clock.at(0))
			defer clock.Set(clock.at(0))
			s := e.mustSession(t, short)
			st, err := s.stream([]byte("valid for now"))
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			mark, since := e.auditMark(), time.Now()
			clock.Set(short.Cert.NotAfter.Add(time.Second))
			waitClosed(t, st, since)
			e.waitAudit(t, mark, map[string]string{"event": "session.close", "role": "server", "session": s.id, "reason": tunnel.CodeExpired})
		},
	})
}
