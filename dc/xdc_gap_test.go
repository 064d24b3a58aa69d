package dc

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/require"

	"github.com/vasto-kv/vasto/bus"
	"github.com/vasto-kv/vasto/bus/embedded"
	"github.com/vasto-kv/vasto/lww"
	"github.com/vasto-kv/vasto/store"
	"github.com/vasto-kv/vasto/topology"
	"github.com/vasto-kv/vasto/wire"
)

// xdcPair is two linked DCs for cross-DC gap tests: dc1 (the remote, with
// its change stream) and dc2 (with its copy of dc1's stream).
type xdcPair struct {
	c1, c2 *bus.Conn
}

func startXDCPair(t *testing.T) *xdcPair {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	hubCfg := embedded.TestConfig(t, "dc1", t.TempDir())
	hubCfg.LeafListen = "127.0.0.1:-1"
	hub := embedded.StartTestServer(t, hubCfg)
	spokeCfg := embedded.TestConfig(t, "dc2", t.TempDir())
	spokeCfg.LeafRemotes = []string{hub.LeafURL()}
	spoke := embedded.StartTestServer(t, spokeCfg)
	connect := func(s *embedded.Server) *bus.Conn {
		c, err := bus.Connect(ctx, bus.ConnConfig{URL: s.ClientURL(), Name: t.Name(), Logger: embedded.TestLogger(t, hclog.Warn)})
		require.NoError(t, err)
		t.Cleanup(c.Close)
		return c
	}
	p := &xdcPair{c1: connect(hub), c2: connect(spoke)}
	// The link is up once dc1's domain answers from dc2 (no bucket yet).
	require.Eventually(t, func() bool {
		_, _, err := p.c2.GetRemoteTopology(ctx, "dc1")
		return errors.Is(err, bus.ErrNoTopology)
	}, 15*time.Second, 20*time.Millisecond)
	require.NoError(t, p.c1.EnsureChangeStream(ctx, bus.StreamConfig{DC: "dc1"}))
	require.NoError(t, p.c2.EnsureSourceStream(ctx, bus.SourceConfig{LocalDC: "dc2", RemoteDC: "dc1"}))
	return p
}

// publish publishes changes of origin on dc1's shard with the given log
// indexes (each changes key "k<index>" of the shard's subject).
func (p *xdcPair) publish(t *testing.T, ks string, shard uint32, origin string, idxs ...uint64) {
	t.Helper()
	subj, err := bus.ChangeSubject("dc1", ks, shard, origin)
	require.NoError(t, err)
	var msgs []bus.Message
	for _, i := range idxs {
		data, err := lww.AppendChange(nil, lww.Change{Key: []byte(fmt.Sprintf("%s-%d-k%03d", origin, shard, i)),
			Record: rec(baseTime+int64(i), "dc1", origin, "v"+strconv.FormatUint(i, 10))})
		require.NoError(t, err)
		msgs = append(msgs, bus.Message{Subject: subj, ID: subj + "." + strconv.FormatUint(i, 10),
			Header: map[string]string{wire.HeaderIndex: strconv.FormatUint(i, 10)}, Data: data})
	}
	n, err := p.c1.PublishBatch(context.Background(), msgs)
	require.NoError(t, err)
	require.Equal(t, len(msgs), n)
}

// copied returns dc2's copy of every message on subject, waiting until the
// last one has index last.
func (p *xdcPair) copied(t *testing.T, subject string, last uint64) []bus.Delivered {
	t.Helper()
	ctx := context.Background()
	require.Eventually(t, func() bool {
		d, err := p.c2.LastOnSubject(ctx, "VASTO_SRC_dc1", subject)
		return err == nil && d.Header[wire.HeaderIndex] == strconv.FormatUint(last, 10)
	}, 15*time.Second, 10*time.Millisecond)
	var out []bus.Delivered
	for seq := uint64(0); ; {
		d, err := p.c2.FirstOnSubject(ctx, "VASTO_SRC_dc1", subject, seq)
		if errors.Is(err, bus.ErrNoMessage) {
			return out
		}
		require.NoError(t, err)
		out = append(out, d)
		seq = d.StreamSeq + 1
	}
}

func indexOf(t *testing.T, d bus.Delivered) uint64 {
	i, err := strconv.ParseUint(d.Header[wire.HeaderIndex], 10, 64)
	require.NoError(t, err)
	return i
}

