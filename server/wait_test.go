package server

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// replicas is a Config.Replicated that reports `have` replicas for every
// entry up to `upTo`, and records what it was asked.
type replicas struct {
	have  atomic.Int64
	upTo  atomic.Uint64
	mu    sync.Mutex
	asked []uint64
}

func (r *replicas) wait(ctx context.Context, _ string, _ uint32, index uint64, want int) (int, error) {
	r.mu.Lock()
	r.asked = append(r.asked, index)
	r.mu.Unlock()
	for {
		n := int(r.have.Load())
		if index > r.upTo.Load() {
			n = 0
		}
		if n >= want {
			return n, nil
		}
		select {
		case <-ctx.Done():
			return n, fmt.Errorf("%d of %d: %w", n, want, ctx.Err())
		case <-time.After(time.Millisecond):
		}
	}
}

func (r *replicas) lastAsked() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.asked) == 0 {
		return 0
	}
	return r.asked[len(r.asked)-1]
}

// TestWait: WAIT numreplicas timeout answers, as Redis does, how many
// replicas applied this connection's writes: what was asked once they
// have, fewer when the timeout comes first (the write is not yet published,
// or not yet applied), every other replica when the connection wrote
// nothing. Bad arguments are errors.
func TestWait(t *testing.T) {
	r := &replicas{}
	srv, e := testServer(t, func(cfg *Config) { cfg.Replicated = r.wait })
	ctx := context.Background()
	conn := testClient(t, srv).Conn()
	t.Cleanup(func() { _ = conn.Close() })
	sh, err := e.Shard(DefaultKeyspace, 0)
	require.NoError(t, err)

	for _, args := range [][]any{{"WAIT", "-1", "0"}, {"WAIT", "x", "0"}, {"WAIT", "1", "-5"}, {"WAIT", "1"}} {
		require.Error(t, conn.Do(ctx, args...).Err(), "%v", args)
	}

	r.have.Store(2)
	n, err := conn.Do(ctx, "WAIT", "1", "0").Int64()
	require.NoError(t, err)
	require.EqualValues(t, 2, n, "no writes: every other replica")
	require.Zero(t, r.lastAsked())

	res, err := conn.Do(ctx, "VSET", "k", "v").Slice()
	require.NoError(t, err)
	idx := uint64(res[4].(int64))
	n, err = conn.Do(ctx, "WAIT", "1", "50").Int64()
	require.NoError(t, err)
	require.Zero(t, n, "not published: no replica can have it")

	publishAll(t, sh)
	n, err = conn.Do(ctx, "WAIT", "1", "50").Int64()
	require.NoError(t, err)
	require.Zero(t, n, "published but applied by none")
	require.Equal(t, idx, r.lastAsked())

	r.upTo.Store(idx)
	n, err = conn.Do(ctx, "WAIT", "2", "0").Int64()
	require.NoError(t, err)
	require.EqualValues(t, 2, n)
	n, err = conn.Do(ctx, "WAIT", "3", "50").Int64()
	require.NoError(t, err)
	require.EqualValues(t, 2, n, "fewer than asked when the timeout comes first")

	// A pipeline: the write before WAIT is committed first and waited for.
	cmds, err := conn.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.Do(ctx, "VSET", "k2", "v")
		p.Do(ctx, "WAIT", "1", "50")
		return nil
	})
	require.NoError(t, err)
	require.Greater(t, r.lastAsked(), idx, "WAIT waits for the write queued before it")
	n, err = cmds[1].(*redis.Cmd).Int64()
	require.NoError(t, err)
	require.Zero(t, n, "the new write is not applied by any replica yet")
	r.upTo.Store(r.lastAsked())
	n, err = conn.Do(ctx, "WAIT", "1", "0").Int64()
	require.NoError(t, err)
	require.EqualValues(t, 2, n)
}
