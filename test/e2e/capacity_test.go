package e2e

import (
	"sync"
	"testing"

	"github.com/sentinel-zt/sentinel/internal/testpki"
	"github.com/sentinel-zt/sentinel/pkg/relay"
	"github.com/sentinel-zt/sentinel/pkg/server"
)

// TestManySessionsThroughOneRelay: a server carries more concurrent sessions from one relay than
// it allows bind attempts at once (64): a bind's slot is freed when its handshake is over, not
// when its session ends.
func TestManySessionsThroughOneRelay(t *testing.T) {
	const sessions = 80
	e := newEnv(t, envOptions{configure: func(_ *env, rc *relay.Config, sc *server.Config) {
		rc.MaxSessionsPerCert, sc.MaxSessionsPerCert = sessions, sessions
	}})
	leaf := e.issueClient(t, nil, testpki.Opts{})
	var mu sync.Mutex
	var open []*rawSession
	var wg sync.WaitGroup
	for range sessions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := e.mustSession(t, leaf)
			mu.Lock()
			open = append(open, s)
			mu.Unlock()
		}()
	}
	wg.Wait()
	for i, s := range open {
		st, err := s.stream([]byte("still here"))
		if err != nil {
			t.Fatalf("session %d of %d: %v", i, len(open), err)
		}
		_ = st.Close()
	}
}
