package client

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vasto-kv/vasto/topology"
)

// routeTopology: keyspace ks, 2 shards on s1, s2, s3 in two orders.
func routeTopology() (*topology.Topology, *topology.Keyspace) {
	top := topology.New("dc1")
	for _, id := range []string{"s1", "s2", "s3"} {
		top.Stores[id] = &topology.Store{ID: id, Addr: "127.0.0.1:1" + id[1:], Healthy: true,
			Serving: []string{"ks/0", "ks/1"}}
	}
	ks := &topology.Keyspace{Name: "ks", Shards: 2, Replicas: 3,
		Placement: [][]string{{"s1", "s2", "s3"}, {"s3", "s1", "s2"}}}
	top.Keyspaces["ks"] = ks
	return top, ks
}

func pick(t *testing.T, top *topology.Topology, ks *topology.Keyspace, shard uint32, write bool, skip ...string) string {
	t.Helper()
	sk := map[string]bool{}
	for _, s := range skip {
		sk[s] = true
	}
	s, err := pickReplica(top, ks, shard, write, sk)
	if err != nil {
		return "error: " + err.Error()
	}
	return s.ID
}

func TestPickReplicaWritesGoToFirstHealthyInPlacementOrder(t *testing.T) {
	top, ks := routeTopology()
	require.Equal(t, "s1", pick(t, top, ks, 0, true))
	require.Equal(t, "s3", pick(t, top, ks, 1, true))

	// Failover down the list when the preferred replica is unhealthy or
	// already failed in this operation.
	top.Stores["s1"].Healthy = false
	require.Equal(t, "s2", pick(t, top, ks, 0, true))
	require.Equal(t, "s3", pick(t, top, ks, 1, true))
	require.Equal(t, "s3", pick(t, top, ks, 0, true, "s2"))

	// Writes ignore Serving (a catching-up preferred replica still takes
	// writes).
	top.Stores["s1"].Healthy = true
	top.Stores["s1"].Serving = nil
	require.Equal(t, "s1", pick(t, top, ks, 0, true))

	// A replica missing from Stores or without an address is skipped.
	delete(top.Stores, "s1")
	top.Stores["s2"].Addr = ""
	require.Equal(t, "s3", pick(t, top, ks, 0, true))

	// Nobody left.
	top.Stores["s3"].Healthy = false
	_, err := pickReplica(top, ks, 0, true, nil)
	require.ErrorIs(t, err, ErrNoReplica)
	_, err = pickReplica(top, ks, 7, true, nil)
	require.ErrorIs(t, err, ErrNoReplica)
}

func TestPickReplicaReadsPreferServingReplicas(t *testing.T) {
	top, ks := routeTopology()
	require.Equal(t, "s1", pick(t, top, ks, 0, false))

	// s1 is catching up on ks/0 (not serving): read from s2.
	top.Stores["s1"].Serving = []string{"ks/1"}
	require.Equal(t, "s2", pick(t, top, ks, 0, false))
	// ks/1 is still served by its preferred s3.
	require.Equal(t, "s3", pick(t, top, ks, 1, false))

	// Unhealthy serving replicas do not count.
	top.Stores["s2"].Healthy = false
	require.Equal(t, "s3", pick(t, top, ks, 0, false))

	// Nobody serves: fall back to the first healthy replica.
	top.Stores["s3"].Serving = nil
	require.Equal(t, "s1", pick(t, top, ks, 0, false))

	// Skipped replicas are not picked, even as fallback.
	require.Equal(t, "s3", pick(t, top, ks, 0, false, "s1"))
	require.True(t, strings.HasPrefix(pick(t, top, ks, 0, false, "s1", "s3"), "error: "))

	// The serving name must match exactly ("ks/1" is not "ks/10").
	s := &topology.Store{Serving: []string{"ks/10", "ksx/1"}}
	require.False(t, serves(s, "ks", 1))
	require.True(t, serves(s, "ks", 10))
}

// keysOnShard returns n keys of a keyspace of shards shards that route to
// shard.
func keysOnShard(shards int, shard uint32, n int) [][]byte {
	var out [][]byte
	for i := 0; len(out) < n; i++ {
		k := []byte(fmt.Sprintf("key-%d", i))
		if topology.ShardOf(k, shards) == shard {
			out = append(out, k)
		}
	}
	return out
}

