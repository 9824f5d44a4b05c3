// Package testnet holds the loopback helpers tests share: a listener on 127.0.0.1 and an echo
// target behind it.
package testnet

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
)

// Listen listens on 127.0.0.1 on a free port; the test fails if it cannot.
func Listen(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// ServeEcho echoes every connection ln accepts, half-closing after the peer's EOF, until ln
// closes; it returns once every connection has ended. accepted, if not nil, counts them.
func ServeEcho(ln net.Listener, accepted *atomic.Int64) {
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		if accepted != nil {
			accepted.Add(1)
		}
		wg.Go(func() {
			defer c.Close()
			_, _ = io.Copy(c, c)
			if tc, ok := c.(*net.TCPConn); ok {
				_ = tc.CloseWrite()
			}
		})
	}
}
