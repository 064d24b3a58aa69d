package e2e

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vasto-kv/vasto/client"
	"github.com/vasto-kv/vasto/internal/devcluster"
	"github.com/vasto-kv/vasto/topology"
)

// load runs writers and readers against a keyspace until stopped and keeps
// the latest acknowledged value of every key. Each writer owns its keys and
// writes increasing values, so the latest acknowledged value is the one
// that must read back in the end.
type applied struct {
	version client.Version
	value   string
}

type load struct {
	t    *testing.T
	cl   *client.Client
	ks   string
	stop chan struct{}
	wg   sync.WaitGroup

	mu    sync.Mutex
	acked map[string]int
	how   map[string]string // how the latest acknowledged write of a key was taken
	fails []error
	// prefix is put before every value; best keeps, per key, the applied
	// write with the highest version (for checks across DCs).
	prefix string
	best   map[string]applied

	writes, reads atomic.Int64
}

func startLoad(t *testing.T, cl *client.Client, ks string, writers, readers, keysPerWriter int) *load {
	return startLoadPrefixed(t, cl, ks, "", writers, readers, keysPerWriter)
}

func startLoadPrefixed(t *testing.T, cl *client.Client, ks, prefix string, writers, readers, keysPerWriter int) *load {
	l := &load{t: t, cl: cl, ks: ks, stop: make(chan struct{}), acked: map[string]int{}, how: map[string]string{},
		prefix: prefix, best: map[string]applied{}}
	for w := 0; w < writers; w++ {
		l.wg.Add(1)
		go l.writer(w, keysPerWriter)
	}
	for r := 0; r < readers; r++ {
		l.wg.Add(1)
		go l.reader(writers, keysPerWriter)
	}
	t.Cleanup(l.halt)
	return l
}

func (l *load) fail(err error) {
	l.mu.Lock()
	l.fails = append(l.fails, err)
	l.mu.Unlock()
}

func (l *load) writer(w, keys int) {
	defer l.wg.Done()
	for n := 1; ; n++ {
		select {
		case <-l.stop:
			return
		default:
		}
		k := fmt.Sprintf("w%d-k%04d", w, n%keys)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		v := l.prefix + strconv.Itoa(n)
		r, err := l.cl.Put(ctx, l.ks, []byte(k), []byte(v))
		cancel()
		if err != nil {
			l.fail(fmt.Errorf("put %s: %w", k, err))
			continue
		}
		l.writes.Add(1)
		l.mu.Lock()
		l.acked[k] = n
		l.how[k] = fmt.Sprintf("store %s shard %d index %d applied %v version %v at %s", r.Store, r.Shard, r.LogIndex, r.Applied, r.Version,
			time.Now().Format("15:04:05.000"))
		if b, ok := l.best[k]; r.Applied && (!ok || b.version.Less(r.Version)) {
			l.best[k] = applied{r.Version, v}
		}
		l.mu.Unlock()
	}
}

func (l *load) reader(writers, keys int) {
	defer l.wg.Done()
	r := rand.New(rand.NewPCG(1, 2))
	for {
		select {
		case <-l.stop:
			return
		default:
		}
		k := fmt.Sprintf("w%d-k%04d", r.IntN(writers), r.IntN(keys))
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err := l.cl.Get(ctx, l.ks, []byte(k))
		cancel()
		if err != nil && !errors.Is(err, client.ErrNotFound) {
			l.fail(fmt.Errorf("get %s: %w", k, err))
			continue
		}
		l.reads.Add(1)
	}
}

// halt stops the load and waits for it (idempotent).
func (l *load) halt() {
	select {
	case <-l.stop:
	default:
		close(l.stop)
	}
	l.wg.Wait()
}

// check stops the load and requires that no operation failed and that
// every acknowledged key reads back with its latest acknowledged value.
func (l *load) check(t *testing.T) {
	t.Helper()
	l.halt()
	l.mu.Lock()
	defer l.mu.Unlock()
	require.Empty(t, l.fails, "failed client operations")
	require.NotZero(t, l.writes.Load())
	// Replicas apply each other's writes within milliseconds; a read may
	// reach one that has not yet, so wait for all to show (bounded).
	var bad string
	ok := assert.Eventually(t, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for k, n := range l.acked {
			it, err := l.cl.Get(ctx, l.ks, []byte(k))
			if err != nil {
				bad = fmt.Sprintf("%s: %v", k, err)
				return false
			}
			if string(it.Value) != strconv.Itoa(n) {
				bad = fmt.Sprintf("%s: read %s (version %v), acknowledged %d (%s)", k, it.Value, it.Version, n, l.how[k])
				return false
			}
		}
		return true
	}, 20*time.Second, 50*time.Millisecond)
	require.True(t, ok, "acknowledged write lost: %s", bad)
}