func TestPutGetRoundTripOnPreferredReplica(t *testing.T) {
	s1 := newFakeStore(t, "s1", "ks/0", "ks/1")
	s2 := newFakeStore(t, "s2", "ks/0", "ks/1")
	c := testClient(t, fakeTopology("ks", [][]string{{"s1", "s2"}, {"s2", "s1"}}, s1, s2))
	ctx := context.Background()

	k0 := keysOnShard(2, 0, 1)[0]
	k1 := keysOnShard(2, 1, 1)[0]
	r, err := c.Put(ctx, "ks", k0, []byte("v0"), WithEventTime(5000), WithTTL(1500*time.Microsecond))
	require.NoError(t, err)
	require.True(t, r.Applied)
	require.Equal(t, Version{Time: 5000, DC: "dc1", Node: "s1"}, r.Version)
	require.Equal(t, "s1", r.Store)
	require.Equal(t, uint32(0), r.Shard)
	require.NotZero(t, r.LogIndex)

	r, err = c.Put(ctx, "ks", k1, []byte("v1"))
	require.NoError(t, err)
	require.Equal(t, "s2", r.Store)
	require.Equal(t, uint32(1), r.Shard)

	// An older write loses and reports the winning version.
	r, err = c.Put(ctx, "ks", k0, []byte("old"), WithEventTime(4000))
	require.NoError(t, err)
	require.False(t, r.Applied)
	require.Equal(t, int64(5000), r.Version.Time)
	require.Zero(t, r.LogIndex)

	it, err := c.Get(ctx, "ks", k0)
	require.NoError(t, err)
	require.Equal(t, k0, it.Key)
	require.Equal(t, []byte("v0"), it.Value)
	require.Equal(t, int64(5000+1e6), it.ExpiresAt, "TTL sent as PX 1 (truncated to ms)")

	// Every command was a pipeline starting with VUSE of the key's shard.
	require.Equal(t, []string{
		"VUSE ks/0", "VSET ks/0 " + string(k0),
		"VUSE ks/0", "VSET ks/0 " + string(k0),
		"VUSE ks/0", "VGET ks/0 " + string(k0),
	}, s1.commands())

	_, err = c.Delete(ctx, "ks", k0, WithEventTime(6000))
	require.NoError(t, err)
	_, err = c.Get(ctx, "ks", k0)
	require.ErrorIs(t, err, ErrNotFound)
}

func TestWriteFailsOverToNextReplicaWhenPreferredIsDown(t *testing.T) {
	s1 := newFakeStore(t, "s1", "ks/0")
	s2 := newFakeStore(t, "s2", "ks/0")
	c := testClient(t, fakeTopology("ks", [][]string{{"s1", "s2"}}, s1, s2))
	s1.stop() // still "healthy" in the topology: the master has not noticed yet

	r, err := c.Put(context.Background(), "ks", []byte("k"), []byte("v"))
	require.NoError(t, err)
	require.Equal(t, "s2", r.Store)

	// s1 is suspected now: the next operations go to s2 first, without
	// waiting for the master to mark s1 unhealthy.
	require.True(t, c.suspected(s1.addr))
	require.False(t, c.suspected(s2.addr))
	before := s2.pipelines()
	r, err = c.Put(context.Background(), "ks", []byte("k2"), []byte("v"))
	require.NoError(t, err)
	require.Equal(t, "s2", r.Store)
	require.Equal(t, before+1, s2.pipelines())
}

func TestSuspectsAreTriedLastNotNever(t *testing.T) {
	s1 := newFakeStore(t, "s1", "ks/0")
	s2 := newFakeStore(t, "s2", "ks/0")
	c := testClient(t, fakeTopology("ks", [][]string{{"s1", "s2"}}, s1, s2))
	c.suspect(s1.addr)
	s2.stop()
	// s2 is down, s1 only suspected: s1 serves, and is cleared.
	r, err := c.Put(context.Background(), "ks", []byte("k"), []byte("v"))
	require.NoError(t, err)
	require.Equal(t, "s1", r.Store)
	require.False(t, c.suspected(s1.addr))
	require.True(t, c.suspected(s2.addr))

	// A store error code is not a transport failure.
	s1.setFail("CLOSED")
	_, err = c.Put(context.Background(), "ks", []byte("k"), []byte("v"))
	require.ErrorIs(t, err, ErrUnavailable)
	require.False(t, c.suspected(s1.addr))
}

