package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/vasto-kv/vasto/internal/devcluster"
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		main() // the test binary as the vasto binary: see startChild
	}
	goleak.VerifyTestMain(m)
}

// vasto runs the CLI in-process and returns its exit code and output.
func vasto(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	code := run(ctx, args, &out, &errb)
	return code, out.String(), errb.String()
}

// startCLIDC starts a dev cluster (devcluster.DefaultConfig in a temp dir,
// adjusted by set), waits until it is ready, and points the CLI at it
// (VASTO_NATS, VASTO_DC). The context it returns ends after timeout; the
// cluster is shut down when the test ends.
func startCLIDC(t *testing.T, timeout time.Duration, set func(*devcluster.Config)) (context.Context, *devcluster.Cluster) {
	t.Helper()
	cfg := devcluster.DefaultConfig(t.TempDir())
	set(&cfg)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	t.Cleanup(cancel)
	c, err := devcluster.Start(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, c.Shutdown(context.Background())) })
	require.NoError(t, c.WaitReady(ctx))
	t.Setenv("VASTO_NATS", c.NATSURL())
	t.Setenv("VASTO_DC", c.DC())
	return ctx, c
}

// createAndPut creates a keyspace from the CLI and waits until a put of
// key=value through the CLI succeeds.
func createAndPut(t *testing.T, keyspace, shards, replicas, key, value string) {
	t.Helper()
	code, _, errs := vasto(t, "keyspace", "create", keyspace, "--shards", shards, "--replicas", replicas)
	require.Equal(t, 0, code, errs)
	require.Eventually(t, func() bool {
		code, _, _ := vasto(t, "put", keyspace, key, value)
		return code == 0
	}, 20*time.Second, 100*time.Millisecond)
}

// TestCLIWalkthrough follows the README: a DC, then keyspace, put, get,
// scan, del, describe, store list and bench from the CLI.
func TestCLIWalkthrough(t *testing.T) {
	startCLIDC(t, 60*time.Second, func(cfg *devcluster.Config) { cfg.Logger = hclog.NewNullLogger() })

	code, out, errs := vasto(t, "keyspace", "create", "users", "--shards", "3", "--replicas", "2")
	require.Equal(t, 0, code, errs)
	require.Contains(t, out, "created keyspace users: 3 shards x 2 replicas")
	require.Contains(t, out, "SHARD")

	require.Eventually(t, func() bool {
		code, _, _ := vasto(t, "put", "users", "alice", "42")
		return code == 0
	}, 20*time.Second, 100*time.Millisecond)
	code, out, errs = vasto(t, "get", "users", "alice", "-v")
	require.Equal(t, 0, code, errs)
	require.True(t, strings.HasPrefix(out, "42\n"), out)
	require.Contains(t, out, "origin dc1/store")

	code, out, errs = vasto(t, "put", "users", "bob", "7", "--ttl", "1h", "--ack", "published")
	require.Equal(t, 0, code, errs)
	require.Contains(t, out, "acknowledged published")
	code, _, errs = vasto(t, "put", "users", "bob", "7", "--ack", "everywhere")
	require.NotEqual(t, 0, code)
	require.Contains(t, errs, "acknowledgement level")
	code, out, _ = vasto(t, "scan", "users", "--limit", "10")
	require.Equal(t, 0, code)
	require.Equal(t, []string{"alice  42", "bob    7"}, strings.Split(strings.TrimSpace(out), "\n"))

	code, _, _ = vasto(t, "del", "users", "alice")
	require.Equal(t, 0, code)
	code, _, errs = vasto(t, "get", "users", "alice")
	require.Equal(t, 1, code, "get exits 1 when the key is not found")
	require.Contains(t, errs, "not found")

	code, out, _ = vasto(t, "keyspace", "list")
	require.Equal(t, 0, code)
	require.Contains(t, out, "users")
	code, out, errs = vasto(t, "keyspace", "list", "--json")
	require.Equal(t, 0, code, errs)
	var list []struct{ Name string }
	require.NoError(t, json.Unmarshal([]byte(out), &list), out)
	require.Equal(t, "users", list[0].Name)
	code, out, errs = vasto(t, "keyspace", "describe", "--json", "users")
	require.Equal(t, 0, code, errs)
	var desc struct {
		Name      string
		Shards    int
		Placement []struct{ Replicas []struct{ Store string } }
	}
	require.NoError(t, json.Unmarshal([]byte(out), &desc), out)
	require.Equal(t, 3, desc.Shards)
	require.Len(t, desc.Placement, 3)
	require.Len(t, desc.Placement[0].Replicas, 2)
	code, out, _ = vasto(t, "store", "list")
	require.Equal(t, 0, code)
	require.Contains(t, out, "store1")
	code, out, errs = vasto(t, "store", "list", "--json")
	require.Equal(t, 0, code, errs)
	var stores []struct {
		ID      string
		Healthy bool
	}
	require.NoError(t, json.Unmarshal([]byte(out), &stores), out)
	require.NotEmpty(t, stores)
	require.True(t, stores[0].Healthy)
	code, out, errs = vasto(t, "dc", "status", "--json", "--remote-dcs", "dc9")
	require.Equal(t, 0, code, errs)
	var dcs struct {
		DC    string
		Links []struct {
			RemoteDC string `json:"remote_dc"`
			Link     string
		}
	}
	require.NoError(t, json.Unmarshal([]byte(out), &dcs), out)
	require.Equal(t, "dc1", dcs.DC)
	require.Len(t, dcs.Links, 1)
	require.Equal(t, "dc9", dcs.Links[0].RemoteDC)
	require.Equal(t, "no copy stream", dcs.Links[0].Link)
	// Flags before, between and after the arguments.
	code, _, errs = vasto(t, "put", "--ttl", "1h", "users", "carol", "--timeout", "5s", "9")
	require.Equal(t, 0, code, errs)
	code, out, _ = vasto(t, "get", "users", "carol")
	require.Equal(t, 0, code)
	require.Equal(t, "9\n", out)
	require.NotContains(t, out, "does not know", "no store holds an unknown incarnation")
	code, out, errs = vasto(t, "keyspace", "recover", "--dry-run")
	require.Equal(t, 0, code, errs)
	require.Equal(t, "nothing to recover\n", out)
	code, out, _ = vasto(t, "keyspace", "recover", "nope")
	require.Equal(t, 1, code)
	require.Contains(t, out, "not recovered: nope: no live store holds shards of it")
	code, out, errs = vasto(t, "keyspace", "delete", "users", "--epoch", "1")
	require.Equal(t, 0, code, errs)
	require.Contains(t, out, "recorded incarnation 1 of keyspace users as deleted")

	code, out, errs = vasto(t, "bench", "--keyspace", "users", "-n", "300", "-c", "4")
	require.Equal(t, 0, code, errs)
	require.Contains(t, out, "p99")
	require.Regexp(t, `put\s+300\s+0\s`, out, "no failed operations")
	require.NotContains(t, errs, "\r", "no redrawn progress bar when stderr is not a terminal")
	require.Contains(t, errs, "put: 100% 300/300")
	code, out, errs = vasto(t, "bench", "--keyspace", "users", "-n", "100", "-c", "2", "--ops", "get", "--json")
	require.Equal(t, 0, code, errs)
	var bench struct {
		Results []struct {
			Op     string
			Ops    int
			Errors int64
		}
	}
	require.NoError(t, json.Unmarshal([]byte(out), &bench), out)
	require.Len(t, bench.Results, 1)
	require.Equal(t, 100, bench.Results[0].Ops)

	code, _, errs = vasto(t, "keyspace", "create", "bad.name")
	require.Equal(t, 1, code)
	require.Contains(t, errs, "bad name")
	code, _, errs = vasto(t, "get", "nope", "k")
	require.Equal(t, 1, code)
	require.Contains(t, errs, "unknown keyspace")
	code, _, _ = vasto(t, "frobnicate")
	require.Equal(t, 2, code)
}

