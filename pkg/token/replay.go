package token

import (
	"math"
	"sync"
	"time"
)

// ReplayCache remembers token ids until they expire. Bounded: when full of live entries it
// refuses new ones (fails closed) rather than forgetting one that could be replayed.
//
// Entries sit in a map (membership) and a min-heap ordered by expiry (eviction). Every Add
// first pops what has expired; each entry is pushed once and popped once, so purging is
// amortised O(1) per Add and the heap step O(log n) with n bounded by the limit. Memory is
// bounded by the limit too. Safe for concurrent use.
type ReplayCache struct {
	mu    sync.Mutex
	limit int
	ids   map[string]struct{}
	heap  []replayEntry // min-heap on exp
}

type replayEntry struct {
	exp int64 // unix nanoseconds
	id  string
}

type addResult int

const (
	addOK addResult = iota
	addDuplicate
	addFull
)

// NewReplayCache returns a cache of at most limit live entries (at least 1).
func NewReplayCache(limit int) *ReplayCache {
	limit = max(limit, 1)
	return &ReplayCache{limit: limit, ids: make(map[string]struct{}, min(limit, 1<<12))}
}

// Add records jti until exp. It returns false when jti is already recorded or the cache is full.
func (c *ReplayCache) Add(jti string, exp, now time.Time) bool {
	return c.add(jti, exp, now) == addOK
}

func (c *ReplayCache) add(jti string, exp, now time.Time) addResult {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.purge(nanos(now))
	if _, seen := c.ids[jti]; seen {
		return addDuplicate
	}
	if !exp.After(now) {
		// Already expired: nothing a verifier would accept again, nothing to keep.
		return addOK
	}
	if len(c.ids) >= c.limit {
		return addFull
	}
	c.ids[jti] = struct{}{}
	c.push(replayEntry{exp: nanos(exp), id: jti})
	return addOK
}

// Len returns the number of live entries, as of the last Add.
func (c *ReplayCache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.ids)
}

// nanos is t.UnixNano clamped to int64, so a far-future exp stays in the future.
func nanos(t time.Time) int64 {
	switch {
	case t.After(maxTime):
		return math.MaxInt64
	case t.Before(minTime):
		return math.MinInt64
	}
	return t.UnixNano()
}

var (
	maxTime = time.Unix(0, math.MaxInt64)
	minTime = time.Unix(0, math.MinInt64)
)

// purge drops every entry whose exp is not after now.
func (c *ReplayCache) purge(now int64) {
	for len(c.heap) > 0 && c.heap[0].exp <= now {
		delete(c.ids, c.pop().id)
	}
	if len(c.heap) == 0 && cap(c.heap) > 1<<12 {
		c.heap = nil // give a burst's backing array back
	}
}

func (c *ReplayCache) push(e replayEntry) {
	c.heap = append(c.heap, e)
	h := c.heap
	for i := len(h) - 1; i > 0; {
		p := (i - 1) / 2
		if h[p].exp <= h[i].exp {
			break
		}
		h[p], h[i] = h[i], h[p]
		i = p
	}
}

func (c *ReplayCache) pop() replayEntry {
	h := c.heap
	top := h[0]
	last := len(h) - 1
	h[0] = h[last]
	h[last] = replayEntry{}
	h = h[:last]
	for i := 0; ; {
		l, r, m := 2*i+1, 2*i+2, i
		if l < len(h) && h[l].exp < h[m].exp {
			m = l
		}
		if r < len(h) && h[r].exp < h[m].exp {
			m = r
		}
		if m == i {
			break
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
	c.heap = h
	return top
}