func TestRetryableStoreCodesGoToAnotherReplica(t *testing.T) {
	for _, code := range []string{"NOSHARD", "CLOSED", "CATCHUP", "IOERR", "MOVED"} {
		t.Run(code, func(t *testing.T) {
			s1 := newFakeStore(t, "s1", "ks/0")
			s2 := newFakeStore(t, "s2", "ks/0")
			c := testClient(t, fakeTopology("ks", [][]string{{"s1", "s2"}}, s1, s2))
			s1.setFail(code)
			ctx := context.Background()
			r, err := c.Put(ctx, "ks", []byte("k"), []byte("v"))
			require.NoError(t, err)
			require.Equal(t, "s2", r.Store)
			it, err := c.Get(ctx, "ks", []byte("k"))
			require.NoError(t, err)
			require.Equal(t, "s2", it.Version.Node)
		})
	}
}

func TestNoShardOnVUSEIsRetriedElsewhere(t *testing.T) {
	s1 := newFakeStore(t, "s1") // placed there but has not opened the shard
	s2 := newFakeStore(t, "s2", "ks/0")
	c := testClient(t, fakeTopology("ks", [][]string{{"s1", "s2"}}, s1, s2))
	r, err := c.Put(context.Background(), "ks", []byte("k"), []byte("v"))
	require.NoError(t, err)
	require.Equal(t, "s2", r.Store)
}

func TestFinalStoreCodesAreNotRetried(t *testing.T) {
	for code, want := range map[string]error{"ERR": ErrInvalid, "TOOLARGE": ErrTooLarge, "BADTIME": ErrBadTime, "BADNAME": ErrBadName} {
		t.Run(code, func(t *testing.T) {
			s1 := newFakeStore(t, "s1", "ks/0")
			s2 := newFakeStore(t, "s2", "ks/0")
			c := testClient(t, fakeTopology("ks", [][]string{{"s1", "s2"}}, s1, s2))
			s1.setFail(code)
			_, err := c.Put(context.Background(), "ks", []byte("k"), []byte("v"))
			require.ErrorIs(t, err, want)
			var se *StoreError
			require.ErrorAs(t, err, &se)
			require.Equal(t, code, se.Code)
			require.Equal(t, "s1", se.Store)
			require.Len(t, s1.commands(), 2, "one attempt")
			require.Empty(t, s2.commands())
		})
	}
}

func TestRetriesAreBoundedAndEndInErrUnavailable(t *testing.T) {
	s1 := newFakeStore(t, "s1", "ks/0")
	c := testClient(t, fakeTopology("ks", [][]string{{"s1"}}, s1))
	c.cfg.MaxRetries = 2
	s1.setFail("CLOSED")
	_, err := c.Put(context.Background(), "ks", []byte("k"), []byte("v"))
	require.ErrorIs(t, err, ErrUnavailable)
	var se *StoreError
	require.ErrorAs(t, err, &se)
	require.Equal(t, "CLOSED", se.Code)
	require.Equal(t, 3, s1.pipelines(), "1+MaxRetries attempts")

	c.cfg.MaxRetries = -1
	_, err = c.Put(context.Background(), "ks", []byte("k"), []byte("v"))
	require.ErrorIs(t, err, ErrUnavailable)
	require.Equal(t, 4, s1.pipelines(), "no retry")
}

func TestRetryRespectsContext(t *testing.T) {
	s1 := newFakeStore(t, "s1", "ks/0")
	c := testClient(t, fakeTopology("ks", [][]string{{"s1"}}, s1))
	c.cfg.MaxRetries = 1000
	s1.setFail("CLOSED")
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.Put(ctx, "ks", []byte("k"), []byte("v"))
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Less(t, time.Since(start), 2*time.Second)
}

func TestNoHealthyReplica(t *testing.T) {
	s1 := newFakeStore(t, "s1", "ks/0")
	top := fakeTopology("ks", [][]string{{"s1"}}, s1)
	top.Stores["s1"].Healthy = false
	c := testClient(t, top)
	_, err := c.Get(context.Background(), "ks", []byte("k"))
	require.ErrorIs(t, err, ErrNoReplica)
	require.Empty(t, s1.commands())
}

