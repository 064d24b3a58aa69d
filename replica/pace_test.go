package replica

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/time/rate"
)

// TestWaitBytesChunksAboveTheBurst: a page larger than the limiter's burst
// is paced in chunks (a single WaitN would fail), and a cancelled copy stops.
func TestWaitBytesChunksAboveTheBurst(t *testing.T) {
	l := rate.NewLimiter(rate.Limit(1e12), 10)
	require.Error(t, l.WaitN(context.Background(), 100), "the limiter refuses more than its burst at once")
	require.NoError(t, waitBytes(context.Background(), l, 100))
	require.NoError(t, waitBytes(context.Background(), l, 0))

	slow := rate.NewLimiter(rate.Limit(1), 1)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.Error(t, waitBytes(ctx, slow, 5))
}
