package storenode

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/require"

	"github.com/vasto-kv/vasto/bus"
	"github.com/vasto-kv/vasto/bus/embedded"
	"github.com/vasto-kv/vasto/server"
	"github.com/vasto-kv/vasto/store"
	"github.com/vasto-kv/vasto/topology"
)

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func testConfig(t *testing.T) Config {
	cfg := DefaultConfig(t.TempDir(), "127.0.0.1:0")
	cfg.Engine.DC, cfg.Engine.Node = "dc1", "s1"
	cfg.Engine.BlockCacheBytes, cfg.Engine.WriteBufferBytes = 8<<20, 4<<20
	cfg.Logger = embedded.TestLogger(t, hclog.Warn)
	return cfg
}

// do sends an inline command to the RESP server at addr and returns the
// reply's first line.
func do(t *testing.T, addr, cmd string) string {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer nc.Close()
	require.NoError(t, nc.SetDeadline(time.Now().Add(10*time.Second)))
	_, err = io.WriteString(nc, cmd+"\r\n")
	require.NoError(t, err)
	line, err := bufio.NewReader(nc).ReadString('\n')
	require.NoError(t, err)
	return line
}

func ping(t *testing.T, addr string) string { return do(t, addr, "PING") }

func TestValidate(t *testing.T) {
	for name, mut := range map[string]func(*Config){
		"no dir":           func(c *Config) { c.Engine.Dir = "" },
		"no listen":        func(c *Config) { c.Listen = "" },
		"no logger":        func(c *Config) { c.Logger = nil },
		"no write timeout": func(c *Config) { c.WriteTimeout = 0 },
		"negative fill":    func(c *Config) { c.FillRate = -1 },
		"remote dcs alone": func(c *Config) { c.RemoteDCs = []string{"dc2"} },
	} {
		t.Run(name, func(t *testing.T) {
			cfg := DefaultConfig("dir", "127.0.0.1:0")
			mut(&cfg)
			_, err := New(cfg)
			require.ErrorIs(t, err, ErrInvalidConfig)
		})
	}
	// The engine's sizes are refused by New, before anything opens.
	for name, mut := range map[string]func(*store.Config){
		"memtables over memory budget": func(c *store.Config) { c.MemtableBytes = c.BlockCacheBytes + 1 },
		"shard open files below 10":    func(c *store.Config) { c.ShardOpenFiles = 9 },
		"no room for one shard":        func(c *store.Config) { c.MaxOpenFiles = 13 },
	} {
		t.Run(name, func(t *testing.T) {
			cfg := DefaultConfig("dir", "127.0.0.1:0")
			mut(&cfg.Engine)
			_, err := New(cfg)
			require.ErrorIs(t, err, ErrInvalidConfig)
			require.ErrorIs(t, err, store.ErrInvalidConfig)
		})
	}
	require.NoError(t, DefaultConfig("dir", "127.0.0.1:0").Validate())
}

func TestNewStartsNothing(t *testing.T) {
	cfg := testConfig(t)
	n, err := New(cfg)
	require.NoError(t, err)
	require.Empty(t, n.Addr())
	require.Nil(t, n.Engine())
	require.NoError(t, n.Shutdown(testCtx(t)))
	require.ErrorIs(t, n.Start(testCtx(t)), ErrStopped)
}

