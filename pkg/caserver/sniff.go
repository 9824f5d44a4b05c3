package caserver

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"sync"
	"time"
)

// sniffListener serves TLS and plain HTTP on one port: a connection whose first byte is a
// TLS handshake record (0x16) is wrapped in TLS, any other is handed over as is. Plain HTTP
// exists for the CRL, which is signed and which relays and servers fetch without trusting
// the CA's TLS certificate (pkg/revoke trusts the system roots for https).
//
// Accept never waits on a slow client: a goroutine per connection reads the first byte
// under a deadline and queues the result.
type sniffListener struct {
	ln      net.Listener
	tlsCfg  *tls.Config
	timeout time.Duration

	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
	wg    sync.WaitGroup
	err   error // set before done is closed
}

func newSniffListener(ln net.Listener, cfg *tls.Config, timeout time.Duration) *sniffListener {
	l := &sniffListener{ln: ln, tlsCfg: cfg, timeout: timeout, conns: make(chan net.Conn), done: make(chan struct{})}
	l.wg.Add(1)
	go l.acceptLoop()
	return l
}

func (l *sniffListener) acceptLoop() {
	defer l.wg.Done()
	for {
		c, err := l.ln.Accept()
		if err != nil {
			l.once.Do(func() { l.err = err; close(l.done) })
			return
		}
		l.wg.Add(1)
		go l.sniff(c)
	}
}

func (l *sniffListener) sniff(c net.Conn) {
	defer l.wg.Done()
	_ = c.SetReadDeadline(time.Now().Add(l.timeout))
	var b [1]byte
	if _, err := io.ReadFull(c, b[:]); err != nil {
		c.Close()
		return
	}
	_ = c.SetReadDeadline(time.Time{})
	pc := &peekedConn{Conn: c, first: b[0], has: true}
	var out net.Conn = pc
	if b[0] == 0x16 {
		out = tls.Server(pc, l.tlsCfg)
	}
	select {
	case l.conns <- out:
	case <-l.done:
		c.Close()
	}
}

func (l *sniffListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, l.err
	}
}

// Close stops accepting and waits for the sniffing goroutines.
func (l *sniffListener) Close() error {
	err := l.ln.Close()
	l.once.Do(func() { l.err = net.ErrClosed; close(l.done) })
	l.wg.Wait()
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}

func (l *sniffListener) Addr() net.Addr { return l.ln.Addr() }

// peekedConn gives back the byte sniff read.
type peekedConn struct {
	net.Conn
	mu    sync.Mutex
	first byte
	has   bool
}

func (c *peekedConn) Read(p []byte) (int, error) {
	c.mu.Lock()
	if c.has && len(p) > 0 {
		p[0] = c.first
		c.has = false
		c.mu.Unlock()
		return 1, nil
	}
	c.mu.Unlock()
	return c.Conn.Read(p)
}
