package bus

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/vasto-kv/vasto/bus/embedded"
)

func TestSourceNames(t *testing.T) {
	s, err := SourceStream("dc2", "dc1")
	require.NoError(t, err)
	require.Equal(t, "VASTO_SRC_dc1", s)
	require.NoError(t, checkStream(s))
	s, err = ChangeSubjectsOfKeyspace("dc1", "users")
	require.NoError(t, err)
	require.Equal(t, "vasto.chg.dc1.users.>", s)
	require.NoError(t, checkSubject(s, true))
	sub, _ := ChangeSubject("dc1", "users", 3, "s1")
	require.True(t, strings.HasPrefix(sub, strings.TrimSuffix(s, ">")))

	_, err = SourceStream("dc1", "dc1")
	require.ErrorIs(t, err, ErrInvalidConfig)
	for _, bad := range badNames {
		for name, build := range map[string]func() (string, error){
			"SourceStream/local":          func() (string, error) { return SourceStream(bad, "dc1") },
			"SourceStream/remote":         func() (string, error) { return SourceStream("dc1", bad) },
			"ChangeSubjectsOfKeyspace/dc": func() (string, error) { return ChangeSubjectsOfKeyspace(bad, "ks") },
			"ChangeSubjectsOfKeyspace/ks": func() (string, error) { return ChangeSubjectsOfKeyspace("dc1", bad) },
		} {
			s, err := build()
			require.ErrorIs(t, err, ErrBadName, "%s(%q)", name, bad)
			require.Empty(t, s)
		}
	}
}

// dcPair is two DCs, each its own embedded server and JetStream domain:
// dc1 the leafnode hub, dc2 a spoke connected to it.
type dcPair struct {
	hub, spoke       *embedded.Server
	hubCfg, spokeCfg embedded.Config
}

// startDCPair starts the pair; hubMut and spokeMut, if not nil, adjust
// the configurations (TLS, users) before each server starts.
func startDCPair(t testing.TB, hubMut, spokeMut func(*embedded.Config)) *dcPair {
	t.Helper()
	p := &dcPair{}
	p.hubCfg = embedded.TestConfig(t, "dc1", t.TempDir())
	p.hubCfg.LeafListen = "127.0.0.1:-1"
	if hubMut != nil {
		hubMut(&p.hubCfg)
	}
	p.hub = embedded.StartTestServer(t, p.hubCfg)
	p.spokeCfg = embedded.TestConfig(t, "dc2", t.TempDir())
	p.spokeCfg.LeafRemotes = []string{p.hub.LeafURL()}
	if spokeMut != nil {
		spokeMut(&p.spokeCfg)
	}
	p.spoke = embedded.StartTestServer(t, p.spokeCfg)
	return p
}

// connect connects to srv; the caller closes the connection.
func connect(t testing.TB, srv *embedded.Server) *Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := Connect(ctx, ConnConfig{URL: srv.ClientURL(), Name: t.Name(), Logger: embedded.TestLogger(t, hclog.Warn)})
	require.NoError(t, err)
	return c
}

// waitLinked waits until a request from `from` reaches a handler on `to`
// (a core NATS round trip over the leafnode link) and returns how long it
// took.
func waitLinked(t testing.TB, to *Conn, toDC string, from *Conn) time.Duration {
	t.Helper()
	start := time.Now()
	subj, _ := AdminSubject(toDC, "ping")
	h, err := to.Handle(subj, "", func(context.Context, []byte) ([]byte, error) { return []byte("pong"), nil })
	require.NoError(t, err)
	defer h.Stop()
	require.Eventually(t, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		resp, err := from.Request(ctx, subj, nil)
		return err == nil && string(resp) == "pong"
	}, 15*time.Second, 20*time.Millisecond)
	return time.Since(start)
}

// collector is a consumer handler that records what it receives.
type collector struct {
	mu   sync.Mutex
	msgs []Delivered
	ch   chan Delivered
}

