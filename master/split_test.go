package master

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vasto-kv/vasto/topology"
)

// TestTwoMastersNeverFork: two masters of one DC after a split (each
// serving its own side's admin requests, both writing the same bucket) try
// to publish different topologies at the same moment: the same keyspace
// names with different shapes and placements. The bucket's revision
// compare-and-set lets one of each pair win, the loser rebases on the
// winner and refuses its own request, and every watcher sees one sequence
// of topologies in which a keyspace, once placed, keeps its placement.
func TestTwoMastersNeverFork(t *testing.T) {
	srv, conn := testBus(t)
	w1 := watchTopology(t, conn)
	w2 := watchTopology(t, testConn(t, srv))
	m1 := startMaster(t, testConn(t, srv))
	m2 := startMaster(t, testConn(t, srv))
	for i := 1; i <= 4; i++ {
		runStore(t, conn, fmt.Sprintf("s%d", i), 7000+i)
	}
	waitStores(t, m1, "s1", "s2", "s3", "s4")
	waitStores(t, m2, "s1", "s2", "s3", "s4")

	const n = 12
	type result struct {
		reply topology.KeyspaceReply
		err   error
	}
	results := make([][2]result, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("ks%d", i)
		for j, m := range []*Master{m1, m2} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				// Different shapes on each side.
				r, err := m.createKeyspace(ctx, create(name, 2+j, 2-j))
				results[i][j] = result{r, err}
			}()
		}
	}
	wg.Wait()

	winners := map[string]*topology.Keyspace{}
	wins := [2]int{}
	for i, pair := range results {
		name := fmt.Sprintf("ks%d", i)
		var won []int
		for j, r := range pair {
			if r.err == nil {
				won = append(won, j)
				continue
			}
			require.True(t, errors.Is(r.err, ErrKeyspaceExists), "%s on master %d: %v", name, j+1, r.err)
		}
		require.Len(t, won, 1, "exactly one master creates %s", name)
		winners[name] = pair[won[0]].reply.Keyspace
		wins[won[0]]++
	}
	t.Logf("keyspaces created by master 1: %d, by master 2: %d", wins[0], wins[1])

	// The bucket, both masters and both watchers end on one topology
	// holding every winner as its master replied it.
	doc, _, err := conn.GetTopology(testCtx(t), testDC)
	require.NoError(t, err)
	final, err := topology.Decode(doc)
	require.NoError(t, err)
	for name, ks := range winners {
		require.Equal(t, ks, final.Keyspaces[name], name)
	}
	require.Eventually(t, func() bool {
		return m1.Topology().Version >= final.Version && m2.Topology().Version >= final.Version
	}, 10*time.Second, 10*time.Millisecond, "both masters follow the bucket")
	for _, w := range []*watcher{w1, w2} {
		require.Eventually(t, func() bool {
			l := w.latest()
			return l != nil && l.Version >= final.Version
		}, 10*time.Second, 10*time.Millisecond)
		w.requireVersionsIncrease(t)
		// Every topology a watcher saw that places a keyspace places it as
		// the winner did: no store was ever told the loser's placement.
		for _, top := range w.all() {
			for name, ks := range top.Keyspaces {
				require.Equal(t, winners[name], ks, "%s in version %d", name, top.Version)
			}
		}
	}
	// Both watchers saw the same document for each version they both saw.
	byVersion := map[uint64]*topology.Topology{}
	for _, top := range w1.all() {
		byVersion[top.Version] = top
	}
	same := 0
	for _, top := range w2.all() {
		if other, ok := byVersion[top.Version]; ok {
			require.Equal(t, other, top, "version %d", top.Version)
			same++
		}
	}
	require.Positive(t, same)
}
