package master

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/require"

	"github.com/vasto-kv/vasto/bus"
	"github.com/vasto-kv/vasto/bus/embedded"
	"github.com/vasto-kv/vasto/lww"
	"github.com/vasto-kv/vasto/topology"
)

func TestConfigValidate(t *testing.T) {
	_, conn := testBus(t)
	require.NoError(t, DefaultConfig("dc1", conn).Validate())
	// Zero fields with a default are fine.
	require.NoError(t, Config{DC: "dc1", Bus: conn}.Validate())
	for name, cfg := range map[string]Config{
		"bad dc":        {DC: "a.b", Bus: conn},
		"empty dc":      {Bus: conn},
		"nil bus":       {DC: "dc1"},
		"negative tick": {DC: "dc1", Bus: conn, TickInterval: -time.Second},
		"slow tick":     {DC: "dc1", Bus: conn, TickInterval: 2 * topology.DeadAfter},
	} {
		t.Run(name, func(t *testing.T) {
			require.ErrorIs(t, cfg.Validate(), ErrInvalidConfig)
			_, err := New(cfg)
			require.ErrorIs(t, err, ErrInvalidConfig)
		})
	}
}

func TestLifecycle(t *testing.T) {
	_, conn := testBus(t)
	ctx := testCtx(t)

	// Shutdown before Start, twice; Start afterwards is refused.
	m, err := New(DefaultConfig(testDC, conn))
	require.NoError(t, err)
	require.NoError(t, m.Shutdown(ctx))
	require.NoError(t, m.Shutdown(ctx))
	require.ErrorIs(t, m.Start(ctx), ErrClosed)

	// New starts nothing: no responder before Start.
	m, err = New(DefaultConfig(testDC, conn))
	require.NoError(t, err)
	_, err = request(t, conn, topology.OpListKeyspaces, struct{}{})
	require.ErrorIs(t, err, bus.ErrNoResponders)
	require.EqualValues(t, 0, m.Topology().Version)

	require.NoError(t, m.Start(ctx))
	require.ErrorIs(t, m.Start(ctx), ErrClosed)
	l := requestOK[topology.ListKeyspacesReply](t, conn, topology.OpListKeyspaces, struct{}{})
	require.Empty(t, l.Keyspaces)

	require.NoError(t, m.Shutdown(ctx))
	require.NoError(t, m.Shutdown(ctx))
	_, err = request(t, conn, topology.OpListKeyspaces, struct{}{})
	require.ErrorIs(t, err, bus.ErrNoResponders)
}