func newCollector() *collector { return &collector{ch: make(chan Delivered, 10000)} }

func (k *collector) handle(_ context.Context, msgs []Delivered) error {
	k.mu.Lock()
	k.msgs = append(k.msgs, msgs...)
	k.mu.Unlock()
	for _, m := range msgs {
		k.ch <- m
	}
	return nil
}

func (k *collector) len() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.msgs)
}

func (k *collector) all() []Delivered {
	k.mu.Lock()
	defer k.mu.Unlock()
	return slices.Clone(k.msgs)
}

// sourceStatus returns the status of local's single source from remote.
func sourceStatus(t *testing.T, c *Conn, local, remote string) SourceInfo {
	t.Helper()
	st, err := c.SourceStatus(context.Background(), local, []string{remote})
	require.NoError(t, err)
	require.Len(t, st, 1)
	return st[0]
}

// streamMsgs returns how many messages stream holds.
func streamMsgs(t *testing.T, c *Conn, stream string) uint64 {
	t.Helper()
	s, err := c.js.Stream(context.Background(), stream)
	require.NoError(t, err)
	return s.CachedInfo().State.Msgs
}

// TestCrossDCSourcing links two DCs (one JetStream domain each) by a
// leafnode and copies each DC's change stream into the other: messages keep
// their subjects and headers, a consumer of the copy filters by keyspace,
// nothing loops back, and messages published while the copying DC is down
// arrive after it restarts (store-and-forward).
func TestCrossDCSourcing(t *testing.T) {
	ctx := testCtx(t)
	p := startDCPair(t, nil, nil)
	c1 := connect(t, p.hub)
	defer c1.Close()
	c2 := connect(t, p.spoke)
	defer func() { c2.Close() }() // c2 is replaced after the restart
	t.Logf("leafnode link up after %s", waitLinked(t, c1, "dc1", c2))

	require.NoError(t, c1.EnsureChangeStream(ctx, StreamConfig{DC: "dc1"}))
	require.NoError(t, c2.EnsureChangeStream(ctx, StreamConfig{DC: "dc2"}))
	chg1, _ := ChangeStream("dc1")
	chg2, _ := ChangeStream("dc2")
	src1, _ := SourceStream("dc2", "dc1") // in dc2
	src2, _ := SourceStream("dc1", "dc2") // in dc1

	// Changes made in dc1 before the copy exists: 100 of keyspace ks, 3 of
	// another keyspace.
	subj, _ := ChangeSubject("dc1", "ks", 0, "s1")
	otherSubj, _ := ChangeSubject("dc1", "other", 0, "s1")
	acked, err := c1.PublishBatch(ctx, changeMsgs(subj, "s1", 1, 100))
	require.NoError(t, err)
	require.Equal(t, 100, acked)
	acked, err = c1.PublishBatch(ctx, changeMsgs(otherSubj, "s1-other", 1, 3))
	require.NoError(t, err)
	require.Equal(t, 3, acked)

	// Each DC copies the other's changes.
	start := time.Now()
	require.NoError(t, c2.EnsureSourceStream(ctx, SourceConfig{LocalDC: "dc2", RemoteDC: "dc1"}))
	require.NoError(t, c2.EnsureSourceStream(ctx, SourceConfig{LocalDC: "dc2", RemoteDC: "dc1"})) // idempotent
	require.NoError(t, c1.EnsureSourceStream(ctx, SourceConfig{LocalDC: "dc1", RemoteDC: "dc2"}))
	// A connection to dc1 cannot create dc2's copy.
	require.ErrorIs(t, c1.EnsureSourceStream(ctx, SourceConfig{LocalDC: "dc2", RemoteDC: "dc1"}), ErrInvalidConfig)

	// A durable consumer of dc2's copy, filtered to keyspace ks, gets every
	// ks change with its original subject and headers.
	filter, _ := ChangeSubjectsOfKeyspace("dc1", "ks")
	col := newCollector()
	cons := ConsumerConfig{Stream: src1, Durable: "dc2-apply-dc1-ks", FilterSubject: filter}
	k, err := c2.NewConsumer(cons, col.handle)
	require.NoError(t, err)
	require.NoError(t, k.Start(ctx))
	require.Eventually(t, func() bool { return col.len() >= 100 }, 15*time.Second, 10*time.Millisecond)
	t.Logf("initial copy of 103 messages consumed in dc2 after %s", time.Since(start))
	got := col.all()
	require.Len(t, got, 100)
	for i, d := range got {
		idx := strconv.Itoa(i + 1)
		require.Equal(t, subj, d.Subject)
		require.Equal(t, "change-"+idx, string(d.Data))
		require.Equal(t, idx, d.Header["Vasto-Log-Index"])
		require.Equal(t, "s1-"+idx, d.Header["Nats-Msg-Id"])
		require.Contains(t, d.Header["Nats-Stream-Source"], chg1)
		require.WithinDuration(t, time.Now(), d.Time, time.Minute)
	}

	// The copy reports itself caught up.
	require.Eventually(t, func() bool {
		st := sourceStatus(t, c2, "dc2", "dc1")
		return st.Exists && st.Error == "" && st.Lag == 0 && st.Msgs == 103 && st.LastSeq == 103 &&
			st.Active >= 0 && st.Active < 5*time.Second
	}, 15*time.Second, 20*time.Millisecond)
	st := sourceStatus(t, c2, "dc2", "dc1")
	require.Equal(t, SourceInfo{RemoteDC: "dc1", Stream: src1, Exists: true, Active: st.Active, Msgs: 103, LastSeq: 103, LastTime: st.LastTime,
		SourceSeq: 103, RemoteLastSeq: 103, CaughtUp: true}, st)
	require.WithinDuration(t, time.Now(), st.LastTime, time.Minute)
	sts, err := c2.SourceStatus(ctx, "dc2", []string{"dc1", "dc3"})
	require.NoError(t, err)
	require.Equal(t, SourceInfo{RemoteDC: "dc3", Stream: "VASTO_SRC_dc3", RemoteError: sts[1].RemoteError}, sts[1])
	require.NotEmpty(t, sts[1].RemoteError)
	last, err := c2.LastOnSubject(ctx, src1, filter)
	require.NoError(t, err)
	require.Equal(t, "100", last.Header["Vasto-Log-Index"])
	pending, floorTime, err := c2.ConsumerPending(ctx, src1, cons.Durable)
	require.NoError(t, err)
	require.Zero(t, pending)
	require.WithinDuration(t, got[99].Time, floorTime, time.Second)

	// No loop: dc2's own changes are copied into dc1, and neither land in
	// dc1's change stream nor come back into dc2's copy of dc1.
	subj2, _ := ChangeSubject("dc2", "ks", 0, "s2")
	acked, err = c2.PublishBatch(ctx, changeMsgs(subj2, "s2", 1, 10))
	require.NoError(t, err)
	require.Equal(t, 10, acked)
	require.Eventually(t, func() bool {
		st := sourceStatus(t, c1, "dc1", "dc2")
		return st.Msgs == 10 && st.Lag == 0 && st.Error == ""
	}, 15*time.Second, 20*time.Millisecond)
	// A marker published in dc1 after that reaches dc2's copy: by then an
	// echo would have too.
	marker, _ := ChangeSubject("dc1", "marker", 0, "s1")
	_, err = c1.PublishBatch(ctx, []Message{{Subject: marker, Data: []byte("m")}})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		_, err := c2.LastOnSubject(ctx, src1, marker)
		return err == nil
	}, 15*time.Second, 10*time.Millisecond)
	_, err = c1.LastOnSubject(ctx, chg1, "vasto.chg.dc2.>")
	require.ErrorIs(t, err, ErrNoMessage)
	_, err = c2.LastOnSubject(ctx, src1, "vasto.chg.dc2.>")
	require.ErrorIs(t, err, ErrNoMessage)
	require.Equal(t, uint64(104), streamMsgs(t, c1, chg1))
	require.Equal(t, uint64(10), streamMsgs(t, c2, chg2))
	require.Equal(t, uint64(104), streamMsgs(t, c2, src1))
	require.Equal(t, uint64(10), streamMsgs(t, c1, src2))

	// Store-and-forward: stop dc2, publish in dc1, restart dc2 on the same
	// directory; the copy catches up and the consumer resumes.
	require.NoError(t, k.Shutdown(ctx))
	c2.Close()
	require.NoError(t, p.spoke.Shutdown(ctx))
	acked, err = c1.PublishBatch(ctx, changeMsgs(subj, "s1", 101, 50))
	require.NoError(t, err)
	require.Equal(t, 50, acked)
	require.Eventually(t, func() bool { return sourceStatus(t, c1, "dc1", "dc2").Active > 2*time.Second },
		15*time.Second, 50*time.Millisecond, "dc1 notices dc2 is gone")
	st = sourceStatus(t, c1, "dc1", "dc2")
	require.False(t, st.CaughtUp)
	require.NotEmpty(t, st.RemoteError)
	require.Equal(t, uint64(10), st.SourceSeq)
	require.Equal(t, "", st.Error, "the server reports no error while the remote is unreachable")

	restart := time.Now()
	p.spoke = embedded.StartTestServer(t, p.spokeCfg)
	c2 = connect(t, p.spoke)
	t.Logf("dc2 restarted in %s, link up after %s", time.Since(restart), waitLinked(t, c1, "dc1", c2))
	// Right after the restart, the copy is there but not caught up.
	st = sourceStatus(t, c2, "dc2", "dc1")
	require.True(t, st.Exists)
	require.GreaterOrEqual(t, st.Msgs, uint64(104))
	require.Equal(t, uint64(154), st.RemoteLastSeq)
	require.Equal(t, st.SourceSeq == 154, st.CaughtUp, "%+v", st)
	t.Logf("status right after restart: %+v", st)
	k, err = c2.NewConsumer(cons, col.handle)
	require.NoError(t, err)
	require.NoError(t, k.Start(ctx))
	defer func() { require.NoError(t, k.Shutdown(context.Background())) }()

	// Meanwhile dc2 publishes; dc1's copy of dc2 resumes too.
	acked, err = c2.PublishBatch(ctx, changeMsgs(subj2, "s2", 11, 5))
	require.NoError(t, err)
	require.Equal(t, 5, acked)

	var dc1Back, dc2Back time.Duration
	require.Eventually(t, func() bool {
		if dc1Back == 0 && streamMsgs(t, c1, src2) == 15 {
			dc1Back = time.Since(restart)
		}
		if dc2Back == 0 && col.len() == 150 {
			dc2Back = time.Since(restart)
		}
		return dc1Back > 0 && dc2Back > 0
	}, 90*time.Second, 50*time.Millisecond)
	t.Logf("after dc2's restart: dc2's copy of dc1 caught up (consumed) after %s; dc1's copy of dc2 after %s", dc2Back, dc1Back)
	got = col.all()
	require.Len(t, got, 150)
	for i, d := range got {
		require.Equal(t, strconv.Itoa(i+1), d.Header["Vasto-Log-Index"], "message %d", i)
	}
	require.Eventually(t, func() bool {
		st := sourceStatus(t, c2, "dc2", "dc1")
		return st.Msgs == 154 && st.Lag == 0 && st.Error == "" && st.CaughtUp && st.SourceSeq == 154
	}, 15*time.Second, 20*time.Millisecond)
	require.Eventually(t, func() bool { return sourceStatus(t, c1, "dc1", "dc2").CaughtUp }, 15*time.Second, 20*time.Millisecond)
	require.Eventually(t, func() bool {
		pending, _, err := c2.ConsumerPending(ctx, src1, cons.Durable)
		return err == nil && pending == 0
	}, 10*time.Second, 20*time.Millisecond)
}

