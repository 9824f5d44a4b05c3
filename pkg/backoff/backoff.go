// Package backoff computes reconnect delays: capped exponential growth with full jitter, so a
// fleet reconnecting after a relay restart spreads out instead of arriving at once.
package backoff

import (
	"math/rand/v2"
	"time"
)

// Defaults: the first retry comes well under a second, later ones at most every 30 s.
const (
	DefaultMin = 250 * time.Millisecond
	DefaultMax = 30 * time.Second
)

// Backoff yields successive delays. Not safe for concurrent use; one per reconnect loop.
type Backoff struct {
	Min, Max time.Duration // zero values mean DefaultMin and DefaultMax
	// Rand returns a uniform value in [0, n); nil means math/rand/v2.
	Rand func(n int64) int64

	attempt int
}

// Next returns the delay before the next attempt: uniform in [ceil/2, ceil] where ceil
// doubles from Min up to Max with each call.
func (b *Backoff) Next() time.Duration {
	lo, hi := b.Min, b.Max
	if lo <= 0 {
		lo = DefaultMin
	}
	if hi <= 0 {
		hi = DefaultMax
	}
	ceil := lo
	for i := 0; i < b.attempt && ceil < hi; i++ {
		ceil *= 2
	}
	if ceil > hi {
		ceil = hi
	}
	b.attempt++
	rnd := b.Rand
	if rnd == nil {
		rnd = rand.Int64N
	}
	half := int64(ceil / 2)
	return time.Duration(half + rnd(half+1))
}

// Reset starts over from Min, after a connection succeeded.
func (b *Backoff) Reset() { b.attempt = 0 }