// waitWrites waits until the load acknowledged n more writes.
func (l *load) waitWrites(t *testing.T, n int64) {
	t.Helper()
	from := l.writes.Load()
	require.Eventually(t, func() bool { return l.writes.Load() >= from+n }, 30*time.Second, 5*time.Millisecond)
}

// fillThroughResize creates keyspace ks of 1 shard and 2 replicas, writes
// n keys, resizes it to 2 shards (the new shard filled from the old one's
// replicas) and reads every key back.
func fillThroughResize(t *testing.T, c *devcluster.Cluster, cl *client.Client, ks string, n int) {
	t.Helper()
	createKeyspace(t, c, cl, ks, 1, 2)
	ctx := ctxT(t)
	for i := range n {
		_, err := cl.Put(ctx, ks, []byte(keyN(i)), []byte(valN(i)))
		require.NoError(t, err)
	}
	resize(t, cl, ks, 2)
	waitServing(t, cl, ks)
	for i := range n {
		got, err := cl.Get(ctx, ks, []byte(keyN(i)))
		require.NoError(t, err)
		require.Equal(t, valN(i), string(got.Value))
	}
}

func resize(t *testing.T, cl *client.Client, ks string, shards int) topology.OpReply {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	started, err := cl.ResizeKeyspace(ctx, ks, shards, false)
	require.NoError(t, err)
	return waitOp(t, cl, started)
}

// onlyOwnedKeys waits until every shard of ks on every store holds only
// the keys it owns (the cleanup after a resize ran).
func onlyOwnedKeys(t *testing.T, c *devcluster.Cluster, cl *client.Client, ks string) {
	t.Helper()
	require.Eventually(t, func() bool {
		top := cl.Topology()
		k, ok := top.Keyspaces[ks]
		if !ok || k.Resize != nil {
			return false
		}
		for i := range c.Stores() {
			e := c.Engine(i)
			if e == nil {
				continue
			}
			for _, id := range e.Shards() {
				if id.Keyspace != ks {
					continue
				}
				if int(id.Shard) >= k.Shards {
					return false // a removed shard not dropped yet
				}
				sh, err := e.Shard(ks, id.Shard)
				if err != nil {
					return false
				}
				res, err := sh.Scan(scanAll())
				if err != nil {
					return false
				}
				for _, it := range res.Items {
					if topology.ShardOf(it.Key, k.Shards) != id.Shard {
						return false
					}
				}
			}
		}
		return true
	}, 30*time.Second, 50*time.Millisecond)
}

// TestResizeGrowAndShrinkUnderLoad grows a keyspace from 1 to 3 shards and
// shrinks it to 2 while writers and readers keep going: no client
// operation fails and every acknowledged write reads back.
func TestResizeGrowAndShrinkUnderLoad(t *testing.T) {
	c := startCluster(t, 3, nil)
	cl := newClient(t, c)
	createKeyspace(t, c, cl, "rs", 1, 2)
	l := startLoad(t, cl, "rs", 4, 2, 300)
	l.waitWrites(t, 1000)

	final := resize(t, cl, "rs", 3)
	require.Equal(t, 3, cl.Topology().Keyspaces["rs"].Shards)
	require.NotNil(t, final.Operation)
	l.waitWrites(t, 500)

	resize(t, cl, "rs", 2)
	l.waitWrites(t, 500)
	l.check(t)
	onlyOwnedKeys(t, c, cl, "rs")
}

