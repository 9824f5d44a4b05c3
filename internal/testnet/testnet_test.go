package testnet

import (
	"io"
	"net"
	"sync/atomic"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestServeEcho: each connection gets its bytes back, then EOF after its own half-close;
// connections are counted, and ServeEcho returns once the listener closes.
func TestServeEcho(t *testing.T) {
	ln := Listen(t)
	var accepted atomic.Int64
	done := make(chan struct{})
	go func() { ServeEcho(ln, &accepted); close(done) }()
	for i := range 3 {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		msg := []byte("echo " + string(rune('a'+i)))
		if _, err := c.Write(msg); err != nil {
			t.Fatal(err)
		}
		_ = c.(*net.TCPConn).CloseWrite()
		got, err := io.ReadAll(c)
		c.Close()
		if err != nil || string(got) != string(msg) {
			t.Fatalf("connection %d: got %q, %v; want %q then EOF", i, got, err, msg)
		}
	}
	_ = ln.Close()
	<-done
	if n := accepted.Load(); n != 3 {
		t.Fatalf("accepted = %d, want 3", n)
	}
}