// A change published in one DC reaches a consumer of its copy in the other
// DC, one at a time and in order. BenchmarkCrossDCRoundTrip measures it.
func TestCrossDCDeliveryInOrder(t *testing.T) {
	ctx := testCtx(t)
	c1, col, subj := crossDCConsumer(t, ctx)
	for i := range 50 {
		_, err := c1.PublishBatch(ctx, changeMsgs(subj, "s1", i, 1))
		require.NoError(t, err)
		require.Equal(t, "change-"+strconv.Itoa(i), string(recv(t, col.ch).Data))
	}
}

// BenchmarkCrossDCRoundTrip: publish one change in dc1, wait until dc2's
// consumer of the copied stream has it; p50 and p99 of that time.
func BenchmarkCrossDCRoundTrip(b *testing.B) {
	ctx := testCtx(b)
	c1, col, subj := crossDCConsumer(b, ctx)
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		start := time.Now()
		if _, err := c1.PublishBatch(ctx, changeMsgs(subj, "s1", i, 1)); err != nil {
			b.Fatal(err)
		}
		recv(b, col.ch)
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}

// crossDCConsumer links two DCs, copies dc1's change stream into dc2 and
// consumes the copy; it returns a dc1 connection, the consumer's collector
// (warmed up with one change) and the subject to publish on.
func crossDCConsumer(t testing.TB, ctx context.Context) (*Conn, *collector, string) {
	t.Helper()
	p := startDCPair(t, nil, nil)
	c1 := connect(t, p.hub)
	t.Cleanup(c1.Close)
	c2 := connect(t, p.spoke)
	t.Cleanup(c2.Close)
	waitLinked(t, c1, "dc1", c2)
	require.NoError(t, c1.EnsureChangeStream(ctx, StreamConfig{DC: "dc1"}))
	require.NoError(t, c2.EnsureSourceStream(ctx, SourceConfig{LocalDC: "dc2", RemoteDC: "dc1"}))
	src1, _ := SourceStream("dc2", "dc1")
	col := newCollector()
	k, err := c2.NewConsumer(ConsumerConfig{Stream: src1, Durable: "lat"}, col.handle)
	require.NoError(t, err)
	require.NoError(t, k.Start(ctx))
	t.Cleanup(func() { require.NoError(t, k.Shutdown(context.Background())) })
	subj, _ := ChangeSubject("dc1", "ks", 0, "s1")
	// Warm up: the first message also waits for the source to be set up.
	_, err = c1.PublishBatch(ctx, changeMsgs(subj, "warm", 0, 1))
	require.NoError(t, err)
	recv(t, col.ch)
	return c1, col, subj
}

