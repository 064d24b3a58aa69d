package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vasto-kv/vasto/backup"
	"github.com/vasto-kv/vasto/client"
	"github.com/vasto-kv/vasto/internal/devcluster"
	"github.com/vasto-kv/vasto/lww"
)

// ackedWrite is the version a key holds after an acknowledged write, and
// whether the write was a delete.
type ackedWrite struct {
	v       lww.Version
	deleted bool
}

// ackedVersions is the writes a test got acknowledged, the latest per key.
type ackedVersions struct {
	mu sync.Mutex
	m  map[string]ackedWrite
}

func newAcked() *ackedVersions { return &ackedVersions{m: map[string]ackedWrite{}} }

func (a *ackedVersions) set(key string, w ackedWrite) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.m[key] = w
}

func (a *ackedVersions) copy() map[string]ackedWrite {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make(map[string]ackedWrite, len(a.m))
	for k, v := range a.m {
		out[k] = v
	}
	return out
}

// writeVersioned writes n keys prefix<i> in batches, deletes every tenth, and
// records what was acknowledged.
func writeVersioned(t *testing.T, cl *client.Client, ks, prefix string, n int, a *ackedVersions) {
	t.Helper()
	ctx := ctxT(t)
	for i := 0; i < n; i += 100 {
		kvs := make([]client.KV, 0, 100)
		for j := i; j < min(i+100, n); j++ {
			kvs = append(kvs, client.KV{Key: fmt.Appendf(nil, "%s%05d", prefix, j), Value: fmt.Appendf(nil, "value-%d", j)})
		}
		res, err := cl.BatchPut(ctx, ks, kvs)
		require.NoError(t, err)
		for j, r := range res {
			a.set(string(kvs[j].Key), ackedWrite{v: r.Version})
		}
	}
	for i := 0; i < n; i += 10 {
		key := fmt.Sprintf("%s%05d", prefix, i)
		r, err := cl.Delete(ctx, ks, []byte(key))
		require.NoError(t, err)
		a.set(key, ackedWrite{v: r.Version, deleted: true})
	}
}

// requireRestored checks that every write of want reads back with its
// version (a delete: the key is absent), or, when newer is set, with its
// version or a newer one (writes went on while the backup ran).
func requireRestored(t *testing.T, cl *client.Client, ks string, want map[string]ackedWrite, newer bool) {
	t.Helper()
	ctx := ctxT(t)
	for key, w := range want {
		it, err := cl.Get(ctx, ks, []byte(key))
		if errors.Is(err, client.ErrNotFound) {
			require.True(t, w.deleted, "%s: acknowledged value lost", key)
			continue
		}
		require.NoError(t, err, key)
		if newer {
			require.Positive(t, it.Version.Compare(w.v)+1, "%s: %v older than acknowledged %v", key, it.Version, w.v)
		} else {
			require.False(t, w.deleted, "%s: deleted in the backup", key)
			require.Equal(t, w.v, it.Version, key)
		}
	}
}

// deleteKeyspace deletes ks and waits until the topology no longer has it.
func deleteKeyspace(t testing.TB, cl *client.Client, ks string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	require.NoError(t, cl.DeleteKeyspace(ctx, ks))
	require.Eventually(t, func() bool {
		_, ok := cl.Topology().Keyspaces[ks]
		return !ok
	}, 20*time.Second, 20*time.Millisecond)
}

