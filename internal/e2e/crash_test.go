package e2e

import (
	"context"
	"errors"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vasto-kv/vasto/bus"
	"github.com/vasto-kv/vasto/chaos"
	"github.com/vasto-kv/vasto/client"
	"github.com/vasto-kv/vasto/internal/devcluster"
)

// TestStoreKill9DuringWrites kills a store process with SIGKILL while
// clients write: its replicas keep serving, and once it is back every
// acknowledged write is readable, including those only it had when it died
// (they were in its RocksDB outbox and are published on restart).
func TestStoreKill9DuringWrites(t *testing.T) {
	c := startCluster(t, 2, nil)
	cl := newClient(t, c)
	child := startChildStore(t, c, cl, "crashy")
	createKeyspace(t, c, cl, "crash", 3, 2)

	acked := runWriters(t, cl, "crash", 4, child.kill)
	ctx := ctxT(t)
	// While it is down, its shards are served by their other replicas.
	_, err := cl.Put(ctx, "crash", []byte("during"), []byte("x"))
	require.NoError(t, err)

	child.start()
	waitServing(t, cl, "crash")
	requireReadable(t, cl, "crash", acked, "every acknowledged write is readable after the killed store is back")
	// Readable through the client is not enough: it reads whichever
	// replica answers. Every replica must hold every record, and soon: the
	// peer's changes the killed process had received but not acknowledged
	// must come again at once, not after the consumer's ack wait (30 s).
	requireConverged(t, c, "crash", 10*time.Second)
}

// requireReadable waits until the client reads every key of acked with its
// value.
func requireReadable(t *testing.T, cl *client.Client, ks string, acked map[string]string, msg string) {
	t.Helper()
	// Keys read back with their value are not read again; the rest are read
	// in batches until the deadline, which grows with the number of writes.
	left := make([]string, 0, len(acked))
	for k := range acked {
		left = append(left, k)
	}
	wait := 20*time.Second + time.Duration(len(acked))*time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), wait+10*time.Second)
	defer cancel()
	const batch = 500
	ok := assert.Eventually(t, func() bool {
		var still []string
		for i := 0; i < len(left); i += batch {
			keys := left[i:min(i+batch, len(left))]
			bs := make([][]byte, len(keys))
			for j, k := range keys {
				bs[j] = []byte(k)
			}
			items, _ := cl.BatchGet(ctx, ks, bs)
			for j, k := range keys {
				if items == nil || items[j] == nil || string(items[j].Value) != acked[k] {
					still = append(still, k)
				}
			}
		}
		left = still
		return len(left) == 0
	}, wait, 100*time.Millisecond, msg)
	if !ok {
		sort.Strings(left)
		t.Fatalf("%d of %d acknowledged writes not readable, e.g. %v", len(left), len(acked), left[:min(len(left), 10)])
	}
}

// TestStoreVFaultCrashDuringWrites is the drill's crash: a store started
// with fault injection is crashed with VFAULT CRASH (chaos.CrashStore)
// while clients write. It exits with status 137; once it is back, every
// acknowledged write is readable.
func TestStoreVFaultCrashDuringWrites(t *testing.T) {
	c := startCluster(t, 2, nil)
	cl := newClient(t, c)
	child := startChildStoreFaults(t, c, cl, "crashy", true)
	createKeyspace(t, c, cl, "crash", 3, 2)

	var crashErr, exitErr error
	acked := runWriters(t, cl, "crash", 4, func() {
		crashErr = chaos.CrashStore(context.Background(), child.addr)
		exitErr, child.cmd = child.cmd.Wait(), nil
	})
	require.NoError(t, crashErr)
	var ee *exec.ExitError
	require.True(t, errors.As(exitErr, &ee), "%v", exitErr)
	require.Equal(t, 137, ee.ExitCode())

	child.start()
	waitServing(t, cl, "crash")
	requireReadable(t, cl, "crash", acked, "every acknowledged write is readable after the crashed store is back")
	requireConverged(t, c, "crash", 10*time.Second)
}

// requireConverged waits until every replica of every shard of ks holds
// the same live records (chaos.Verify), and reports the differing keys of
// the last check if they never do.
func requireConverged(t *testing.T, c *devcluster.Cluster, ks string, within time.Duration) {
	t.Helper()
	var mu sync.Mutex
	last := ""
	ok := assert.Eventually(t, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		rep, err := chaos.Verify(ctx, chaos.VerifyConfig{DCs: []chaos.DC{{Name: c.DC(), NATSURL: c.NATSURL()}}, Keyspace: ks})
		var b strings.Builder
		if err != nil {
			b.WriteString(err.Error())
		} else {
			_ = rep.WriteTable(&b)
		}
		mu.Lock()
		last = b.String()
		mu.Unlock()
		return err == nil && rep.Converged()
	}, within, 500*time.Millisecond)
	if !ok {
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("the replicas of %s did not converge within %s; last check:\n%s", ks, within, last)
	}
}

