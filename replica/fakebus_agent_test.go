package replica

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vasto-kv/vasto/bus"
	"github.com/vasto-kv/vasto/internal/bustest"
	"github.com/vasto-kv/vasto/lww"
	"github.com/vasto-kv/vasto/store"
	"github.com/vasto-kv/vasto/topology"
	"github.com/vasto-kv/vasto/wire"
)

// fakeAgent returns an agent of store id in dc1 on a fresh engine, talking
// to b, with its context set as Start would (nothing else runs).
func fakeAgent(t *testing.T, b *bustest.Bus, id string) *Agent {
	t.Helper()
	e, _ := testEngine(t, func(c *store.Config) { c.Node = id })
	cfg := DefaultAgentConfig("dc1", id, id+":6379", nil, e)
	cfg.Bus = b
	cfg.Logger = testLogger(t)
	cfg.PublishBatch = 3
	cfg.CatchUpIdle = time.Hour // caught up only by draining the peer
	a, err := NewAgent(cfg)
	require.NoError(t, err)
	a.ctx, a.cancel = context.WithCancel(context.Background())
	t.Cleanup(a.cancel)
	require.NoError(t, b.EnsureChangeStream(a.ctx, cfg.Stream))
	return a
}

// engineOf returns the real engine under an agent's Shards.
func engineOf(a *Agent) *store.Engine { return a.cfg.Shards.(engineShards).Engine }

var fakeRef = topology.ShardRef{Keyspace: "ks", Shard: 0}

func changeStream(t *testing.T) string {
	t.Helper()
	stream, err := bus.ChangeStream("dc1")
	require.NoError(t, err)
	return stream
}

func changeSubject(t *testing.T, origin string) string {
	t.Helper()
	subj, err := bus.ChangeSubject("dc1", fakeRef.Keyspace, fakeRef.Shard, origin)
	require.NoError(t, err)
	return subj
}

// TestPublishLoopPublishesInOrderAndTrims: the publisher sends a shard's
// change log in index order with its headers, trims what was acknowledged,
// and after a failed publish resumes with the first entry not acknowledged.
func TestPublishLoopPublishesInOrderAndTrims(t *testing.T) {
	b := bustest.New()
	var mu sync.Mutex
	var firstOfCall []string // index header of each call's first message
	b.SetOnPublish(func(n int, msgs []bus.Message) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		firstOfCall = append(firstOfCall, msgs[0].Header[wire.HeaderIndex])
		if n == 2 {
			return 1, errors.New("injected publish failure")
		}
		return len(msgs), nil
	})
	a := fakeAgent(t, b, "store1")
	sh, err := engineOf(a).CreateShard(fakeRef.Keyspace, fakeRef.Shard)
	require.NoError(t, err)
	const n = 8
	for i := 1; i <= n; i++ {
		_, err := sh.Put(context.Background(), []byte(fmt.Sprintf("k%d", i)), []byte(fmt.Sprintf("v%d", i)))
		require.NoError(t, err)
	}

	w := newShardWorker(a, sh, fakeRef, nil, nil, nil)
	w.start(a.ctx)
	defer w.stop()
	require.Eventually(t, func() bool { first, last := sh.LogBounds(); return first > last },
		10*time.Second, 5*time.Millisecond, "the outbox empties")

	msgs := b.Messages(changeStream(t), changeSubject(t, "store1"))
	require.Len(t, msgs, n, "each entry once, none lost to the failure")
	epoch := strconv.FormatUint(sh.Epoch(), 10)
	for i, m := range msgs {
		idx := strconv.Itoa(i + 1)
		require.Equal(t, idx, m.Header[wire.HeaderIndex])
		require.Equal(t, "store1", m.Header[wire.HeaderStore])
		require.Equal(t, "dc1", m.Header[wire.HeaderDC])
		require.Equal(t, epoch, m.Header[wire.HeaderEpoch])
		require.Equal(t, uint64(i+1), m.StreamSeq)
		ch, err := lww.DecodeChange(m.Data)
		require.NoError(t, err)
		require.Equal(t, "k"+idx, string(ch.Key))
	}
	// Batches of 3: 1-3, then 4-6 of which only 4 is acknowledged, so the
	// retry starts at 5 (4 was trimmed), then 8.
	mu.Lock()
	require.Equal(t, []string{"1", "4", "5", "8"}, firstOfCall)
	mu.Unlock()

	// A later write is published too.
	_, err = sh.Put(context.Background(), []byte("k9"), []byte("v9"))
	require.NoError(t, err)
	require.Eventually(t, func() bool { first, last := sh.LogBounds(); return first > last },
		10*time.Second, 5*time.Millisecond)
	last, err := b.LastOnSubject(context.Background(), changeStream(t), changeSubject(t, "store1"))
	require.NoError(t, err)
	require.Equal(t, "9", last.Header[wire.HeaderIndex])
}