func TestCreateKeyspaceSeenByWatch(t *testing.T) {
	_, conn := testBus(t)
	m := startMaster(t, conn)
	for i := 1; i <= 3; i++ {
		runStore(t, conn, fmt.Sprintf("s%d", i), 7000+i)
	}
	waitStores(t, m, "s1", "s2", "s3")
	w := watchTopology(t, conn)
	require.Eventually(t, func() bool { return hasStores(w.latest(), true, "s1", "s2", "s3") },
		5*time.Second, 5*time.Millisecond)

	reply := requestOK[topology.KeyspaceReply](t, conn, topology.OpCreateKeyspace, create("users", 4, 2))
	require.Equal(t, "users", reply.Keyspace.Name)
	require.Equal(t, 4, reply.Keyspace.Shards)
	require.Equal(t, 2, reply.Keyspace.Replicas)
	require.Len(t, reply.Keyspace.Placement, 4)
	for _, reps := range reply.Keyspace.Placement {
		require.Len(t, reps, 2)
		require.NotEqual(t, reps[0], reps[1])
		for _, id := range reps {
			require.Equal(t, fmt.Sprintf("127.0.0.1:%d", 7000+int(id[1]-'0')), reply.Stores[id].Addr)
		}
	}

	// The reply comes after the publish: the bucket already holds it.
	doc, _, err := conn.GetTopology(testCtx(t), testDC)
	require.NoError(t, err)
	inBucket, err := topology.Decode(doc)
	require.NoError(t, err)
	require.Equal(t, reply.Version, inBucket.Version)
	require.Equal(t, reply.Keyspace, inBucket.Keyspaces["users"])

	// And a watcher sees it within 100 ms.
	require.Eventually(t, func() bool {
		top := w.latest()
		return top != nil && top.Version >= reply.Version && top.Keyspaces["users"] != nil
	}, 100*time.Millisecond, time.Millisecond)
	require.Equal(t, reply.Version, m.Topology().Version)

	// Read-only operations.
	d := requestOK[topology.KeyspaceReply](t, conn, topology.OpDescribeKeyspace, topology.NameRequest{Name: "users"})
	require.Equal(t, reply, d)
	l := requestOK[topology.ListKeyspacesReply](t, conn, topology.OpListKeyspaces, nil)
	require.Equal(t, reply.Version, l.Version)
	require.Len(t, l.Keyspaces, 1)
	require.Equal(t, reply.Keyspace, l.Keyspaces[0])
	s := requestOK[topology.ListStoresReply](t, conn, topology.OpListStores, []byte(""))
	require.Len(t, s.Stores, 3)
	for i, st := range s.Stores {
		require.Equal(t, fmt.Sprintf("s%d", i+1), st.ID)
		require.True(t, st.Healthy)
	}

	// Delete: replied after the publish, seen by the watcher.
	del := requestOK[topology.KeyspaceReply](t, conn, topology.OpDeleteKeyspace, topology.NameRequest{Name: "users"})
	require.Equal(t, reply.Keyspace, del.Keyspace)
	require.Equal(t, reply.Version+1, del.Version)
	require.Eventually(t, func() bool {
		top := w.latest()
		return top != nil && top.Version >= del.Version && top.Keyspaces["users"] == nil
	}, 100*time.Millisecond, time.Millisecond)
	_, err = request(t, conn, topology.OpDescribeKeyspace, topology.NameRequest{Name: "users"})
	requireCode(t, err, topology.CodeUnknown)
	_, err = request(t, conn, topology.OpDeleteKeyspace, topology.NameRequest{Name: "users"})
	requireCode(t, err, topology.CodeUnknown)

	w.requireVersionsIncrease(t)
}

func TestAdminErrors(t *testing.T) {
	_, conn := testBus(t)
	m := startMaster(t, conn)

	// No store at all, then one store.
	_, err := request(t, conn, topology.OpCreateKeyspace, create("ks", 1, 1))
	requireCode(t, err, topology.CodeNotEnoughStore)
	runStore(t, conn, "s1", 7001)
	waitStores(t, m, "s1")
	_, err = request(t, conn, topology.OpCreateKeyspace, create("ks", 2, 2))
	requireCode(t, err, topology.CodeNotEnoughStore)
	require.Contains(t, err.Error(), "2 replicas need 2 healthy stores, have 1")

	for _, name := range []string{"a.b", "x*", "", "a b", "vasto.>", "é", string(make([]byte, 65))} {
		_, err = request(t, conn, topology.OpCreateKeyspace, create(name, 1, 1))
		requireCode(t, err, topology.CodeBadName)
		_, err = request(t, conn, topology.OpDeleteKeyspace, topology.NameRequest{Name: name})
		requireCode(t, err, topology.CodeBadName)
		_, err = request(t, conn, topology.OpDescribeKeyspace, topology.NameRequest{Name: name})
		requireCode(t, err, topology.CodeBadName)
	}

	for _, req := range []any{
		create("ks", 0, 1),
		create("ks", topology.MaxShards+1, 1),
		create("ks", 1, 0),
		create("ks", 1, topology.MaxReplicas+1),
		[]byte("{not json"),
		[]byte(""),
		[]byte(`{"name":"ks","shards":"one","replicas":1}`),
	} {
		_, err = request(t, conn, topology.OpCreateKeyspace, req)
		requireCode(t, err, topology.CodeInvalid)
	}
	_, err = request(t, conn, topology.OpDeleteKeyspace, []byte("[]"))
	requireCode(t, err, topology.CodeInvalid)

	v := m.Topology().Version
	requestOK[topology.KeyspaceReply](t, conn, topology.OpCreateKeyspace, create("ks", 3, 1))
	_, err = request(t, conn, topology.OpCreateKeyspace, create("ks", 1, 1))
	requireCode(t, err, topology.CodeExists)
	// Only the one success changed the topology.
	require.Equal(t, v+1, m.Topology().Version)
	require.Equal(t, []string{"ks"}, m.Topology().KeyspaceNames())
}