func TestStartAlone(t *testing.T) {
	cfg := testConfig(t)
	cfg.Keyspace = server.DefaultKeyspace
	cfg.Advertise = "store.example:6380"
	n, err := New(cfg)
	require.NoError(t, err)
	ctx := testCtx(t)
	require.NoError(t, n.Start(ctx))
	require.ErrorIs(t, n.Start(ctx), ErrStarted)

	require.NotEmpty(t, n.Addr())
	require.Equal(t, "store.example:6380", n.AdvertisedAddr())
	require.Equal(t, "+PONG\r\n", ping(t, n.Addr()))
	eng := n.Engine()
	require.NotNil(t, eng)
	sh, err := eng.Shard(server.DefaultKeyspace, 0)
	require.NoError(t, err)
	// Alone, writes append no change-log entry.
	require.Equal(t, "+OK\r\n", do(t, n.Addr(), "SET k v"))
	first, last := sh.LogBounds()
	require.Less(t, last, first, "a store alone logs no changes")

	addr := n.Addr()
	require.NoError(t, n.Shutdown(ctx))
	require.NoError(t, n.Shutdown(ctx), "a second Shutdown is fine")
	require.Empty(t, n.Addr())
	require.Nil(t, n.Engine())
	_, err = net.Dial("tcp", addr)
	require.Error(t, err, "the server stopped")

	// The data directory is closed: it opens again.
	n, err = New(cfg)
	require.NoError(t, err)
	require.NoError(t, n.Start(ctx))
	require.Equal(t, "$1\r\n", do(t, n.Addr(), "GET k"))
	require.NoError(t, n.Shutdown(ctx))
}

func TestStartFailsAndStopsWhatItStarted(t *testing.T) {
	cfg := testConfig(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	cfg.Listen = ln.Addr().String() // taken
	n, err := New(cfg)
	require.NoError(t, err)
	ctx := testCtx(t)
	require.Error(t, n.Start(ctx))
	require.Nil(t, n.Engine())
	require.NoError(t, n.Shutdown(ctx))

	// The engine was closed: the directory opens again.
	cfg.Listen = "127.0.0.1:0"
	n, err = New(cfg)
	require.NoError(t, err)
	require.NoError(t, n.Start(ctx))
	require.NoError(t, n.Shutdown(ctx))
}

func TestStartInDC(t *testing.T) {
	ns := embedded.RunTestServer(t, "dc1")
	ctx := testCtx(t)
	watch, err := bus.Connect(ctx, bus.ConnConfig{URL: ns.ClientURL(), Name: t.Name(), Logger: embedded.TestLogger(t, hclog.Warn)})
	require.NoError(t, err)
	defer watch.Close()
	subj, err := bus.HeartbeatSubject("dc1")
	require.NoError(t, err)
	var mu sync.Mutex
	var beats []topology.Heartbeat
	sub, err := watch.Subscribe(subj, func(_ string, data []byte) {
		var hb topology.Heartbeat
		if json.Unmarshal(data, &hb) == nil {
			mu.Lock()
			beats = append(beats, hb)
			mu.Unlock()
		}
	})
	require.NoError(t, err)
	defer sub.Stop()

	cfg := testConfig(t)
	cfg.NATSURL = ns.ClientURL()
	cfg.Keyspace = "ks" // ignored in a DC
	n, err := New(cfg)
	require.NoError(t, err)
	require.NoError(t, n.Start(ctx))
	require.Equal(t, n.Addr(), n.AdvertisedAddr())
	require.Equal(t, "+PONG\r\n", ping(t, n.Addr()))
	require.Empty(t, n.Engine().Shards(), "a store in a DC serves what the master places on it")
	// The agent heartbeats with the server's address.
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		for _, hb := range beats {
			if hb.Store == "s1" && hb.Addr == n.Addr() {
				return true
			}
		}
		return false
	}, 10*time.Second, 20*time.Millisecond)

	sctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = n.Shutdown(sctx)
		}()
	}
	wg.Wait()
	require.NoError(t, errors.Join(errs...), "concurrent Shutdowns are fine")
	require.NoError(t, n.Shutdown(sctx))
	require.Nil(t, n.Engine())
}

func TestStartInDCWithRemoteDCs(t *testing.T) {
	ns := embedded.RunTestServer(t, "dc1")
	cfg := testConfig(t)
	cfg.NATSURL = ns.ClientURL()
	cfg.RemoteDCs = []string{"dc2"}
	n, err := New(cfg)
	require.NoError(t, err)
	ctx := testCtx(t)
	require.NoError(t, n.Start(ctx))
	require.Equal(t, "+PONG\r\n", ping(t, n.Addr()))
	require.NoError(t, n.Shutdown(ctx))
	require.NoError(t, n.Shutdown(ctx))
}
