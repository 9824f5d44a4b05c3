package wsconn

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// ErrIdleTimeout is returned (wrapped) by reads when the peer sent nothing — no data, ping or
// pong — for Options.IdleTimeout. The connection is dead and has been closed.
var ErrIdleTimeout = errors.New("websocket peer idle timeout")

// touchGranularity: the idle deadline is pushed forward only when it would move by more than
// IdleTimeout/touchGranularity, so busy reads do not reset a timer on every call. A silent peer
// is therefore declared dead between (1-1/16)·IdleTimeout and IdleTimeout after its last frame.
const touchGranularity = 16

// epoch anchors the monotonic timestamps kept as integers.
var epoch = time.Now()

func monoNow() time.Duration { return time.Since(epoch) }

// liveness keeps one WebSocket's read deadline at the earlier of "last sign of life +
// IdleTimeout" and the caller's own read deadline. Signs of life are received pings and pongs
// (its handlers, which keep gorilla's defaults: a ping is answered with a pong) and every read
// (touch, called by the reader). A pong that cannot be written does not fail the reader.
type liveness struct {
	nc   net.Conn
	idle time.Duration // <= 0: no idle deadline

	last atomic.Int64 // monoNow() of the last sign of life applied to the deadline

	mu   sync.Mutex // serializes SetReadDeadline so a stale deadline never wins
	user time.Time  // the caller's read deadline; zero means none
}

func newLiveness(ws *websocket.Conn, idle time.Duration) *liveness {
	l := &liveness{nc: ws.NetConn(), idle: idle}
	ping, pong := ws.PingHandler(), ws.PongHandler()
	ws.SetPingHandler(func(data string) error {
		l.touch()
		// The default handler answers with a pong, and fails the read if the pong cannot be
		// written. A peer that sent a ping and then a close frame and hung up would then look
		// like a broken connection instead of an orderly close: keep reading what arrived,
		// and leave write failures to the writer.
		_ = ping(data)
		return nil
	})
	ws.SetPongHandler(func(data string) error {
		l.touch()
		return pong(data)
	})
	l.mu.Lock()
	l.last.Store(int64(monoNow()))
	l.applyLocked()
	l.mu.Unlock()
	return l
}

// touch records a sign of life: a frame arrived, or the reader is about to read (so data that
// waited in the socket while nobody read is not mistaken for silence).
func (l *liveness) touch() {
	if l.idle <= 0 {
		return
	}
	now := monoNow()
	if now-time.Duration(l.last.Load()) < l.idle/touchGranularity {
		return
	}
	l.mu.Lock()
	if int64(now) > l.last.Load() {
		l.last.Store(int64(now))
		l.applyLocked()
	}
	l.mu.Unlock()
}

// setUser sets the caller's read deadline.
func (l *liveness) setUser(t time.Time) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.user = t
	return l.applyLocked()
}

// userExpired reports whether the caller's read deadline has passed.
func (l *liveness) userExpired() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return !l.user.IsZero() && !time.Now().Before(l.user)
}

func (l *liveness) applyLocked() error {
	var d time.Time
	if l.idle > 0 {
		d = epoch.Add(time.Duration(l.last.Load()) + l.idle)
	}
	if !l.user.IsZero() && (d.IsZero() || l.user.Before(d)) {
		d = l.user
	}
	return l.nc.SetReadDeadline(d)
}

// pinger sends a ping on each of its conns every interval. It runs on a timer rather than a
// goroutine of its own, so an idle connection costs no goroutine; the next ping is scheduled
// only after the previous one was written, so a blocked write never piles pings up.
type pinger struct {
	every, wait time.Duration
	conns       []*websocket.Conn

	mu      sync.Mutex
	stopped bool
	timer   *time.Timer
	running sync.WaitGroup
}

// startPinger pings conns every `every` (none if every <= 0); each ping may wait up to `wait`
// for the connection's writer. A ping that cannot be written is ignored: a dead peer is found by
// the idle read deadline.
func startPinger(every, wait time.Duration, conns ...*websocket.Conn) *pinger {
	p := &pinger{every: every, wait: wait, conns: conns}
	if every > 0 {
		p.mu.Lock()
		p.timer = time.AfterFunc(every, p.tick)
		p.mu.Unlock()
	}
	return p
}

func (p *pinger) tick() {
	p.mu.Lock()
	if p.stopped {
		p.mu.Unlock()
		return
	}
	p.running.Add(1)
	p.mu.Unlock()
	defer p.running.Done()

	deadline := time.Now().Add(p.wait)
	for _, ws := range p.conns {
		_ = ws.WriteControl(websocket.PingMessage, nil, deadline)
	}

	p.mu.Lock()
	if !p.stopped {
		p.timer.Reset(p.every)
	}
	p.mu.Unlock()
}

// stop cancels further pings and waits for one in flight. Close the conns first so an in-flight
// ping cannot be blocked on a stuck write.
func (p *pinger) stop() {
	p.mu.Lock()
	p.stopped = true
	if p.timer != nil {
		p.timer.Stop()
	}
	p.mu.Unlock()
	p.running.Wait()
}