func TestBackupRestore(t *testing.T) {
	c := startCluster(t, 3, nil)
	cl := newClient(t, c)
	createKeyspace(t, c, cl, "bk", 4, 2)
	before := newAcked()
	writeVersioned(t, cl, "bk", "k", 3000, before)

	// Writes continue while the backup runs: each acknowledged one is in
	// the backup with its version or a newer one, or not at all.
	during := newAcked()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < 20000; i++ {
			select {
			case <-stop:
				return
			default:
			}
			key := fmt.Sprintf("k%05d", i%1500) // k01500 and above are never rewritten
			r, err := cl.Put(context.Background(), "bk", []byte(key), []byte("later"))
			if err == nil {
				during.set(key, ackedWrite{v: r.Version})
			}
		}
	}()
	require.Eventually(t, func() bool { return len(during.copy()) >= 200 }, 20*time.Second, 10*time.Millisecond)
	// Every write acknowledged from here on came before the backup started.
	want := before.copy()
	for k, w := range during.copy() {
		want[k] = w
	}
	dir := filepath.Join(t.TempDir(), "bk")
	var progress []backup.Progress
	cfg := backup.DefaultConfig("bk", dir)
	cfg.PageSize = 500
	cfg.Progress = func(p backup.Progress) { progress = append(progress, p) }
	m, err := backup.Backup(ctxT(t), cl, cfg)
	close(stop)
	wg.Wait()
	require.NoError(t, err)
	require.Equal(t, 4, m.Shards)
	require.GreaterOrEqual(t, m.Records, int64(3000)) // tombstones included
	require.NotEmpty(t, progress)
	last := progress[len(progress)-1]
	require.Equal(t, 4, last.ShardsDone)
	require.Equal(t, m.Records, last.Records)
	for _, f := range m.Files {
		require.Contains(t, c.Stores()[0].ID+c.Stores()[1].ID+c.Stores()[2].ID, f.Store)
		require.NotEmpty(t, f.Digest)
		require.True(t, f.PointInTime)
		require.LessOrEqual(t, f.LogLast, f.LogLastAfter)
	}
	// A second backup into the same directory is refused.
	_, err = backup.Backup(ctxT(t), cl, cfg)
	require.ErrorIs(t, err, backup.ErrExists)

	// Wipe: the keyspace is deleted, then restored from the backup.
	deleteKeyspace(t, cl, "bk")
	rcfg := backup.DefaultRestoreConfig(dir)
	rcfg.Replicas = 2
	res, err := backup.Restore(ctxT(t), cl, rcfg)
	require.NoError(t, err)
	require.True(t, res.Created)
	require.Zero(t, res.Existing)
	require.Len(t, res.Checks, 8) // 4 shards x 2 replicas
	for _, ck := range res.Checks {
		require.True(t, ck.ByDigest)
		require.True(t, ck.OK, "%+v", ck)
	}
	require.Equal(t, 2*m.Records, res.Written)
	waitServing(t, cl, "bk")
	// Every write acknowledged before the backup started reads back with
	// its version, or a newer one written while the backup ran.
	requireRestored(t, cl, "bk", want, true)
	// The keys no write touched once the first batch was acknowledged read
	// back exactly as acknowledged, versions and deletions included.
	untouched := before.copy()
	for k := range during.copy() {
		delete(untouched, k)
	}
	require.NotEmpty(t, untouched)
	requireRestored(t, cl, "bk", untouched, false)
	// Every record reads back exactly as the backup holds it.
	requireBackupReadable(t, cl, "bk", dir)

	// Restoring again changes nothing; a write made after the restore is
	// newer than anything in the backup and survives a further restore.
	_, err = cl.Put(ctxT(t), "bk", []byte("k00001"), []byte("after"))
	require.NoError(t, err)
	res, err = backup.Restore(ctxT(t), cl, rcfg)
	require.NoError(t, err)
	require.False(t, res.Created)
	require.Positive(t, res.Existing)
	require.Zero(t, res.Written)
	require.Equal(t, 2*m.Records, res.Skipped)
	it, err := cl.Get(ctxT(t), "bk", []byte("k00001"))
	require.NoError(t, err)
	require.Equal(t, "after", string(it.Value))

	// Later writes replicate as usual: a write on the restored keyspace
	// reaches both replicas of its shard.
	_, err = cl.Put(ctxT(t), "bk", []byte("k00002"), []byte("replicated"))
	require.NoError(t, err)
	shard, _, err := cl.ShardOf("bk", []byte("k00002"))
	require.NoError(t, err)
	for _, store := range cl.Topology().Keyspaces["bk"].Placement[shard] {
		require.Eventually(t, func() bool {
			val, err := cl.DoOn(ctxT(t), "bk", shard, store, []byte("VGET"), []byte("k00002"))
			v, ok := val.([]any)
			return err == nil && ok && len(v) > 0 && v[0] == "replicated"
		}, 20*time.Second, 20*time.Millisecond, "replica %s", store)
	}

	t.Run("fresh DC", func(t *testing.T) {
		c2 := startCluster(t, 2, func(cfg *devcluster.Config) { cfg.DC = "dc9" })
		cl2 := newClient(t, c2)
		rcfg := backup.DefaultRestoreConfig(dir)
		rcfg.Replicas = 2
		res, err := backup.Restore(ctxT(t), cl2, rcfg)
		require.NoError(t, err)
		require.True(t, res.Created)
		require.Len(t, res.Checks, 8)
		waitServing(t, cl2, "bk")
		requireRestored(t, cl2, "bk", want, true)
		requireBackupReadable(t, cl2, "bk", dir)
	})

	t.Run("other shard count", func(t *testing.T) {
		rcfg := backup.DefaultRestoreConfig(dir)
		rcfg.Keyspace, rcfg.Shards, rcfg.Replicas = "bk3", 3, 2
		res, err := backup.Restore(ctxT(t), cl, rcfg)
		require.NoError(t, err)
		require.Equal(t, 3, res.Shards)
		require.Len(t, res.Checks, 6)
		var live int64
		for _, ck := range res.Checks {
			require.False(t, ck.ByDigest)
			require.True(t, ck.OK, "%+v", ck)
			live += ck.GotLive
		}
		var wantLive int64
		for _, f := range m.Files {
			wantLive += f.Live
		}
		require.Equal(t, 2*wantLive, live)
		waitServing(t, cl, "bk3")
		requireBackupReadable(t, cl, "bk3", dir)
		// An existing keyspace keeps its shard count.
		rcfg.Shards = 5
		_, err = backup.Restore(ctxT(t), cl, rcfg)
		require.ErrorIs(t, err, backup.ErrShardCount)
	})

	t.Run("corrupt backup refused", func(t *testing.T) {
		bad := filepath.Join(t.TempDir(), "bad")
		require.NoError(t, os.CopyFS(bad, os.DirFS(dir)))
		file := filepath.Join(bad, m.Files[1].File)
		b, err := os.ReadFile(file)
		require.NoError(t, err)
		b[len(b)/2] ^= 0xff
		require.NoError(t, os.WriteFile(file, b, 0o600))
		rcfg := backup.DefaultRestoreConfig(bad)
		rcfg.Keyspace = "bkbad"
		_, err = backup.Restore(ctxT(t), cl, rcfg)
		require.ErrorIs(t, err, backup.ErrCorrupt)
		require.NotContains(t, cl.Topology().Keyspaces, "bkbad")

		require.NoError(t, os.Remove(file))
		_, err = backup.Restore(ctxT(t), cl, rcfg)
		require.ErrorIs(t, err, backup.ErrCorrupt)

		require.NoError(t, os.WriteFile(filepath.Join(bad, backup.ManifestName), []byte(`{"format":1,`), 0o600))
		_, err = backup.Restore(ctxT(t), cl, rcfg)
		require.ErrorIs(t, err, backup.ErrManifest)
		require.NoError(t, os.Remove(filepath.Join(bad, backup.ManifestName)))
		_, err = backup.Restore(ctxT(t), cl, rcfg)
		require.ErrorIs(t, err, backup.ErrManifest)
		require.NotContains(t, cl.Topology().Keyspaces, "bkbad")
	})
}

