package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vasto-kv/vasto/lww"
)

// errInjectedFull stands in for RocksDB's answer on a full disk.
var errInjectedFull = errors.New("IO error: No space left on device: While appending to file: 000009.log: No space left on device")

// diskFault fails every write to a shard's database, and every recovery
// probe and reopen, while full is set, and counts the writes that reached
// it.
type diskFault struct {
	full   atomic.Bool
	mu     sync.Mutex
	writes map[string]int // op -> calls, probes excluded
}

func injectDiskFault(s *Shard) *diskFault {
	f := &diskFault{writes: map[string]int{}}
	fn := func(op string) error {
		if op != "probe" && op != "reopen" {
			f.mu.Lock()
			f.writes[op]++
			f.mu.Unlock()
		}
		if f.full.Load() {
			return errInjectedFull
		}
		return nil
	}
	s.fault.Store(&fn)
	return f
}

func (f *diskFault) calls() map[string]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]int{}
	for k, v := range f.writes {
		out[k] = v
	}
	return out
}

// TestFailedWriteMakesShardReadOnlyUntilReopened: after a write to the
// database fails, no write of any kind reaches the database again, reads go
// on, and once the disk has room the shard reopens its database on its own
// and takes writes again, with everything acknowledged still there.
func TestFailedWriteMakesShardReadOnlyUntilReopened(t *testing.T) {
	s, _ := testShard(t, func(c *Config) { c.ReadOnlyProbe = 5 * time.Millisecond })
	ctx := context.Background()
	for i := 0; i < 10; i++ {
		_, err := s.Put(ctx, []byte(fmt.Sprintf("k%d", i)), []byte(fmt.Sprintf("v%d", i)))
		require.NoError(t, err)
	}
	require.NoError(t, s.SetEpoch(7))
	require.NoError(t, s.putMeta(metaLayout, 4))
	_, err := s.ApplyRemote(ctx, "peer", 3, []lww.Change{{Key: []byte("r"), Record: rec(baseTime-5, "dc1", "peer", "remote")}})
	require.NoError(t, err)
	require.Empty(t, s.ReadOnly())

	fault := injectDiskFault(s)
	fault.full.Store(true)
	_, err = s.Put(ctx, []byte("lost"), []byte("x"))
	require.ErrorIs(t, err, errInjectedFull, "the first failure reports the engine's error")
	require.NotErrorIs(t, err, ErrReadOnly)
	require.Equal(t, errInjectedFull.Error(), s.ReadOnly())

	// Every kind of write is refused before it reaches the database.
	_, err = s.Put(ctx, []byte("k0"), []byte("again"))
	require.ErrorIs(t, err, ErrReadOnly)
	require.Contains(t, err.Error(), "ks/0")
	require.Contains(t, err.Error(), "No space left on device")
	_, err = s.Write(ctx, Mutation{Key: []byte("k1"), Delete: true})
	require.ErrorIs(t, err, ErrReadOnly)
	_, err = s.ApplyRemote(ctx, "peer", 4, []lww.Change{{Key: []byte("r2"), Record: rec(baseTime-4, "dc1", "peer", "x")}})
	require.ErrorIs(t, err, ErrReadOnly)
	_, err = s.ApplyRemote(ctx, "peer", 5, nil) // a cursor move alone
	require.ErrorIs(t, err, ErrReadOnly)
	_, err = s.Ingest(ctx, []lww.Change{{Key: []byte("i"), Record: rec(baseTime-3, "dc1", "peer", "x")}})
	require.ErrorIs(t, err, ErrReadOnly)
	require.ErrorIs(t, s.Forget(ctx, []Item{{Key: []byte("k2"), Record: rec(baseTime, "dc1", "store1", "v2")}}), ErrReadOnly)
	require.ErrorIs(t, s.TrimLog(5), ErrReadOnly)
	require.ErrorIs(t, s.putMeta(metaLayout, 8), ErrReadOnly)
	require.ErrorIs(t, s.putMeta(metaLayout, 0), ErrReadOnly)
	require.ErrorIs(t, s.SetEpoch(8), ErrReadOnly)
	require.ErrorIs(t, s.Compact(), ErrReadOnly)
	require.ErrorIs(t, s.Checkpoint(t.TempDir()+"/cp"), ErrReadOnly)
	require.Equal(t, map[string]int{"commit": 1}, fault.calls(), "nothing but the failed commit reached the database")

	// Reads go on.
	for i := 0; i < 10; i++ {
		got, err := s.Get([]byte(fmt.Sprintf("k%d", i)))
		require.NoError(t, err)
		require.Equal(t, fmt.Sprintf("v%d", i), string(got.Value))
	}
	res, err := s.Scan(ScanOptions{Limit: 100})
	require.NoError(t, err)
	require.Len(t, res.Items, 11)
	entries, err := s.ReadLog(1, 100)
	require.NoError(t, err)
	require.Len(t, entries, 10)
	_, last := s.LogBounds()
	require.Equal(t, uint64(10), last)

	// Room again: the shard reopens and takes writes.
	fault.full.Store(false)
	require.Eventually(t, func() bool { return s.ReadOnly() == "" }, 10*time.Second, 5*time.Millisecond)
	r, err := s.Put(ctx, []byte("after"), []byte("y"))
	require.NoError(t, err)
	require.Equal(t, uint64(11), r.LogIndex, "the log goes on where it was")
	for i := 0; i < 10; i++ {
		got, err := s.Get([]byte(fmt.Sprintf("k%d", i)))
		require.NoError(t, err)
		require.Equal(t, fmt.Sprintf("v%d", i), string(got.Value))
	}
	require.Equal(t, uint64(7), s.Epoch())
	layout, err := s.getMeta(metaLayout)
	require.NoError(t, err)
	require.Equal(t, uint64(4), layout)
	cur, err := s.Cursor("peer")
	require.NoError(t, err)
	require.Equal(t, uint64(3), cur)
	_, err = s.Get([]byte("lost"))
	require.ErrorIs(t, err, ErrNotFound, "the failed write did not land")
	require.NoError(t, s.TrimLog(5))
	require.NoError(t, s.SetEpoch(8))
}