// A source stream can be created while the remote DC is unreachable; its
// status shows the copying has not started.
func TestSourceStreamWithoutRemote(t *testing.T) {
	srv := embedded.RunTestServer(t, "dc2")
	c := testConn(t, srv)
	ctx := testCtx(t)
	require.NoError(t, c.EnsureSourceStream(ctx, SourceConfig{LocalDC: "dc2", RemoteDC: "dc1", MaxAge: time.Hour, MaxBytes: 1 << 20}))
	src, _ := SourceStream("dc2", "dc1")
	s, err := c.js.Stream(ctx, src)
	require.NoError(t, err)
	cfg := s.CachedInfo().Config
	require.Empty(t, cfg.Subjects)
	require.Equal(t, time.Hour, cfg.MaxAge)
	require.Equal(t, int64(1<<20), cfg.MaxBytes)
	require.Len(t, cfg.Sources, 1)
	require.Equal(t, "VASTO_CHG_dc1", cfg.Sources[0].Name)
	require.Equal(t, "vasto.chg.dc1.>", cfg.Sources[0].FilterSubject)
	require.NotNil(t, cfg.Sources[0].External)
	require.Equal(t, "$JS.dc1.API", cfg.Sources[0].External.APIPrefix)

	// Update to unlimited size.
	require.NoError(t, c.EnsureSourceStream(ctx, SourceConfig{LocalDC: "dc2", RemoteDC: "dc1", MaxBytes: -1}))
	s, err = c.js.Stream(ctx, src)
	require.NoError(t, err)
	require.Equal(t, int64(-1), s.CachedInfo().Config.MaxBytes)
	require.Equal(t, DefaultStreamMaxAge, s.CachedInfo().Config.MaxAge)

	st := sourceStatus(t, c, "dc2", "dc1")
	require.True(t, st.Exists)
	require.Zero(t, st.Msgs)
	require.True(t, st.Active < 0 || st.Error != "", "%+v", st)
	require.False(t, st.CaughtUp)
	require.NotEmpty(t, st.RemoteError)
	t.Logf("remote unreachable: %s", st.RemoteError)

	// A stream of that name that does not source dc1 is reported.
	_, err = c.js.CreateStream(ctx, jetstream.StreamConfig{Name: "VASTO_SRC_dc4", Subjects: []string{"elsewhere.>"}, Storage: jetstream.MemoryStorage})
	require.NoError(t, err)
	st = sourceStatus(t, c, "dc2", "dc4")
	require.True(t, st.Exists)
	require.Contains(t, st.Error, "does not source")

	// Bad arguments.
	require.ErrorIs(t, c.EnsureSourceStream(ctx, SourceConfig{LocalDC: "dc2", RemoteDC: "a.b"}), ErrBadName)
	require.ErrorIs(t, c.EnsureSourceStream(ctx, SourceConfig{LocalDC: "dc2", RemoteDC: "dc2"}), ErrInvalidConfig)
	require.ErrorIs(t, c.EnsureSourceStream(ctx, SourceConfig{LocalDC: "dc2", RemoteDC: "dc1", MaxAge: -1}), ErrInvalidConfig)
	require.ErrorIs(t, c.EnsureSourceStream(ctx, SourceConfig{LocalDC: "dc2", RemoteDC: "dc1", MaxBytes: -2}), ErrInvalidConfig)
	require.ErrorIs(t, c.EnsureSourceStream(ctx, SourceConfig{LocalDC: "dc1", RemoteDC: "dc2"}), ErrInvalidConfig) // wrong domain
	_, err = c.SourceStatus(ctx, "dc2", []string{"dc1", "*"})
	require.ErrorIs(t, err, ErrBadName)
	sts, err := c.SourceStatus(ctx, "dc2", nil)
	require.NoError(t, err)
	require.Empty(t, sts)

	c.Close()
	require.ErrorIs(t, c.EnsureSourceStream(ctx, SourceConfig{LocalDC: "dc2", RemoteDC: "dc1"}), ErrClosed)
	_, err = c.SourceStatus(ctx, "dc2", []string{"dc1"})
	require.ErrorIs(t, err, ErrClosed)
}

