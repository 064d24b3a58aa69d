package retry

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestExp(t *testing.T) {
	for _, tc := range []struct {
		attempt int
		want    time.Duration
	}{{-1, 10}, {0, 10}, {1, 20}, {2, 40}, {3, 80}, {4, 100}, {1000, 100}} {
		require.Equal(t, tc.want*time.Millisecond, Exp(10*time.Millisecond, 100*time.Millisecond, tc.attempt), "attempt %d", tc.attempt)
	}
}

func TestBackoffDoublesWithinJitterAndResets(t *testing.T) {
	lo := Backoff{Min: 10 * time.Millisecond, Max: 80 * time.Millisecond, Rand: func() float64 { return 0 }}
	hi := Backoff{Min: 10 * time.Millisecond, Max: 80 * time.Millisecond, Rand: func() float64 { return 0.999999 }}
	for _, want := range []time.Duration{10, 20, 40, 80, 80} {
		want *= time.Millisecond
		require.Equal(t, want/2, lo.Next(), "the least a delay can be is half")
		require.InDelta(t, float64(want), float64(hi.Next()), float64(time.Microsecond), "the most is the full delay")
	}
	lo.Reset()
	require.Equal(t, 5*time.Millisecond, lo.Next())
	require.Equal(t, 20*time.Millisecond, lo.Current())
}

func TestJitterSpreads(t *testing.T) {
	seen := map[time.Duration]bool{}
	for i := 0; i < 100; i++ {
		d := Jitter(time.Second)
		require.GreaterOrEqual(t, d, 500*time.Millisecond)
		require.LessOrEqual(t, d, time.Second)
		seen[d] = true
	}
	require.Greater(t, len(seen), 50, "delays are spread, not synchronised")
}

func TestSleepEndsWithContextOrWake(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.False(t, Sleep(ctx, time.Hour))
	wake := make(chan struct{})
	close(wake)
	require.True(t, SleepOrWake(context.Background(), time.Hour, wake))
	require.True(t, Sleep(context.Background(), time.Microsecond))
}