func TestTopologyChangeReroutes(t *testing.T) {
	s1 := newFakeStore(t, "s1") // lost the shard
	s2 := newFakeStore(t, "s2", "ks/0")
	top := fakeTopology("ks", [][]string{{"s1"}}, s1, s2)
	c := testClient(t, top)
	c.cfg.MaxRetries = 50

	// The shard moves to s2 while the client retries NOSHARD on s1.
	go func() {
		time.Sleep(60 * time.Millisecond)
		next := top.Clone()
		next.Version++
		next.Keyspaces["ks"].Placement = [][]string{{"s2"}}
		c.setTopology(next)
	}()
	r, err := c.Put(context.Background(), "ks", []byte("k"), []byte("v"))
	require.NoError(t, err)
	require.Equal(t, "s2", r.Store)
}

func TestUnknownKeyspaceAndBadNamesAreLocal(t *testing.T) {
	s1 := newFakeStore(t, "s1", "ks/0")
	c := testClient(t, fakeTopology("ks", [][]string{{"s1"}}, s1))
	ctx := context.Background()

	_, err := c.Put(ctx, "nope", []byte("k"), []byte("v"))
	require.ErrorIs(t, err, ErrUnknownKeyspace)
	_, err = c.Get(ctx, "nope", []byte("k"))
	require.ErrorIs(t, err, ErrUnknownKeyspace)
	_, err = c.Scan(ctx, "nope", ScanOptions{})
	require.ErrorIs(t, err, ErrUnknownKeyspace)

	for _, bad := range []string{"", "a.b", "a b", "a*", strings.Repeat("x", 65), "é"} {
		_, err = c.Put(ctx, bad, []byte("k"), []byte("v"))
		require.ErrorIs(t, err, ErrBadName, bad)
		_, err = c.Get(ctx, bad, []byte("k"))
		require.ErrorIs(t, err, ErrBadName, bad)
		_, err = c.BatchGet(ctx, bad, [][]byte{[]byte("k")})
		require.ErrorIs(t, err, ErrBadName, bad)
		_, err = c.Scan(ctx, bad, ScanOptions{})
		require.ErrorIs(t, err, ErrBadName, bad)
		// Admin calls fail before touching NATS (the test client has none).
		require.ErrorIs(t, c.CreateKeyspace(ctx, bad, 1, 1), ErrBadName, bad)
		require.ErrorIs(t, c.DeleteKeyspace(ctx, bad), ErrBadName, bad)
		_, err = c.DescribeKeyspace(ctx, bad)
		require.ErrorIs(t, err, ErrBadName, bad)
		require.ErrorIs(t, c.WaitForKeyspace(ctx, bad), ErrBadName, bad)
	}
	require.ErrorIs(t, c.CreateKeyspace(ctx, "ok", 0, 1), ErrInvalid)
	require.ErrorIs(t, c.CreateKeyspace(ctx, "ok", topology.MaxShards+1, 1), ErrInvalid)
	require.ErrorIs(t, c.CreateKeyspace(ctx, "ok", 1, 0), ErrInvalid)
	require.ErrorIs(t, c.CreateKeyspace(ctx, "ok", 1, topology.MaxReplicas+1), ErrInvalid)
	require.Empty(t, s1.commands())
}

func TestBatchPutGroupsByShardAndKeepsInputOrder(t *testing.T) {
	s1 := newFakeStore(t, "s1", "ks/0", "ks/1", "ks/2", "ks/3")
	s2 := newFakeStore(t, "s2", "ks/0", "ks/1", "ks/2", "ks/3")
	c := testClient(t, fakeTopology("ks", [][]string{{"s1", "s2"}, {"s2", "s1"}, {"s1", "s2"}, {"s2", "s1"}}, s1, s2))
	ctx := context.Background()

	var kvs []KV
	var keys [][]byte
	for i := 0; i < 100; i++ {
		k := []byte(fmt.Sprintf("k%03d", i))
		kvs = append(kvs, KV{Key: k, Value: []byte(fmt.Sprintf("v%d", i))})
		keys = append(keys, k)
	}
	res, err := c.BatchPut(ctx, "ks", kvs, WithEventTime(777))
	require.NoError(t, err)
	require.Len(t, res, len(kvs))
	for i, r := range res {
		shard := topology.ShardOf(kvs[i].Key, 4)
		require.Equal(t, shard, r.Shard)
		require.True(t, r.Applied)
		require.Equal(t, int64(777), r.Version.Time)
		want := "s1"
		if shard%2 == 1 {
			want = "s2"
		}
		require.Equal(t, want, r.Store, "item %d on its preferred replica", i)
	}
	require.Equal(t, 2, s1.pipelines(), "one pipeline per shard")
	require.Equal(t, 2, s2.pipelines())

	keys = append(keys, []byte("missing"))
	items, err := c.BatchGet(ctx, "ks", keys)
	require.NoError(t, err)
	require.Len(t, items, len(keys))
	for i := 0; i < 100; i++ {
		require.NotNil(t, items[i])
		require.Equal(t, keys[i], items[i].Key)
		require.Equal(t, fmt.Sprintf("v%d", i), string(items[i].Value))
	}
	require.Nil(t, items[100])

	// Local validation fails the whole batch before anything is sent.
	before := s1.pipelines() + s2.pipelines()
	_, err = c.BatchPut(ctx, "ks", []KV{{Key: []byte("a")}, {Key: make([]byte, MaxKeySize+1)}})
	require.ErrorIs(t, err, ErrTooLarge)
	require.Contains(t, err.Error(), "item 1")
	_, err = c.BatchGet(ctx, "ks", [][]byte{[]byte("a"), nil})
	require.ErrorIs(t, err, ErrInvalid)
	require.Equal(t, before, s1.pipelines()+s2.pipelines())

	// Empty batches are no-ops.
	res, err = c.BatchPut(ctx, "ks", nil)
	require.NoError(t, err)
	require.Empty(t, res)
}