// requireBackupReadable reads every record of the backup in dir from ks:
// live values with their versions, tombstones as absent keys (unless a
// newer write came after).
func requireBackupReadable(t *testing.T, cl *client.Client, ks, dir string) {
	t.Helper()
	m, err := backup.ReadManifest(dir)
	require.NoError(t, err)
	want := map[string]ackedWrite{}
	for _, f := range m.Files {
		require.NoError(t, backup.ReadFile(dir, f, func(ch lww.Change) error {
			want[string(ch.Key)] = ackedWrite{v: ch.Record.Version, deleted: ch.Record.IsTombstone()}
			return nil
		}))
	}
	delete(want, "k00001") // written after the restore
	delete(want, "k00002")
	requireRestored(t, cl, ks, want, false)
}

// TestBackupRestoreWithACL: against stores with an ACL, a backup and a
// restore need a user with the internal and admin rights; an application
// user's backup is refused and writes nothing.
func TestBackupRestoreWithACL(t *testing.T) {
	users := append([]string{"ops ks:* +read +admin +internal"}, storeUsers...)
	c := startCluster(t, 2, func(cfg *devcluster.Config) { cfg.StoreACL = parseACL(t, users...) })
	ops := newClientAs(t, c, "ops", "ops-pw")
	app := newClientAs(t, c, "app", "app-pw")
	createKeyspace(t, c, ops, "bka", 2, 2)
	written := newAcked()
	writeVersioned(t, app, "bka", "a", 200, written)

	dir := filepath.Join(t.TempDir(), "bka")
	_, err := backup.Backup(ctxT(t), app, backup.DefaultConfig("bka", dir))
	require.ErrorIs(t, err, client.ErrNoPerm)
	_, err = os.Stat(filepath.Join(dir, backup.ManifestName))
	require.ErrorIs(t, err, os.ErrNotExist)

	_, err = backup.Backup(ctxT(t), ops, backup.DefaultConfig("bka", dir))
	require.NoError(t, err)
	deleteKeyspace(t, ops, "bka")
	rcfg := backup.DefaultRestoreConfig(dir)
	rcfg.Replicas = 2
	_, err = backup.Restore(ctxT(t), ops, rcfg)
	require.NoError(t, err)
	waitServing(t, app, "bka")
	requireRestored(t, app, "bka", written.copy(), false)
}

// TestBackupRestoreLargeValues: pages of large values stay within a
// store's request size.
func TestBackupRestoreLargeValues(t *testing.T) {
	c := startCluster(t, 1, nil)
	cl := newClient(t, c)
	createKeyspace(t, c, cl, "big", 1, 1)
	value := make([]byte, 900<<10)
	want := map[string]ackedWrite{}
	for i := 0; i < 80; i++ {
		key := fmt.Sprintf("big%02d", i)
		r, err := cl.Put(ctxT(t), "big", []byte(key), value)
		require.NoError(t, err)
		want[key] = ackedWrite{v: r.Version}
	}
	dir := filepath.Join(t.TempDir(), "big")
	cfg := backup.DefaultConfig("big", dir)
	cfg.PageSize = 10
	_, err := backup.Backup(ctxT(t), cl, cfg)
	require.NoError(t, err)
	rcfg := backup.DefaultRestoreConfig(dir)
	rcfg.Keyspace = "big2"
	_, err = backup.Restore(ctxT(t), cl, rcfg)
	require.NoError(t, err)
	waitServing(t, cl, "big2")
	requireRestored(t, cl, "big2", want, false)
}