// TestNextLogIndexContinuesAfterStream: a shard created again continues its
// log after the last entry the stream holds for its own subject, ignoring
// other stores and shards; 1 when the stream holds none or cannot be asked.
func TestNextLogIndexContinuesAfterStream(t *testing.T) {
	b := bustest.New()
	a := fakeAgent(t, b, "store1")
	require.Equal(t, uint64(1), a.nextLogIndex(fakeRef))

	msg := func(subj string, idx int) bus.Message {
		return bus.Message{Subject: subj, Header: map[string]string{wire.HeaderIndex: strconv.Itoa(idx)}}
	}
	other, err := bus.ChangeSubject("dc1", fakeRef.Keyspace, 1, "store1")
	require.NoError(t, err)
	_, err = b.PublishBatch(context.Background(), []bus.Message{
		msg(changeSubject(t, "store1"), 40), msg(changeSubject(t, "store1"), 41),
		msg(changeSubject(t, "store2"), 90), msg(other, 95),
	})
	require.NoError(t, err)
	require.Equal(t, uint64(42), a.nextLogIndex(fakeRef))

	b.SetLastErr(errors.New("injected stream failure"))
	require.Equal(t, uint64(1), a.nextLogIndex(fakeRef))
}

// TestPeerConsumerAppliesAndCatchesUp: a replica with one peer applies the
// peer's published change log in order through a durable consumer, moves
// its cursor to the peer's last index, and serves once the peer's log is
// drained (not by the idle timeout, which is an hour here).
func TestPeerConsumerAppliesAndCatchesUp(t *testing.T) {
	b := bustest.New()
	b.SetBatch(2)
	peerAgent := fakeAgent(t, b, "store2")
	peer, err := engineOf(peerAgent).CreateShard(fakeRef.Keyspace, fakeRef.Shard)
	require.NoError(t, err)
	const n = 7
	for i := 1; i <= n; i++ {
		_, err := peer.Put(context.Background(), []byte(fmt.Sprintf("k%d", i)), []byte(fmt.Sprintf("v%d", i)))
		require.NoError(t, err)
	}
	pw := newShardWorker(peerAgent, peer, fakeRef, nil, nil, nil)
	pw.start(peerAgent.ctx)
	defer pw.stop()
	require.Eventually(t, func() bool { return len(b.Messages(changeStream(t), changeSubject(t, "store2"))) == n },
		10*time.Second, 5*time.Millisecond)

	a := fakeAgent(t, b, "store1")
	sh, err := engineOf(a).CreateShard(fakeRef.Keyspace, fakeRef.Shard)
	require.NoError(t, err)
	w := newShardWorker(a, sh, fakeRef, []string{"store2"}, nil, nil)
	w.start(a.ctx)
	defer w.stop()
	require.False(t, sh.Serving(), "a replica with a peer waits for its log")
	require.Eventually(t, sh.Serving, 10*time.Second, 5*time.Millisecond)

	cur, err := sh.Cursor(store.PeerSource("store2"))
	require.NoError(t, err)
	require.Equal(t, uint64(n), cur)
	for i := 1; i <= n; i++ {
		r, err := sh.Get([]byte(fmt.Sprintf("k%d", i)))
		require.NoError(t, err)
		require.Equal(t, fmt.Sprintf("v%d", i), string(r.Value))
	}
	passed, err := b.ConsumerPassed(context.Background(), changeStream(t),
		peerDurable("store1", fakeRef, "store2"), n)
	require.NoError(t, err)
	require.True(t, passed)

	// A later change of the peer arrives through the running consumer.
	_, err = peer.Put(context.Background(), []byte("k8"), []byte("v8"))
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		r, err := sh.Get([]byte("k8"))
		return err == nil && string(r.Value) == "v8"
	}, 10*time.Second, 5*time.Millisecond)
}
