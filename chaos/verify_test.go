package chaos

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/require"

	"github.com/vasto-kv/vasto/bus/embedded"
	"github.com/vasto-kv/vasto/client"
	"github.com/vasto-kv/vasto/internal/devcluster"
	"github.com/vasto-kv/vasto/topology"
)

// twoDCs starts dc1 and dc2 (two stores each, faults allowed) and returns
// them with a client of each.
func twoDCs(t *testing.T) ([]*devcluster.Cluster, []*client.Client) {
	t.Helper()
	cfg := devcluster.DefaultConfig(t.TempDir())
	cfg.Stores, cfg.AllowFaults = 2, true
	cfg.Logger = embedded.TestLogger(t, hclog.Error)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cs, err := devcluster.StartMulti(ctx, cfg, []string{"dc1", "dc2"})
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		require.NoError(t, devcluster.ShutdownAll(ctx, cs))
	})
	var cls []*client.Client
	for _, c := range cs {
		require.NoError(t, c.WaitReady(ctx))
		ccfg := client.DefaultConfig(c.NATSURL(), c.DC())
		ccfg.Logger = cfg.Logger
		cl, err := client.New(ctx, ccfg)
		require.NoError(t, err)
		t.Cleanup(func() { _ = cl.Close() })
		cls = append(cls, cl)
	}
	return cs, cls
}

// createEverywhere creates keyspace name in each DC with the given shard
// counts (two replicas each) and waits until every DC serves it.
func createEverywhere(t *testing.T, cls []*client.Client, name string, shards ...int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i, cl := range cls {
		require.NoError(t, cl.CreateKeyspace(ctx, name, shards[i], 2))
		require.NoError(t, cl.WaitForServing(ctx, name))
	}
}

func dcsOf(cs []*devcluster.Cluster) []DC {
	var out []DC
	for _, c := range cs {
		out = append(out, DC{Name: c.DC(), NATSURL: c.NATSURL()})
	}
	return out
}

