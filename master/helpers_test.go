package master

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/require"

	"github.com/vasto-kv/vasto/bus"
	"github.com/vasto-kv/vasto/bus/embedded"
	"github.com/vasto-kv/vasto/topology"
)

const testDC = "dc1"

// testCtx returns a context that ends with the test or after 30 s.
func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// testBus starts an embedded NATS for testDC and returns a connection to it.
func testBus(t testing.TB) (*embedded.Server, *bus.Conn) {
	t.Helper()
	srv := embedded.RunTestServer(t, testDC)
	return srv, testConn(t, srv)
}

// testConn connects to srv and closes the connection at the end of the test
// (before the server stops).
func testConn(t testing.TB, srv *embedded.Server) *bus.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := bus.Connect(ctx, bus.ConnConfig{URL: srv.ClientURL(), Name: t.Name(), Logger: embedded.TestLogger(t, hclog.Warn)})
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return c
}

// startMaster starts a master on conn and shuts it down at the end of the
// test.
func startMaster(t testing.TB, conn *bus.Conn) *Master {
	t.Helper()
	cfg := DefaultConfig(testDC, conn)
	cfg.Logger = embedded.TestLogger(t, hclog.Info)
	m, err := New(cfg)
	require.NoError(t, err)
	require.NoError(t, m.Start(testCtx(t)))
	t.Cleanup(func() { shutdown(t, m) })
	return m
}

func shutdown(t testing.TB, m *Master) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, m.Shutdown(ctx))
}

// fakeStore is a store as the master sees it: a goroutine publishing
// heartbeats on the DC's heartbeat subject, with the real message format.
type fakeStore struct {
	id, addr string
	cancel   context.CancelFunc
	done     chan struct{}
	stopOnce sync.Once
}

// runStore starts beating at once and every topology.HeartbeatInterval until
// stop (or the end of the test).
func runStore(t testing.TB, conn *bus.Conn, id string, port int) *fakeStore {
	t.Helper()
	subject, err := bus.HeartbeatSubject(testDC)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	s := &fakeStore{id: id, addr: fmt.Sprintf("127.0.0.1:%d", port), cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		tk := time.NewTicker(topology.HeartbeatInterval)
		defer tk.Stop()
		for seq := uint64(1); ; seq++ {
			b, err := json.Marshal(topology.Heartbeat{Store: s.id, Addr: s.addr, Seq: seq})
			if err != nil {
				panic(err)
			}
			_ = conn.Publish(subject, b) // at most once, like the real store
			select {
			case <-ctx.Done():
				return
			case <-tk.C:
			}
		}
	}()
	t.Cleanup(s.stop)
	return s
}

// stop stops beating and waits until the goroutine is gone.
func (s *fakeStore) stop() {
	s.stopOnce.Do(s.cancel)
	<-s.done
}

// watcher records every topology published in the bucket.
type watcher struct {
	mu   sync.Mutex
	tops []*topology.Topology
	revs []uint64
	bad  []error
}

func watchTopology(t testing.TB, conn *bus.Conn) *watcher {
	t.Helper()
	w := &watcher{}
	bw, err := conn.WatchTopology(context.Background(), testDC, func(doc []byte, rev uint64) {
		top, err := topology.Decode(doc)
		w.mu.Lock()
		defer w.mu.Unlock()
		if err != nil {
			w.bad = append(w.bad, err)
			return
		}
		w.tops = append(w.tops, top)
		w.revs = append(w.revs, rev)
	})
	require.NoError(t, err)
	t.Cleanup(func() {
		bw.Stop()
		w.mu.Lock()
		defer w.mu.Unlock()
		require.Empty(t, w.bad, "undecodable topology published")
	})
	return w
}

// latest returns the last topology seen, or nil.
func (w *watcher) latest() *topology.Topology {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.tops) == 0 {
		return nil
	}
	return w.tops[len(w.tops)-1]
}

// all returns every topology seen, in revision order.
func (w *watcher) all() []*topology.Topology {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]*topology.Topology(nil), w.tops...)
}

// requireVersionsIncrease checks that every published topology has a higher
// version than the one before it.
func (w *watcher) requireVersionsIncrease(t testing.TB) {
	t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	for i := 1; i < len(w.tops); i++ {
		require.Greater(t, w.revs[i], w.revs[i-1])
		require.Greater(t, w.tops[i].Version, w.tops[i-1].Version, "revision %d published a version not above revision %d", w.revs[i], w.revs[i-1])
	}
}

// has reports whether t is not nil and every store in ids is there with the
// given health.
func hasStores(t *topology.Topology, healthy bool, ids ...string) bool {
	if t == nil {
		return false
	}
	for _, id := range ids {
		st, ok := t.Stores[id]
		if !ok || st.Healthy != healthy {
			return false
		}
	}
	return true
}

// request sends an admin request: req is marshalled unless it is []byte.
func request(t testing.TB, conn *bus.Conn, op string, req any) ([]byte, error) {
	t.Helper()
	subject, err := bus.AdminSubject(testDC, op)
	require.NoError(t, err)
	data, ok := req.([]byte)
	if !ok {
		data, err = json.Marshal(req)
		require.NoError(t, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return conn.Request(ctx, subject, data)
}

// requestOK sends an admin request that must succeed and decodes its reply.
func requestOK[T any](t testing.TB, conn *bus.Conn, op string, req any) T {
	t.Helper()
	b, err := request(t, conn, op, req)
	require.NoError(t, err)
	var out T
	require.NoError(t, json.Unmarshal(b, &out))
	return out
}

func create(name string, shards, replicas int) topology.CreateKeyspaceRequest {
	return topology.CreateKeyspaceRequest{Name: name, Shards: shards, Replicas: replicas}
}

// requireCode checks that err is an admin error reply with code.
func requireCode(t testing.TB, err error, code string) {
	t.Helper()
	require.ErrorIs(t, err, bus.ErrRemote)
	require.Contains(t, err.Error(), ": "+code+": ")
}

// waitStores waits until m has published every store in ids as healthy.
func waitStores(t testing.TB, m *Master, ids ...string) {
	t.Helper()
	require.Eventually(t, func() bool { return hasStores(m.Topology(), true, ids...) },
		5*time.Second, 5*time.Millisecond, "stores %v never all healthy", ids)
}