func TestStoreMarkedUnhealthyAndRecovers(t *testing.T) {
	_, conn := testBus(t)
	m := startMaster(t, conn)
	runStore(t, conn, "a", 7001)
	b := runStore(t, conn, "b", 7002)
	waitStores(t, m, "a", "b")
	w := watchTopology(t, conn)

	b.stop()
	require.Eventually(t, func() bool {
		top := w.latest()
		return hasStores(top, false, "b") && hasStores(top, true, "a")
	}, 2*time.Second, 5*time.Millisecond, "a silent store must be marked unhealthy within 2 s")

	// Placement now avoids it.
	_, err := request(t, conn, topology.OpCreateKeyspace, create("two", 1, 2))
	requireCode(t, err, topology.CodeNotEnoughStore)
	one := requestOK[topology.KeyspaceReply](t, conn, topology.OpCreateKeyspace, create("one", 8, 1))
	for _, reps := range one.Keyspace.Placement {
		require.Equal(t, []string{"a"}, reps)
	}

	// It beats again: healthy again.
	runStore(t, conn, "b", 7003)
	require.Eventually(t, func() bool {
		top := w.latest()
		return hasStores(top, true, "a", "b") && top.Stores["b"].Addr == "127.0.0.1:7003"
	}, 2*time.Second, 5*time.Millisecond)
	w.requireVersionsIncrease(t)
}

func TestRestartKeepsKeyspacesAndVersion(t *testing.T) {
	_, conn := testBus(t)
	w := watchTopology(t, conn)
	m1 := startMaster(t, conn)
	runStore(t, conn, "s1", 7001)
	runStore(t, conn, "s2", 7002)
	waitStores(t, m1, "s1", "s2")
	ks := requestOK[topology.KeyspaceReply](t, conn, topology.OpCreateKeyspace, create("ks", 4, 2))
	shutdown(t, m1)
	before := m1.Topology()
	require.Equal(t, ks.Version, before.Version)

	cfg := DefaultConfig(testDC, conn)
	cfg.Logger = embedded.TestLogger(t, hclog.Info)
	m2, err := New(cfg)
	require.NoError(t, err)
	require.NoError(t, m2.Start(testCtx(t)))
	t.Cleanup(func() { shutdown(t, m2) })
	after := m2.Topology()
	require.Equal(t, before, after, "the restarted master starts from what was published")

	// Changes after the restart continue the version sequence.
	runStore(t, conn, "s3", 7003)
	waitStores(t, m2, "s1", "s2", "s3")
	ks2 := requestOK[topology.KeyspaceReply](t, conn, topology.OpCreateKeyspace, create("ks2", 3, 3))
	require.Greater(t, ks2.Version, ks.Version)
	require.Eventually(t, func() bool {
		top := w.latest()
		return top != nil && top.Version == ks2.Version
	}, 2*time.Second, time.Millisecond)
	top := w.latest()
	require.Equal(t, ks.Keyspace, top.Keyspaces["ks"])
	require.Equal(t, []string{"ks", "ks2"}, top.KeyspaceNames())

	// Nothing published went backwards, and the restart did not declare the
	// stores dead.
	w.requireVersionsIncrease(t)
	for _, top := range w.all() {
		if top.Version >= ks.Version {
			require.True(t, hasStores(top, true, "s1", "s2"), "version %d: %+v", top.Version, top.Stores)
		}
	}
}

func TestRestartFromStaleTopologyWithDeadStores(t *testing.T) {
	// A master that starts long after the last one stopped, with a store
	// that is gone: it gives every store DeadAfter, then marks it dead.
	_, conn := testBus(t)
	require.NoError(t, conn.EnsureTopologyBucket(testCtx(t), testDC))
	old := topology.New(testDC)
	old.Version = 41
	old.Stores["gone"] = &topology.Store{ID: "gone", Addr: "127.0.0.1:7009", Healthy: true}
	doc, err := old.Encode()
	require.NoError(t, err)
	_, err = conn.PutTopology(testCtx(t), testDC, doc, 0)
	require.NoError(t, err)

	w := watchTopology(t, conn)
	m := startMaster(t, conn)
	require.EqualValues(t, 41, m.Topology().Version)
	require.Eventually(t, func() bool { return hasStores(w.latest(), false, "gone") },
		3*time.Second, 5*time.Millisecond)
	require.EqualValues(t, 42, w.latest().Version)
	w.requireVersionsIncrease(t)
}

