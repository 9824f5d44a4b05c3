// Package pipe is the byte pump every role uses to join two connections.
package pipe

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Copy buffers. A direction starts with a small buffer and takes a large one when a read
// fills the small one (bulk data is flowing); after a read of no more than smallSize bytes
// (a trickle, or the end of a burst) it gives the large one back. An idle connection, which
// sits in Read, then holds two small buffers instead of two large ones (docs/BENCHMARKS.md:
// idle streams at the server), while a transfer moves 128 KiB per read and write: fewer,
// larger multiplexer frames and TLS writes.
const (
	bufferSize = 128 << 10
	smallSize  = 4 << 10
)

// bufPool and smallPool hold *[]byte of bufferSize and smallSize, shared by every Join.
var (
	bufPool = sync.Pool{New: func() any {
		b := make([]byte, bufferSize)
		return &b
	}}
	smallPool = sync.Pool{New: func() any {
		b := make([]byte, smallSize)
		return &b
	}}
)

// lingerTimeout is how long the remaining direction may stay silent once the other direction
// has ended with an EOF that could not be passed on (the destination has no CloseWrite). It is
// a variable so tests can shorten it.
var lingerTimeout = 5 * time.Second

// closeWriter is implemented by conns that can half-close: *net.TCPConn, *net.UnixConn,
// *tls.Conn (which sends close_notify).
type closeWriter interface {
	CloseWrite() error
}

// Join copies a→b and b→a until both directions end or ctx is done, then closes both conns and
// returns the bytes copied each way.
//
// When a direction reads EOF from its source it half-closes the destination with CloseWrite, if
// the destination has one, and the other direction carries on until it ends too, however long
// that takes (TCP semantics; a dead peer is found by TCP or multiplexer keepalives, or by ctx).
// A destination without CloseWrite cannot be told about the EOF, so the peer would never finish:
// the other direction then carries on only while it moves data, and ends once it has been
// silent (no read or write completes) for a linger of 5 seconds. Give stream types whose Close
// is a half-close (a yamux stream) a CloseWrite method to avoid that.
//
// An error in either direction closes both conns at once. Connection resets, broken pipes,
// EOFs and closed connections (errors.Is io.EOF, net.ErrClosed, syscall.ECONNRESET,
// syscall.EPIPE, syscall.ECONNABORTED, io.ErrClosedPipe) are normal endings and yield a nil
// err; if ctx ends the join first, err is ctx.Err(); otherwise err is the first other error,
// naming the direction. Errors of a direction that was cut short by Join closing the conns are
// not reported.
func Join(ctx context.Context, a, b net.Conn) (aToB, bToA int64, err error) {
	return JoinCounted(ctx, a, b, nil, nil)
}

// Counter is told each direction's bytes as they are written (a prometheus.Counter is one),
// so a long transfer shows while it runs, not only when it ends.
type Counter interface{ Add(float64) }

// JoinCounted is Join that also adds each write's bytes to aToBCount and bToACount; either
// may be nil.
func JoinCounted(ctx context.Context, a, b net.Conn, aToBCount, bToACount Counter) (aToB, bToA int64, err error) {
	var linger atomic.Bool
	ab := &copier{dir: "a→b", src: a, dst: b, linger: &linger, count: aToBCount}
	ba := &copier{dir: "b→a", src: b, dst: a, linger: &linger, count: bToACount}
	done := make(chan *copier, 2)
	go ab.run(done)
	go ba.run(done)

	closed := false
	closeBoth := func() {
		if !closed {
			closed = true
			a.Close()
			b.Close()
		}
	}
	ctxDone := ctx.Done()
	for pending := 2; pending > 0; {
		select {
		case c := <-done:
			pending--
			switch {
			case closed:
				// Cut short by our own close: its error is a consequence, not news.
			case c.err == nil && pending > 0:
				// EOF: pass it on and let the other direction finish.
				if cw, ok := c.dst.(closeWriter); ok && cw.CloseWrite() == nil {
					continue
				}
				linger.Store(true)
				deadline := time.Now().Add(lingerTimeout)
				c.dst.SetReadDeadline(deadline)  // the other direction's source
				c.src.SetWriteDeadline(deadline) // the other direction's destination
			case c.err != nil:
				if !c.normal() {
					err = c.err
				}
				closeBoth()
			}
		case <-ctxDone:
			ctxDone = nil
			if !closed {
				err = ctx.Err()
				closeBoth()
			}
		}
	}
	closeBoth()
	return ab.n, ba.n, err
}

// copier is one direction of a Join: it copies src to dst until src reads EOF or either fails.
type copier struct {
	dir      string
	src, dst net.Conn
	linger   *atomic.Bool // shared by both directions: set once the other direction has ended
	count    Counter      // nil: not counted as it goes

	n   int64 // bytes written to dst; read by Join after run returns
	err error // nil when src reached EOF
}

func (c *copier) run(done chan<- *copier) {
	defer func() { done <- c }()
	// A plain Read/Write loop over pooled buffers. io.Copy would hand TCP conns to
	// ReadFrom/WriteTo, which allocate their own buffer or use splice(2); splice measured
	// slower on loopback (BenchmarkJoin) and our pairs are TCP and a stream anyway.
	small := smallPool.Get().(*[]byte)
	defer smallPool.Put(small)
	var big *[]byte
	defer func() {
		if big != nil {
			bufPool.Put(big)
		}
	}()
	buf := *small
	for {
		if c.linger.Load() {
			deadline := time.Now().Add(lingerTimeout)
			c.src.SetReadDeadline(deadline)
			c.dst.SetWriteDeadline(deadline)
		}
		nr, rerr := c.src.Read(buf)
		if nr > 0 {
			nw, werr := c.dst.Write(buf[:nr])
			c.n += int64(nw)
			if c.count != nil && nw > 0 {
				c.count.Add(float64(nw))
			}
			if werr == nil && nw < nr {
				werr = io.ErrShortWrite
			}
			if werr != nil {
				c.err = fmt.Errorf("pipe %s: write: %w", c.dir, werr)
				return
			}
		}
		if rerr != nil {
			if !errors.Is(rerr, io.EOF) {
				c.err = fmt.Errorf("pipe %s: read: %w", c.dir, rerr)
			}
			return
		}
		switch {
		case big == nil && nr == len(buf):
			big = bufPool.Get().(*[]byte)
			buf = *big
		case big != nil && nr <= smallSize:
			bufPool.Put(big)
			big, buf = nil, *small
		}
	}
}

// normal reports whether c ended in a way that is a normal end of a connection.
func (c *copier) normal() bool {
	return isNormalEnd(c.err) || (c.linger.Load() && errors.Is(c.err, os.ErrDeadlineExceeded))
}

// isNormalEnd reports whether err is how a connection normally ends: an EOF, a reset, a broken
// pipe, or a closed connection.
func isNormalEnd(err error) bool {
	return err == nil ||
		errors.Is(err, io.EOF) ||
		errors.Is(err, net.ErrClosed) ||
		errors.Is(err, io.ErrClosedPipe) ||
		errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, syscall.ECONNABORTED)
}
