package lww

import (
	"math"
	"testing"
	"time"
)

func TestDefaultGuard(t *testing.T) {
	if DefaultMaxFuture != 5*time.Second {
		t.Fatalf("DefaultMaxFuture = %s", DefaultMaxFuture)
	}
	if g := DefaultGuard(); g.MaxFuture != DefaultMaxFuture {
		t.Fatalf("DefaultGuard().MaxFuture = %s", g.MaxFuture)
	}
}

func TestCheckEventTime(t *testing.T) {
	g := DefaultGuard()
	mf := int64(DefaultMaxFuture)
	const now = int64(1_700_000_000_000_000_000)
	cases := []struct {
		name      string
		g         Guard
		eventTime int64
		now       int64
		want      error
	}{
		{"zero", g, 0, now, ErrEventTimeNotPositive},
		{"negative", g, -1, now, ErrEventTimeNotPositive},
		{"min int64", g, math.MinInt64, now, ErrEventTimeNotPositive},
		{"zero even with now zero", g, 0, 0, ErrEventTimeNotPositive},
		{"zero with no guard", Guard{}, 0, now, ErrEventTimeNotPositive},
		{"one", g, 1, now, nil},
		{"past", g, now - int64(time.Hour), now, nil},
		{"now", g, now, now, nil},
		{"one ns ahead", g, now + 1, now, nil},
		{"exactly at now+MaxFuture", g, now + mf, now, nil},
		{"one ns beyond", g, now + mf + 1, now, ErrEventTimeInFuture},
		{"far future", g, math.MaxInt64, now, ErrEventTimeInFuture},
		{"custom bound at", Guard{MaxFuture: time.Millisecond}, now + int64(time.Millisecond), now, nil},
		{"custom bound beyond", Guard{MaxFuture: time.Millisecond}, now + int64(time.Millisecond) + 1, now, ErrEventTimeInFuture},
		{"zero guard allows now", Guard{}, now, now, nil},
		{"zero guard rejects 1ns ahead", Guard{}, now + 1, now, ErrEventTimeInFuture},
		{"negative bound is no allowance", Guard{MaxFuture: -time.Second}, now + 1, now, ErrEventTimeInFuture},
		{"negative bound allows now", Guard{MaxFuture: -time.Second}, now, now, nil},
		{"clock at zero", g, mf, 0, nil},
		{"clock at zero beyond", g, mf + 1, 0, ErrEventTimeInFuture},
		{"clock negative", g, 1, -mf + 1, nil},
		{"clock negative beyond", g, 1, -mf, ErrEventTimeInFuture},
		{"clock at min int64", g, 1, math.MinInt64, ErrEventTimeInFuture},

		// Near the end of int64: now+MaxFuture would overflow. The limit
		// must saturate, not wrap, and not shrink to now.
		{"max now, max event", g, math.MaxInt64, math.MaxInt64, nil},
		{"max now, past event", g, 1, math.MaxInt64, nil},
		{"now one below max, event at max", g, math.MaxInt64, math.MaxInt64 - 1, nil},
		{"limit exactly max", g, math.MaxInt64, math.MaxInt64 - mf, nil},
		{"limit would be max+1", g, math.MaxInt64, math.MaxInt64 - mf + 1, nil},
		{"just below saturation, beyond", g, math.MaxInt64, math.MaxInt64 - mf - 1, ErrEventTimeInFuture},
		{"huge bound", Guard{MaxFuture: math.MaxInt64}, math.MaxInt64, 1, nil},
		{"huge bound, now max", Guard{MaxFuture: math.MaxInt64}, math.MaxInt64, math.MaxInt64, nil},
		{"huge bound, now negative", Guard{MaxFuture: math.MaxInt64}, math.MaxInt64 - 1, -1, nil},
		{"huge bound, now negative, beyond", Guard{MaxFuture: math.MaxInt64}, math.MaxInt64, -1, ErrEventTimeInFuture},
		{"huge bound, now min", Guard{MaxFuture: math.MaxInt64}, math.MaxInt64, math.MinInt64, ErrEventTimeInFuture},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.g.CheckEventTime(c.eventTime, c.now)
			if c.want == nil {
				requireNoErr(t, err)
				return
			}
			requireOnly(t, err, c.want)
		})
	}
}

// TestCheckEventTimeProperty checks the guard against an overflow-free
// reference: accept a positive event time iff it is at most MaxFuture (or 0
// for a non-positive bound) ahead of now.
func TestCheckEventTimeProperty(t *testing.T) {
	check(t, func(t *propT) {
		interesting := sampledFrom([]int64{math.MinInt64, -1, 0, 1, math.MaxInt64 - int64(DefaultMaxFuture), math.MaxInt64 - 1, math.MaxInt64})
		now := oneOf(genInt64(), interesting, genInt64Range(math.MaxInt64-int64(time.Minute), math.MaxInt64)).Draw(t, "now")
		ev := oneOf(
			genInt64(),
			interesting,
			custom(func(t *propT) int64 {
				// Close to now, either side.
				d := genInt64Range(-int64(time.Minute), int64(time.Minute)).Draw(t, "d")
				if (d > 0 && now > math.MaxInt64-d) || (d < 0 && now < math.MinInt64-d) {
					return now
				}
				return now + d
			}),
		).Draw(t, "event")
		bound := sampledFrom([]time.Duration{0, -1, 1, time.Second, DefaultMaxFuture, time.Hour, math.MaxInt64}).Draw(t, "bound")
		g := Guard{MaxFuture: bound}

		var want error
		switch {
		case ev <= 0:
			want = ErrEventTimeNotPositive
		case ev > now:
			ahead := uint64(ev) - uint64(now) // exact: ev > now
			allowed := uint64(0)
			if bound > 0 {
				allowed = uint64(bound)
			}
			if ahead > allowed {
				want = ErrEventTimeInFuture
			}
		}
		err := g.CheckEventTime(ev, now)
		if want == nil {
			if err != nil {
				t.Fatalf("CheckEventTime(%d, now=%d, bound=%s) = %v, want nil", ev, now, bound, err)
			}
			return
		}
		requireOnly(t, err, want)
	})
}