// TestVerifyTwoDCs: a keyspace replicated to two DCs verifies converged;
// a write made in dc1 while dc2's stores have cross-DC replication paused
// makes its shard differ between the DCs, and the report names the key;
// once replication resumes the keyspace converges again. A keyspace with
// different shard counts in the two DCs is compared as a whole.
func TestVerifyTwoDCs(t *testing.T) {
	cs, cls := twoDCs(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	createEverywhere(t, cls, "ks", 2, 2)
	createEverywhere(t, cls, "ks2", 2, 1)
	for i := 0; i < 20; i++ {
		for _, ks := range []string{"ks", "ks2"} {
			_, err := cls[0].Put(ctx, ks, []byte(fmt.Sprintf("k%02d", i)), []byte("v"))
			require.NoError(t, err)
		}
	}
	verify := func(ks string) VerifyReport {
		rep, err := Verify(ctx, VerifyConfig{DCs: dcsOf(cs), Keyspace: ks, Logger: hclog.NewNullLogger()})
		require.NoError(t, err)
		return rep
	}
	var rep VerifyReport
	require.Eventually(t, func() bool { rep = verify("ks"); return rep.Converged() }, 60*time.Second, 100*time.Millisecond)
	require.Len(t, rep.Shards, 4, "two shards in each DC")
	require.Len(t, rep.Cross, 2, "compared shard by shard")
	total := 0
	for _, s := range rep.Shards {
		require.Len(t, s.Replicas, 2)
		total += s.Replicas[0].Count
	}
	require.Equal(t, 40, total, "20 keys in each DC")
	require.Eventually(t, func() bool { rep = verify("ks2"); return rep.Converged() }, 60*time.Second, 100*time.Millisecond)
	require.Len(t, rep.Cross, 1)
	require.Equal(t, -1, rep.Cross[0].Shard, "different shard counts: the whole keyspace is compared")

	// Pause dc2's cross-DC replication and write in dc1.
	dc2 := dcsOf(cs)[1]
	stores, err := DCStores(ctx, dc2, nil)
	require.NoError(t, err)
	require.Len(t, stores, 2)
	for _, addr := range stores {
		require.NoError(t, PauseReplication(ctx, addr, 10*time.Minute))
		st, err := StoreFaults(ctx, addr)
		require.NoError(t, err)
		require.WithinDuration(t, time.Now().Add(10*time.Minute), st.XDCPausedUntil, 10*time.Second)
	}
	for _, ks := range []string{"ks", "ks2"} {
		_, err := cls[0].Put(ctx, ks, []byte("late"), []byte("during-the-pause"))
		require.NoError(t, err)
	}
	lateShard := int(topology.ShardOf([]byte("late"), 2))
	// Once both dc1 replicas have it, only the cross-DC comparison differs.
	require.Eventually(t, func() bool {
		rep = verify("ks")
		for _, s := range rep.Shards {
			if !s.Converged() {
				return false
			}
		}
		return !rep.Converged()
	}, 60*time.Second, 100*time.Millisecond)
	for _, c := range rep.Cross {
		if c.Shard != lateShard {
			require.True(t, c.Converged(), "shard %d", c.Shard)
			continue
		}
		require.False(t, c.Converged())
		require.Equal(t, 1, c.DiffKeys)
		d := c.Diffs[0]
		require.Equal(t, "late", string(d.Key))
		require.True(t, d.A.Present)
		require.Equal(t, "during-the-pause", string(d.A.Value))
		require.True(t, strings.HasPrefix(d.A.Origin, "dc1/store"), d.A.Origin)
		require.True(t, strings.HasPrefix(d.A.Replica, "dc1/"), d.A.Replica)
		require.False(t, d.B.Present)
		require.True(t, strings.HasPrefix(d.B.Replica, "dc2/"), d.B.Replica)
	}
	var table bytes.Buffer
	require.NoError(t, rep.WriteTable(&table))
	t.Log("\n" + table.String())
	require.Contains(t, table.String(), fmt.Sprintf(`cross-DC shard %d: 1 key(s)`, lateShard))
	require.Contains(t, table.String(), `"late": dc1/`)
	require.Contains(t, table.String(), "converged: no")

	// ks2 differs by the same key, once dc1's replicas both have it.
	require.Eventually(t, func() bool {
		rep = verify("ks2")
		return !rep.Converged() && rep.Cross[0].DiffKeys == 1 && string(rep.Cross[0].Diffs[0].Key) == "late" &&
			rep.Cross[0].Diffs[0].A.Present && !rep.Cross[0].Diffs[0].B.Present
	}, 60*time.Second, 100*time.Millisecond)

	// Resumed: the held change is applied and both keyspaces converge.
	for _, addr := range stores {
		require.NoError(t, PauseReplication(ctx, addr, 0))
	}
	require.Eventually(t, func() bool { return verify("ks").Converged() && verify("ks2").Converged() },
		60*time.Second, 100*time.Millisecond)
	table.Reset()
	require.NoError(t, verify("ks").WriteTable(&table))
	require.Contains(t, table.String(), "converged: yes")

	_, err = Verify(ctx, VerifyConfig{DCs: dcsOf(cs), Keyspace: "nope"})
	require.ErrorIs(t, err, ErrNoKeyspace)
}

func TestVerifyConfigValidate(t *testing.T) {
	ok := VerifyConfig{DCs: []DC{{Name: "dc1", NATSURL: "nats://127.0.0.1:4222"}}, Keyspace: "ks"}
	require.NoError(t, ok.Validate())
	for name, mod := range map[string]func(*VerifyConfig){
		"no DC":             func(c *VerifyConfig) { c.DCs = nil },
		"bad keyspace":      func(c *VerifyConfig) { c.Keyspace = "a.b" },
		"bad DC name":       func(c *VerifyConfig) { c.DCs = []DC{{Name: "d c", NATSURL: "nats://x"}} },
		"no URL":            func(c *VerifyConfig) { c.DCs = []DC{{Name: "dc1"}} },
		"same DC twice":     func(c *VerifyConfig) { c.DCs = append(c.DCs, c.DCs[0]) },
		"negative max keys": func(c *VerifyConfig) { c.MaxDiffKeys = -1 },
	} {
		c := ok
		c.DCs = append([]DC(nil), ok.DCs...)
		mod(&c)
		require.ErrorIs(t, c.Validate(), ErrInvalidArgument, name)
	}
}

func TestParseFaultStatus(t *testing.T) {
	st, err := parseFaultStatus("skew_ns=-1500\nxdc_paused_until_unix_ms=1700000000123\nfuture_key=x\n")
	require.NoError(t, err)
	require.Equal(t, -1500*time.Nanosecond, st.Skew)
	require.Equal(t, time.UnixMilli(1700000000123), st.XDCPausedUntil)
	st, err = parseFaultStatus("skew_ns=0\nxdc_paused_until_unix_ms=0\n")
	require.NoError(t, err)
	require.Zero(t, st.Skew)
	require.True(t, st.XDCPausedUntil.IsZero())
	_, err = parseFaultStatus("skew_ns=fast\n")
	require.ErrorIs(t, err, ErrBadReply)
}
