package embedded

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"
)

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestConfigValidate(t *testing.T) {
	dir := t.TempDir()
	ok := DefaultConfig("dc1", dir)
	require.NoError(t, ok.Validate())
	require.Equal(t, time.Second, ok.SyncInterval)
	require.Equal(t, int64(10<<30), ok.MaxStore)
	require.Equal(t, "127.0.0.1", ok.Host)
	require.Equal(t, -1, ok.Port)

	bad := []func(*Config){
		func(c *Config) { c.DC = "" },
		func(c *Config) { c.DC = "a.b" },
		func(c *Config) { c.DC = "*" },
		func(c *Config) { c.DC = ">" },
		func(c *Config) { c.DC = " x" },
		func(c *Config) { c.DC = "$JS" },
		func(c *Config) { c.DC = strings.Repeat("d", 65) },
		func(c *Config) { c.Name = "has space" },
		func(c *Config) { c.Name = strings.Repeat("n", 129) },
		func(c *Config) { c.Dir = "" },
		func(c *Config) { c.Port = 70000 },
		func(c *Config) { c.Port = -2 },
		func(c *Config) { c.SyncInterval = -time.Second },
		func(c *Config) { c.MaxStore = -1 },
		func(c *Config) { c.LeafListen = "nohostport" },
		func(c *Config) { c.LeafListen = "127.0.0.1:x" },
		func(c *Config) { c.MonitorListen = "127.0.0.1" },
		func(c *Config) { c.LeafRemotes = []string{"http://127.0.0.1:7422"} },
		func(c *Config) { c.LeafRemotes = []string{"nats-leaf://"} },
		func(c *Config) { c.Routes = []string{"nats-route://127.0.0.1:6222"} },
		func(c *Config) { c.ClusterName = "c1" },
		func(c *Config) { c.ClusterListen = "127.0.0.1:6222" }, // no name of its own
		func(c *Config) { c.Name, c.ClusterListen = "n1", "127.0.0.1:x" },
		func(c *Config) {
			c.Name, c.ClusterListen, c.Routes = "n1", "127.0.0.1:6222", []string{"http://127.0.0.1:6222"}
		},
		func(c *Config) {
			c.Name, c.ClusterListen, c.Routes = "n1", "127.0.0.1:6222", []string{"nats-route://h"}
		},
		func(c *Config) { c.Name, c.ClusterListen, c.ClusterName = "n1", "127.0.0.1:6222", "a b" },
	}
	for i, mut := range bad {
		c := DefaultConfig("dc1", dir)
		mut(&c)
		require.ErrorIs(t, c.Validate(), ErrInvalidConfig, "case %d", i)
		_, err := New(c)
		require.ErrorIs(t, err, ErrInvalidConfig, "case %d", i)
	}
	// Zero values take defaults; the default name fits a 64-byte DC.
	c := Config{DC: strings.Repeat("d", 64), Dir: dir}
	require.NoError(t, c.Validate())
	require.Equal(t, "vasto-"+c.DC, c.withDefaults().Name)
	// A clustered server gets the DC's cluster name by default.
	c = Config{DC: "dc1", Dir: dir, Name: "n1", ClusterListen: "127.0.0.1:6222", Routes: []string{"nats-route://127.0.0.1:6223"}}
	require.NoError(t, c.Validate())
	require.Equal(t, "vasto-dc1", c.withDefaults().ClusterName)
}

func TestClusterFormsAndSurvivesAServer(t *testing.T) {
	servers := StartTestCluster(t, "dc1", 3)
	for _, s := range servers {
		require.NotEmpty(t, s.RouteURL())
	}
	require.Len(t, strings.Split(ClientURLs(servers), ","), 3)
	leader := -1
	for i, s := range servers {
		if s.IsMetaLeader() {
			leader = i
		}
	}
	require.GreaterOrEqual(t, leader, 0)
	require.NoError(t, servers[leader].Shutdown(context.Background()))
	rest := append(append([]*Server(nil), servers[:leader]...), servers[leader+1:]...)
	// The two left elect a new meta leader.
	WaitClusterFormed(t, rest, 2)
}

func TestStartShutdown(t *testing.T) {
	ctx := testCtx(t)
	dir := t.TempDir()
	s, err := New(TestConfig(t, "dc1", dir))
	require.NoError(t, err)
	// New starts nothing.
	require.Empty(t, s.ClientURL())
	require.Nil(t, s.ConnectOptions())
	_, err = os.Stat(filepath.Join(dir, "jetstream"))
	require.True(t, os.IsNotExist(err))

	require.NoError(t, s.Start(ctx))
	require.True(t, strings.HasPrefix(s.ClientURL(), "nats://127.0.0.1:"), s.ClientURL())
	require.ErrorIs(t, s.Start(ctx), ErrClosed)
	require.Equal(t, "dc1", s.DC())

	nc, err := nats.Connect(s.ClientURL())
	require.NoError(t, err)
	js, err := nc.JetStream()
	require.NoError(t, err)
	info, err := js.AccountInfo()
	require.NoError(t, err)
	require.Equal(t, "dc1", info.Domain)
	nc.Close()

	require.NoError(t, s.Shutdown(ctx))
	require.NoError(t, s.Shutdown(ctx)) // idempotent
	require.ErrorIs(t, s.Start(ctx), ErrClosed)

	// Shutdown before Start.
	s2, err := New(DefaultConfig("dc2", t.TempDir()))
	require.NoError(t, err)
	require.NoError(t, s2.Shutdown(ctx))
	require.ErrorIs(t, s2.Start(ctx), ErrClosed)
}

