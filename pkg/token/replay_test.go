package token_test

import (
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sentinel-zt/sentinel/pkg/token"
)

var t0 = time.Unix(1_700_000_000, 0)

func TestReplayCacheDuplicate(t *testing.T) {
	c := token.NewReplayCache(8)
	exp := t0.Add(time.Minute)
	if !c.Add("a", exp, t0) {
		t.Fatal("first Add refused")
	}
	if c.Add("a", exp, t0.Add(59*time.Second)) {
		t.Fatal("duplicate accepted before exp")
	}
	if c.Len() != 1 {
		t.Fatalf("Len = %d, want 1", c.Len())
	}
	// At exp the id is forgotten: the verifier keeps ids until exp+Skew, past which the
	// token itself is refused as expired.
	if !c.Add("b", t0.Add(2*time.Minute), exp) {
		t.Fatal("Add refused")
	}
	if c.Len() != 1 {
		t.Fatalf("Len after expiry = %d, want 1 (a purged)", c.Len())
	}
	if !c.Add("a", t0.Add(3*time.Minute), exp) {
		t.Fatal("expired id still held")
	}
}

func TestReplayCacheFullFailsClosed(t *testing.T) {
	c := token.NewReplayCache(2)
	if !c.Add("a", t0.Add(time.Minute), t0) || !c.Add("b", t0.Add(2*time.Minute), t0) {
		t.Fatal("Add refused below the limit")
	}
	if c.Add("c", t0.Add(time.Minute), t0.Add(30*time.Second)) {
		t.Fatal("full cache accepted a new id")
	}
	if c.Add("a", t0.Add(time.Minute), t0.Add(30*time.Second)) {
		t.Fatal("full cache accepted a duplicate")
	}
	// Once "a" expires there is room again, and "b" is still remembered.
	if !c.Add("c", t0.Add(3*time.Minute), t0.Add(time.Minute)) {
		t.Fatal("no room after expiry")
	}
	if c.Add("b", t0.Add(3*time.Minute), t0.Add(time.Minute)) {
		t.Fatal("live id forgotten")
	}
}

func TestReplayCacheAlreadyExpired(t *testing.T) {
	c := token.NewReplayCache(1)
	if !c.Add("old", t0.Add(-time.Second), t0) {
		t.Fatal("an already expired id is harmless and need not be refused")
	}
	if c.Len() != 0 {
		t.Fatalf("Len = %d: an expired id was stored", c.Len())
	}
	if !c.Add("new", t0.Add(time.Minute), t0) {
		t.Fatal("expired id took the only slot")
	}
}

// TestReplayCacheExpiryOrder adds ids with shuffled expiries and checks, as time advances,
// that exactly the unexpired ones are kept.
func TestReplayCacheExpiryOrder(t *testing.T) {
	const n = 1000
	c := token.NewReplayCache(n)
	r := rand.New(rand.NewPCG(1, 2))
	exps := make([]time.Duration, n)
	for i := range exps {
		exps[i] = time.Duration(1+r.IntN(600)) * time.Second
		if !c.Add(strconv.Itoa(i), t0.Add(exps[i]), t0) {
			t.Fatalf("Add %d refused", i)
		}
	}
	for now := time.Duration(0); now <= 601*time.Second; now += 7 * time.Second {
		c.Add("probe"+strconv.Itoa(int(now)), t0.Add(now), t0.Add(now)) // purges, stores nothing
		want := 0
		for _, e := range exps {
			if e > now {
				want++
			}
		}
		if got := c.Len(); got != want {
			t.Fatalf("at +%v: Len = %d, want %d", now, got, want)
		}
		for i, e := range exps {
			if e > now && c.Add(strconv.Itoa(i), t0.Add(e), t0.Add(now)) {
				t.Fatalf("at +%v: live id %d forgotten", now, i)
			}
		}
	}
}

func TestReplayCacheConcurrent(t *testing.T) {
	const ids, workers = 500, 8
	c := token.NewReplayCache(ids)
	var accepted [ids]atomic.Int32
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range ids {
				j := (i + w*61) % ids
				if c.Add("id"+strconv.Itoa(j), t0.Add(time.Hour), t0) {
					accepted[j].Add(1)
				}
			}
		})
	}
	wg.Wait()
	for i := range accepted {
		if n := accepted[i].Load(); n != 1 {
			t.Fatalf("id %d accepted %d times", i, n)
		}
	}
	if c.Len() != ids {
		t.Fatalf("Len = %d, want %d", c.Len(), ids)
	}
}

func TestReplayCacheFarFuture(t *testing.T) {
	c := token.NewReplayCache(4)
	far := time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC) // past what UnixNano can hold
	if !c.Add("x", far, t0) {
		t.Fatal("Add refused")
	}
	if c.Add("x", far, t0.Add(24*time.Hour)) {
		t.Fatal("far-future id forgotten")
	}
}
