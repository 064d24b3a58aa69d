package lww

import (
	"math"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

var (
	_ Clock = ClockFunc(nil)
	_ Clock = (*ManualClock)(nil)
	_ Clock = (*SkewedClock)(nil)
	_ Clock = (*HLC)(nil)
)

func TestClockFunc(t *testing.T) {
	n := int64(0)
	c := ClockFunc(func() int64 { n++; return n * 10 })
	if c.Now() != 10 || c.Now() != 20 {
		t.Fatal("ClockFunc does not call its function")
	}
}

func TestSystemClock(t *testing.T) {
	before := time.Now().UnixNano()
	got := SystemClock().Now()
	after := time.Now().UnixNano()
	if got < before || got > after {
		t.Fatalf("SystemClock().Now() = %d, outside [%d, %d]", got, before, after)
	}
}

func TestManualClock(t *testing.T) {
	c := NewManualClock(1000)
	first, second := c.Now(), c.Now()
	if first != 1000 || second != 1000 {
		t.Fatal("ManualClock moved on its own or did not start at start")
	}
	if got := c.Advance(5 * time.Nanosecond); got != 1005 {
		t.Fatalf("Advance returned %d, want 1005", got)
	}
	if c.Now() != 1005 {
		t.Fatalf("Now after Advance = %d", c.Now())
	}
	if got := c.Advance(-10); got != 995 || c.Now() != 995 {
		t.Fatalf("negative Advance: returned %d, Now %d", got, c.Now())
	}
	if got := c.Advance(0); got != 995 {
		t.Fatalf("Advance(0) = %d", got)
	}
	c.Set(42)
	if c.Now() != 42 {
		t.Fatalf("Now after Set(42) = %d", c.Now())
	}
	c.Set(-7) // Set may step back: drills use it.
	if c.Now() != -7 {
		t.Fatalf("Now after Set(-7) = %d", c.Now())
	}
	if got := c.Advance(time.Second); got != -7+int64(time.Second) {
		t.Fatalf("Advance after Set = %d", got)
	}
	if NewManualClock(0).Now() != 0 {
		t.Fatal("NewManualClock(0) not at 0")
	}
	var zero ManualClock
	if zero.Now() != 0 {
		t.Fatal("zero ManualClock not at 0")
	}
}

func TestManualClockConcurrentAdvance(t *testing.T) {
	defer goleak.VerifyNone(t)
	c := NewManualClock(0)
	const workers, per = 16, 500
	results := make([][]int64, workers)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < per; i++ {
				results[w] = append(results[w], c.Advance(1))
				_ = c.Now()
			}
		}()
	}
	wg.Wait()
	if c.Now() != workers*per {
		t.Fatalf("after %d concurrent Advance(1), Now = %d", workers*per, c.Now())
	}
	// Every Advance returned a distinct time: no lost update.
	seen := make(map[int64]bool)
	for _, rs := range results {
		for _, r := range rs {
			if seen[r] {
				t.Fatalf("Advance returned %d twice", r)
			}
			seen[r] = true
		}
	}
}

func TestSkewedClock(t *testing.T) {
	const base = int64(1_000_000)
	for _, tc := range []struct {
		name    string
		base    int64
		skew    time.Duration
		advance time.Duration // base moves after the skew is set
		want    int64
	}{
		{"no skew reads the base", base, 0, 0, base},
		{"ahead", base, 250, 0, base + 250},
		{"behind", base, -time.Microsecond, 0, base - 1_000},
		{"follows the base", base, 250, 100, base + 350},
		{"an hour ahead", base, time.Hour, 0, base + int64(time.Hour)},
		{"saturates at the top", math.MaxInt64 - 10, 100, 0, math.MaxInt64},
		{"saturates at the bottom", math.MinInt64 + 10, -100, 0, math.MinInt64},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := NewManualClock(tc.base)
			c := NewSkewedClock(b)
			if c.Now() != tc.base || c.Skew() != 0 {
				t.Fatalf("a new clock is skewed: now %d skew %v", c.Now(), c.Skew())
			}
			c.SetSkew(tc.skew)
			b.Advance(tc.advance)
			if got := c.Now(); got != tc.want {
				t.Fatalf("Now = %d, want %d", got, tc.want)
			}
			if c.Skew() != tc.skew {
				t.Fatalf("Skew = %v, want %v", c.Skew(), tc.skew)
			}
			if b.Now() != tc.base+int64(tc.advance) {
				t.Fatalf("skewing moved the base: %d", b.Now())
			}
			c.SetSkew(0)
			if c.Now() != b.Now() {
				t.Fatalf("zero skew differs from the base: %d != %d", c.Now(), b.Now())
			}
		})
	}
}

