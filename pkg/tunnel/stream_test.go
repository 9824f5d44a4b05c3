package tunnel

import (
	"errors"
	"io"
	"net"
	"sync/atomic"
	"testing"

	"github.com/hashicorp/yamux"
)

// muxPair returns a client and a server session over an in-memory pipe.
func muxPair(t *testing.T) (*yamux.Session, *yamux.Session) {
	t.Helper()
	a, b := net.Pipe()
	cs, err := yamux.Client(a, MuxConfig())
	if err != nil {
		t.Fatal(err)
	}
	ss, err := yamux.Server(b, MuxConfig())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cs.Close(); _ = ss.Close() })
	return cs, ss
}

func TestStreamCleanEndIsEOF(t *testing.T) {
	cs, ss := muxPair(t)
	st, err := cs.OpenStream()
	if err != nil {
		t.Fatal(err)
	}
	var aborted atomic.Bool
	s := &Stream{Stream: st, Abort: func() { aborted.Store(true) }}
	if _, err := s.Write([]byte("hi")); err != nil {
		t.Fatal(err)
	}
	peer, err := ss.AcceptStream()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(peer, make([]byte, 2)); err != nil {
		t.Fatal(err)
	}
	_ = peer.Close() // FIN
	if _, err := io.ReadAll(s); err != nil {
		t.Fatalf("clean end read %v, want EOF", err)
	}
	if aborted.Load() {
		t.Fatal("a clean end aborted the peer")
	}
}

func TestStreamSessionLossIsAnError(t *testing.T) {
	cs, ss := muxPair(t)
	st, err := cs.OpenStream()
	if err != nil {
		t.Fatal(err)
	}
	var aborted atomic.Bool
	s := &Stream{Stream: st, Abort: func() { aborted.Store(true) }}
	if _, err := s.Write([]byte("hi")); err != nil {
		t.Fatal(err)
	}
	if _, err := ss.AcceptStream(); err != nil {
		t.Fatal(err)
	}
	_ = ss.Close() // the session dies: yamux alone would report a clean EOF
	_, err = io.ReadAll(s)
	if !errors.Is(err, ErrSessionLost) {
		t.Fatalf("read after session loss: %v, want ErrSessionLost", err)
	}
	if !aborted.Load() {
		t.Fatal("session loss did not abort the peer connection")
	}
}

func TestAbortTCPResetsThePeer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	srv, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	AbortTCP(c)()
	_ = c.Close()
	_, err = srv.Read(make([]byte, 1))
	if err == nil || errors.Is(err, io.EOF) {
		t.Fatalf("peer read %v after an abortive close, want a reset", err)
	}
}
