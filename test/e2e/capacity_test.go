package e2e

import (
	"sync"
	"testing"

	"github.com/sentinel-zt/sentinel/internal/testpki"
	"github.com/sentinel-zt/sentinel/pkg/relay"
	"github.com/sentinel-zt/sentinel/pkg/server"
)

// TestManySessionsThroughOneRelay: a server carries more concurrent sessions from one relay
// than it allows binds at once plus opens waiting: an open's bind slot and its place in the
// queue are freed when its handshake is over, not when its session ends. The caps are small
// here so a handful of sessions crosses them; the defaults (64 + 1024) once capped a relay at
// 1,088 live sessions.
func TestManySessionsThroughOneRelay(t *testing.T) {
	const (
		binds, queued = 2, 4
		batch         = binds + queued // in flight at once: never more than the server takes
		sessions      = 4 * batch
	)
	e := newEnv(t, envOptions{configure: func(_ *env, rc *relay.Config, sc *server.Config) {
		rc.MaxSessionsPerCert, sc.MaxSessionsPerCert = sessions, sessions
		sc.MaxBindsPerRelay, sc.MaxQueuedOpens = binds, queued
	}})
	leaf := e.issueClient(t, nil, testpki.Opts{})
	var open []*rawSession
	for len(open) < sessions {
		var mu sync.Mutex
		var wg sync.WaitGroup
		var errs []error
		for range batch {
			wg.Go(func() {
				s, err := e.dialSession(t, leaf, e.clientTLS(leaf))
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					errs = append(errs, err)
					return
				}
				t.Cleanup(s.Close)
				open = append(open, s)
			})
		}
		wg.Wait()
		if len(errs) > 0 {
			t.Fatalf("with %d sessions live, %d of the next %d failed: %v", len(open), len(errs), batch, errs[0])
		}
	}
	for i, s := range open {
		st, err := s.stream([]byte("still here"))
		if err != nil {
			t.Fatalf("session %d of %d: %v", i, len(open), err)
		}
		_ = st.Close()
	}
}