func TestSkewedClockIsAbsoluteAndStacks(t *testing.T) {
	b := NewManualClock(1_000_000)
	c := NewSkewedClock(b)
	c.SetSkew(time.Second)
	c.SetSkew(time.Second)
	if c.Now() != b.Now()+int64(time.Second) {
		t.Fatalf("SetSkew adds up instead of replacing: %d", c.Now()-b.Now())
	}
	// A skewed clock can be the base of another.
	cc := NewSkewedClock(c)
	cc.SetSkew(time.Second)
	if cc.Now() != b.Now()+int64(2*time.Second) {
		t.Fatalf("stacked skew: %d", cc.Now()-b.Now())
	}
	// An HLC over a clock skewed backwards does not go backwards.
	h := NewHLC(c)
	before := h.Now()
	c.SetSkew(-time.Hour)
	if after := h.Now(); after <= before {
		t.Fatalf("HLC went backwards with the skew: %d then %d", before, after)
	}
}

func TestSkewedClockConcurrent(t *testing.T) {
	defer goleak.VerifyNone(t)
	base := NewManualClock(0)
	c := NewSkewedClock(base)
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				c.SetSkew(time.Duration(i))
			}
		}()
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				base.Advance(1)
				_ = c.Now()
			}
		}()
	}
	wg.Wait()
}

func TestHLCFollowsPhysicalClock(t *testing.T) {
	pc := NewManualClock(1000)
	h := NewHLC(pc)
	if h.Last() != 0 {
		t.Fatalf("fresh HLC Last = %d", h.Last())
	}
	if got := h.Now(); got != 1000 {
		t.Fatalf("first Now = %d, want the physical time 1000", got)
	}
	if h.Last() != 1000 {
		t.Fatalf("Last = %d after Now", h.Last())
	}
	pc.Set(5000)
	if got := h.Now(); got != 5000 {
		t.Fatalf("Now after physical jump = %d, want 5000", got)
	}
}

func TestHLCFrozenClock(t *testing.T) {
	h := NewHLC(NewManualClock(1000))
	prev := h.Now()
	for i := 0; i < 1000; i++ {
		got := h.Now()
		if got != prev+1 {
			t.Fatalf("frozen clock: Now = %d after %d, want %d", got, prev, prev+1)
		}
		prev = got
	}
}

func TestHLCClockGoesBackwards(t *testing.T) {
	pc := NewManualClock(10_000)
	h := NewHLC(pc)
	a := h.Now()
	pc.Set(5_000) // NTP step back
	b := h.Now()
	if b <= a {
		t.Fatalf("HLC went backwards: %d then %d", a, b)
	}
	pc.Set(-1)
	c := h.Now()
	if c <= b {
		t.Fatalf("HLC went backwards on a negative clock: %d then %d", b, c)
	}
	// Once the physical clock passes the logical time, HLC follows it again.
	pc.Set(20_000)
	if d := h.Now(); d != 20_000 {
		t.Fatalf("HLC did not catch up with the physical clock: %d", d)
	}
}

func TestHLCObserve(t *testing.T) {
	pc := NewManualClock(1000)
	h := NewHLC(pc)
	h.Observe(5000)
	if h.Last() != 5000 {
		t.Fatalf("Last after Observe = %d", h.Last())
	}
	if got := h.Now(); got != 5001 {
		t.Fatalf("Now after Observe(5000) = %d, want 5001 (own writes order after seen writes)", got)
	}
	// Observing the past does not move the clock back.
	h.Observe(10)
	h.Observe(5001)
	h.Observe(-1)
	if h.Last() != 5001 {
		t.Fatalf("Observe of the past moved the clock: Last = %d", h.Last())
	}
	if got := h.Now(); got != 5002 {
		t.Fatalf("Now = %d, want 5002", got)
	}
	// Observe does not read the physical clock.
	calls := 0
	h2 := NewHLC(ClockFunc(func() int64 { calls++; return 1 }))
	h2.Observe(100)
	if calls != 0 {
		t.Fatal("Observe read the physical clock")
	}
	if got := h2.Now(); got != 101 || calls != 1 {
		t.Fatalf("Now = %d, clock calls %d", got, calls)
	}
}