// TestReplicaPastRetentionReBootstraps stops a replica, writes until the
// change-log stream has dropped what it missed, restarts it, and checks it
// detected the gap and copied its peer instead of skipping.
func TestReplicaPastRetentionReBootstraps(t *testing.T) {
	c := startCluster(t, 2, func(cfg *devcluster.Config) {
		cfg.Stream = bus.StreamConfig{MaxBytes: 64 << 10}
	})
	reBootstrapPastRetention(t, c, newClient(t, c))
}

// reBootstrapPastRetention runs TestReplicaPastRetentionReBootstraps on c,
// a cluster of two stores whose stream keeps 64 KiB.
func reBootstrapPastRetention(t *testing.T, c *devcluster.Cluster, cl *client.Client) {
	t.Helper()
	createKeyspace(t, c, cl, "ret", 1, 2)
	ctx := ctxT(t)
	put := func(from, to int) {
		for i := from; i < to; i++ {
			_, err := cl.Put(ctx, "ret", []byte(keyN(i)), []byte(valN(i)))
			require.NoError(t, err)
		}
	}
	put(0, 20)
	require.Eventually(t, func() bool { return countKeys(t, c, 1, "ret") == 20 }, 10*time.Second, 20*time.Millisecond)
	require.NoError(t, c.StopStore(ctx, 1))
	put(20, 1500) // ~1500 messages of ~200 bytes: far past 64 KiB
	require.NoError(t, c.StartStore(ctx, 1))
	waitServing(t, cl, "ret")
	require.Eventually(t, func() bool { return countKeys(t, c, 1, "ret") == 1500 }, 20*time.Second, 50*time.Millisecond,
		"the restarted replica holds every key, including those that aged out of the stream")
	sh, err := c.Engine(1).Shard("ret", 0)
	require.NoError(t, err)
	got, err := sh.Get([]byte(keyN(25)))
	require.NoError(t, err)
	require.Equal(t, valN(25), string(got.Value))
}

func keyN(i int) string { return "key-" + itoa(i) }
func valN(i int) string {
	return "value-" + itoa(i) + "-padding-padding-padding-padding-padding-padding"
}

func itoa(i int) string {
	const digits = "0123456789"
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{digits[i%10]}, b...)
	}
	return string(b)
}

// TestQuietShardAgedOutReBootstraps: every change a peer logged for a quiet
// shard ages out of the stream (busier shards push it out) while a replica
// is down; back up, the replica sees an empty subject, asks the peer for its
// log bounds and copies it instead of resuming with a hole.
func TestQuietShardAgedOutReBootstraps(t *testing.T) {
	c := startCluster(t, 2, func(cfg *devcluster.Config) {
		cfg.Stream = bus.StreamConfig{MaxBytes: 64 << 10}
	})
	cl := newClient(t, c)
	createKeyspace(t, c, cl, "quiet", 2, 2)
	ctx := ctxT(t)
	var quiet, busy []string
	for i := 0; len(quiet) < 10 || len(busy) < 1500; i++ {
		k := keyN(i)
		if shardOf(k, 2) == 0 {
			quiet = append(quiet, k)
		} else {
			busy = append(busy, k)
		}
	}
	quiet = quiet[:10]
	busy = busy[:1500]
	require.NoError(t, c.StopStore(ctx, 1))
	for _, k := range quiet {
		_, err := cl.Put(ctx, "quiet", []byte(k), []byte(valN(0)))
		require.NoError(t, err)
	}
	for _, k := range busy {
		_, err := cl.Put(ctx, "quiet", []byte(k), []byte(valN(1)))
		require.NoError(t, err)
	}
	require.NoError(t, c.StartStore(ctx, 1))
	waitServing(t, cl, "quiet")
	require.Eventually(t, func() bool {
		sh, err := c.Engine(1).Shard("quiet", 0)
		if err != nil {
			return false
		}
		for _, k := range quiet {
			if _, err := sh.Get([]byte(k)); err != nil {
				return false
			}
		}
		return true
	}, 20*time.Second, 50*time.Millisecond, "the quiet shard's writes reached the replica that was down")
}
