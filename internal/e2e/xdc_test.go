package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vasto-kv/vasto/client"
	"github.com/vasto-kv/vasto/internal/devcluster"
)

func startDCs(t *testing.T, stores int, dcs ...string) []*devcluster.Cluster {
	t.Helper()
	return startDCsWith(t, stores, dcs, nil)
}

// startDCsWith is startDCs with set (if not nil) adjusting the DCs'
// common configuration.
func startDCsWith(t *testing.T, stores int, dcs []string, set func(*devcluster.Config)) []*devcluster.Cluster {
	t.Helper()
	cfg := devcluster.DefaultConfig(t.TempDir())
	cfg.Stores = stores
	cfg.Logger = testLogger(t)
	if set != nil {
		set(&cfg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cs, err := devcluster.StartMulti(ctx, cfg, dcs)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		require.NoError(t, devcluster.ShutdownAll(ctx, cs))
	})
	for _, c := range cs {
		require.NoError(t, c.WaitReady(ctx))
	}
	return cs
}

// TestActiveActiveConvergence writes the same keys in two DCs whose
// keyspaces have different shard counts, with interleaved event times, and
// checks both DCs converge on the latest write of every key.
func TestActiveActiveConvergence(t *testing.T) {
	cs := startDCs(t, 2, "dc1", "dc2")
	c1, c2 := newClient(t, cs[0]), newClient(t, cs[1])
	createKeyspace(t, cs[0], c1, "aa", 3, 2)
	createKeyspace(t, cs[1], c2, "aa", 2, 1)
	ctx := ctxT(t)
	base := time.Now().UnixNano() - int64(time.Second)
	want := map[string]string{}
	for i := 0; i < 100; i++ {
		k := fmt.Sprintf("k%03d", i)
		// dc1 writes at even offsets, dc2 at odd; for some keys dc1 is later.
		t1, t2 := base+int64(2*i), base+int64(2*i+1)
		if i%3 == 0 {
			t1, t2 = t2+10, t1
		}
		_, err := c1.Put(ctx, "aa", []byte(k), []byte("from-dc1"), client.WithEventTime(t1))
		require.NoError(t, err)
		_, err = c2.Put(ctx, "aa", []byte(k), []byte("from-dc2"), client.WithEventTime(t2))
		require.NoError(t, err)
		if t1 > t2 {
			want[k] = "from-dc1"
		} else {
			want[k] = "from-dc2"
		}
	}
	// A delete in dc2 wins everywhere too.
	_, err := c2.Delete(ctx, "aa", []byte("k050"), client.WithEventTime(base+int64(time.Millisecond)))
	require.NoError(t, err)
	delete(want, "k050")

	for _, cl := range []*client.Client{c1, c2} {
		require.Eventually(t, func() bool {
			for k, v := range want {
				it, err := cl.Get(ctx, "aa", []byte(k))
				if err != nil || string(it.Value) != v {
					return false
				}
			}
			_, err := cl.Get(ctx, "aa", []byte("k050"))
			return err != nil
		}, 30*time.Second, 100*time.Millisecond, "DCs converge on the latest write of every key")
	}
	it, err := c1.Get(ctx, "aa", []byte("k001"))
	require.NoError(t, err)
	require.Equal(t, want["k001"][5:], it.Version.DC, "the origin DC travels with the record")
}

// TestRemoteChangesWaitForTheKeyspace writes in dc1 to a keyspace dc2 does
// not have yet; once dc2 creates it, the changes apply.
func TestRemoteChangesWaitForTheKeyspace(t *testing.T) {
	cs := startDCs(t, 1, "dc1", "dc2")
	c1, c2 := newClient(t, cs[0]), newClient(t, cs[1])
	createKeyspace(t, cs[0], c1, "later", 2, 1)
	ctx := ctxT(t)
	for i := 0; i < 30; i++ {
		_, err := c1.Put(ctx, "later", []byte(fmt.Sprintf("k%d", i)), []byte("v"))
		require.NoError(t, err)
	}
	createKeyspace(t, cs[1], c2, "later", 1, 1)
	require.Eventually(t, func() bool {
		for i := 0; i < 30; i++ {
			if _, err := c2.Get(ctx, "later", []byte(fmt.Sprintf("k%d", i))); err != nil {
				return false
			}
		}
		return true
	}, 30*time.Second, 100*time.Millisecond)
}

// TestReadYourWritesAcrossDCs writes in dc1 and reads in dc2 with the
// write's token: the read waits until dc2 applied it.
func TestReadYourWritesAcrossDCs(t *testing.T) {
	cs := startDCs(t, 1, "dc1", "dc2")
	c1, c2 := newClient(t, cs[0]), newClient(t, cs[1])
	createKeyspace(t, cs[0], c1, "ryw", 2, 1)
	createKeyspace(t, cs[1], c2, "ryw", 3, 1)
	ctx := ctxT(t)
	for i := 0; i < 20; i++ {
		k := []byte(fmt.Sprintf("k%d", i))
		r, err := c1.Put(ctx, "ryw", k, []byte(fmt.Sprintf("v%d", i)))
		require.NoError(t, err)
		require.NotEmpty(t, r.Token())
		it, err := c2.Get(ctx, "ryw", k, client.WithAfter(r.Token(), 10*time.Second))
		require.NoError(t, err, "a read with the token sees the write at once")
		require.Equal(t, fmt.Sprintf("v%d", i), string(it.Value))
	}
	// A token for a write that never happened times out with ErrBehind.
	_, err := c2.Get(ctx, "ryw", []byte("k0"), client.WithAfter("dc1:store1:0:999999", 50*time.Millisecond))
	require.ErrorIs(t, err, client.ErrBehind)
	// A malformed token is refused.
	_, err = c2.Get(ctx, "ryw", []byte("k0"), client.WithAfter("garbage", time.Second))
	require.ErrorIs(t, err, client.ErrInvalid)
}