// TestHLCProperty drives an HLC with a random mix of physical clock moves,
// observations and reads, and checks it against its contract.
func TestHLCProperty(t *testing.T) {
	check(t, func(t *propT) {
		pc := NewManualClock(genInt64Range(0, 1<<40).Draw(t, "start"))
		h := NewHLC(pc)
		var maxSeen int64 // greatest value returned or observed
		var last int64 = -1 << 62
		steps := genIntRange(1, 200).Draw(t, "steps")
		for i := 0; i < steps; i++ {
			switch genIntRange(0, 3).Draw(t, "op") {
			case 0:
				pc.Advance(time.Duration(genInt64Range(-1000, 1000).Draw(t, "adv")))
			case 1:
				o := genInt64Range(0, 1<<41).Draw(t, "obs")
				h.Observe(o)
				maxSeen = max(maxSeen, o)
			default:
				phys := pc.Now()
				got := h.Now()
				if got <= last {
					t.Fatalf("Now = %d not after previous %d", got, last)
				}
				if got <= maxSeen {
					t.Fatalf("Now = %d not after observed/returned %d", got, maxSeen)
				}
				if got < phys {
					t.Fatalf("Now = %d behind physical %d", got, phys)
				}
				if got != max(phys, maxSeen+1) {
					t.Fatalf("Now = %d, want max(phys %d, last+1 %d)", got, phys, maxSeen+1)
				}
				last = got
				maxSeen = max(maxSeen, got)
			}
			if h.Last() != maxSeen {
				t.Fatalf("Last = %d, want %d", h.Last(), maxSeen)
			}
		}
	})
}

func TestHLCConcurrentDistinct(t *testing.T) {
	defer goleak.VerifyNone(t)
	for _, tc := range []struct {
		name  string
		clock Clock
	}{
		{"frozen", NewManualClock(1_000)},
		{"system", SystemClock()},
		{"jittery", jitterClock()},
		{"stepping", steppingClock()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := NewHLC(tc.clock)
			const workers, per = 32, 2000
			results := make([][]int64, workers)
			start := make(chan struct{})
			var wg sync.WaitGroup
			for w := 0; w < workers; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					out := make([]int64, 0, per)
					for i := 0; i < per; i++ {
						if i%100 == 0 {
							h.Observe(h.Last() - 5) // concurrent observers of the past
						}
						out = append(out, h.Now())
					}
					results[w] = out
				}()
			}
			close(start)
			wg.Wait()

			all := make([]int64, 0, workers*per)
			for w, rs := range results {
				for i := 1; i < len(rs); i++ {
					if rs[i] <= rs[i-1] {
						t.Fatalf("worker %d: %d after %d", w, rs[i], rs[i-1])
					}
				}
				all = append(all, rs...)
			}
			sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
			for i := 1; i < len(all); i++ {
				if all[i] == all[i-1] {
					t.Fatalf("HLC returned %d twice", all[i])
				}
			}
			if h.Last() != all[len(all)-1] {
				t.Fatalf("Last = %d, greatest returned %d", h.Last(), all[len(all)-1])
			}
		})
	}
}

// steppingClock moves forward in coarse steps, so many goroutines read the
// same physical time, each ahead of the logical time: the case where a
// non-atomic "take the physical time" shortcut would hand out duplicates.
func steppingClock() Clock {
	var calls atomic.Int64
	return ClockFunc(func() int64 {
		return 1_000_000 + (calls.Add(1)/64)*1_000
	})
}

// jitterClock is a concurrency-safe clock that steps back and forth.
func jitterClock() Clock {
	var mu sync.Mutex
	n := int64(1_000_000)
	return ClockFunc(func() int64 {
		mu.Lock()
		defer mu.Unlock()
		n++
		if n%7 == 0 {
			return n - 500
		}
		return n
	})
}
