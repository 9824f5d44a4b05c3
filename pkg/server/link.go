package server

import (
	"bufio"
	"context"
	"errors"
	"net/http"
	"net/url"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/sentinel-zt/sentinel/pkg/backoff"
	"github.com/sentinel-zt/sentinel/pkg/certattrs"
	"github.com/sentinel-zt/sentinel/pkg/dial"
	"github.com/sentinel-zt/sentinel/pkg/tunnel"
	"github.com/sentinel-zt/sentinel/pkg/wsconn"
)

// relayState is what the server knows of one relay it registers with.
type relayState struct {
	ref        certattrs.RelayRef
	connected  bool
	since      time.Time // of the current state
	reconnects int
	lastError  string
}

// link keeps the registration with one relay until the server closes: dial, serve its
// control channel, and on loss reconnect with backoff.
func (s *Server) link(ref certattrs.RelayRef) {
	log := s.log.With(zap.String("relay", ref.Name))
	refused := s.cfg.Backoff
	unreachable := backoff.Backoff{Min: refused.Min, Max: s.cfg.UnreachableMax}
	for s.links.Err() == nil {
		conn, resp, err := dial.WebSocket(s.links, dial.Request{
			Addr:     ref.Addr,
			Port:     ref.Port,
			Path:     tunnel.PathServer,
			Audience: ref.UUID,
			Identity: s.cfg.Identity.Load(),
			Roots:    s.cfg.Identity.Roots,
		}, s.cfg.WS)
		if err != nil {
			s.setRelay(ref.UUID, false, err)
			var delay time.Duration
			if resp != nil && tunnel.RefusalIsFinal(resp.StatusCode) {
				// The relay refused us (revoked, not listed...): back off properly; hammering
				// it helps nobody. A draining or restarting relay is retried soon instead.
				delay = refused.Next()
				log.Warn("relay refused registration", zap.Int("status", resp.StatusCode),
					zap.String("reason", resp.Header.Get(tunnel.HeaderDeny)), zap.Duration("retry_in", delay))
			} else {
				delay = unreachable.Next()
				log.Debug("relay unreachable", zap.Error(err), zap.Duration("retry_in", delay))
			}
			if !s.sleep(delay) {
				return
			}
			continue
		}
		s.setRelay(ref.UUID, true, nil)
		log.Info("registered with relay")
		up := time.Now()
		err = s.serveControl(ref, conn)
		s.setRelay(ref.UUID, false, err)
		s.metrics.reconnects.Inc()
		if s.links.Err() != nil {
			return
		}
		log.Warn("relay connection lost", zap.Error(err))
		if time.Since(up) > 10*time.Second {
			refused.Reset()
			unreachable.Reset()
		}
		if !s.sleep(unreachable.Next()) {
			return
		}
	}
}

// sleep waits d or until the server closes; false when closing.
func (s *Server) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-s.links.Done():
		return false
	}
}

// openWait bounds how long an open waits for a bind slot: by then the relay has given up on it.
const openWait = 10 * time.Second

// serveControl reads open requests from a relay's control channel until it fails.
func (s *Server) serveControl(ref certattrs.RelayRef, conn *wsconn.Conn) error {
	// queued counts opens not yet through their handshake (waiting or binding), binds those
	// binding; both are given back when the handshake is over (Config.MaxBindsPerRelay).
	binds := make(chan struct{}, s.cfg.MaxBindsPerRelay)
	queued := make(chan struct{}, s.cfg.MaxBindsPerRelay+s.cfg.MaxQueuedOpens)
	stop := context.AfterFunc(s.links, func() { _ = conn.Close() })
	defer stop()
	defer conn.Close()
	br := bufio.NewReaderSize(conn, 2*tunnel.MaxControlMessage)
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			if errors.Is(err, bufio.ErrBufferFull) {
				return errors.New("control message too long")
			}
			return err
		}
		msg, err := tunnel.ParseControl(line[:len(line)-1])
		if err != nil {
			return err
		}
		switch msg.Type {
		case tunnel.MsgOpen:
			select {
			case queued <- struct{}{}:
			default:
				s.metrics.authFailures.WithLabelValues(tunnel.CodeLimit).Inc()
				s.log.Warn("relay asks for more binds than allowed; ignoring this open",
					zap.String("relay", ref.Name), zap.String("session", msg.Session),
					zap.Int("at_once", s.cfg.MaxBindsPerRelay), zap.Int("waiting", s.cfg.MaxQueuedOpens))
				continue
			}
			if !s.goTracked(func() { s.answerOpen(ref, msg, binds, queued) }) {
				<-queued
			}
		case tunnel.MsgDrain:
			// The relay is going away: move the clients it carries before it does.
			for _, ss := range s.liveSessions() {
				if ss.via == ref.Name {
					s.drain(ss)
				}
			}
			return errors.New("relay is draining")
		}
	}
}

// answerOpen waits for a bind slot, then binds. The slot and the open's place in the queue
// are given back once the end-to-end handshake is over: a live session holds neither.
func (s *Server) answerOpen(ref certattrs.RelayRef, msg tunnel.Control, binds, queued chan struct{}) {
	var leaveQueue, freeSlot sync.Once
	leave := func() { leaveQueue.Do(func() { <-queued }) }
	defer leave()
	wait := time.NewTimer(openWait)
	defer wait.Stop()
	select {
	case binds <- struct{}{}:
	case <-wait.C:
		s.log.Warn("open waited too long for a bind slot; dropped", zap.String("relay", ref.Name), zap.String("session", msg.Session))
		return
	case <-s.links.Done():
		return
	}
	release := func() { freeSlot.Do(func() { <-binds; leave() }) }
	defer release()
	s.bind(ref, msg, release)
}

// bind answers an open: a WebSocket to the relay's bind endpoint carrying the session.
// handshakeDone is called once the end-to-end handshake is over, whatever its outcome.
func (s *Server) bind(ref certattrs.RelayRef, msg tunnel.Control, handshakeDone func()) {
	ctx, cancel := context.WithTimeout(s.ctx, s.cfg.HandshakeTimeout)
	conn, resp, err := dial.WebSocket(ctx, dial.Request{
		Addr:     ref.Addr,
		Port:     ref.Port,
		Path:     tunnel.PathBind,
		Query:    url.Values{tunnel.QuerySession: {msg.Session}},
		Audience: ref.UUID,
		Session:  msg.Session,
		Identity: s.cfg.Identity.Load(),
		Roots:    s.cfg.Identity.Roots,
	}, s.cfg.WS)
	cancel()
	if err != nil {
		status := 0
		if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols {
			status = resp.StatusCode
		}
		s.log.Warn("bind failed", zap.String("session", msg.Session), zap.String("relay", ref.Name), zap.Int("status", status), zap.Error(err))
		return
	}
	s.serveSession(conn, msg.Session, ref.Name, handshakeDone)
}

func (s *Server) setRelay(uuid string, connected bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.relays[uuid]
	if st == nil {
		return
	}
	if st.connected != connected {
		st.since = s.cfg.Now()
		if connected {
			st.reconnects++
		}
	}
	if connected && !st.connected {
		s.metrics.relaysConnected.Inc()
	} else if !connected && st.connected {
		s.metrics.relaysConnected.Dec()
	}
	st.connected = connected
	if err != nil {
		st.lastError = err.Error()
	}
}