func TestBatchPartialFailureIsABatchError(t *testing.T) {
	s1 := newFakeStore(t, "s1", "ks/0")
	s2 := newFakeStore(t, "s2", "ks/1")
	c := testClient(t, fakeTopology("ks", [][]string{{"s1"}, {"s2"}}, s1, s2))
	s2.setFail("BADTIME")
	k0 := keysOnShard(2, 0, 2)
	k1 := keysOnShard(2, 1, 2)
	kvs := []KV{{Key: k0[0]}, {Key: k1[0]}, {Key: k0[1]}, {Key: k1[1]}}
	res, err := c.BatchPut(context.Background(), "ks", kvs)
	var be *BatchError
	require.ErrorAs(t, err, &be)
	require.ErrorIs(t, err, ErrBadTime)
	require.Len(t, be.Errs, 4)
	require.NoError(t, be.Errs[0])
	require.ErrorIs(t, be.Errs[1], ErrBadTime)
	require.NoError(t, be.Errs[2])
	require.ErrorIs(t, be.Errs[3], ErrBadTime)
	require.True(t, res[0].Applied)
	require.True(t, res[2].Applied)
	require.False(t, res[1].Applied)
	require.Contains(t, err.Error(), "2 of 4 items failed")
}

func TestBatchRetriesOnlyTheFailedShard(t *testing.T) {
	s1 := newFakeStore(t, "s1", "ks/0", "ks/1")
	s2 := newFakeStore(t, "s2", "ks/0", "ks/1")
	s3 := newFakeStore(t, "s3", "ks/1")
	c := testClient(t, fakeTopology("ks", [][]string{{"s1"}, {"s2", "s3"}}, s1, s2, s3))
	s2.setFail("CLOSED")
	kvs := []KV{{Key: keysOnShard(2, 0, 1)[0]}, {Key: keysOnShard(2, 1, 1)[0]}}
	res, err := c.BatchPut(context.Background(), "ks", kvs)
	require.NoError(t, err)
	require.Equal(t, "s1", res[0].Store)
	require.Equal(t, "s3", res[1].Store)
	require.Equal(t, 1, s1.pipelines(), "the shard that succeeded is not sent again")
}

