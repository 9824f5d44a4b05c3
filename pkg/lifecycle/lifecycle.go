// Package lifecycle tracks the goroutines a component starts, so that Close can end them all
// and wait for them without racing a goroutine that starts while it closes.
package lifecycle

import (
	"context"
	"sync"
)

// Group owns goroutines. The zero value is not usable; call New.
type Group struct {
	ctx    context.Context
	cancel context.CancelFunc

	mu     sync.Mutex
	closed bool
	wg     sync.WaitGroup
	once   sync.Once
}

// New returns an open Group.
func New() *Group {
	ctx, cancel := context.WithCancel(context.Background())
	return &Group{ctx: ctx, cancel: cancel}
}

// Context ends when Close is called.
func (g *Group) Context() context.Context { return g.ctx }

// Go runs f on a new goroutine that Close waits for. It returns false, without running f,
// once the group is closing.
func (g *Group) Go(f func()) bool {
	if !g.Enter() {
		return false
	}
	go func() {
		defer g.Leave()
		f()
	}()
	return true
}

// Enter registers work running on a goroutine the group did not start (an HTTP handler,
// say); false once closing. Every true Enter must be paired with one Leave.
func (g *Group) Enter() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return false
	}
	g.wg.Add(1)
	return true
}

// Leave ends work registered by Enter.
func (g *Group) Leave() { g.wg.Done() }

// Closing reports whether Close has been called.
func (g *Group) Closing() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.closed
}

// Close refuses new work, cancels the context and waits for every goroutine. Idempotent and
// safe to call concurrently; every call returns after the goroutines have ended.
func (g *Group) Close() {
	g.once.Do(func() {
		g.mu.Lock()
		g.closed = true
		g.mu.Unlock()
		g.cancel()
	})
	g.wg.Wait()
}