// MonitorListen serves nats-server's HTTP monitoring endpoints.
func TestMonitorEndpoint(t *testing.T) {
	ctx := testCtx(t)
	cfg := TestConfig(t, "dc1", t.TempDir())
	cfg.MonitorListen = "127.0.0.1:0"
	s, err := New(cfg)
	require.NoError(t, err)
	require.Empty(t, s.MonitorURL())
	require.NoError(t, s.Start(ctx))
	t.Cleanup(func() { require.NoError(t, s.Shutdown(context.Background())) })
	url := s.MonitorURL()
	require.True(t, strings.HasPrefix(url, "http://127.0.0.1:"), url)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/jsz", nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, string(body), `"domain": "dc1"`)

	// Without MonitorListen there is none.
	s2, err := New(TestConfig(t, "dc2", t.TempDir()))
	require.NoError(t, err)
	require.NoError(t, s2.Start(ctx))
	t.Cleanup(func() { require.NoError(t, s2.Shutdown(context.Background())) })
	require.Empty(t, s2.MonitorURL())
}

// A fatal start-up error (port in use) makes Start fail with the server's
// message instead of exiting the process.
func TestStartFailsCleanlyOnFatal(t *testing.T) {
	ctx := testCtx(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()

	cfg := TestConfig(t, "dc1", t.TempDir())
	cfg.Port = ln.Addr().(*net.TCPAddr).Port
	s, err := New(cfg)
	require.NoError(t, err)
	start := time.Now()
	err = s.Start(ctx)
	require.ErrorIs(t, err, ErrNotReady)
	require.Contains(t, err.Error(), "listening")
	require.Less(t, time.Since(start), 5*time.Second)
	require.NoError(t, s.Shutdown(ctx))
}

func TestInProcessClient(t *testing.T) {
	s := RunTestServer(t, "dc1")
	nc, err := nats.Connect("", s.ConnectOptions()...)
	require.NoError(t, err)
	defer nc.Close()
	sub, err := nc.SubscribeSync("x")
	require.NoError(t, err)
	require.NoError(t, nc.Publish("x", []byte("hi")))
	m, err := sub.NextMsg(5 * time.Second)
	require.NoError(t, err)
	require.Equal(t, "hi", string(m.Data))
}

// Two DCs, each its own JetStream domain, linked by a leafnode: core NATS
// messages cross, and each DC's JetStream API stays separate, reachable
// across the link by domain.
func TestLeafnodeLinksDCs(t *testing.T) {
	hubCfg := TestConfig(t, "dc1", t.TempDir())
	hubCfg.LeafListen = "127.0.0.1:-1"
	hub := StartTestServer(t, hubCfg)
	require.True(t, strings.HasPrefix(hub.LeafURL(), "nats-leaf://127.0.0.1:"), hub.LeafURL())

	spokeCfg := TestConfig(t, "dc2", t.TempDir())
	spokeCfg.LeafRemotes = []string{hub.LeafURL()}
	spoke := StartTestServer(t, spokeCfg)
	require.Empty(t, spoke.LeafURL())

	nc1, err := nats.Connect(hub.ClientURL())
	require.NoError(t, err)
	defer nc1.Close()
	nc2, err := nats.Connect(spoke.ClientURL())
	require.NoError(t, err)
	defer nc2.Close()

	sub, err := nc2.SubscribeSync("vasto.hb.dc1")
	require.NoError(t, err)
	require.NoError(t, nc2.Flush())
	// Interest propagates over the leafnode asynchronously: publish until
	// the subscriber sees a message.
	require.Eventually(t, func() bool {
		_ = nc1.Publish("vasto.hb.dc1", []byte("beat"))
		m, err := sub.NextMsg(20 * time.Millisecond)
		return err == nil && string(m.Data) == "beat"
	}, 10*time.Second, 10*time.Millisecond)

	js1, err := nc1.JetStream()
	require.NoError(t, err)
	info, err := js1.AccountInfo()
	require.NoError(t, err)
	require.Equal(t, "dc1", info.Domain)
	jsRemote, err := nc1.JetStream(nats.Domain("dc2"))
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		info, err := jsRemote.AccountInfo(nats.MaxWait(time.Second))
		return err == nil && info.Domain == "dc2"
	}, 10*time.Second, 50*time.Millisecond)
}

func TestServerLoggerNeverExits(t *testing.T) {
	l := &serverLogger{log: hclog.NewNullLogger()}
	l.Fatalf("boom %d", 1)
	l.Fatalf("second")
	require.Equal(t, "boom 1", l.fatalMsg())
	l.Noticef("n")
	l.Warnf("w")
	l.Errorf("e")
	l.Debugf("d")
	l.Tracef("t")
}
