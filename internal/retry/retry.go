package retry

import (
	"context"
	"math/rand/v2"
	"time"
)

// Backoff is a bounded exponential back-off with jitter. The zero value is
// not usable: set Min and Max (Min > 0, Max >= Min). Not safe for
// concurrent use.
type Backoff struct {
	// Min is the first delay and Max the cap.
	Min, Max time.Duration
	// Rand returns a value in [0, 1) for the jitter; nil: math/rand/v2.
	Rand func() float64

	n int
}

// Next returns the next delay and advances: Min, 2*Min, 4*Min ... up to
// Max, each reduced by up to half at random (equal jitter), so the delay is
// in [d/2, d].
func (b *Backoff) Next() time.Duration {
	d := Exp(b.Min, b.Max, b.n)
	if b.n < 62 {
		b.n++
	}
	return b.jitter(d)
}

// Current returns the delay Next would be centred on, without jitter, for
// logs.
func (b *Backoff) Current() time.Duration { return Exp(b.Min, b.Max, b.n) }

// Reset starts again from Min, after a success.
func (b *Backoff) Reset() { b.n = 0 }

// Wait sleeps for Next() or until ctx ends or wake (may be nil) is closed.
// It reports whether ctx is still live.
func (b *Backoff) Wait(ctx context.Context, wake <-chan struct{}) bool {
	return SleepOrWake(ctx, b.Next(), wake)
}

func (b *Backoff) jitter(d time.Duration) time.Duration {
	r := b.Rand
	if r == nil {
		r = rand.Float64
	}
	half := d / 2
	return half + time.Duration(r()*float64(d-half))
}

// Exp returns min doubled attempt times, capped at max.
func Exp(min, max time.Duration, attempt int) time.Duration {
	if attempt < 0 {
		attempt = 0
	}
	d := min
	for i := 0; i < attempt && d < max; i++ {
		d *= 2
	}
	if d > max {
		d = max
	}
	return d
}

// Jitter returns d reduced by up to half at random.
func Jitter(d time.Duration) time.Duration {
	var b Backoff
	return b.jitter(d)
}

// Sleep waits for d or until ctx ends; it reports whether ctx is still
// live.
func Sleep(ctx context.Context, d time.Duration) bool { return SleepOrWake(ctx, d, nil) }

// SleepOrWake waits for d, until ctx ends, or until wake (may be nil) is
// closed; it reports whether ctx is still live.
func SleepOrWake(ctx context.Context, d time.Duration, wake <-chan struct{}) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
	case <-wake:
	}
	return ctx.Err() == nil
}