func TestConflictWithAnotherWriter(t *testing.T) {
	_, conn := testBus(t)
	w := watchTopology(t, conn)
	m := startMaster(t, conn)
	runStore(t, conn, "s1", 7001)
	runStore(t, conn, "s2", 7002)
	waitStores(t, m, "s1", "s2")

	// Someone else writes the bucket behind the master's back, at a much
	// higher version, with a keyspace of its own.
	ctx := testCtx(t)
	var foreign *topology.Topology
	for {
		doc, rev, err := conn.GetTopology(ctx, testDC)
		require.NoError(t, err)
		foreign, err = topology.Decode(doc)
		require.NoError(t, err)
		foreign.Version += 100
		foreign.Keyspaces["foreign"] = &topology.Keyspace{Name: "foreign", Shards: 1, Replicas: 1, Placement: [][]string{{"s1"}}}
		doc, err = foreign.Encode()
		require.NoError(t, err)
		_, err = conn.PutTopology(ctx, testDC, doc, rev)
		if errors.Is(err, bus.ErrConflict) {
			continue // the master published meanwhile
		}
		require.NoError(t, err)
		break
	}

	// The master's next write conflicts; it rebases, keeps the foreign
	// keyspace, adds its own, and goes above the foreign version.
	mine := requestOK[topology.KeyspaceReply](t, conn, topology.OpCreateKeyspace, create("mine", 2, 2))
	require.Greater(t, mine.Version, foreign.Version)
	doc, _, err := conn.GetTopology(ctx, testDC)
	require.NoError(t, err)
	top, err := topology.Decode(doc)
	require.NoError(t, err)
	require.Equal(t, mine.Version, top.Version)
	require.Equal(t, []string{"foreign", "mine"}, top.KeyspaceNames())
	require.Equal(t, top, m.Topology())

	// Creating what the other writer created is refused.
	_, err = request(t, conn, topology.OpCreateKeyspace, create("foreign", 1, 1))
	requireCode(t, err, topology.CodeExists)
	w.requireVersionsIncrease(t)
}