func TestScanMergesShardsInKeyOrder(t *testing.T) {
	s1 := newFakeStore(t, "s1", "ks/0", "ks/1", "ks/2")
	c := testClient(t, fakeTopology("ks", [][]string{{"s1"}, {"s1"}, {"s1"}}, s1))
	var want []string
	for i := 0; i < 1200; i++ {
		k := fmt.Sprintf("user-%04d", i)
		s1.put(fmt.Sprintf("ks/%d", topology.ShardOf([]byte(k), 3)), k, "v"+k)
		want = append(want, k)
	}
	for i := 0; i < 20; i++ {
		k := fmt.Sprintf("other-%d", i)
		s1.put(fmt.Sprintf("ks/%d", topology.ShardOf([]byte(k), 3)), k, "x")
	}
	// A stray key on a shard that does not own it is not returned.
	stray := "user-stray"
	for i := 0; topology.ShardOf([]byte(stray), 3) == 0; i++ {
		stray = fmt.Sprintf("user-stray-%d", i)
	}
	s1.put("ks/0", stray, "stray")
	sort.Strings(want)
	ctx := context.Background()
	keysOf := func(items []Item) []string {
		var out []string
		for _, it := range items {
			out = append(out, string(it.Key))
		}
		return out
	}

	items, err := c.Scan(ctx, "ks", ScanOptions{Prefix: []byte("user-"), Limit: 5000})
	require.NoError(t, err)
	require.Equal(t, want, keysOf(items))
	require.Equal(t, "v"+want[0], string(items[0].Value))
	require.Equal(t, "s1", items[0].Version.Node)

	items, err = c.Scan(ctx, "ks", ScanOptions{Prefix: []byte("user-"), Limit: 7})
	require.NoError(t, err)
	require.Equal(t, want[:7], keysOf(items))

	items, err = c.Scan(ctx, "ks", ScanOptions{Start: []byte("user-0100"), End: []byte("user-0110")})
	require.NoError(t, err)
	require.Equal(t, want[100:110], keysOf(items))

	items, err = c.Scan(ctx, "ks", ScanOptions{})
	require.NoError(t, err)
	require.Len(t, items, DefaultScanLimit)
	require.Equal(t, "other-0", string(items[0].Key))

	_, err = c.Scan(ctx, "ks", ScanOptions{Start: []byte("b"), End: []byte("a")})
	require.ErrorIs(t, err, ErrInvalid)
	_, err = c.Scan(ctx, "ks", ScanOptions{Limit: -1})
	require.ErrorIs(t, err, ErrInvalid)
}

func TestClosedClient(t *testing.T) {
	s1 := newFakeStore(t, "s1", "ks/0")
	c := testClient(t, fakeTopology("ks", [][]string{{"s1"}}, s1))
	ctx := context.Background()
	_, err := c.Put(ctx, "ks", []byte("k"), []byte("v"))
	require.NoError(t, err)
	require.NoError(t, c.Close())
	require.NoError(t, c.Close(), "idempotent")
	_, err = c.Put(ctx, "ks", []byte("k"), []byte("v"))
	require.ErrorIs(t, err, ErrClosed)
	_, err = c.Get(ctx, "ks", []byte("k"))
	require.ErrorIs(t, err, ErrClosed)
	_, err = c.ListStores(ctx)
	require.ErrorIs(t, err, ErrClosed)
	require.ErrorIs(t, c.WaitForKeyspace(ctx, "other"), ErrClosed)
}

func TestWaitForKeyspaceAndTopologyCopy(t *testing.T) {
	s1 := newFakeStore(t, "s1", "ks/0")
	top := fakeTopology("ks", [][]string{{"s1"}}, s1)
	c := testClient(t, top)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, c.WaitForKeyspace(ctx, "ks"))

	got := c.Topology()
	require.Equal(t, top, got)
	got.Keyspaces["ks"].Shards = 99
	require.Equal(t, 1, c.Topology().Keyspaces["ks"].Shards, "Topology returns a copy")

	done := make(chan error, 1)
	go func() { done <- c.WaitForKeyspace(ctx, "later") }()
	time.Sleep(20 * time.Millisecond)
	next := top.Clone()
	next.Version++
	next.Keyspaces["later"] = &topology.Keyspace{Name: "later", Shards: 1, Replicas: 1, Placement: [][]string{{"s1"}}}
	c.setTopology(next)
	require.NoError(t, <-done)

	short, cancel2 := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel2()
	require.ErrorIs(t, c.WaitForKeyspace(short, "never"), context.DeadlineExceeded)
}