func TestConsumerPending(t *testing.T) {
	srv := embedded.RunTestServer(t, "dc1")
	c := testConn(t, srv)
	ctx := testCtx(t)
	require.NoError(t, c.EnsureChangeStream(ctx, StreamConfig{DC: "dc1"}))
	stream, _ := ChangeStream("dc1")
	subj, _ := ChangeSubject("dc1", "ks", 0, "a")
	other, _ := ChangeSubject("dc1", "ks", 1, "a")

	_, _, err := c.ConsumerPending(ctx, stream, "nobody")
	require.ErrorIs(t, err, ErrNoConsumer)
	_, _, err = c.ConsumerPending(ctx, "NOSUCH", "nobody")
	require.ErrorIs(t, err, ErrNoConsumer)
	require.ErrorIs(t, err, ErrNoStream)
	_, _, err = c.ConsumerPending(ctx, stream, "a.b")
	require.ErrorIs(t, err, ErrBadName)

	_, err = c.PublishBatch(ctx, changeMsgs(subj, "a", 1, 10))
	require.NoError(t, err)
	_, err = c.PublishBatch(ctx, changeMsgs(other, "o", 1, 5)) // filtered out
	require.NoError(t, err)

	// A consumer that fails from the 7th message on (one message per
	// batch): pending counts the undelivered and the delivered but
	// unacknowledged ones.
	var mu sync.Mutex
	var applied []Delivered
	k, err := c.NewConsumer(ConsumerConfig{Stream: stream, Durable: "p", FilterSubject: subj, Batch: 1, NakDelay: time.Hour},
		func(_ context.Context, msgs []Delivered) error {
			mu.Lock()
			defer mu.Unlock()
			if msgs[0].StreamSeq >= 7 {
				return context.Canceled // any error
			}
			applied = append(applied, msgs...)
			return nil
		})
	require.NoError(t, err)
	pending, floorTime, err := c.ConsumerPending(ctx, stream, "p")
	require.ErrorIs(t, err, ErrNoConsumer) // not created yet
	require.Zero(t, pending)
	require.True(t, floorTime.IsZero())
	require.NoError(t, k.Start(ctx))
	defer func() { require.NoError(t, k.Shutdown(context.Background())) }()
	require.Eventually(t, func() bool {
		pending, _, err := c.ConsumerPending(ctx, stream, "p")
		require.NoError(t, err)
		return pending == 4
	}, 10*time.Second, 10*time.Millisecond)
	pending, floorTime, err = c.ConsumerPending(ctx, stream, "p")
	require.NoError(t, err)
	require.Equal(t, uint64(4), pending)
	mu.Lock()
	require.Len(t, applied, 6)
	require.WithinDuration(t, applied[5].Time, floorTime, 0) // the last acknowledged message
	mu.Unlock()
	first, err := c.FirstOnSubject(ctx, stream, subj, 1)
	require.NoError(t, err)
	require.WithinDuration(t, applied[0].Time, first.Time, 0)
}

