package backoff

import (
	"testing"
	"time"
)

func TestNextGrowsAndCaps(t *testing.T) {
	maxRand := func(n int64) int64 { return n - 1 }
	b := Backoff{Min: 100 * time.Millisecond, Max: time.Second, Rand: maxRand}
	want := []time.Duration{100, 200, 400, 800, 1000, 1000}
	for i, w := range want {
		if got := b.Next(); got != w*time.Millisecond {
			t.Fatalf("attempt %d: got %v, want %v", i, got, w*time.Millisecond)
		}
	}
	b.Reset()
	if got := b.Next(); got != 100*time.Millisecond {
		t.Fatalf("after reset: got %v", got)
	}
}

func TestNextJitterStaysInHalfToCeil(t *testing.T) {
	minRand := func(int64) int64 { return 0 }
	b := Backoff{Min: 100 * time.Millisecond, Max: time.Second, Rand: minRand}
	if got := b.Next(); got != 50*time.Millisecond {
		t.Fatalf("lowest jitter: got %v, want 50ms", got)
	}
	var real Backoff
	for i := 0; i < 50; i++ {
		d := real.Next()
		if d < DefaultMin/2 || d > DefaultMax {
			t.Fatalf("attempt %d: %v outside [%v, %v]", i, d, DefaultMin/2, DefaultMax)
		}
	}
	if real.Next() < DefaultMax/2 {
		t.Fatal("after many attempts the delay should sit at the cap's upper half")
	}
}

func TestFirstRetryWellUnderASecond(t *testing.T) {
	var b Backoff
	for i := 0; i < 100; i++ {
		b.Reset()
		if d := b.Next(); d > 250*time.Millisecond {
			t.Fatalf("first retry %v", d)
		}
	}
}
