package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vasto-kv/vasto/bus"
	"github.com/vasto-kv/vasto/bus/embedded"
	"github.com/vasto-kv/vasto/internal/secure"
)

// A DC's NATS with TLS and the users 'vasto auth init' wrote: the master
// runs with its key, an admin lists and asks for keyspaces, a client's key
// cannot ask for a keyspace operation, and no key at all is refused.
func TestAuthInitSecuresNATS(t *testing.T) {
	creds := filepath.Join(t.TempDir(), "creds")
	code, out, stderr := vasto(t, "auth", "init", creds, "--dc", "dc1", "--stores", "s1,s2")
	require.Equal(t, 0, code, stderr)
	for _, f := range []string{"master.nk", "admin.nk", "client.nk", "leaf.nk", "store-s1.nk", "store-s2.nk", "auth.conf"} {
		require.Contains(t, out, filepath.Join(creds, f))
		fi, err := os.Stat(filepath.Join(creds, f))
		require.NoError(t, err)
		if f != "auth.conf" {
			require.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), f)
			seed, err := secure.ReadSecret(filepath.Join(creds, f))
			require.NoError(t, err)
			require.NotContains(t, out, seed.Reveal())
		}
	}
	code, _, stderr = vasto(t, "auth", "init", "--dc", "dc1")
	require.Equal(t, 2, code, stderr)
	code, _, stderr = vasto(t, "auth", "init", creds, "--dc", "dc.1")
	require.Equal(t, 2, code, stderr)

	dev, err := secure.GenerateDev(t.TempDir())
	require.NoError(t, err)
	cfg := embedded.TestConfig(t, "dc1", t.TempDir())
	cfg.TLS, cfg.AuthConfig = dev.Node(), filepath.Join(creds, "auth.conf")
	srv := embedded.StartTestServer(t, cfg)
	t.Setenv("VASTO_NATS", srv.ClientURL())
	t.Setenv("VASTO_DC", "dc1")
	t.Setenv("VASTO_TLS_CA", dev.CA)
	t.Setenv("VASTO_TLS_CERT", dev.ClientCert)
	t.Setenv("VASTO_TLS_KEY", dev.ClientKey)

	mctx, stop := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		var o, e bytes.Buffer
		done <- run(mctx, []string{"master", "--nats-creds", filepath.Join(creds, "master.nk")}, &o, &e)
	}()
	defer func() {
		stop()
		require.Equal(t, 0, <-done)
	}()

	// A store beats with its own key, so the master publishes a topology.
	tlsCfg, err := dev.Client().Client()
	require.NoError(t, err)
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := bus.Connect(sctx, bus.ConnConfig{URL: srv.ClientURL(), CredsFile: filepath.Join(creds, "store-s1.nk"), TLS: tlsCfg})
	require.NoError(t, err)
	defer conn.Close()
	hb, err := bus.HeartbeatSubject("dc1")
	require.NoError(t, err)
	beat := func(seq int) error {
		return conn.Publish(hb, []byte(fmt.Sprintf(`{"store":"s1","addr":"127.0.0.1:6380","seq":%d}`, seq)))
	}
	beats, beating := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(beating)
		for seq := 1; ; seq++ {
			_ = beat(seq)
			select {
			case <-beats:
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	defer func() { close(beats); <-beating }()

	admin := filepath.Join(creds, "admin.nk")
	require.Eventually(t, func() bool {
		code, _, _ := vasto(t, "keyspace", "list", "--nats-creds", admin, "--timeout", "2s")
		return code == 0
	}, 20*time.Second, 100*time.Millisecond)
	// The master creates a keyspace for the admin.
	code, _, stderr = vasto(t, "keyspace", "create", "ks", "--shards", "1", "--replicas", "1", "--nats-creds", admin, "--timeout", "5s")
	require.Equal(t, 0, code, stderr)
	// A client's key reads but cannot ask for an operation.
	client := filepath.Join(creds, "client.nk")
	code, _, stderr = vasto(t, "keyspace", "list", "--nats-creds", client, "--timeout", "2s")
	require.Equal(t, 0, code, stderr)
	code, _, stderr = vasto(t, "keyspace", "create", "ks2", "--shards", "1", "--replicas", "1", "--nats-creds", client, "--timeout", "2s")
	require.NotEqual(t, 0, code)
	require.Contains(t, stderr, "permission denied")
	code, out, stderr = vasto(t, "keyspace", "list", "--nats-creds", client, "--timeout", "2s")
	require.Equal(t, 0, code, stderr)
	require.Contains(t, out, "ks")
	require.NotContains(t, out, "ks2")
	// No key: refused at once, with the reason.
	start := time.Now()
	code, _, stderr = vasto(t, "keyspace", "list", "--timeout", "5s")
	t.Logf("no key refused after %s", time.Since(start))
	require.Equal(t, 1, code)
	require.Contains(t, stderr, "permission")
}
