package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/vasto-kv/vasto/internal/devcluster"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// vasto runs the CLI in-process and returns its exit code and output.
func vasto(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	code := run(ctx, args, &out, &errb)
	return code, out.String(), errb.String()
}

// TestCLIWalkthrough follows the README: a DC, then keyspace, put, get,
// scan, del, describe, store list and bench from the CLI.
func TestCLIWalkthrough(t *testing.T) {
	cfg := devcluster.DefaultConfig(t.TempDir())
	cfg.Logger = hclog.NewNullLogger()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := devcluster.Start(ctx, cfg)
	require.NoError(t, err)
	defer func() { require.NoError(t, c.Shutdown(context.Background())) }()
	require.NoError(t, c.WaitReady(ctx))
	t.Setenv("VASTO_NATS", c.NATSURL())
	t.Setenv("VASTO_DC", c.DC())

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

	code, _, _ = vasto(t, "put", "users", "bob", "7", "--ttl", "1h")
	require.Equal(t, 0, code)
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
	code, out, _ = vasto(t, "store", "list")
	require.Equal(t, 0, code)
	require.Contains(t, out, "store1")

	code, out, errs = vasto(t, "bench", "--keyspace", "users", "-n", "300", "-c", "4")
	require.Equal(t, 0, code, errs)
	require.Contains(t, out, "p99")
	require.Regexp(t, `put\s+300\s+0\s`, out, "no failed operations")

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
