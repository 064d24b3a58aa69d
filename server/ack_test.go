package server

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vasto-kv/vasto/store"
	"github.com/vasto-kv/vasto/wire"
)

// TestVSetAckPublished: VSET ... ACK published answers once the write's
// change-log entry left the log (what the publisher does when JetStream
// acknowledged it), with the level reached as a sixth element; without a
// publisher it answers NOACK after AckTimeout and the write stands. An
// unknown level is a syntax error that writes nothing.
func TestVSetAckPublished(t *testing.T) {
	srv, e := testServer(t, func(cfg *Config) { cfg.AckTimeout = 200 * time.Millisecond })
	rc := testClient(t, srv)
	ctx := context.Background()
	sh, err := e.Shard(DefaultKeyspace, 0)
	require.NoError(t, err)

	err = rc.Do(ctx, "VSET", "k", "v", "ACK", "quorum").Err()
	require.ErrorContains(t, err, "ERR")
	require.ErrorContains(t, err, "ACK level quorum")
	_, err = sh.Get([]byte("k"))
	require.Error(t, err, "nothing written")

	res, err := rc.Do(ctx, "VSET", "k", "v0", "ACK", "LOCAL").Slice()
	require.NoError(t, err)
	require.Len(t, res, 6)
	require.Equal(t, wire.AckLocal, res[5])
	res, err = rc.Do(ctx, "VSET", "k", "v0b").Slice()
	require.NoError(t, err)
	require.Len(t, res, 5, "no ACK asked: the reply is unchanged")

	err = rc.Do(ctx, "VSET", "k", "v1", "ACK", "published").Err()
	require.ErrorContains(t, err, wire.CodeNoAck+" ")
	require.ErrorContains(t, err, "the write stands")
	rec, err := sh.Get([]byte("k"))
	require.NoError(t, err)
	require.Equal(t, "v1", string(rec.Value))

	publishAll(t, sh)
	res, err = rc.Do(ctx, "VSET", "k", "v2", "ACK", "published").Slice()
	require.NoError(t, err)
	require.Len(t, res, 6)
	require.Equal(t, wire.AckPublished, res[5])
	res, err = rc.Do(ctx, "VDEL", "k", "ACK", "published").Slice()
	require.NoError(t, err)
	require.Equal(t, wire.AckPublished, res[5])

	err = rc.Do(ctx, "VSET", "k", "v3", "ACK", "replicated").Err()
	require.ErrorContains(t, err, wire.CodeNoAck+" ")
	require.ErrorContains(t, err, "replicates nothing", "a server without replication cannot reach it")
}

// publishAll stands in for the publisher of sh until the test ends: it
// trims whatever is logged, as the publisher does once JetStream
// acknowledged it.
func publishAll(t *testing.T, sh *store.Shard) {
	pctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			if _, last := sh.LogBounds(); last > 0 {
				_ = sh.TrimLog(last + 1)
			}
			select {
			case <-pctx.Done():
				return
			case <-sh.Logged():
			case <-time.After(10 * time.Millisecond):
			}
		}
	}()
	t.Cleanup(func() { stop(); wg.Wait() })
}

// TestAckReplicatedRetryWaitsForPublishedEntries: a write sent again with
// the same event time is not applied (the key holds it already); asked for
// ACK replicated it still waits until another replica applied what this
// store logged, even when the outbox is empty because the first attempt's
// entry was published. Without that, a retry after a lost reply would be
// acknowledged replicated before any other replica had the write.
func TestAckReplicatedRetryWaitsForPublishedEntries(t *testing.T) {
	r := &replicas{}
	srv, e := testServer(t, func(cfg *Config) {
		cfg.Replicated = r.wait
		cfg.AckTimeout = 200 * time.Millisecond
	})
	rc := testClient(t, srv)
	ctx := context.Background()
	sh, err := e.Shard(DefaultKeyspace, 0)
	require.NoError(t, err)
	publishAll(t, sh)

	const at = "1700000000000000000"
	res, err := rc.Do(ctx, "VSET", "k", "v", "EVENTTIME", at).Slice()
	require.NoError(t, err)
	require.EqualValues(t, 1, res[0], "the first attempt is applied")
	require.Eventually(t, func() bool { first, last := sh.LogBounds(); return last > 0 && first > last },
		10*time.Second, time.Millisecond, "the first attempt's entry is published")
	_, last := sh.LogBounds()

	err = rc.Do(ctx, "VSET", "k", "v", "EVENTTIME", at, "ACK", "replicated").Err()
	require.ErrorContains(t, err, wire.CodeNoAck+" ", "no other replica applied it yet")
	require.Equal(t, last, r.lastAsked(), "the retry waits for the published entry")

	r.have.Store(1)
	r.upTo.Store(last)
	res, err = rc.Do(ctx, "VSET", "k", "v", "EVENTTIME", at, "ACK", "replicated").Slice()
	require.NoError(t, err)
	require.EqualValues(t, 0, res[0], "the retry is not applied again")
	require.Equal(t, wire.AckReplicated, res[5])
}
