package wsconn

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"
)

// TestDialCancelledDuringHandshake: a peer that accepts TCP and never answers the upgrade
// must not hold a cancelled dial until the handshake timeout. The error says the context
// ended (without the fix it was the handshake timeout's i/o error, 10 s later).
func TestDialCancelledDuringHandshake(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			accepted <- c // hold it open, say nothing
		}
		close(accepted)
	}()
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		if c, ok := <-accepted; ok {
			defer c.Close()
			cancel()
			time.Sleep(50 * time.Millisecond) // keep the silent peer around while the dial unwinds
		}
	}()
	_, _, err = Dial(ctx, "ws://"+ln.Addr().String()+"/v1/server", nil, nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("dial against a silent peer, cancelled: %v, want context.Canceled", err)
	}
}