// TestReadOnlyShardFailsAgainAfterReopen: while the disk stays full the
// shard probes again and again (never writing), and a second failure after
// a reopen makes it read-only again and probing again.
func TestReadOnlyShardFailsAgainAfterReopen(t *testing.T) {
	s, _ := testShard(t, func(c *Config) { c.ReadOnlyProbe = time.Millisecond })
	ctx := context.Background()
	fault := injectDiskFault(s)
	var probes atomic.Int64
	inner := *s.fault.Load()
	fn := func(op string) error {
		if op == "probe" {
			probes.Add(1)
		}
		return inner(op)
	}
	s.fault.Store(&fn)
	for round := 0; round < 3; round++ {
		fault.full.Store(true)
		_, err := s.Put(ctx, []byte("k"), []byte("v"))
		require.ErrorIs(t, err, errInjectedFull)
		before := probes.Load()
		require.Eventually(t, func() bool { return probes.Load() >= before+3 }, 10*time.Second, time.Millisecond)
		_, err = s.Put(ctx, []byte("k"), []byte("v"))
		require.ErrorIs(t, err, ErrReadOnly)
		fault.full.Store(false)
		require.Eventually(t, func() bool { return s.ReadOnly() == "" }, 10*time.Second, time.Millisecond)
		_, err = s.Put(ctx, []byte("k"), []byte("v"))
		require.NoError(t, err)
	}
	require.Equal(t, 6, fault.calls()["commit"], "per round one failed and one good commit")
}

// TestReadOnlyShardCloses: a read-only shard closes (no WAL flush through
// the writer that failed) and its probing goroutine ends with it (goleak
// checks the package).
func TestReadOnlyShardCloses(t *testing.T) {
	e, _ := testEngine(t, func(c *Config) { c.ReadOnlyProbe = time.Millisecond })
	s, err := e.CreateShard("ks", 0)
	require.NoError(t, err)
	fault := injectDiskFault(s)
	fault.full.Store(true)
	_, err = s.Put(context.Background(), []byte("k"), []byte("v"))
	require.Error(t, err)
	require.NotEmpty(t, s.ReadOnly())
	require.NoError(t, e.DropShard("ks", 0))
	_, err = s.Put(context.Background(), []byte("k"), []byte("v"))
	require.ErrorIs(t, err, ErrClosed)
}

