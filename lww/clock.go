package lww

import (
	"math"
	"sync/atomic"
	"time"
)

// Clock is a source of wall-clock time in nanoseconds since the Unix epoch.
// Everything in Vasto that needs the time takes a Clock, so tests and failover
// drills can skew or freeze it.
type Clock interface {
	Now() int64
}

// ClockFunc adapts a function to Clock.
type ClockFunc func() int64

// Now calls f.
func (f ClockFunc) Now() int64 { return f() }

type systemClock struct{}

func (systemClock) Now() int64 { return time.Now().UnixNano() }

// SystemClock returns the operating system's clock. It is the only clock read
// in this package, and only code that injects it calls it.
func SystemClock() Clock { return systemClock{} }

// ManualClock is a Clock that moves only when told to. Safe for concurrent use.
type ManualClock struct{ now atomic.Int64 }

// NewManualClock returns a ManualClock set to start.
func NewManualClock(start int64) *ManualClock {
	c := &ManualClock{}
	c.now.Store(start)
	return c
}

// Now returns the clock's current time.
func (c *ManualClock) Now() int64 { return c.now.Load() }

// Set sets the clock to t.
func (c *ManualClock) Set(t int64) { c.now.Store(t) }

// Advance moves the clock by d and returns the new time.
func (c *ManualClock) Advance(d time.Duration) int64 { return c.now.Add(int64(d)) }

// SkewedClock is a Clock offset from a base clock by an adjustable skew. Drills
// use it to put one store or one DC ahead of or behind the others.
type SkewedClock struct {
	base Clock
	skew atomic.Int64
}

// NewSkewedClock returns a clock that reads base with no skew until SetSkew.
func NewSkewedClock(base Clock) *SkewedClock { return &SkewedClock{base: base} }

// Now returns the base time plus the current skew, saturating instead of
// wrapping around at the ends of int64.
func (c *SkewedClock) Now() int64 {
	now, skew := c.base.Now(), c.skew.Load()
	switch {
	case skew > 0 && now > math.MaxInt64-skew:
		return math.MaxInt64
	case skew < 0 && now < math.MinInt64-skew:
		return math.MinInt64
	}
	return now + skew
}

// SetSkew sets the offset from the base clock (absolute, not added to the
// previous skew; negative puts the clock behind, 0 clears it).
func (c *SkewedClock) SetSkew(d time.Duration) { c.skew.Store(int64(d)) }

// Skew returns the current offset from the base clock.
func (c *SkewedClock) Skew() time.Duration { return time.Duration(c.skew.Load()) }

// HLC is a hybrid logical clock packed into one int64 of nanoseconds: it
// follows the physical clock, never goes backwards, and gives every call a
// distinct, strictly increasing time even when the physical clock stalls or
// steps back. It also moves forward past every event time it observes, so a
// node's own writes order after the writes it has seen.
type HLC struct {
	clock Clock
	last  atomic.Int64
}

// NewHLC returns a hybrid logical clock driven by clock.
func NewHLC(clock Clock) *HLC { return &HLC{clock: clock} }

// Now returns a time greater than every time it returned or observed before,
// and at least the physical clock's time.
func (h *HLC) Now() int64 {
	phys := h.clock.Now()
	for {
		last := h.last.Load()
		next := phys
		if next <= last {
			next = last + 1
			if last == math.MaxInt64 {
				return last // saturate rather than wrap
			}
		}
		if h.last.CompareAndSwap(last, next) {
			return next
		}
	}
}

// Observe moves the clock past t, an event time seen from elsewhere. Callers
// observe only event times that passed the Guard, so one far-future write
// cannot drag the clock away.
func (h *HLC) Observe(t int64) {
	for {
		last := h.last.Load()
		if t <= last || h.last.CompareAndSwap(last, t) {
			return
		}
	}
}

// Last returns the latest time returned or observed.
func (h *HLC) Last() int64 { return h.last.Load() }
