package tunnel

import (
	"errors"
	"io"
	"net"
	"sync"

	"github.com/hashicorp/yamux"
)

// ErrSessionLost is what a stream reads when its session died under it. yamux reports that
// as a plain io.EOF (a dead session closes its streams the way a FIN does), which would make
// a transfer cut short look complete.
var ErrSessionLost = errors.New("session lost")

// Stream adapts a multiplexed stream for pipe.Join: CloseWrite is yamux's half-closing Close,
// a read that ends because the session died is ErrSessionLost, and any failure resets the
// TCP connection on the other side of the pipe (through Abort) instead of closing it cleanly.
type Stream struct {
	*yamux.Stream
	// Abort, if set, is called once when the stream fails rather than ends.
	Abort func()

	abortOnce sync.Once
}

func (s *Stream) Read(p []byte) (int, error) {
	n, err := s.Stream.Read(p)
	if errors.Is(err, io.EOF) && s.Stream.Session().IsClosed() {
		err = ErrSessionLost
	}
	if err != nil && !errors.Is(err, io.EOF) {
		s.fail()
	}
	return n, err
}

func (s *Stream) Write(p []byte) (int, error) {
	n, err := s.Stream.Write(p)
	if err != nil {
		s.fail()
	}
	return n, err
}

// CloseWrite sends FIN and keeps the read side open.
func (s *Stream) CloseWrite() error { return s.Stream.Close() }

func (s *Stream) fail() {
	if s.Abort != nil {
		s.abortOnce.Do(s.Abort)
	}
}

// AbortTCP returns an Abort that makes c's close a reset (SO_LINGER 0), so its peer sees an
// error rather than a clean end. It does nothing for other kinds of connection.
func AbortTCP(c net.Conn) func() {
	return func() {
		if tcp, ok := c.(*net.TCPConn); ok {
			_ = tcp.SetLinger(0)
		}
	}
}