// TestResizeSecondRefused: a resize of a keyspace being resized is
// refused, and a resize stuck in its copy (its only source is down) can be
// cancelled.
func TestResizeSecondRefused(t *testing.T) {
	c := startCluster(t, 2, nil)
	cl := newClient(t, c)
	createKeyspace(t, c, cl, "busy", 1, 1)
	ctx := ctxT(t)
	src := cl.Topology().Keyspaces["busy"].Placement[0][0]
	require.NoError(t, c.StopStore(ctx, storeIndex(t, c, src)))
	require.Eventually(t, func() bool { return !cl.Topology().Stores[src].Healthy }, 10*time.Second, 10*time.Millisecond)

	started, err := cl.ResizeKeyspace(ctx, "busy", 2, false)
	require.NoError(t, err, "the new shard goes to the healthy store; its fill waits for the source")
	waitVersion(t, cl, started.Version)
	_, err = cl.ResizeKeyspace(ctx, "busy", 4, false)
	require.ErrorIs(t, err, client.ErrBusy)
	_, err = cl.ResizeKeyspace(ctx, "nope", 2, true)
	require.Error(t, err, "unknown keyspace")

	desc, err := cl.DescribeKeyspace(ctx, "busy")
	require.NoError(t, err)
	require.NotNil(t, desc.Progress)
	require.Equal(t, topology.PhaseCopy, desc.Progress.Phase)

	_, err = cl.CancelResize(ctx, "busy")
	require.NoError(t, err)
	op, err := cl.Operation(ctx, started.Operation.ID)
	require.NoError(t, err)
	require.Equal(t, topology.OpCancelled, op.Operation.State)
	waitVersion(t, cl, op.Version)
	require.Equal(t, 1, cl.Topology().Keyspaces["busy"].Shards)
	require.Nil(t, cl.Topology().Keyspaces["busy"].Resize)
}

// TestResizeSurvivesMasterRestart kills the master while a resize copies;
// a new master picks the resize up from the topology and finishes it.
func TestResizeSurvivesMasterRestart(t *testing.T) {
	c := startCluster(t, 3, nil)
	cl := newClient(t, c)
	createKeyspace(t, c, cl, "mr", 1, 1)
	l := startLoad(t, cl, "mr", 2, 1, 200)
	l.waitWrites(t, 500)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	started, err := cl.ResizeKeyspace(ctx, "mr", 4, false)
	require.NoError(t, err)
	require.NoError(t, c.StopMaster(ctx))
	l.waitWrites(t, 200) // the data path does not need the master
	require.NoError(t, c.StartMaster(ctx))
	waitOp(t, cl, started)
	require.Equal(t, 4, cl.Topology().Keyspaces["mr"].Shards)
	l.waitWrites(t, 200)
	l.check(t)
}

// storeIndex returns the index in c of the store with id.
func storeIndex(t *testing.T, c *devcluster.Cluster, id string) int {
	t.Helper()
	for i, s := range c.Stores() {
		if s.ID == id {
			return i
		}
	}
	t.Fatalf("no store %s", id)
	return -1
}

// replicaAndSpare returns the preferred replica of shard 0 of ks and a
// healthy store that holds none of the shards that store holds.
func replicaAndSpare(t *testing.T, cl *client.Client, ks string) (held, spare string) {
	t.Helper()
	top := cl.Topology()
	k := top.Keyspaces[ks]
	held = k.Placement[0][0]
	busy := map[string]bool{}
	for _, reps := range k.Placement {
		if slices.Contains(reps, held) {
			for _, r := range reps {
				busy[r] = true
			}
		}
	}
	for _, id := range top.StoreIDs() {
		if !busy[id] && top.Stores[id].Healthy {
			return held, id
		}
	}
	t.Fatalf("no spare store for the shards of %s", held)
	return "", ""
}

// waitOp waits until the operation started with reply is done and the
// client follows the topology that ended it, and returns its last reply.
func waitOp(t *testing.T, cl *client.Client, reply topology.OpReply) topology.OpReply {
	t.Helper()
	require.NotNil(t, reply.Operation)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	final, err := cl.WaitOperation(ctx, reply.Operation.ID, 20*time.Millisecond, nil)
	require.NoError(t, err)
	require.Equal(t, topology.OpDone, final.Operation.State)
	waitVersion(t, cl, final.Version)
	return final
}

// waitVersion waits until the client follows topology version v or later.
func waitVersion(t *testing.T, cl *client.Client, v uint64) {
	t.Helper()
	require.Eventually(t, func() bool { return cl.Topology().Version >= v }, 10*time.Second, 5*time.Millisecond)
}