// TestThreeDCsConflictingWritesConverge has three DCs (different shard
// counts) write the same keys concurrently, some with equal event times, and
// checks every DC ends with the LWW winner, ties broken by origin DC name.
// It also checks no change was echoed: each DC's change logs hold exactly
// the writes that DC accepted itself.
func TestThreeDCsConflictingWritesConverge(t *testing.T) {
	cs := startDCs(t, 1, "dc1", "dc2", "dc3")
	dcs := []string{"dc1", "dc2", "dc3"}
	var cls []*client.Client
	for i, c := range cs {
		cl := newClient(t, c)
		createKeyspace(t, c, cl, "tri", 1+i, 1)
		cls = append(cls, cl)
	}
	ctx := ctxT(t)
	base := time.Now().UnixNano() - int64(2*time.Second)
	want := map[string]string{}
	applied := make([]int, 3)
	done := make(chan error, 3)
	for d := range cls {
		go func() {
			for i := 0; i < 40; i++ {
				k := fmt.Sprintf("k%02d", i)
				ts := base + int64(i)*1000 // equal in every DC: ties
				switch i % 4 {
				case 1:
					ts += int64(d) * 7 // dc3 latest
				case 2:
					ts -= int64(d) * 7 // dc1 latest
				}
				r, err := cls[d].Put(ctx, "tri", []byte(k), []byte("from-"+dcs[d]), client.WithEventTime(ts))
				if err != nil {
					done <- err
					return
				}
				if r.Applied {
					applied[d]++
				}
			}
			done <- nil
		}()
	}
	for range cls {
		require.NoError(t, <-done)
	}
	for i := 0; i < 40; i++ {
		winner := "dc3" // equal times: the greatest DC name wins
		if i%4 == 2 {
			winner = "dc1"
		}
		want[fmt.Sprintf("k%02d", i)] = "from-" + winner
	}
	for d, cl := range cls {
		require.Eventually(t, func() bool {
			for k, v := range want {
				it, err := cl.Get(ctx, "tri", []byte(k))
				if err != nil || string(it.Value) != v {
					return false
				}
			}
			return true
		}, 60*time.Second, 100*time.Millisecond, "%s converges", dcs[d])
	}
	for d, c := range cs {
		var logged uint64
		for _, id := range c.Engine(0).Shards() {
			sh, err := c.Engine(0).Shard(id.Keyspace, id.Shard)
			require.NoError(t, err)
			_, last := sh.LogBounds()
			logged += last
		}
		require.Equal(t, uint64(applied[d]), logged, "%s's change logs hold only its own writes (no echo)", dcs[d])
	}
}

// TestRemoteDCStartingLaterIsCopiedPromptly starts dc1 (which expects dc2)
// well before dc2 exists, then dc2: dc1's copy of dc2's changes must start
// within seconds, not after nats-server's back-off.
func TestRemoteDCStartingLaterIsCopiedPromptly(t *testing.T) {
	base := devcluster.DefaultConfig(t.TempDir())
	base.Stores = 1
	base.Logger = testLogger(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cfg1 := base
	cfg1.DC, cfg1.Dir, cfg1.RemoteDCs, cfg1.LeafListen = "dc1", base.Dir+"/dc1", []string{"dc2"}, "127.0.0.1:-1"
	dc1, err := devcluster.Start(ctx, cfg1)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, dc1.Shutdown(context.Background())) })
	require.NoError(t, dc1.WaitReady(ctx))
	c1 := newClient(t, dc1)
	createKeyspace(t, dc1, c1, "late", 1, 1)

	cfg2 := base
	cfg2.DC, cfg2.Dir, cfg2.RemoteDCs, cfg2.LeafRemotes = "dc2", base.Dir+"/dc2", []string{"dc1"}, []string{dc1.LeafURL()}
	dc2, err := devcluster.Start(ctx, cfg2)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, dc2.Shutdown(context.Background())) })
	require.NoError(t, dc2.WaitReady(ctx))
	c2 := newClient(t, dc2)
	createKeyspace(t, dc2, c2, "late", 1, 1)
	_, err = c2.Put(ctx, "late", []byte("k"), []byte("from-dc2"))
	require.NoError(t, err)
	start := time.Now()
	require.Eventually(t, func() bool {
		_, err := c1.Get(ctx, "late", []byte("k"))
		return err == nil
	}, 20*time.Second, 100*time.Millisecond)
	t.Logf("dc1 applied dc2's first write %s after it was acknowledged", time.Since(start))
}