func TestConcurrentAdminAndHeartbeats(t *testing.T) {
	srv, conn := testBus(t)
	w := watchTopology(t, conn)
	m := startMaster(t, conn)
	for i := 1; i <= 3; i++ {
		runStore(t, conn, fmt.Sprintf("s%d", i), 7000+i)
	}
	waitStores(t, m, "s1", "s2", "s3")

	// Clients on their own connections create keyspaces concurrently while
	// more stores join.
	const n = 12
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		c := testConn(t, srv)
		wg.Add(1)
		go func() {
			defer wg.Done()
			subject, _ := bus.AdminSubject(testDC, topology.OpCreateKeyspace)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_, err := c.Request(ctx, subject, []byte(fmt.Sprintf(`{"name":"ks%d","shards":2,"replicas":2}`, i)))
			errs <- err
		}()
	}
	for i := 4; i <= 6; i++ {
		runStore(t, conn, fmt.Sprintf("s%d", i), 7000+i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	waitStores(t, m, "s1", "s2", "s3", "s4", "s5", "s6")
	require.Len(t, m.Topology().Keyspaces, n)
	require.Eventually(t, func() bool {
		top := w.latest()
		return top != nil && len(top.Keyspaces) == n && hasStores(top, true, "s1", "s2", "s3", "s4", "s5", "s6")
	}, 2*time.Second, time.Millisecond)
	w.requireVersionsIncrease(t)
}

func TestTwoMastersConverge(t *testing.T) {
	// Two masters of one DC (a misconfiguration, or a handover): admin
	// requests are spread over the queue group, every write is fenced by
	// compare-and-set, and nothing a client was told is lost.
	srv, conn := testBus(t)
	w := watchTopology(t, conn)
	m1 := startMaster(t, testConn(t, srv))
	m2 := startMaster(t, testConn(t, srv))
	for i := 1; i <= 3; i++ {
		runStore(t, conn, fmt.Sprintf("s%d", i), 7000+i)
	}
	waitStores(t, m1, "s1", "s2", "s3")
	waitStores(t, m2, "s1", "s2", "s3")

	const n = 10
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			subject, _ := bus.AdminSubject(testDC, topology.OpCreateKeyspace)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_, err := conn.Request(ctx, subject, []byte(fmt.Sprintf(`{"name":"ks%d","shards":1,"replicas":1}`, i)))
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	doc, _, err := conn.GetTopology(testCtx(t), testDC)
	require.NoError(t, err)
	top, err := topology.Decode(doc)
	require.NoError(t, err)
	require.Len(t, top.Keyspaces, n, "%v", top.KeyspaceNames())
	w.requireVersionsIncrease(t)
}

func TestManualClock(t *testing.T) {
	// The master takes its time from the Clock: once the clock is moved past
	// DeadAfter, a silent store is declared dead at the next tick, long
	// before DeadAfter of real time.
	_, conn := testBus(t)
	clock := lww.NewManualClock(t0)
	cfg := DefaultConfig(testDC, conn)
	cfg.Clock = clock
	cfg.TickInterval = 10 * time.Millisecond
	m, err := New(cfg)
	require.NoError(t, err)
	require.NoError(t, m.Start(testCtx(t)))
	t.Cleanup(func() { shutdown(t, m) })
	s := runStore(t, conn, "s1", 7001)
	waitStores(t, m, "s1")
	s.stop()
	v := m.Topology().Version
	clock.Advance(topology.DeadAfter)
	require.Eventually(t, func() bool { return hasStores(m.Topology(), false, "s1") },
		topology.DeadAfter/2, time.Millisecond)
	require.Equal(t, v+1, m.Topology().Version)
}

func TestStartFailures(t *testing.T) {
	srv, conn := testBus(t)
	ctx := testCtx(t)

	// A closed connection.
	closed := testConn(t, srv)
	closed.Close()
	m, err := New(DefaultConfig(testDC, closed))
	require.NoError(t, err)
	require.ErrorIs(t, m.Start(ctx), bus.ErrClosed)
	require.NoError(t, m.Shutdown(ctx))

	// A document the master cannot read is never overwritten.
	require.NoError(t, conn.EnsureTopologyBucket(ctx, testDC))
	rev, err := conn.PutTopology(ctx, testDC, []byte("{not json"), 0)
	require.NoError(t, err)
	m, err = New(DefaultConfig(testDC, conn))
	require.NoError(t, err)
	require.ErrorIs(t, m.Start(ctx), topology.ErrCorrupt)

	// Nor one of another DC.
	other, err := topology.New("dc2").Encode()
	require.NoError(t, err)
	_, err = conn.PutTopology(ctx, testDC, other, rev)
	require.NoError(t, err)
	require.ErrorIs(t, m.Start(ctx), topology.ErrCorrupt)
	require.NoError(t, m.Shutdown(ctx))
	_, err = request(t, conn, topology.OpListStores, nil)
	require.ErrorIs(t, err, bus.ErrNoResponders)
}

func TestJunkHeartbeatsIgnored(t *testing.T) {
	_, conn := testBus(t)
	m := startMaster(t, conn)
	subject, err := bus.HeartbeatSubject(testDC)
	require.NoError(t, err)
	for _, junk := range []string{
		"",
		"{not json",
		`{"store":"a.b","addr":"127.0.0.1:1"}`,
		`{"store":"x*","addr":"127.0.0.1:1"}`,
		`{"store":"nop","addr":""}`,
		`{"store":"nop","addr":"127.0.0.1:1","serving":["ks"]}`,
	} {
		require.NoError(t, conn.Publish(subject, []byte(junk)))
	}
	// Heartbeats are handled in order: once "ok" is in, the junk before it
	// was handled (and ignored).
	v0 := m.Topology().Version
	runStore(t, conn, "ok", 7001)
	waitStores(t, m, "ok")
	require.Equal(t, []string{"ok"}, m.Topology().StoreIDs())
	require.Equal(t, v0+1, m.Topology().Version, "only the new store changed the topology")
}