// placedOn reports whether store holds any replica of ks.
func placedOn(cl *client.Client, ks, store string) bool {
	for _, reps := range cl.Topology().Keyspaces[ks].Placement {
		if slices.Contains(reps, store) {
			return true
		}
	}
	return false
}

// TestReplaceLiveStoreUnderLoad moves every replica of a live store to a
// spare one while clients write and read: nothing fails or is lost, and the
// old store drops its copy.
func TestReplaceLiveStoreUnderLoad(t *testing.T) {
	c := startCluster(t, 4, nil)
	cl := newClient(t, c)
	createKeyspace(t, c, cl, "rp", 2, 1)
	old, spare := replicaAndSpare(t, cl, "rp")
	l := startLoad(t, cl, "rp", 3, 1, 200)
	l.waitWrites(t, 1000)
	ctx := ctxT(t)
	reply, err := cl.ReplaceStore(ctx, old, spare, false)
	require.NoError(t, err)
	waitOp(t, cl, reply)
	require.False(t, placedOn(cl, "rp", old))
	require.True(t, placedOn(cl, "rp", spare))
	l.waitWrites(t, 500)
	l.check(t)
	e := c.Engine(storeIndex(t, c, old))
	require.Eventually(t, func() bool {
		for _, id := range e.Shards() {
			if id.Keyspace == "rp" {
				return false
			}
		}
		return true
	}, 20*time.Second, 20*time.Millisecond, "the old store drops the shards it no longer holds")
}

// TestReplaceDeadStore replaces a store that is down: its replicas are
// refilled from the live ones and every acknowledged write survives.
func TestReplaceDeadStore(t *testing.T) {
	c := startCluster(t, 4, nil)
	cl := newClient(t, c)
	createKeyspace(t, c, cl, "rd", 2, 2)
	old, spare := replicaAndSpare(t, cl, "rd")
	l := startLoad(t, cl, "rd", 3, 1, 200)
	l.waitWrites(t, 1000)
	ctx := ctxT(t)
	require.NoError(t, c.StopStore(ctx, storeIndex(t, c, old)))
	require.Eventually(t, func() bool { return !cl.Topology().Stores[old].Healthy }, 10*time.Second, 10*time.Millisecond)
	reply, err := cl.ReplaceStore(ctx, old, spare, false)
	require.NoError(t, err)
	waitOp(t, cl, reply)
	require.False(t, placedOn(cl, "rd", old))
	l.waitWrites(t, 500)
	l.check(t)
	waitServing(t, cl, "rd")
}

// TestDrainAndRebalance drains a store while clients write, then
// rebalances the keyspace back onto it.
func TestDrainAndRebalance(t *testing.T) {
	c := startCluster(t, 3, nil)
	cl := newClient(t, c)
	createKeyspace(t, c, cl, "db", 3, 2)
	l := startLoad(t, cl, "db", 2, 1, 200)
	l.waitWrites(t, 500)
	ctx := ctxT(t)

	plan, err := cl.Rebalance(ctx, "db", true)
	require.NoError(t, err)
	require.Empty(t, plan.Moves, "balanced already")

	victim := cl.Topology().Keyspaces["db"].Placement[0][0]
	reply, err := cl.DrainStore(ctx, victim, false)
	require.NoError(t, err)
	waitOp(t, cl, reply)
	require.False(t, placedOn(cl, "db", victim))
	l.waitWrites(t, 300)

	plan, err = cl.Rebalance(ctx, "db", true)
	require.NoError(t, err)
	require.Len(t, plan.Moves, 2, "6 replicas on 3 stores: 2 move back to the drained store")
	for _, m := range plan.Moves {
		require.Equal(t, victim, m.To)
	}
	reply, err = cl.Rebalance(ctx, "db", false)
	require.NoError(t, err)
	waitOp(t, cl, reply)
	require.Equal(t, map[string]int{"store1": 2, "store2": 2, "store3": 2}, cl.Topology().Load())
	l.waitWrites(t, 300)
	l.check(t)
}

