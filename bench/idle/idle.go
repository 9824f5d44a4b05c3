// Package idle holds many client sessions open at once, the way pkg/client connects one
// (authenticated WebSocket to the relay, pinned end-to-end TLS 1.3, yamux), so `make bench`
// can measure what an idle session costs the relay and the server, and what an idle stream
// costs the server.
package idle

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/yamux"

	"github.com/sentinel-zt/sentinel/bench/load"
	"github.com/sentinel-zt/sentinel/pkg/certattrs"
	"github.com/sentinel-zt/sentinel/pkg/dial"
	"github.com/sentinel-zt/sentinel/pkg/identity"
	"github.com/sentinel-zt/sentinel/pkg/tlsconf"
	"github.com/sentinel-zt/sentinel/pkg/tunnel"
	"github.com/sentinel-zt/sentinel/pkg/wsconn"
)

// LoadBundle reads a client bundle directory written by `backend ca issue client`
// (NAME.crt, NAME.key, ca.crt).
func LoadBundle(dir string) (*identity.Store, error) {
	keys, err := filepath.Glob(filepath.Join(dir, "*.key"))
	if err != nil || len(keys) != 1 {
		return nil, fmt.Errorf("bundle %s: want exactly one .key file, found %d", dir, len(keys))
	}
	base := keys[0][:len(keys[0])-len(".key")]
	read := func(p string) []byte {
		if err == nil {
			var b []byte
			b, err = os.ReadFile(p)
			return b
		}
		return nil
	}
	cert, key, ca := read(base+".crt"), read(base+".key"), read(filepath.Join(dir, "ca.crt"))
	if err != nil {
		return nil, fmt.Errorf("bundle %s: %w", dir, err)
	}
	id, err := identity.Parse(cert, key, ca)
	if err != nil {
		return nil, fmt.Errorf("bundle %s: %w", dir, err)
	}
	if id.Attrs.Client == nil {
		return nil, fmt.Errorf("bundle %s: not a client certificate", dir)
	}
	return identity.NewStore(id), nil
}

// Session is one end-to-end session, as pkg/client holds it.
type Session struct {
	ID  string
	Mux *yamux.Session
}

// Connect opens one session through the client certificate's first relay (lowest sort).
func Connect(ctx context.Context, store *identity.Store) (*Session, error) {
	id := store.Load()
	self := id.Attrs.Client
	relays := slices.Clone(self.Relays)
	slices.SortStableFunc(relays, func(a, b certattrs.RelayRef) int { return cmp.Compare(a.Sort, b.Sort) })
	if len(relays) == 0 {
		return nil, errors.New("client certificate lists no relay")
	}
	rt := relays[0]
	conn, resp, err := dial.WebSocket(ctx, dial.Request{
		Addr:     rt.Addr,
		Port:     rt.Port,
		Path:     tunnel.PathClient,
		Query:    url.Values{tunnel.QueryServer: {self.Server.UUID}},
		Audience: rt.UUID,
		Server:   self.Server.UUID,
		Identity: id,
		Roots:    store.Roots,
	}, wsconn.Options{})
	if err != nil {
		return nil, err
	}
	tconn := tls.Client(conn, tlsconf.Client(store.GetClientCertificate, store.Roots, self.Server.UUID, nil))
	if err := tconn.HandshakeContext(ctx); err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("end-to-end handshake: %w", err)
	}
	mux, err := yamux.Client(tconn, tunnel.MuxConfig())
	if err != nil {
		_ = tconn.Close()
		return nil, err
	}
	// The server may open notice streams; take and drop them as pkg/client does.
	go func() {
		for {
			st, err := mux.AcceptStream()
			if err != nil {
				return
			}
			_ = st.Close()
		}
	}()
	return &Session{ID: resp.Header.Get(tunnel.HeaderSession), Mux: mux}, nil
}

// OpenStream opens a stream and waits for the server's status line: the server has dialed
// the target and is piping.
func (s *Session) OpenStream() (net.Conn, error) {
	st, err := s.Mux.OpenStream()
	if err != nil {
		return nil, err
	}
	_ = st.SetReadDeadline(time.Now().Add(30 * time.Second))
	if err := tunnel.ReadStatus(st); err != nil {
		_ = st.Close()
		return nil, err
	}
	_ = st.SetReadDeadline(time.Time{})
	return st, nil
}

// RoundTrip carries one 32-byte request and its answer on a new stream, then closes it.
func (s *Session) RoundTrip() error {
	st, err := s.OpenStream()
	if err != nil {
		return err
	}
	defer st.Close()
	req := make([]byte, load.RequestSize)
	req[0] = load.ModeRequest
	if _, err := st.Write(req); err != nil {
		return err
	}
	resp := make([]byte, load.RequestSize)
	_ = st.SetReadDeadline(time.Now().Add(30 * time.Second))
	_, err = io.ReadFull(st, resp)
	return err
}

// OpenMany opens n sessions with at most par handshakes in flight. When warm is set each
// session first carries one 32-byte round trip, so the relay's splice and the server's stream
// path have run once, as on a session that served a connection and then went idle.
func OpenMany(ctx context.Context, store *identity.Store, n, par int, warm bool) ([]*Session, error) {
	out := make([]*Session, n)
	var next atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	for range par {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n || ctx.Err() != nil {
					return
				}
				s, err := connectRetry(ctx, store)
				if err == nil && warm {
					err = s.RoundTrip()
				}
				if err != nil {
					once.Do(func() { firstErr = fmt.Errorf("session %d: %w", i, err) })
					return
				}
				out[i] = s
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		CloseAll(out)
		return nil, firstErr
	}
	return out, nil
}

// connectRetry retries refusals that come from load (the relay's "limit" code) a few times.
func connectRetry(ctx context.Context, store *identity.Store) (*Session, error) {
	var err error
	for attempt := range 5 {
		var s *Session
		if s, err = Connect(ctx, store); err == nil {
			return s, nil
		}
		var ref *wsconn.RefusedError
		if !errors.As(err, &ref) || ref.Deny != tunnel.CodeLimit {
			return nil, err
		}
		time.Sleep(time.Duration(attempt+1) * 100 * time.Millisecond)
	}
	return nil, err
}

// CloseAll closes every session.
func CloseAll(sessions []*Session) {
	for _, s := range sessions {
		if s != nil {
			_ = s.Mux.Close()
		}
	}
}
