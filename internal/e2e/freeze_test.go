package e2e

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vasto-kv/vasto/client"
)

// signal sends sig to the child process, if it runs.
func (c *childStore) signal(sig syscall.Signal) {
	if c.cmd != nil && c.cmd.Process != nil {
		_ = c.cmd.Process.Signal(sig)
	}
}

// TestFrozenReplicaDoesNotStallClients freezes (SIGSTOP) one store of a
// keyspace with two replicas per shard while clients read and write: no
// operation waits more than 1.5 s and none fails, although the master marks
// the store down only after about 1.5 s and a socket read waits 3 s. After
// SIGCONT every key holds, on both replicas, the last value acknowledged for
// it: a write abandoned on the frozen store and retried on the other replica
// does not come back over a later write when the frozen store resumes.
func TestFrozenReplicaDoesNotStallClients(t *testing.T) {
	const (
		ks       = "fz"
		shards   = 4
		workers  = 6
		keysPer  = 16
		maxWait  = 1500 * time.Millisecond
		frozenID = "frozen"
	)
	c := startCluster(t, 1, nil)
	cl := newClient(t, c)
	child := startChildStore(t, c, cl, frozenID)
	// Cleanups run last-registered first: the child gets SIGCONT before it
	// is killed, whatever happens below.
	t.Cleanup(func() { child.signal(syscall.SIGCONT) })
	createKeyspace(t, c, cl, ks, shards, 2)
	preferred := 0
	for _, reps := range cl.Topology().Keyspaces[ks].Placement {
		require.Len(t, reps, 2)
		if reps[0] == frozenID {
			preferred++
		}
	}
	require.NotZero(t, preferred, "the frozen store must be the preferred replica (where writes go) of some shard")

	var (
		frozen    atomic.Bool  // operations starting now are measured
		readOnly  atomic.Bool  // no more writes
		ops       atomic.Int64 // operations done
		frozenOps atomic.Int64 // operations that started while frozen
		slowest   atomic.Int64 // longest operation that started while frozen, ns
		mu        sync.Mutex
		failures  []string
		slow      []string
		last      [workers]map[string]string // per worker: key -> last acknowledged value
		wg        sync.WaitGroup
	)
	ctx, stop := context.WithCancel(ctxT(t))
	defer stop()
	for w := 0; w < workers; w++ {
		last[w] = map[string]string{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				key := fmt.Sprintf("w%d-k%02d", w, i%keysPer)
				measured := frozen.Load()
				start := time.Now()
				var err error
				if i%2 == 0 && !readOnly.Load() {
					val := strconv.Itoa(i)
					if _, err = cl.Put(ctx, ks, []byte(key), []byte(val)); err == nil {
						last[w][key] = val
					}
				} else if _, err = cl.Get(ctx, ks, []byte(key)); errors.Is(err, client.ErrNotFound) {
					err = nil // not replicated to the replica read yet
				}
				took := time.Since(start)
				if ctx.Err() != nil {
					return
				}
				ops.Add(1)
				mu.Lock()
				if err != nil {
					failures = append(failures, fmt.Sprintf("%s after %v: %v", key, took, err))
				}
				if measured {
					frozenOps.Add(1)
					if took > time.Duration(slowest.Load()) {
						slowest.Store(int64(took))
					}
					if took > maxWait {
						slow = append(slow, fmt.Sprintf("%s (put %v) took %v", key, i%2 == 0, took))
					}
				}
				mu.Unlock()
			}
		}()
	}

	require.Eventually(t, func() bool { return ops.Load() >= 300 }, 20*time.Second, 10*time.Millisecond)
	frozen.Store(true)
	child.signal(syscall.SIGSTOP)
	frozenAt := time.Now()
	// The master marks the frozen store down after about 1.5 s. The freeze
	// outlasts the read timeout (3 s), so even a request that waited that
	// long has been given up, and retried, before the store resumes and
	// applies what it had received.
	require.Eventually(t, func() bool {
		s, ok := cl.Topology().Stores[frozenID]
		return ok && !s.Healthy
	}, 10*time.Second, 10*time.Millisecond, "the master marks the frozen store down")
	t.Logf("frozen store marked down after %v", time.Since(frozenAt))
	require.Eventually(t, func() bool {
		return time.Since(frozenAt) > client.DefaultReadTimeout+500*time.Millisecond
	}, 10*time.Second, 10*time.Millisecond)
	// No write after the freeze, so a write the frozen store holds and
	// applies when it resumes cannot hide behind a later one.
	readOnly.Store(true)
	frozen.Store(false)
	child.signal(syscall.SIGCONT)
	n := ops.Load()
	waitServing(t, cl, ks)
	require.Eventually(t, func() bool { return ops.Load() >= n+300 }, 20*time.Second, 10*time.Millisecond,
		"reads go on once the store is back")
	stop()
	wg.Wait()

	t.Logf("%d operations during the freeze, the slowest took %v", frozenOps.Load(), time.Duration(slowest.Load()))
	require.Empty(t, failures, "no operation fails")
	require.Empty(t, slow, "no operation started during the freeze waits more than %v", maxWait)
	require.Greater(t, frozenOps.Load(), int64(workers*10), "clients made progress during the freeze")

	// Every key holds its last acknowledged value on both replicas, and the
	// client reads it.
	want := map[string]string{}
	for w := range last {
		for k, v := range last[w] {
			want[k] = v
		}
	}
	rc := redis.NewClient(&redis.Options{Addr: child.addr, Protocol: 2, DisableIdentity: true, PoolSize: 1, MaxRetries: -1})
	defer rc.Close()
	onChild := func(rctx context.Context, key string) (string, error) {
		var get *redis.SliceCmd
		_, err := rc.Pipelined(rctx, func(p redis.Pipeliner) error {
			p.Do(rctx, "VUSE", ks, strconv.Itoa(int(shardOf(key, shards))))
			get = redis.NewSliceCmd(rctx, "VGET", key)
			return p.Process(rctx, get)
		})
		if err != nil {
			return "", err
		}
		v := get.Val()
		if len(v) == 0 {
			return "", errors.New("no value")
		}
		s, _ := v[0].(string)
		return s, nil
	}
	var diff atomic.Value // what differed last
	setDiff := func(format string, args ...any) { diff.Store(fmt.Sprintf(format, args...)) }
	diff.Store("")
	converged := assert.Eventually(t, func() bool {
		rctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		for k, v := range want {
			sh, err := c.Engine(0).Shard(ks, shardOf(k, shards))
			if err != nil {
				setDiff("store1 %s: %v", k, err)
				return false
			}
			rec, err := sh.Get([]byte(k))
			if err != nil || string(rec.Value) != v {
				setDiff("store1 %s = %q (%v), want %q", k, rec.Value, err, v)
				return false
			}
			got, err := onChild(rctx, k)
			if err != nil || got != v {
				setDiff("%s %s = %q (%v), want %q", frozenID, k, got, err, v)
				return false
			}
			it, err := cl.Get(rctx, ks, []byte(k))
			if err != nil || string(it.Value) != v {
				setDiff("client %s = %q (%v), want %q", k, it.Value, err, v)
				return false
			}
		}
		return true
	}, 20*time.Second, 50*time.Millisecond)
	require.True(t, converged, "every key holds its last acknowledged value on both replicas: %s", diff.Load())
}