// TestXDCProbe checks the hole search on a copy stream: a hole in the
// middle (the remote stream dropped changes before they were copied), at
// the front, and a retried publish stored after later changes (no hole).
func TestXDCProbe(t *testing.T) {
	p := startXDCPair(t)
	// store.Shard 0: 1..10, then 51..60 (11..50 lost), then 61, 63, 62 (a retry).
	// store.Shard 1 interleaved, so the subject's messages are not contiguous.
	p.publish(t, "ks", 0, "s1", 1, 2, 3, 4, 5)
	p.publish(t, "ks", 1, "s1", 1, 2, 3)
	p.publish(t, "ks", 0, "s1", 6, 7, 8, 9, 10)
	p.publish(t, "ks", 1, "s1", 4, 5, 6)
	p.publish(t, "ks", 0, "s1", 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 63)
	p.publish(t, "ks", 1, "s1", 7, 8)
	p.publish(t, "ks", 0, "s1", 62)
	// store.Shard 2 holds only 5..9: its beginning aged out.
	p.publish(t, "ks", 2, "s1", 5, 6, 7, 8, 9)

	s0, _ := bus.ChangeSubject("dc1", "ks", 0, "s1")
	s2, _ := bus.ChangeSubject("dc1", "ks", 2, "s1")
	m0 := p.copied(t, s0, 62)
	m2 := p.copied(t, s2, 9)
	require.Len(t, m0, 23)
	at := func(ms []bus.Delivered, idx uint64) bus.Delivered {
		for _, m := range ms {
			if indexOf(t, m) == idx {
				return m
			}
		}
		t.Fatalf("no message with index %d", idx)
		return bus.Delivered{}
	}

	r, err := New(Config{DC: "dc2", Store: "t1", RemoteDCs: []string{"dc1"}, Bus: ConnBus(p.c2), Shards: EngineShards(&store.Engine{}), Logger: hclog.NewNullLogger()})
	require.NoError(t, err)
	w := &xdcWorker{r: r, remote: "dc1", keyspace: "ks", log: testLogger(t)}
	ctx := context.Background()
	for _, tc := range []struct {
		name        string
		subject     string
		done, upIdx uint64
		lost        bool
		first       uint64
	}{
		{"hole in the middle", s0, 10, 51, true, 51},
		{"hole in the middle, seen later", s0, 10, 58, true, 51},
		{"hole in the middle, partly applied after it", s0, 40, 55, true, 51},
		{"no hole: pending redelivery", s0, 5, 8, false, 0},
		{"no hole from the start", s0, 0, 9, false, 0},
		{"retried publish stored late", s0, 61, 63, false, 0},
		{"hole at the front", s2, 0, 7, true, 5},
		{"hole at the front, partly applied", s2, 3, 9, true, 5},
		{"no hole after the front", s2, 5, 8, false, 0},
	} {
		ms := m0
		if tc.subject == s2 {
			ms = m2
		}
		first, lost, err := w.probe(ctx, tc.subject, tc.done, at(ms, tc.upIdx).StreamSeq, tc.upIdx)
		require.NoError(t, err, tc.name)
		require.Equal(t, tc.lost, lost, tc.name)
		if tc.lost {
			require.Equal(t, tc.first, first, tc.name)
		}
	}
}