// TestReadOnlyOverTheWire: the server answers writes of a read-only shard
// with RDONLY, keeps answering reads, and INFO tells which shard and why.
func TestReadOnlyOverTheWire(t *testing.T) {
	srv, e := testServer(t)
	sh, err := e.Shard(defaultKeyspace, 0)
	require.NoError(t, err)
	rc := testClient(t, srv)
	ctx := context.Background()
	require.NoError(t, rc.Set(ctx, "a", "1", 0).Err())
	fault := injectDiskFault(sh)
	fault.full.Store(true)

	err = rc.Set(ctx, "b", "2", 0).Err()
	require.Error(t, err)
	require.True(t, strings.HasPrefix(err.Error(), "IOERR "), err.Error())
	err = rc.Set(ctx, "c", "3", 0).Err()
	require.Error(t, err)
	require.Equal(t, "RDONLY shard read-only: "+defaultKeyspace+"/0: "+errInjectedFull.Error(), err.Error())
	require.ErrorContains(t, rc.Do(ctx, "VSET", "c", "3").Err(), "RDONLY ")
	require.ErrorContains(t, rc.Del(ctx, "a").Err(), "RDONLY ")
	v, err := rc.Get(ctx, "a").Result()
	require.NoError(t, err)
	require.Equal(t, "1", v)

	info, err := rc.Info(ctx).Result()
	require.NoError(t, err)
	require.Contains(t, info, defaultKeyspace+":shard=0,")
	require.Contains(t, info, ",read_only=1\r\n")
	require.Contains(t, info, "read_only_shards:1\r\n")
	require.Contains(t, info, defaultKeyspace+"/0:"+errInjectedFull.Error()+"\r\n")

	fault.full.Store(false)
	require.Eventually(t, func() bool { return rc.Set(ctx, "c", "3", 0).Err() == nil }, 10*time.Second, 10*time.Millisecond)
	info, err = rc.Info(ctx).Result()
	require.NoError(t, err)
	require.Contains(t, info, "read_only_shards:0\r\n")
	require.Contains(t, info, ",read_only=0\r\n")
}

// TestReadOnlyShardStillTakesOwnerChanges: SetOwner writes nothing, so a
// resize can switch a read-only shard's owner (reads then answer MOVED for
// keys that left).
func TestReadOnlyShardStillTakesOwnerChanges(t *testing.T) {
	s, _ := testShard(t, nil)
	ctx := context.Background()
	_, err := s.Put(ctx, []byte("k"), []byte("v"))
	require.NoError(t, err)
	fault := injectDiskFault(s)
	fault.full.Store(true)
	_, err = s.Put(ctx, []byte("k2"), []byte("v"))
	require.ErrorIs(t, err, errInjectedFull)
	fence, err := s.SetOwner(ctx, Owner{Shards: 2, Index: 1}, 9)
	require.NoError(t, err)
	require.Equal(t, uint64(1), fence)
	require.Equal(t, map[string]int{"commit": 1}, fault.calls())
}

// TestReadOnlyShardServesReadsWhenReopenFails: when the disk seemed to have
// room but opening the database for writes fails, the shard opens it
// read-only, keeps serving reads and refusing writes, and tries again.
func TestReadOnlyShardServesReadsWhenReopenFails(t *testing.T) {
	s, _ := testShard(t, func(c *Config) { c.ReadOnlyProbe = time.Millisecond })
	ctx := context.Background()
	_, err := s.Put(ctx, []byte("k"), []byte("v"))
	require.NoError(t, err)
	var full, reopenFails atomic.Bool
	var reopens atomic.Int64
	fn := func(op string) error {
		switch {
		case op == "reopen":
			reopens.Add(1)
			if reopenFails.Load() {
				return errInjectedFull
			}
		case op != "probe" && full.Load():
			return errInjectedFull
		}
		return nil
	}
	s.fault.Store(&fn)
	full.Store(true)
	reopenFails.Store(true)
	_, err = s.Put(ctx, []byte("k2"), []byte("v"))
	require.ErrorIs(t, err, errInjectedFull)
	full.Store(false) // the write path would work: only the reopen fails

	require.Eventually(t, func() bool { return reopens.Load() >= 3 }, 10*time.Second, time.Millisecond)
	for i := 0; i < 3; i++ {
		got, err := s.Get([]byte("k"))
		require.NoError(t, err, "reads go on from the database opened read-only")
		require.Equal(t, "v", string(got.Value))
		_, err = s.Put(ctx, []byte("k3"), []byte("v"))
		require.ErrorIs(t, err, ErrReadOnly)
	}
	require.NotEmpty(t, s.ReadOnly())

	reopenFails.Store(false)
	require.Eventually(t, func() bool { return s.ReadOnly() == "" }, 10*time.Second, time.Millisecond)
	r, err := s.Put(ctx, []byte("k3"), []byte("v"))
	require.NoError(t, err)
	require.Equal(t, uint64(2), r.LogIndex)
}