func TestConfigFile(t *testing.T) {
	path := t.TempDir() + "/store.conf"
	require.NoError(t, os.WriteFile(path, []byte("# a store\nlisten = 127.0.0.1:0\nnonsense = 1\n"), 0o644))
	code, _, errs := vasto(t, "store", "--config", path, "--dir", t.TempDir())
	require.Equal(t, 2, code)
	require.Contains(t, errs, `unknown setting "nonsense"`)
}

// TestCLIOperations drives the online operations from the CLI: a resize's
// plan, start, describe, status and cancel (or, should the stores finish it
// first, its end), and a store drain waited for.
func TestCLIOperations(t *testing.T) {
	startCLIDC(t, 120*time.Second, func(cfg *devcluster.Config) { cfg.Logger = hclog.NewNullLogger() })
	createAndPut(t, "ops", "1", "1", "k1", "v1")

	// The plan of a resize, then the resize itself.
	code, out, errs := vasto(t, "keyspace", "resize", "ops", "2", "--dry-run")
	require.Equal(t, 0, code, errs)
	require.Contains(t, out, "plan: resize keyspace ops from 1 to 2 shards")
	require.Contains(t, out, "created shards: 1")
	require.Regexp(t, `STEP\s+FROM SHARD\s+FROM STORES\s+TO SHARD\s+TO STORES\s+EST. KEYS\s+EST. BYTES`, out)
	require.Regexp(t, `\n1\s+0\s+store\d\s+1\s+store\d\s+\d+`, out)
	require.Contains(t, out, "total")

	code, out, errs = vasto(t, "keyspace", "resize", "ops", "2")
	require.Equal(t, 0, code, errs)
	m := regexp.MustCompile(`started operation (\d+): resize of keyspace ops \(1 -> 2 shards\)`).FindStringSubmatch(out)
	require.NotNil(t, m, out)
	id := m[1]
	require.Contains(t, out, "vasto op wait "+id)

	code, out, errs = vasto(t, "op", "status", id)
	require.Equal(t, 0, code, errs)
	require.Contains(t, out, "operation "+id+": resize of keyspace ops (1 -> 2 shards)")
	require.Contains(t, out, "state:")

	code, out, errs = vasto(t, "keyspace", "describe", "ops")
	require.Equal(t, 0, code, errs)
	require.Contains(t, out, "operations:")
	require.Regexp(t, `ID\s+KIND\s+STATE\s+DETAIL\s+STARTED\s+FINISHED`, out)
	require.Regexp(t, id+`\s+resize\s+(running|done)\s+1 -> 2 shards`, out)

	// Cancel it. The stores may have switched it already, and then it can
	// only finish.
	code, out, errs = vasto(t, "keyspace", "resize", "ops", "--cancel")
	if code == 0 {
		require.Contains(t, out, "cancelled operation "+id+": resize of keyspace ops")
		code, out, errs = vasto(t, "op", "wait", id)
		require.Equal(t, 1, code, "waiting for a cancelled operation fails")
		require.Contains(t, out, "operation "+id+" cancelled after")
		require.Contains(t, errs, "operation cancelled")
	} else {
		t.Logf("cancel refused: %s", errs)
		require.Regexp(t, `switched|not being resized`, errs)
		code, out, errs = vasto(t, "op", "wait", id, "--poll", "100ms")
		require.Equal(t, 0, code, errs)
		require.Contains(t, out, "operation "+id+" done after")
	}
	code, out, _ = vasto(t, "keyspace", "describe", "ops")
	require.Equal(t, 0, code)
	require.NotContains(t, out, "resize in progress")

	code, _, errs = vasto(t, "op", "status", "999999")
	require.Equal(t, 1, code)
	require.Contains(t, errs, "not found")
	code, _, _ = vasto(t, "keyspace", "resize", "ops")
	require.Equal(t, 2, code, "a resize needs the shard count")
	code, _, _ = vasto(t, "op", "frob", "1")
	require.Equal(t, 2, code)
	code, _, errs = vasto(t, "store", "replace", "store1", "store1")
	require.Equal(t, 1, code)
	require.Contains(t, errs, "cannot replace itself")

	// Drain the store holding shard 0: plan, then the drain, waited for.
	code, out, errs = vasto(t, "keyspace", "describe", "ops")
	require.Equal(t, 0, code, errs)
	m = regexp.MustCompile(`\n0\s+1 \(preferred\)\s+(\S+)`).FindStringSubmatch(out)
	require.NotNil(t, m, out)
	holder := m[1]
	code, out, errs = vasto(t, "store", "drain", holder, "--dry-run")
	require.Equal(t, 0, code, errs)
	require.Contains(t, out, "replica moves (dry run")
	require.Regexp(t, `ops/0\s+`+holder+`\s+store\d`, out)

	code, out, errs = vasto(t, "store", "drain", holder, "--wait", "--poll", "100ms")
	require.Equal(t, 0, code, errs)
	require.Regexp(t, `started operation \d+: drain of store `+holder, out)
	require.Regexp(t, `operation \d+ done after`, out)
	require.Regexp(t, `op \d+ moving: \d/1 replica moves, elapsed`, errs, "the progress line")
	code, out, _ = vasto(t, "keyspace", "describe", "ops")
	require.Equal(t, 0, code)
	require.NotRegexp(t, `\n0\s+1 \(preferred\)\s+`+holder+`\s`, out, "the drained store no longer holds the shard")

	code, _, errs = vasto(t, "keyspace", "rebalance", "ops", "--dry-run")
	require.Equal(t, 0, code, errs)

	// A resize from 1 to 2 shards, waited for; every key is still there.
	code, _, errs = vasto(t, "keyspace", "create", "grow", "--shards", "1", "--replicas", "2")
	require.Equal(t, 0, code, errs)
	keys := 40
	for i := 0; i < keys; i++ {
		require.Eventually(t, func() bool {
			code, _, _ := vasto(t, "put", "grow", fmt.Sprintf("k%d", i), fmt.Sprintf("v%d", i))
			return code == 0
		}, 20*time.Second, 50*time.Millisecond)
	}
	code, out, errs = vasto(t, "keyspace", "resize", "grow", "2", "--wait", "--poll", "100ms")
	require.Equal(t, 0, code, errs)
	require.Regexp(t, `started operation \d+: resize of keyspace grow \(1 -> 2 shards\)`, out)
	require.Regexp(t, `operation \d+ done after \S+: resize of keyspace grow \(1 -> 2 shards\)`, out)
	code, out, _ = vasto(t, "keyspace", "describe", "grow")
	require.Equal(t, 0, code)
	require.Contains(t, out, "keyspace grow: 2 shards x 2 replicas")
	require.Regexp(t, `resize\s+done\s+1 -> 2 shards`, out)
	require.NotContains(t, out, "resize in progress")
	for i := 0; i < keys; i++ {
		code, out, errs = vasto(t, "get", "grow", fmt.Sprintf("k%d", i))
		require.Equal(t, 0, code, errs)
		require.Equal(t, fmt.Sprintf("v%d\n", i), out)
	}
}