func TestPoolsOfDepartedOrRecoveredStoresAreClosed(t *testing.T) {
	s1 := newFakeStore(t, "s1", "ks/0")
	s2 := newFakeStore(t, "s2", "ks/0")
	top := fakeTopology("ks", [][]string{{"s1", "s2"}}, s1, s2)
	c := testClient(t, top)
	ctx := context.Background()
	_, err := c.Put(ctx, "ks", []byte("k"), []byte("v"))
	require.NoError(t, err)
	_, err = c.Get(ctx, "ks", []byte("k"))
	require.NoError(t, err)
	poolCount := func() int {
		c.mu.Lock()
		defer c.mu.Unlock()
		return len(c.pools)
	}
	require.Equal(t, 1, poolCount())

	// s1 leaves: its pool is closed; writes go to s2.
	next := top.Clone()
	next.Version++
	delete(next.Stores, "s1")
	next.Keyspaces["ks"].Placement = [][]string{{"s2"}}
	c.setTopology(next)
	require.Equal(t, 0, poolCount())
	r, err := c.Put(ctx, "ks", []byte("k"), []byte("v"))
	require.NoError(t, err)
	require.Equal(t, "s2", r.Store)
	require.Equal(t, 1, poolCount())

	// s2 goes unhealthy and comes back: a fresh pool.
	c.mu.Lock()
	old := c.pools[s2.addr]
	c.mu.Unlock()
	down := next.Clone()
	down.Version++
	down.Stores["s2"].Healthy = false
	c.setTopology(down)
	up := down.Clone()
	up.Version++
	up.Stores["s2"].Healthy = true
	c.setTopology(up)
	require.Equal(t, 0, poolCount())
	_, err = c.Put(ctx, "ks", []byte("k"), []byte("v"))
	require.NoError(t, err)
	c.mu.Lock()
	require.NotSame(t, old, c.pools[s2.addr])
	c.mu.Unlock()
}

func TestConcurrentUse(t *testing.T) {
	s1 := newFakeStore(t, "s1", "ks/0", "ks/1")
	s2 := newFakeStore(t, "s2", "ks/0", "ks/1")
	top := fakeTopology("ks", [][]string{{"s1", "s2"}, {"s2", "s1"}}, s1, s2)
	c := testClient(t, top)
	ctx := context.Background()
	errs := make(chan error, 16)
	for g := 0; g < 16; g++ {
		go func() {
			for i := 0; i < 50; i++ {
				k := []byte(fmt.Sprintf("g%d-%d", g, i))
				if _, err := c.Put(ctx, "ks", k, k); err != nil {
					errs <- err
					return
				}
				if i%10 == 0 {
					next := c.Topology()
					next.Version += uint64(g*1000 + i + 1)
					c.setTopology(next)
				}
				it, err := c.Get(ctx, "ks", k)
				if err != nil {
					errs <- err
					return
				}
				if string(it.Value) != string(k) {
					errs <- errors.New("wrong value")
					return
				}
			}
			errs <- nil
		}()
	}
	for g := 0; g < 16; g++ {
		require.NoError(t, <-errs)
	}
}

func TestWaitForServing(t *testing.T) {
	top := topology.New("dc1")
	top.Version = 1
	top.Stores["s1"] = &topology.Store{ID: "s1", Addr: "127.0.0.1:1", Healthy: true}
	top.Stores["s2"] = &topology.Store{ID: "s2", Addr: "127.0.0.1:2", Healthy: true}
	top.Keyspaces["ks"] = &topology.Keyspace{Name: "ks", Shards: 2, Replicas: 2, Placement: [][]string{{"s1", "s2"}, {"s2", "s1"}}}
	require.False(t, keyspaceServed(top, "ks"))
	require.False(t, keyspaceServed(top, "nope"))
	top.Stores["s1"].Serving = []string{"ks/0", "ks/1"}
	require.False(t, keyspaceServed(top, "ks"), "s2 is healthy but not serving")
	top.Stores["s2"].Healthy = false
	require.True(t, keyspaceServed(top, "ks"), "unhealthy replicas do not count")
	top.Stores["s1"].Healthy = false
	require.False(t, keyspaceServed(top, "ks"), "no healthy replica")

	c := testClient(t, top)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- c.WaitForServing(ctx, "ks") }()
	time.Sleep(20 * time.Millisecond)
	next := top.Clone()
	next.Version++
	next.Stores["s1"].Healthy = true
	next.Stores["s2"].Healthy = true
	next.Stores["s2"].Serving = []string{"ks/0", "ks/1"}
	c.setTopology(next)
	require.NoError(t, <-done)
	require.ErrorIs(t, c.WaitForServing(ctx, "a.b"), ErrBadName)
}

// keyOnShard returns a key that a keyspace of shards shards places on shard.
func keyOnShard(t *testing.T, shards int, shard uint32) []byte {
	t.Helper()
	for i := 0; i < 10000; i++ {
		k := []byte(fmt.Sprintf("key-%d", i))
		if topology.ShardOf(k, shards) == shard {
			return k
		}
	}
	t.Fatalf("no key on shard %d of %d", shard, shards)
	return nil
}

