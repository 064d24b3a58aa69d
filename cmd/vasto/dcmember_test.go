package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/require"

	"github.com/vasto-kv/vasto/client"
	"github.com/vasto-kv/vasto/internal/devcluster"
)

func TestParsePerDC(t *testing.T) {
	p, err := parsePerDC("shards", "8,dc2=4")
	require.NoError(t, err)
	require.Equal(t, 8, p.of("dc1"))
	require.Equal(t, 4, p.of("dc2"))
	p, err = parsePerDC("shards", "dc2=4")
	require.NoError(t, err)
	require.Equal(t, 1, p.of("dc1"), "no default: 1")
	for _, bad := range []string{"x", "8,9", "dc2=4,dc2=5", "bad.dc=3", "dc2=", ""} {
		_, err := parsePerDC("shards", bad)
		require.ErrorIs(t, err, errUsage, bad)
	}
	urls, err := parseDCURLs("dc2=nats://127.0.0.1:1,dc3=nats://127.0.0.1:2")
	require.NoError(t, err)
	require.Equal(t, "nats://127.0.0.1:2", urls["dc3"])
	for _, bad := range []string{"dc2", "dc2=", "a.b=nats://x", "dc2=u,dc2=v"} {
		_, err := parseDCURLs(bad)
		require.ErrorIs(t, err, errUsage, bad)
	}
}

// TestCLIDCMembership links two DCs whose stores list no remote DC, then
// from the CLI: dc list, dc add (retried while the master answers BUSY),
// dc status from the master's list, keyspace create in both DCs with
// their own shard counts, dc remove and its refusals.
func TestCLIDCMembership(t *testing.T) {
	cfg := devcluster.DefaultConfig(t.TempDir())
	cfg.Stores = 1
	cfg.UnlistedRemoteDCs = true
	cfg.Logger = hclog.NewNullLogger()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cs, err := devcluster.StartMulti(ctx, cfg, []string{"dc1", "dc2"})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, devcluster.ShutdownAll(context.Background(), cs)) })
	for _, c := range cs {
		require.NoError(t, c.WaitReady(ctx))
	}
	t.Setenv("VASTO_NATS", cs[0].NATSURL())
	t.Setenv("VASTO_DC", "dc1")

	code, out, errs := vasto(t, "dc", "list")
	require.Equal(t, 0, code, errs)
	require.Contains(t, out, "not managed yet")

	code, _, errs = vasto(t, "dc", "add", "dc1")
	require.NotEqual(t, 0, code)
	require.Contains(t, errs, "is this DC")
	code, _, errs = vasto(t, "dc", "add", "bad.name")
	require.NotEqual(t, 0, code)
	require.Contains(t, errs, "bad.name")

	require.Eventually(t, func() bool {
		code, _, errs = vasto(t, "dc", "add", "dc2")
		return !strings.Contains(errs, "BUSY")
	}, 20*time.Second, 100*time.Millisecond)
	require.Equal(t, 0, code, errs)
	require.Eventually(t, func() bool {
		code, out, _ = vasto(t, "dc", "list")
		return code == 0 && strings.Contains(out, "from the topology") && strings.Contains(out, "1 of 1")
	}, 10*time.Second, 100*time.Millisecond, "the store reports applying dc2")
	require.Regexp(t, `(?m)^dc2\s+1 of 1 \S+`, out)
	code, _, errs = vasto(t, "dc", "add", "dc2")
	require.NotEqual(t, 0, code)
	require.Contains(t, errs, "EXISTS")

	// Bad input creates nothing anywhere.
	code, _, errs = vasto(t, "keyspace", "create", "m", "--dcs", "dc1,dc2", "--shards", "3,dc2=2")
	require.NotEqual(t, 0, code)
	require.Contains(t, errs, "--dc-nats dc2=")
	code, out, _ = vasto(t, "keyspace", "list")
	require.Equal(t, 0, code)
	require.NotContains(t, out, "m ")

	code, out, errs = vasto(t, "keyspace", "create", "m", "--dcs", "dc1,dc2", "--shards", "3,dc2=2",
		"--dc-nats", "dc2="+cs[1].NATSURL())
	require.Equal(t, 0, code, errs)
	require.Contains(t, out, "dc dc1: created keyspace m: 3 shards x 1 replicas")
	require.Contains(t, out, "dc dc2: created keyspace m: 2 shards x 1 replicas")
	for i, want := range []int{3, 2} {
		cl, err := client.New(ctx, client.DefaultConfig(cs[i].NATSURL(), cs[i].DC()))
		require.NoError(t, err)
		info, err := cl.DescribeKeyspace(ctx, "m")
		cl.Close()
		require.NoError(t, err)
		require.Equal(t, want, info.Shards, cs[i].DC())
	}

	code, out, errs = vasto(t, "dc", "status")
	require.Equal(t, 0, code, errs)
	require.Regexp(t, `(?m)^dc2\s+`, out, "dc status follows the master's list")

	code, out, errs = vasto(t, "dc", "remove", "dc2")
	require.Equal(t, 0, code, errs)
	require.Contains(t, out, "removed remote DC dc2")
	code, _, errs = vasto(t, "dc", "remove", "dc2")
	require.NotEqual(t, 0, code)
	require.Contains(t, errs, "NOTFOUND")
}