func TestCheckLocal(t *testing.T) {
	g := DefaultGuard()
	const now = int64(1_000_000_000_000)
	good := Record{Version: Version{Time: now, DC: "dc", Node: "n"}, Kind: KindValue, Value: []byte("v")}
	requireNoErr(t, g.CheckLocal(good, now))

	future := good
	future.Version.Time = now + int64(DefaultMaxFuture) + 1
	requireOnly(t, g.CheckLocal(future, now), ErrEventTimeInFuture)

	zero := good
	zero.Version.Time = 0
	requireOnly(t, g.CheckLocal(zero, now), ErrEventTimeNotPositive)

	badName := good
	badName.Version.DC = "dc.1"
	requireOnly(t, g.CheckLocal(badName, now), ErrInvalidRecord)

	tombWithValue := good
	tombWithValue.Kind = KindTombstone
	requireOnly(t, g.CheckLocal(tombWithValue, now), ErrInvalidRecord)

	// The clock check comes first: a record both invalid and in the future
	// reports the clock problem.
	both := badName
	both.Version.Time = future.Version.Time
	requireOnly(t, g.CheckLocal(both, now), ErrEventTimeInFuture)

	// A structurally valid record accepted at the boundary.
	edge := good
	edge.Version.Time = now + int64(DefaultMaxFuture)
	requireNoErr(t, g.CheckLocal(edge, now))
}

func TestExpiryFor(t *testing.T) {
	cases := []struct {
		name  string
		event int64
		ttl   time.Duration
		want  int64
		err   error
	}{
		{"normal", 1_000, 5 * time.Second, 1_000 + int64(5*time.Second), nil},
		{"1ns", 1, 1, 2, nil},
		{"hour", 1_700_000_000_000_000_000, time.Hour, 1_700_000_000_000_000_000 + int64(time.Hour), nil},
		{"sum exactly max", math.MaxInt64 - int64(time.Hour), time.Hour, math.MaxInt64, nil},
		{"max ttl from 1 overflows", 1, math.MaxInt64, 0, ErrExpiryOverflow},
		{"one beyond max", math.MaxInt64 - int64(time.Hour) + 1, time.Hour, 0, ErrExpiryOverflow},
		{"max event", math.MaxInt64, 1, 0, ErrExpiryOverflow},
		{"max ttl", math.MaxInt64 / 2, math.MaxInt64 / 2, math.MaxInt64/2 + math.MaxInt64/2, nil},
		{"max ttl overflow", math.MaxInt64/2 + 2, math.MaxInt64 / 2, 0, ErrExpiryOverflow},
		{"ttl zero", 1_000, 0, 0, ErrInvalidTTL},
		{"ttl negative", 1_000, -time.Second, 0, ErrInvalidTTL},
		{"ttl min", 1_000, math.MinInt64, 0, ErrInvalidTTL},
		{"ttl zero beats bad time", 0, 0, 0, ErrInvalidTTL},
		{"event zero", 0, time.Second, 0, ErrEventTimeNotPositive},
		{"event negative", -5, time.Second, 0, ErrEventTimeNotPositive},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := ExpiryFor(c.event, c.ttl)
			if c.err != nil {
				requireOnly(t, err, c.err)
				if got != 0 {
					t.Fatalf("ExpiryFor returned %d with error", got)
				}
				return
			}
			requireNoErr(t, err)
			if got != c.want {
				t.Fatalf("ExpiryFor(%d, %s) = %d, want %d", c.event, c.ttl, got, c.want)
			}
		})
	}
}

func TestExpiryForProperty(t *testing.T) {
	check(t, func(t *propT) {
		ev := oneOf(genInt64Range(1, math.MaxInt64), genInt64Range(math.MaxInt64-1000, math.MaxInt64)).Draw(t, "event")
		ttl := time.Duration(oneOf(genInt64Range(1, math.MaxInt64), genInt64Range(1, 1000)).Draw(t, "ttl"))
		got, err := ExpiryFor(ev, ttl)
		if uint64(ev)+uint64(ttl) > math.MaxInt64 { // exact: both positive
			requireOnly(t, err, ErrExpiryOverflow)
			return
		}
		requireNoErr(t, err)
		if got != ev+int64(ttl) {
			t.Fatalf("ExpiryFor(%d, %d) = %d", ev, ttl, got)
		}
		// The expiry makes a valid record with that event time.
		r := Record{Version: Version{Time: ev, DC: "a", Node: "b"}, Kind: KindValue, ExpiresAt: got}
		if err := r.Validate(); err != nil {
			t.Fatalf("record with computed expiry invalid: %v", err)
		}
		if r.Expired(got-1) || !r.Expired(got) {
			t.Fatal("record does not expire exactly at ExpiryFor")
		}
	})
}
