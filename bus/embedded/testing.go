package embedded

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
)

// RunTestServer starts a server for the DC dc on a random loopback port with
// its store in t.TempDir(), and shuts it down when the test ends. Its
// warnings and errors go to t.Log.
func RunTestServer(t testing.TB, dc string) *Server {
	t.Helper()
	return StartTestServer(t, TestConfig(t, dc, t.TempDir()))
}

// TestConfig returns DefaultConfig(dc, dir) with a logger that writes
// warnings and errors to t.Log (and nothing once the test has ended).
func TestConfig(t testing.TB, dc, dir string) Config {
	t.Helper()
	cfg := DefaultConfig(dc, dir)
	cfg.Logger = TestLogger(t, hclog.Warn)
	return cfg
}

// StartTestServer starts a server with cfg and shuts it down when the test
// ends; it fails the test if the server does not start.
func StartTestServer(t testing.TB, cfg Config) *Server {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("embedded.New: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := s.Start(ctx); err != nil {
		_ = s.Shutdown(context.Background())
		t.Fatalf("embedded server start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("embedded server shutdown: %v", err)
		}
	})
	return s
}

// TestLogger returns an hclog logger at level that writes to t.Log until
// the test's cleanup runs, and discards afterwards (a goroutine that logs
// late must not make the testing package panic).
func TestLogger(t testing.TB, level hclog.Level) hclog.Logger {
	w := &tbWriter{t: t}
	t.Cleanup(w.stop)
	return hclog.New(&hclog.LoggerOptions{
		Name:   t.Name(),
		Level:  level,
		Output: w,
	})
}

type tbWriter struct {
	mu   sync.Mutex
	t    testing.TB
	done bool
}

func (w *tbWriter) stop() {
	w.mu.Lock()
	w.done = true
	w.mu.Unlock()
}

func (w *tbWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

// StartTestCluster starts an n-server NATS cluster for the DC dc on random
// loopback ports (client and route), each server with its own store under
// t.TempDir() (ClusterConfigs), shuts the servers down when the test ends,
// and returns once the cluster's JetStream meta leader knows all n servers.
// Server i is named "<dc>-n<i>".
func StartTestCluster(t testing.TB, dc string, n int) []*Server {
	t.Helper()
	cfgs, err := ClusterConfigs(TestConfig(t, dc, t.TempDir()), n)
	if err != nil {
		t.Fatalf("cluster configs: %v", err)
	}
	servers := make([]*Server, 0, n)
	for _, cfg := range cfgs {
		servers = append(servers, StartTestServer(t, cfg))
	}
	WaitClusterFormed(t, servers, n)
	return servers
}

// WaitClusterFormed waits up to 30 s until one of servers leads the
// JetStream meta group and knows want servers online (WaitCluster), and
// fails the test otherwise.
func WaitClusterFormed(t testing.TB, servers []*Server, want int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := WaitCluster(ctx, servers, want); err != nil {
		t.Fatal(err)
	}
}
