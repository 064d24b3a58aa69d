package embedded

import (
	"context"
	"net"
	"strconv"
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
// loopback ports (client and route), each server with its own store in
// t.TempDir(), shuts the servers down when the test ends, and returns once
// the cluster's JetStream meta leader knows all n servers. Server i is named
// "<dc>-n<i>".
func StartTestCluster(t testing.TB, dc string, n int) []*Server {
	t.Helper()
	servers := make([]*Server, 0, n)
	for _, cfg := range TestClusterConfigs(t, dc, n) {
		servers = append(servers, StartTestServer(t, cfg))
	}
	WaitClusterFormed(t, servers, n)
	return servers
}

// TestClusterConfigs returns the configurations of an n-server cluster for
// the DC dc: TestConfig with its own store in t.TempDir(), a random client
// port, route ports picked free on the loopback now, and every server
// routed to every other. Server i is named "<dc>-n<i>".
func TestClusterConfigs(t testing.TB, dc string, n int) []Config {
	t.Helper()
	ports := make([]int, n)
	routes := make([]string, n)
	for i := range ports {
		ports[i] = freePort(t)
		routes[i] = "nats-route://" + net.JoinHostPort(DefaultHost, strconv.Itoa(ports[i]))
	}
	cfgs := make([]Config, n)
	for i := range cfgs {
		cfg := TestConfig(t, dc, t.TempDir())
		cfg.Name = dc + "-n" + strconv.Itoa(i+1)
		cfg.ClusterListen = net.JoinHostPort(DefaultHost, strconv.Itoa(ports[i]))
		cfg.Routes = routes
		cfgs[i] = cfg
	}
	return cfgs
}

// freePort returns a TCP port free on the loopback right now.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", net.JoinHostPort(DefaultHost, "0"))
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// WaitClusterFormed waits up to 30 s until one of servers leads the
// JetStream meta group and knows want servers online, and fails the test
// otherwise.
func WaitClusterFormed(t testing.TB, servers []*Server, want int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		for _, s := range servers {
			if s.IsMetaLeader() && s.ClusterPeers() >= want {
				return
			}
		}
		time.Sleep(20 * time.Millisecond) // polling with a deadline
	}
	t.Fatalf("NATS cluster of %d servers not formed within 30 s", want)
}

// ClientURLs returns the client URLs of servers, comma-separated, as
// bus.ConnConfig.URL and --nats take them.
func ClientURLs(servers []*Server) string {
	urls := make([]string, 0, len(servers))
	for _, s := range servers {
		urls = append(urls, s.ClientURL())
	}
	return strings.Join(urls, ",")
}
