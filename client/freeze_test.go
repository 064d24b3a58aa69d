package client

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vasto-kv/vasto/topology"
)

// A frozen store (fakeStore.freeze, like a process stopped with SIGSTOP)
// accepts connections and requests but answers nothing. These tests bound
// how long an operation waits for it: the read timeout is 3 s, and the
// master marks a silent store down only after 1.5 s.

// testClientWith is testClient with changes to the default Config.
func testClientWith(t *testing.T, top *topology.Topology, change func(*Config)) *Client {
	t.Helper()
	cfg := DefaultConfig("nats://127.0.0.1:1", "dc1")
	cfg.DialTimeout = 500 * time.Millisecond
	change(&cfg)
	cfg = cfg.withDefaults()
	require.NoError(t, cfg.Validate())
	c := newClient(cfg)
	c.setTopology(top)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// warm makes the client hold its shared connections to every store of
// ks/0 (ones a frozen store still reads requests from: a new one would wait
// at HELLO).
func warm(t *testing.T, c *Client, stores ...*fakeStore) {
	t.Helper()
	for _, s := range stores {
		p, err := c.pool(s.addr)
		require.NoError(t, err)
		require.NoError(t, p.ping(context.Background()))
	}
}

// timed runs f and returns how long it took.
func timed(f func()) time.Duration {
	start := time.Now()
	f()
	return time.Since(start)
}

func TestReadIsHedgedToAnotherReplicaWhenThePreferredIsFrozen(t *testing.T) {
	s1 := newFakeStore(t, "s1", "ks/0")
	s2 := newFakeStore(t, "s2", "ks/0")
	c := testClientWith(t, fakeTopology("ks", [][]string{{"s1", "s2"}}, s1, s2), func(cfg *Config) {
		cfg.AttemptTimeout = -1 // only the hedge can make the read fast
	})
	require.Equal(t, DefaultHedgeAfter, c.cfg.HedgeAfter)
	for i := 0; i < 20; i++ {
		k := fmt.Sprint("k", i)
		s1.put("ks/0", k, "v-"+k)
		s2.put("ks/0", k, "v-"+k)
	}
	ctx := context.Background()

	warm(t, c, s1)
	s1.freeze()
	var it Item
	var err error
	took := timed(func() { it, err = c.Get(ctx, "ks", []byte("k0")) })
	require.NoError(t, err)
	require.Equal(t, "v-k0", string(it.Value))
	require.Less(t, took, time.Second, "the read went to s2 too instead of waiting the 3 s read timeout for s1")
	require.Equal(t, 1, s2.pipelines(), "one hedge, to s2")
	require.Equal(t, 1, s1.waiting("VUSE"), "the first request still waits at the frozen s1")

	// s1 answers again: the abandoned request's reply is read before its
	// connection is used again, so every read gets its own key's value.
	s1.thaw()
	for i := 0; i < 20; i++ {
		k := fmt.Sprint("k", i)
		it, err := c.Get(ctx, "ks", []byte(k))
		require.NoError(t, err)
		require.Equal(t, "v-"+k, string(it.Value))
	}
}

func TestWritesAreNotHedged(t *testing.T) {
	s1 := newFakeStore(t, "s1", "ks/0")
	s2 := newFakeStore(t, "s2", "ks/0")
	c := testClientWith(t, fakeTopology("ks", [][]string{{"s1", "s2"}}, s1, s2), func(cfg *Config) {
		cfg.HedgeAfter = time.Millisecond
		cfg.AttemptTimeout = 300 * time.Millisecond
	})
	warm(t, c, s1)
	s1.freeze()
	var r WriteResult
	var err error
	took := timed(func() { r, err = c.Put(context.Background(), "ks", []byte("k"), []byte("v")) })
	require.NoError(t, err)
	require.Equal(t, "s2", r.Store)
	require.GreaterOrEqual(t, took, c.cfg.AttemptTimeout, "sent to s2 only after the attempt on s1 timed out")
	require.Equal(t, 1, s2.pipelines())
	s1.thaw()
	require.Eventually(t, func() bool { return len(s1.eventTimes("k")) == 1 }, 2*time.Second, 5*time.Millisecond)
}

func TestWriteToAFrozenReplicaIsRetriedElsewhereWithTheSameEventTime(t *testing.T) {
	s1 := newFakeStore(t, "s1", "ks/0")
	s2 := newFakeStore(t, "s2", "ks/0")
	s2.put("ks/0", "other", "x") // the fakes' clocks differ
	c := testClient(t, fakeTopology("ks", [][]string{{"s1", "s2"}}, s1, s2))
	require.Equal(t, DefaultAttemptTimeout, c.cfg.AttemptTimeout)
	ctx := context.Background()

	warm(t, c, s1)
	s1.freeze()
	var r WriteResult
	var err error
	took := timed(func() { r, err = c.Put(ctx, "ks", []byte("k"), []byte("v")) })
	require.NoError(t, err)
	require.True(t, r.Applied)
	require.Equal(t, "s2", r.Store)
	require.Less(t, took, 1500*time.Millisecond, "the write was abandoned on s1 after the attempt timeout")
	require.True(t, c.suspected(s1.addr), "s1 timed out: tried last")
	got := s2.eventTimes("k")
	require.Len(t, got, 1)
	require.Equal(t, r.Version.Time, got[0])

	// The next write goes to s2 at once.
	took = timed(func() { r, err = c.Put(ctx, "ks", []byte("k2"), []byte("v")) })
	require.NoError(t, err)
	require.Equal(t, "s2", r.Store)
	require.Less(t, took, DefaultAttemptTimeout)

	// When s1 resumes it applies the abandoned write with the version of
	// the one s2 acknowledged, not a later one of its own.
	s1.thaw()
	require.Eventually(t, func() bool { return len(s1.eventTimes("k")) == 1 }, 2*time.Second, 5*time.Millisecond)
	require.Equal(t, got, s1.eventTimes("k"))
}

func TestRequestsInFlightToAStoreMarkedDownAreRetriedElsewhere(t *testing.T) {
	s1 := newFakeStore(t, "s1", "ks/0")
	s2 := newFakeStore(t, "s2", "ks/0")
	s2.put("ks/0", "k", "old")
	top := fakeTopology("ks", [][]string{{"s1", "s2"}}, s1, s2)
	c := testClientWith(t, top, func(cfg *Config) {
		// Neither the hedge nor the attempt timeout: only the topology
		// can end the wait before the 3 s read timeout.
		cfg.HedgeAfter, cfg.AttemptTimeout = -1, -1
	})
	ctx := context.Background()
	warm(t, c, s1)
	s1.freeze()

	type result struct {
		w   WriteResult
		it  Item
		err error
	}
	done := make(chan result, 2)
	go func() {
		r, err := c.Put(ctx, "ks", []byte("k"), []byte("new"))
		done <- result{w: r, err: err}
	}()
	// The write waits on one shared connection, the read on the other.
	require.Eventually(t, func() bool { return s1.waiting("VUSE") == 1 }, 2*time.Second, 5*time.Millisecond)
	go func() {
		it, err := c.Get(ctx, "ks", []byte("k"))
		done <- result{it: it, err: err}
	}()
	require.Eventually(t, func() bool { return s1.waiting("VUSE") == 2 }, 2*time.Second, 5*time.Millisecond,
		"both requests wait at the frozen s1")

	down := top.Clone()
	down.Version++
	down.Stores["s1"].Healthy = false
	c.setTopology(down)
	deadline := time.NewTimer(time.Second)
	defer deadline.Stop()
	for range 2 {
		select {
		case r := <-done:
			require.NoError(t, r.err)
			if r.w.Store != "" {
				require.Equal(t, "s2", r.w.Store)
			} else {
				require.Contains(t, []string{"old", "new"}, string(r.it.Value))
			}
		case <-deadline.C:
			t.Fatal("a request to the store marked down was not abandoned")
		}
	}
	c.mu.Lock()
	_, pooled := c.pools[s1.addr]
	c.mu.Unlock()
	require.False(t, pooled, "the pool of the store marked down is closed")

	s1.thaw()
	require.Eventually(t, func() bool { return len(s1.eventTimes("k")) == 1 }, 2*time.Second, 5*time.Millisecond)
	require.Equal(t, s2.eventTimes("k"), s1.eventTimes("k"), "the abandoned write and its retry carry the same event time")
}

func TestRetriedWriteFindingItsOwnEarlierAttemptIsApplied(t *testing.T) {
	s1 := newFakeStore(t, "s1", "ks/0")
	s2 := newFakeStore(t, "s2", "ks/0")
	c := testClient(t, fakeTopology("ks", [][]string{{"s1", "s2"}}, s1, s2))
	// s1 applies the write, replicates it to s2 and loses the reply.
	s1.mu.Lock()
	s1.dropReply, s1.peer = true, s2
	s1.mu.Unlock()

	r, err := c.Put(context.Background(), "ks", []byte("k"), []byte("v"))
	require.NoError(t, err)
	require.Equal(t, "s2", r.Store)
	require.True(t, r.Applied, "the write holds: its first attempt applied it")
	require.Equal(t, "s1", r.Version.Node)
	require.Equal(t, s1.eventTimes("k"), s2.eventTimes("k"), "the retry carries the first attempt's event time")
	require.Equal(t, []int64{r.Version.Time}, s2.eventTimes("k"))
}

func TestWritesWithoutEventTimeAreStampedByTheClient(t *testing.T) {
	s1 := newFakeStore(t, "s1", "ks/0")
	c := testClient(t, fakeTopology("ks", [][]string{{"s1"}}, s1))
	ctx := context.Background()
	before := time.Now().UnixNano()
	kvs := []KV{{Key: []byte("a"), Value: []byte("1")}, {Key: []byte("b"), Value: []byte("2")}, {Key: []byte("a"), Value: []byte("3")}}
	res, err := c.BatchPut(ctx, "ks", kvs)
	require.NoError(t, err)
	after := time.Now().UnixNano()
	ta, tb := s1.eventTimes("a"), s1.eventTimes("b")
	require.Len(t, ta, 2)
	require.Len(t, tb, 1)
	require.GreaterOrEqual(t, ta[0], before)
	require.Less(t, ta[0], tb[0], "every item has its own time, in input order")
	require.Less(t, tb[0], ta[1])
	require.LessOrEqual(t, ta[1], after+3) // the clock may step past a repeated reading
	require.True(t, res[2].Applied, "the later item of a key wins, as when the store stamped it")

	// An explicit event time is sent as given.
	_, err = c.Delete(ctx, "ks", []byte("b"), WithEventTime(tb[0]+1))
	require.NoError(t, err)
	require.Equal(t, tb[0]+1, s1.eventTimes("b")[1])
}

func TestHedgedReadWaitsForTheClientsLatestWriteOnTheOtherReplica(t *testing.T) {
	s1 := newFakeStore(t, "s1", "ks/0")
	s2 := newFakeStore(t, "s2", "ks/0")
	c := testClientWith(t, fakeTopology("ks", [][]string{{"s1", "s2"}}, s1, s2), func(cfg *Config) {
		cfg.AttemptTimeout = 300 * time.Millisecond
	})
	ctx := context.Background()
	w1, err := c.Put(ctx, "ks", []byte("k"), []byte("v1"))
	require.NoError(t, err)
	require.Equal(t, "s1", w1.Store)
	warm(t, c, s1)

	// s2 has not applied the write: the hedge does not answer from it, and
	// the read waits for s1 (frozen: until the attempt timeout, then it
	// fails over to s2, which may be behind like any failover).
	s1.freeze()
	var it Item
	took := timed(func() { it, err = c.Get(ctx, "ks", []byte("k")) })
	require.GreaterOrEqual(t, took, c.cfg.AttemptTimeout, "the hedge's reply was not taken")
	require.Equal(t, []string{w1.Token(), ""}, s2.afterTokens(), "the hedge waited for the write, the failover did not")
	require.ErrorIs(t, err, ErrNotFound)
	s1.thaw()

	// s2 has applied it: the hedge answers with the write.
	require.True(t, c.suspected(s1.addr))
	c.clearSuspect(s1.addr) // as after its next answer
	s2.catchUp(s1, "ks/0")
	w2, err := c.Put(ctx, "ks", []byte("k"), []byte("v2"))
	require.NoError(t, err)
	require.Equal(t, "s1", w2.Store)
	s2.catchUp(s1, "ks/0")
	s1.freeze()
	took = timed(func() { it, err = c.Get(ctx, "ks", []byte("k")) })
	require.NoError(t, err)
	require.Equal(t, "v2", string(it.Value))
	require.Less(t, took, c.cfg.AttemptTimeout, "answered by the hedge")
	require.Equal(t, w2.Token(), s2.afterTokens()[2])
}
