// Package online holds the in-process end-to-end tests of the online CA: enrollment with
// tokens, refusals, and renewal under live sessions. They live apart from test/e2e because
// the embedded step-ca authority links github.com/golang/glog, whose init starts a flush
// goroutine that goleak must be told about.
package online

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("github.com/golang/glog.(*fileSink).flushDaemon"))
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// serveEcho echoes every connection, half-closing after the peer's EOF, and counts them.
func serveEcho(ln net.Listener, accepted *atomic.Int64) {
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		accepted.Add(1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.Close()
			_, _ = io.Copy(c, c)
			_ = c.(*net.TCPConn).CloseWrite()
		}()
	}
}
