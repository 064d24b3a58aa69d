package e2e

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vasto-kv/vasto/bus"
	"github.com/vasto-kv/vasto/client"
	"github.com/vasto-kv/vasto/internal/devcluster"
)

// TestTwoDCsOnNATSClustersLoseAServerEach runs the production layout of
// docs/operations.md in one process: two DCs, each on a 3-server NATS
// cluster with every stream, copy and the topology bucket on 3 replicas,
// every server of each DC carrying the leafnode link to the other. It
// stops the first NATS server of each DC (the one clients and the link
// found first) and requires that both DCs keep taking writes and that
// every acknowledged write, before and after, reaches the other DC.
func TestTwoDCsOnNATSClustersLoseAServerEach(t *testing.T) {
	cs := startDCsWith(t, 2, []string{"dc1", "dc2"}, func(cfg *devcluster.Config) {
		cfg.NATSServers = 3
		cfg.Stream = bus.StreamConfig{Replicas: 3}
	})
	for _, c := range cs {
		require.Len(t, c.NATSServers(), 3)
	}
	c1, c2 := newClient(t, cs[0]), newClient(t, cs[1])
	createKeyspace(t, cs[0], c1, "prod", 2, 2)
	createKeyspace(t, cs[1], c2, "prod", 2, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	acked := map[string]string{}
	write := func(cl *client.Client, dc string, from, to int) {
		t.Helper()
		for i := from; i < to; i++ {
			k, v := fmt.Sprintf("%s-%04d", dc, i), fmt.Sprintf("v%d", i)
			var err error
			require.Eventually(t, func() bool {
				pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
				defer cancel()
				_, err = cl.Put(pctx, "prod", []byte(k), []byte(v))
				return err == nil
			}, 30*time.Second, 10*time.Millisecond, "write %s in %s: %v", k, dc, &err)
			acked[k] = v
		}
	}
	write(c1, "dc1", 0, 100)
	write(c2, "dc2", 0, 100)

	lost := time.Now()
	for _, c := range cs {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		require.NoError(t, c.NATSServers()[0].Shutdown(sctx))
		cancel()
	}
	write(c1, "dc1", 100, 200)
	write(c2, "dc2", 100, 200)
	t.Logf("100 writes per DC after losing a NATS server each took %v", time.Since(lost))
	written := time.Now()
	defer func() { t.Logf("both DCs held every write %v later", time.Since(written)) }()

	for i, cl := range []*client.Client{c1, c2} {
		var (
			missing []string
			lastErr error
		)
		ok := assert.Eventually(t, func() bool {
			missing = missing[:0]
			for k, v := range acked {
				it, err := cl.Get(ctx, "prod", []byte(k))
				if err != nil || string(it.Value) != v {
					missing, lastErr = append(missing, k), err
				}
			}
			return len(missing) == 0
		}, 60*time.Second, 100*time.Millisecond, "every acknowledged write is readable in dc%d", i+1)
		if !ok {
			sort.Strings(missing)
			t.Fatalf("dc%d misses %d acknowledged writes (last error: %v): %v", i+1, len(missing), lastErr, missing[:min(len(missing), 40)])
		}
	}
}
