package replica

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vasto-kv/vasto/bus"
	"github.com/vasto-kv/vasto/internal/bustest"
	"github.com/vasto-kv/vasto/internal/shardtest"
	"github.com/vasto-kv/vasto/internal/storetest"
	"github.com/vasto-kv/vasto/lww"
)

// gatedBus counts LastOnSubject calls and holds the first one until gate
// is closed.
type gatedBus struct {
	*bustest.Bus
	gate  chan struct{}
	calls atomic.Int64
}

func (g *gatedBus) LastOnSubject(ctx context.Context, stream, subject string) (bus.Delivered, error) {
	if g.calls.Add(1) == 1 {
		<-g.gate
	}
	return g.Bus.LastOnSubject(ctx, stream, subject)
}

// stopTracking ends a's goroutines when the test ends.
func stopTracking(t *testing.T, a *Agent) {
	t.Cleanup(func() {
		a.cancel()
		a.routines.Close()
		a.routines.Wait()
	})
}

// TestWaitAppliedSharesOnePoller: writes waiting for another replica of
// the same shard share one poller: the twenty that arrive while it reads
// the subject's last message for the first are served by one more read,
// and all return once the peer's consumer applied the log. The tracker
// then goes away.
func TestWaitAppliedSharesOnePoller(t *testing.T) {
	ctx := context.Background()
	fb := bustest.New()
	gb := &gatedBus{Bus: fb, gate: make(chan struct{})}
	peers := shardtest.NewPeers()
	clock := lww.NewManualClock(storetest.BaseTime)
	a1, e1 := twinAgent(t, fb, peers, clock, "store1")
	a1.cfg.Bus = gb
	stopTracking(t, a1)
	sh1 := twinShard(t, e1)
	for _, k := range []string{"a", "b", "c"} {
		_, err := sh1.Put(ctx, []byte(k), []byte("v"))
		require.NoError(t, err)
	}
	publishLog(t, fb, sh1, "store1", 1, 3)

	const n = 21
	var wg sync.WaitGroup
	got := make([]int, n)
	errs := make([]error, n)
	start := func(i int) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
			defer cancel()
			got[i], errs[i] = a1.waitApplied(wctx, fakeRef, []string{"store2"}, 3, 1)
		}()
	}
	start(0)
	require.Eventually(t, func() bool { return gb.calls.Load() == 1 }, 10*time.Second, time.Millisecond)
	for i := 1; i < n; i++ {
		start(i)
	}
	require.Eventually(t, func() bool {
		a1.ackMu.Lock()
		defer a1.ackMu.Unlock()
		tr := a1.ackTrackers[fakeRef]
		if tr == nil {
			return false
		}
		tr.mu.Lock()
		defer tr.mu.Unlock()
		return len(tr.fresh) == n-1
	}, 10*time.Second, time.Millisecond, "the others wait for the first read")
	close(gb.gate)

	// The peer starts applying store1's log only now.
	a2, e2 := twinAgent(t, fb, peers, clock, "store2")
	startTwinWorker(t, a2, twinShard(t, e2), "store1")
	wg.Wait()
	for i := range n {
		require.NoError(t, errs[i], "waiter %d", i)
		require.Equal(t, 1, got[i], "waiter %d", i)
	}
	require.EqualValues(t, 2, gb.calls.Load(), "one read for the first waiter, one for the twenty after it")
	require.Eventually(t, func() bool {
		a1.ackMu.Lock()
		defer a1.ackMu.Unlock()
		return len(a1.ackTrackers) == 0
	}, 10*time.Second, time.Millisecond, "nothing waits: the tracker is gone")
}

// TestWaitAppliedGivesUp: a wait whose context ends returns how many
// replicas had applied (none: the peer never consumed) with
// ErrNotReplicated; a wait under an agent that stops ends too.
func TestWaitAppliedGivesUp(t *testing.T) {
	ctx := context.Background()
	fb := bustest.New()
	peers := shardtest.NewPeers()
	clock := lww.NewManualClock(storetest.BaseTime)
	a1, e1 := twinAgent(t, fb, peers, clock, "store1")
	stopTracking(t, a1)
	sh1 := twinShard(t, e1)
	_, err := sh1.Put(ctx, []byte("k"), []byte("v"))
	require.NoError(t, err)
	publishLog(t, fb, sh1, "store1", 1, 1)

	wctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	got, err := a1.waitApplied(wctx, fakeRef, []string{"store2"}, 1, 1)
	require.ErrorIs(t, err, ErrNotReplicated)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Zero(t, got)

	done := make(chan error, 1)
	go func() {
		_, err := a1.waitApplied(ctx, fakeRef, []string{"store2"}, 1, 1)
		done <- err
	}()
	require.Eventually(t, func() bool {
		a1.ackMu.Lock()
		defer a1.ackMu.Unlock()
		return a1.ackTrackers[fakeRef] != nil
	}, 10*time.Second, time.Millisecond)
	a1.cancel()
	select {
	case err := <-done:
		require.ErrorIs(t, err, ErrNotReplicated)
		require.True(t, errors.Is(err, context.Canceled))
	case <-time.After(10 * time.Second):
		t.Fatal("a wait outlived its agent")
	}
}
