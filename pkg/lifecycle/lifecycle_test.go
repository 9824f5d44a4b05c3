package lifecycle

import (
	"sync/atomic"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestCloseWaitsAndCancels(t *testing.T) {
	g := New()
	var ended atomic.Int32
	for range 10 {
		if !g.Go(func() {
			<-g.Context().Done()
			ended.Add(1)
		}) {
			t.Fatal("Go refused while open")
		}
	}
	g.Close()
	if n := ended.Load(); n != 10 {
		t.Fatalf("Close returned with %d of 10 goroutines ended", n)
	}
	if g.Go(func() { t.Error("ran after Close") }) {
		t.Fatal("Go accepted work after Close")
	}
	if g.Enter() {
		t.Fatal("Enter accepted work after Close")
	}
	if !g.Closing() {
		t.Fatal("Closing is false after Close")
	}
	g.Close() // idempotent
}

func TestGoroutinesMayStartMoreWhileClosing(t *testing.T) {
	g := New()
	started := make(chan struct{})
	g.Go(func() {
		close(started)
		<-g.Context().Done()
		// Work spawned during Close is refused rather than racing the wait.
		if g.Go(func() {}) {
			t.Error("nested Go accepted during Close")
		}
	})
	<-started
	g.Close()
}

func TestEnterLeave(t *testing.T) {
	g := New()
	if !g.Enter() {
		t.Fatal("Enter refused while open")
	}
	done := make(chan struct{})
	go func() { g.Close(); close(done) }()
	select {
	case <-done:
		t.Fatal("Close returned before Leave")
	default:
	}
	<-g.Context().Done()
	g.Leave()
	<-done
}