// TestXDCGapReBootstraps applies a remote DC's changes whose copy has a
// hole in the middle (dc1's stream dropped changes before dc2 copied them,
// as when a whole DC is away longer than the retention): the applier must
// refuse the batch while dc1's topology is unknown, then copy the keyspace
// from dc1's store (another shard count there), and move the cursor past
// the hole.
func TestXDCGapReBootstraps(t *testing.T) {
	p := startXDCPair(t)
	ctx := context.Background()

	// dc1: one store "s1" holding ks/0 with 100 keys, serving RESP.
	e1, _ := testEngine(t, func(c *store.Config) { c.DC, c.Node = "dc1", "s1" })
	sh1, err := e1.CreateShard("ks", 0)
	require.NoError(t, err)
	for i := uint64(1); i <= 100; i++ {
		_, err := sh1.ApplyRemote(ctx, "seed", 0, []lww.Change{{Key: []byte(fmt.Sprintf("s1-0-k%03d", i)),
			Record: rec(baseTime+int64(i), "dc1", "s1", "v"+strconv.FormatUint(i, 10))}})
		require.NoError(t, err)
	}
	srv := startRESPServer(t, e1)

	// dc1's log of ks/0 in dc2's copy: 1..10, then 91..100.
	p.publish(t, "ks", 0, "s1", 1, 2, 3, 4, 5, 6, 7, 8, 9, 10)
	p.publish(t, "ks", 0, "s1", 91, 92, 93, 94, 95, 96, 97, 98, 99, 100)
	s0, _ := bus.ChangeSubject("dc1", "ks", 0, "s1")
	msgs := p.copied(t, s0, 100)
	require.Len(t, msgs, 20)

	// dc2: store "t1" holds both shards of ks (2 shards here).
	e2, _ := testEngine(t, func(c *store.Config) { c.DC, c.Node = "dc2", "t1" })
	local := topology.New("dc2")
	local.Version = 1
	local.Stores["t1"] = &topology.Store{ID: "t1", Addr: "127.0.0.1:1", Healthy: true}
	local.Keyspaces["ks"] = &topology.Keyspace{Name: "ks", Shards: 2, Replicas: 1, Placement: [][]string{{"t1"}, {"t1"}}}
	var held []*store.Shard
	for i := uint32(0); i < 2; i++ {
		sh, err := e2.CreateShard("ks", i)
		require.NoError(t, err)
		held = append(held, sh)
	}
	r, err := New(Config{DC: "dc2", Store: "t1", RemoteDCs: []string{"dc1"}, Bus: ConnBus(p.c2), Shards: EngineShards(e2), Logger: testLogger(t)})
	require.NoError(t, err)
	r.Follow(local)
	w := &xdcWorker{r: r, remote: "dc1", keyspace: "ks", log: testLogger(t)}
	src := store.RemoteSource("dc1", "s1", "0")
	cursor := func() uint64 {
		c, err := processedUpTo([]Shard{held[0], held[1]}, src)
		require.NoError(t, err)
		return c
	}
	count := func() int {
		n := 0
		for _, sh := range held {
			res, err := sh.Scan(store.ScanOptions{Limit: store.MaxScanLimit})
			require.NoError(t, err)
			n += len(res.Items)
		}
		return n
	}

	// The first ten apply normally; the cursor records them on one shard
	// at least, even those whose keys landed on the other.
	require.NoError(t, w.apply(ctx, msgs[:10]))
	require.Equal(t, uint64(10), cursor())
	require.Equal(t, 10, count())
	for _, sh := range held {
		c, err := sh.Cursor(src)
		require.NoError(t, err)
		require.Equal(t, uint64(10), c, "each shard got a change of the batch: cursor raised to the batch's top")
	}

	// 91..100 after the hole: dc1's topology cannot be read yet, so the
	// batch fails and nothing moves.
	err = w.apply(ctx, msgs[10:])
	require.ErrorIs(t, err, bus.ErrNoTopology)
	require.Equal(t, uint64(10), cursor())
	require.Equal(t, 10, count())

	// With dc1's topology published, the applier copies the keyspace.
	remote := topology.New("dc1")
	remote.Version = 1
	remote.Stores["s1"] = &topology.Store{ID: "s1", Addr: srv.Addr().String(), Healthy: true}
	remote.Keyspaces["ks"] = &topology.Keyspace{Name: "ks", Shards: 1, Replicas: 1, Placement: [][]string{{"s1"}}}
	doc, err := remote.Encode()
	require.NoError(t, err)
	require.NoError(t, p.c1.EnsureTopologyBucket(ctx, "dc1"))
	_, err = p.c1.PutTopology(ctx, "dc1", doc, 0)
	require.NoError(t, err)
	require.NoError(t, w.apply(ctx, msgs[10:]))
	require.Equal(t, uint64(100), cursor())
	require.Equal(t, 100, count(), "the keys whose changes were lost came with the copy")
	for i := uint64(1); i <= 100; i++ {
		key := []byte(fmt.Sprintf("s1-0-k%03d", i))
		sh := held[topology.ShardOf(key, 2)]
		got, err := sh.Get(key)
		require.NoError(t, err)
		require.Equal(t, "v"+strconv.FormatUint(i, 10), string(got.Value))
	}

	// A batch delivered again after that (or one that continues) applies
	// without another copy: dc1's store is gone, which would fail one.
	require.NoError(t, srv.Shutdown(ctx))
	require.NoError(t, w.apply(ctx, msgs[10:]))
	p.publish(t, "ks", 0, "s1", 101)
	more := p.copied(t, s0, 101)
	require.NoError(t, w.apply(ctx, more[len(more)-1:]))
	require.Equal(t, uint64(101), cursor())
}