// A resize from 1 to 2 shards switched: the old shard's store answers
// MOVED for a key it gave away; the client retries until its topology
// switches too, then writes on the new shard with that shard's epoch.
func TestMovedIsRetriedOnTheNewLayout(t *testing.T) {
	s1 := newFakeStore(t, "s1", "ks/0")
	s2 := newFakeStore(t, "s2", "ks/1")
	top := fakeTopology("ks", [][]string{{"s1"}}, s1, s2)
	top.Keyspaces["ks"].Epoch = 5
	c := testClient(t, top)
	c.cfg.MaxRetries = 50
	s1.setFail(CodeMoved)
	key := keyOnShard(t, 2, 1)

	go func() {
		time.Sleep(60 * time.Millisecond)
		next := top.Clone()
		next.Version++
		ks := next.Keyspaces["ks"]
		ks.Shards, ks.Placement, ks.ShardEpochs = 2, [][]string{{"s1"}, {"s2"}}, []uint64{5, 9}
		c.setTopology(next)
	}()
	r, err := c.Put(context.Background(), "ks", key, []byte("v"))
	require.NoError(t, err)
	require.Equal(t, "s2", r.Store)
	require.Equal(t, uint32(1), r.Shard)
	require.Contains(t, s1.vuseCommands(), "VUSE ks 0 EPOCH 5", "the old shard, with the keyspace's epoch")
	require.Equal(t, []string{"VUSE ks 1 EPOCH 9"}, s2.vuseCommands(), "the new shard, with its own epoch")
}

func TestMovedEndsInErrUnavailableWrappingErrMoved(t *testing.T) {
	s1 := newFakeStore(t, "s1", "ks/0")
	c := testClient(t, fakeTopology("ks", [][]string{{"s1"}}, s1))
	c.cfg.MaxRetries = 2
	s1.setFail(CodeMoved)
	_, err := c.Put(context.Background(), "ks", []byte("k"), []byte("v"))
	require.ErrorIs(t, err, ErrUnavailable)
	require.ErrorIs(t, err, ErrMoved)
	require.Equal(t, 3, s1.pipelines(), "1+MaxRetries attempts")
}

func TestVUSESendsEpochOnlyWhenSet(t *testing.T) {
	s1 := newFakeStore(t, "s1", "ks/0")
	top := fakeTopology("ks", [][]string{{"s1"}}, s1)
	c := testClient(t, top)
	ctx := context.Background()
	_, err := c.Put(ctx, "ks", []byte("k"), []byte("v"))
	require.NoError(t, err)
	require.Equal(t, []string{"VUSE ks 0"}, s1.vuseCommands(), "no EPOCH for epoch 0")

	next := top.Clone()
	next.Version++
	next.Keyspaces["ks"].Epoch = 7
	c.setTopology(next)
	_, err = c.Get(ctx, "ks", []byte("k"))
	require.NoError(t, err)
	require.Equal(t, []string{"VUSE ks 0", "VUSE ks 0 EPOCH 7"}, s1.vuseCommands())
}

func TestAlternativeReplicaForFailoverAndHedging(t *testing.T) {
	top, ks := routeTopology()
	c := testClient(t, nil)
	s1, s2, s3 := top.Stores["s1"], top.Stores["s2"], top.Stores["s3"]
	alt := func(write bool, s *topology.Store, tried ...string) string {
		sk := map[string]bool{}
		for _, id := range tried {
			sk[id] = true
		}
		if a := c.alternative(top, ks, 0, write, sk, s); a != nil {
			return a.ID
		}
		return "none"
	}
	// The next in placement order, never s itself nor a replica that
	// failed in this operation.
	require.Equal(t, "s2", alt(true, s1))
	require.Equal(t, "s1", alt(true, s2))
	require.Equal(t, "s3", alt(true, s1, "s2"))
	require.Equal(t, "none", alt(true, s1, "s2", "s3"))

	// Suspected replicas come last; for reads, so do replicas that do not
	// serve the shard.
	c.suspect(s2.Addr)
	require.Equal(t, "s3", alt(true, s1))
	s3.Serving = nil
	require.Equal(t, "s3", alt(true, s1))
	require.Equal(t, "s3", alt(false, s1), "not serving beats suspected")
	s3.Healthy = false
	require.Equal(t, "s2", alt(false, s1), "suspected beats none")
	require.Equal(t, "none", alt(false, s1, "s2"))
}