// TestResizeWhileAnotherDCWrites resizes a keyspace in dc1 (1 -> 3 -> 2
// shards) while both DCs write the same keys: no operation fails, and both
// DCs converge on the applied write with the highest version of every key.
func TestResizeWhileAnotherDCWrites(t *testing.T) {
	cs := startDCs(t, 3, "dc1", "dc2")
	c1, c2 := newClient(t, cs[0]), newClient(t, cs[1])
	createKeyspace(t, cs[0], c1, "xr", 1, 2)
	createKeyspace(t, cs[1], c2, "xr", 2, 1)
	l1 := startLoadPrefixed(t, c1, "xr", "dc1-", 2, 1, 150)
	l2 := startLoadPrefixed(t, c2, "xr", "dc2-", 2, 1, 150)
	l1.waitWrites(t, 500)
	l2.waitWrites(t, 500)
	resize(t, c1, "xr", 3)
	l2.waitWrites(t, 300)
	resize(t, c1, "xr", 2)
	l1.waitWrites(t, 300)
	l2.waitWrites(t, 300)
	l1.halt()
	l2.halt()
	require.Empty(t, l1.fails, "dc1 client operations failed")
	require.Empty(t, l2.fails, "dc2 client operations failed")

	want := map[string]applied{}
	for _, l := range []*load{l1, l2} {
		for k, a := range l.best {
			if b, ok := want[k]; !ok || b.version.Less(a.version) {
				want[k] = a
			}
		}
	}
	require.NotEmpty(t, want)
	var bad string
	ok := assert.Eventually(t, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for _, cl := range []*client.Client{c1, c2} {
			for k, a := range want {
				it, err := cl.Get(ctx, "xr", []byte(k))
				if err != nil || string(it.Value) != a.value {
					bad = fmt.Sprintf("%s: got %v (err %v), want %s at %v", k, it, err, a.value, a.version)
					return false
				}
			}
		}
		return true
	}, 30*time.Second, 100*time.Millisecond)
	require.True(t, ok, "DCs did not converge: %s", bad)
	onlyOwnedKeys(t, cs[0], c1, "xr")
}

// TestResizeSurvivesTargetRestart stops a store that fills a new shard in
// the middle of a resize and starts it again: its fill resumes (a finished
// copy is kept, the tails resume) and the resize completes without losing
// an acknowledged write.
func TestResizeSurvivesTargetRestart(t *testing.T) {
	c := startCluster(t, 3, nil)
	cl := newClient(t, c)
	createKeyspace(t, c, cl, "tr", 1, 1)
	l := startLoad(t, cl, "tr", 3, 1, 300)
	l.waitWrites(t, 1000)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	src := cl.Topology().Keyspaces["tr"].Placement[0][0]
	// Stop a store that fills a new shard right after the resize started
	// (its fill may be copying or tailing), then start it again.
	started, err := cl.ResizeKeyspace(ctx, "tr", 3, false)
	require.NoError(t, err)
	waitVersion(t, cl, started.Version)
	target := cl.Topology().Keyspaces["tr"].Resize.Placement[1][0]
	require.NotEqual(t, src, target)
	i := storeIndex(t, c, target)
	require.NoError(t, c.StopStore(ctx, i))
	l.waitWrites(t, 300)
	require.NoError(t, c.StartStore(ctx, i))
	waitOp(t, cl, started)
	l.waitWrites(t, 300)
	l.check(t)
	onlyOwnedKeys(t, c, cl, "tr")
}

// TestOldOwnerAnswersMoved: after a resize switched, the store that owned a
// moved key answers MOVED for it (reads and writes), so a client with an
// older topology retries on the new layout instead of writing where the key
// no longer lives; keys it still owns work as before.
func TestOldOwnerAnswersMoved(t *testing.T) {
	c := startCluster(t, 3, nil)
	cl := newClient(t, c)
	createKeyspace(t, c, cl, "mv", 1, 1)
	resize(t, cl, "mv", 3)
	top := cl.Topology()
	ks := top.Keyspaces["mv"]
	old := top.Stores[ks.Placement[0][0]]
	var moved, kept string
	for i := 0; moved == "" || kept == ""; i++ {
		k := fmt.Sprintf("k%d", i)
		if topology.ShardOf([]byte(k), 3) == 0 {
			kept = k
		} else {
			moved = k
		}
	}
	rc := redis.NewClient(&redis.Options{Addr: old.Addr, Protocol: 2, DisableIdentity: true, PoolSize: 1})
	defer func() { _ = rc.Close() }()
	ctx := ctxT(t)
	// The old owner adopts the new layout within a moment of the switch.
	require.Eventually(t, func() bool {
		cmds, _ := rc.Pipelined(ctx, func(p redis.Pipeliner) error {
			p.Do(ctx, "VUSE", "mv", 0, "EPOCH", ks.ShardEpoch(0))
			p.Do(ctx, "SET", moved, "x")
			return nil
		})
		return cmds[1].Err() != nil && strings.HasPrefix(cmds[1].Err().Error(), "MOVED")
	}, 10*time.Second, 10*time.Millisecond)
	cmds, err := rc.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.Do(ctx, "VUSE", "mv", 0, "EPOCH", ks.ShardEpoch(0))
		p.Do(ctx, "GET", moved)
		p.Do(ctx, "SET", kept, "y")
		p.Do(ctx, "GET", kept)
		return nil
	})
	require.Error(t, err)
	require.ErrorContains(t, cmds[1].Err(), "MOVED")
	require.NoError(t, cmds[2].Err())
	require.Equal(t, "y", cmds[3].(*redis.Cmd).Val())

	// Through the client, the moved key lands on its new shard.
	r, err := cl.Put(ctx, "mv", []byte(moved), []byte("z"))
	require.NoError(t, err)
	require.NotEqual(t, uint32(0), r.Shard)
}