func TestLastOnSubject(t *testing.T) {
	srv := embedded.RunTestServer(t, "dc1")
	c := testConn(t, srv)
	ctx := testCtx(t)
	require.NoError(t, c.EnsureChangeStream(ctx, StreamConfig{DC: "dc1"}))
	stream, _ := ChangeStream("dc1")
	a, _ := ChangeSubject("dc1", "ks", 0, "a")
	b, _ := ChangeSubject("dc1", "ks", 1, "b")
	ks, _ := ChangeSubjectsOfKeyspace("dc1", "ks")

	_, err := c.LastOnSubject(ctx, stream, ks)
	require.ErrorIs(t, err, ErrNoMessage)
	before := time.Now()
	_, err = c.PublishBatch(ctx, []Message{
		{Subject: a, Data: []byte("a1")},
		{Subject: a, Data: []byte("a2"), Header: map[string]string{"Vasto-Log-Index": "2"}},
		{Subject: b, Data: []byte("b1")},
	})
	require.NoError(t, err)
	d, err := c.LastOnSubject(ctx, stream, a)
	require.NoError(t, err)
	require.Equal(t, Delivered{Subject: a, Data: []byte("a2"), Header: map[string]string{"Vasto-Log-Index": "2"}, StreamSeq: 2, Time: d.Time}, d)
	require.WithinDuration(t, before, d.Time, 5*time.Second)
	d, err = c.LastOnSubject(ctx, stream, ks) // wildcard
	require.NoError(t, err)
	require.Equal(t, uint64(3), d.StreamSeq)
	require.Equal(t, "b1", string(d.Data))
	_, err = c.LastOnSubject(ctx, stream, "vasto.chg.dc1.nope.>")
	require.ErrorIs(t, err, ErrNoMessage)

	_, err = c.LastOnSubject(ctx, "NOSUCH", a)
	require.ErrorIs(t, err, ErrNoStream)
	_, err = c.LastOnSubject(ctx, stream, "$JS.API.>")
	require.ErrorIs(t, err, ErrBadName)
	_, err = c.LastOnSubject(ctx, "a.b", a)
	require.ErrorIs(t, err, ErrBadName)
}
