package load

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
)

// Target serves the load protocol on every connection it accepts.
type Target struct {
	// Open counts connections being served.
	Open atomic.Int64
	// Errors counts connections that ended with a content mismatch or a protocol error.
	Errors atomic.Int64
}

// Serve accepts until ln is closed and waits for its connections' handlers.
func (t *Target) Serve(ln net.Listener) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return err
		}
		t.Open.Add(1)
		wg.Go(func() {
			defer t.Open.Add(-1)
			defer c.Close()
			if err := t.handle(c); err != nil {
				t.Errors.Add(1)
			}
		})
	}
}

func (t *Target) handle(c net.Conn) error {
	var first [1]byte
	if _, err := io.ReadFull(c, first[:]); err != nil {
		return nil // connected and went away (idle streams, probes)
	}
	switch first[0] {
	case ModeRequest:
		req := make([]byte, RequestSize)
		req[0] = first[0]
		if _, err := io.ReadFull(c, req[1:]); err != nil {
			return err
		}
		for {
			if _, err := c.Write(Response(req)); err != nil {
				return err
			}
			if _, err := io.ReadFull(c, req); err != nil {
				if errors.Is(err, io.EOF) {
					return nil
				}
				return err
			}
		}
	case ModeUpload, ModeDownload:
		var h [headerSize - 1]byte
		if _, err := io.ReadFull(c, h[:]); err != nil {
			return err
		}
		p := NewPattern(binary.LittleEndian.Uint64(h[7:]))
		if first[0] == ModeDownload {
			return source(c, p)
		}
		return sink(c, p)
	default:
		return errors.New("unknown mode")
	}
}

// sink verifies the pattern until EOF, then answers with the count and a status byte.
func sink(c net.Conn, p *Pattern) error {
	buf := make([]byte, MaxChunk)
	var off int64
	ok := true
	for {
		n, err := c.Read(buf)
		if ok && !p.Check(off, buf[:n]) {
			ok = false
		}
		off += int64(n)
		if err != nil {
			if !errors.Is(err, io.EOF) {
				return err
			}
			break
		}
	}
	var res [resultSize]byte
	binary.LittleEndian.PutUint64(res[:], uint64(off))
	if !ok {
		res[8] = 1
	}
	_, err := c.Write(res[:])
	if !ok {
		return ErrMismatch
	}
	return err
}

// source writes the pattern until the peer goes away.
func source(c net.Conn, p *Pattern) error {
	const chunk = 128 << 10
	var off int64
	for {
		n, err := c.Write(p.At(off, chunk))
		off += int64(n)
		if err != nil {
			return nil // the client closes when its time is up
		}
	}
}
