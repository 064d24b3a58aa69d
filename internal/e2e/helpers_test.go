package e2e

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/vasto-kv/vasto/bus"
	"github.com/vasto-kv/vasto/client"
	"github.com/vasto-kv/vasto/internal/devcluster"
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		runChild()
		return
	}
	if os.Getenv(natsChildEnv) != "" {
		runNATSChild()
		return
	}
	goleak.VerifyTestMain(m,
		// nats-server's own goroutine waiting (up to 30 s) for a source
		// consumer reply that never comes; it holds nothing of ours.
		goleak.IgnoreTopFunction("github.com/nats-io/nats-server/v2/server.(*stream).trySetupSourceConsumer.func3"))
}

type logWriter struct{ t testing.TB }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}

func testLogger(t testing.TB) hclog.Logger {
	level := hclog.Warn
	if os.Getenv("VASTO_TEST_DEBUG") != "" {
		level = hclog.Debug
	}
	return hclog.New(&hclog.LoggerOptions{Name: "e2e", Level: level, Output: logWriter{t}})
}

// startCluster runs a DC of n stores for the test.
func startCluster(t testing.TB, n int, cb func(*devcluster.Config)) *devcluster.Cluster {
	t.Helper()
	cfg := devcluster.DefaultConfig(t.TempDir())
	cfg.Stores = n
	cfg.Logger = testLogger(t)
	if cb != nil {
		cb(&cfg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := devcluster.Start(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		require.NoError(t, c.Shutdown(ctx))
	})
	require.NoError(t, c.WaitReady(ctx))
	return c
}

func newClient(t testing.TB, c *devcluster.Cluster) *client.Client {
	t.Helper()
	return newClientAs(t, c, "", "")
}

// newClientAs is newClient presenting user and password to the stores.
// On a cluster with NATS users it connects to NATS as the admin role, so
// tests can create keyspaces with it.
func newClientAs(t testing.TB, c *devcluster.Cluster, user, password string) *client.Client {
	t.Helper()
	return newClientRole(t, c, bus.RoleAdmin, user, password)
}

// newClientRole is newClientAs connecting to NATS as role.
func newClientRole(t testing.TB, c *devcluster.Cluster, role bus.Role, user, password string) *client.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cfg := client.DefaultConfig(c.NATSURL(), c.DC())
	cfg.Logger = testLogger(t)
	cfg.Username, cfg.Password = user, password
	var err error
	cfg.TLS, err = c.ClientTLS()
	require.NoError(t, err)
	cfg.NATSTLS, cfg.NATSCreds = cfg.TLS, c.Creds(role, "")
	cl, err := client.New(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(func() { cl.Close() })
	return cl
}

// createKeyspace creates a keyspace and waits until every replica serves it.
func createKeyspace(t *testing.T, c *devcluster.Cluster, cl *client.Client, name string, shards, replicas int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, cl.CreateKeyspace(ctx, name, shards, replicas))
	require.NoError(t, cl.WaitForKeyspace(ctx, name))
	waitServing(t, cl, name)
}

// waitServing waits until every replica of every shard of ks serves reads.
func waitServing(t *testing.T, cl *client.Client, ks string) {
	t.Helper()
	require.Eventually(t, func() bool {
		info, err := cl.DescribeKeyspace(context.Background(), ks)
		if err != nil {
			return false
		}
		for _, sh := range info.Placement {
			for _, r := range sh.Replicas {
				if !r.Healthy || !r.Serving {
					return false
				}
			}
		}
		return true
	}, 20*time.Second, 20*time.Millisecond)
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}