// TestReplicaMovedBackReplicates moves a replica off a store and back onto
// it: the store creates the shard again, whose change-log indexes restart
// at 1, and its new writes must still reach the other replica (JetStream
// must not take them for duplicates of the old entries).
func TestReplicaMovedBackReplicates(t *testing.T) {
	c := startCluster(t, 3, nil)
	cl := newClient(t, c)
	createKeyspace(t, c, cl, "back", 1, 2)
	ctx := ctxT(t)
	a := cl.Topology().Keyspaces["back"].Placement[0][0]
	for i := 0; i < 50; i++ {
		_, err := cl.Put(ctx, "back", []byte(fmt.Sprintf("old%02d", i)), []byte("v"))
		require.NoError(t, err)
	}
	reply, err := cl.DrainStore(ctx, a, false)
	require.NoError(t, err)
	waitOp(t, cl, reply)
	c2 := cl.Topology().Keyspaces["back"].Placement[0][0] // took a's place
	ea := c.Engine(storeIndex(t, c, a))
	require.Eventually(t, func() bool {
		_, err := ea.Shard("back", 0)
		return err != nil
	}, 20*time.Second, 10*time.Millisecond, "a drops the shard it left")
	reply, err = cl.ReplaceStore(ctx, c2, a, false)
	require.NoError(t, err)
	waitOp(t, cl, reply)
	reps := cl.Topology().Keyspaces["back"].Placement[0]
	require.Equal(t, a, reps[0], "a is the preferred replica again")
	other := reps[1]
	for i := 0; i < 50; i++ {
		r, err := cl.Put(ctx, "back", []byte(fmt.Sprintf("new%02d", i)), []byte("v"))
		require.NoError(t, err)
		require.Equal(t, a, r.Store)
		require.Greater(t, r.LogIndex, uint64(50), "the re-created shard continues its log after what it published")
	}
	e := c.Engine(storeIndex(t, c, other))
	require.Eventually(t, func() bool {
		sh, err := e.Shard("back", 0)
		if err != nil {
			return false
		}
		for i := 0; i < 50; i++ {
			if _, err := sh.Get([]byte(fmt.Sprintf("new%02d", i))); err != nil {
				return false
			}
		}
		return true
	}, 20*time.Second, 20*time.Millisecond, "the other replica applies the re-created shard's writes")
}

// TestResizeWithStoreKill9 kills a store process with SIGKILL while a
// keyspace is resized under load and starts it again: no client operation
// fails (every shard has a second replica), the resize completes, and every
// acknowledged write reads back.
func TestResizeWithStoreKill9(t *testing.T) {
	c := startCluster(t, 2, nil)
	cl := newClient(t, c)
	child := startChildStore(t, c, cl, "crashy")
	createKeyspace(t, c, cl, "k9", 1, 2)
	l := startLoad(t, cl, "k9", 3, 1, 300)
	l.waitWrites(t, 1000)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	started, err := cl.ResizeKeyspace(ctx, "k9", 3, false)
	require.NoError(t, err)
	child.kill()
	l.waitWrites(t, 300)
	child.start()
	waitOp(t, cl, started)
	l.waitWrites(t, 300)
	l.check(t)
}
