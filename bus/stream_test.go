package bus

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/vasto-kv/vasto/bus/embedded"
)

func TestPublishBatchConsumeAll(t *testing.T) {
	srv := embedded.RunTestServer(t, "dc1")
	c := testConn(t, srv)
	ctx := testCtx(t)
	require.NoError(t, c.EnsureChangeStream(ctx, StreamConfig{DC: "dc1"}))
	// Ensuring again (same config) is a no-op.
	require.NoError(t, c.EnsureChangeStream(ctx, StreamConfig{DC: "dc1"}))

	subj, err := ChangeSubject("dc1", "users", 3, "storeA")
	require.NoError(t, err)
	const n = 1000
	acked, err := c.PublishBatch(ctx, changeMsgs(subj, "storeA", 1, n))
	require.NoError(t, err)
	require.Equal(t, n, acked)

	stream, _ := ChangeStream("dc1")
	filter, _ := ChangeSubjectsOfShard("dc1", "users", 3)
	var (
		mu   sync.Mutex
		got  []Delivered
		done = make(chan struct{})
	)
	k, err := c.NewConsumer(ConsumerConfig{Stream: stream, Durable: "replicaB-from-A", FilterSubject: filter}, func(_ context.Context, msgs []Delivered) error {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, msgs...)
		if len(got) == n {
			close(done)
		}
		return nil
	})
	require.NoError(t, err)
	require.NoError(t, k.Start(ctx))
	recv(t, done)
	require.NoError(t, k.Shutdown(ctx))
	require.NoError(t, k.Shutdown(ctx)) // idempotent

	mu.Lock()
	defer mu.Unlock()
	require.Len(t, got, n)
	for i, d := range got {
		require.Equal(t, uint64(i+1), d.StreamSeq)
		require.Equal(t, subj, d.Subject)
		require.Equal(t, "change-"+strconv.Itoa(i+1), string(d.Data))
		require.Equal(t, strconv.Itoa(i+1), d.Header["Vasto-Log-Index"])
		require.Equal(t, "storeA-"+strconv.Itoa(i+1), d.Header["Nats-Msg-Id"])
		require.Equal(t, uint64(n-i-1), d.Pending)
	}
}

func TestPublishBatchDedup(t *testing.T) {
	srv := embedded.RunTestServer(t, "dc1")
	c := testConn(t, srv)
	ctx := testCtx(t)
	require.NoError(t, c.EnsureChangeStream(ctx, StreamConfig{DC: "dc1"}))
	subj, _ := ChangeSubject("dc1", "ks", 0, "s1")
	stream, _ := ChangeStream("dc1")

	msg := Message{Subject: subj, ID: "s1/ks/0/1", Data: []byte("v1")}
	acked, err := c.PublishBatch(ctx, []Message{msg, msg})
	require.NoError(t, err)
	require.Equal(t, 2, acked) // a duplicate is acknowledged too
	acked, err = c.PublishBatch(ctx, []Message{msg})
	require.NoError(t, err)
	require.Equal(t, 1, acked)

	d, err := c.FirstOnSubject(ctx, stream, subj, 1)
	require.NoError(t, err)
	require.Equal(t, uint64(1), d.StreamSeq)
	require.Equal(t, "v1", string(d.Data))
	_, err = c.FirstOnSubject(ctx, stream, subj, 2)
	require.ErrorIs(t, err, ErrNoMessage)

	// Without an ID there is no de-duplication.
	acked, err = c.PublishBatch(ctx, []Message{{Subject: subj, Data: []byte("a")}, {Subject: subj, Data: []byte("a")}})
	require.NoError(t, err)
	require.Equal(t, 2, acked)
	d, err = c.FirstOnSubject(ctx, stream, subj, 2)
	require.NoError(t, err)
	require.Equal(t, uint64(2), d.StreamSeq)
	d, err = c.FirstOnSubject(ctx, stream, subj, 3)
	require.NoError(t, err)
	require.Equal(t, uint64(3), d.StreamSeq)
}

func TestPublishBatchErrors(t *testing.T) {
	srv := embedded.RunTestServer(t, "dc1")
	c := testConn(t, srv)
	ctx := testCtx(t)

	// Invalid messages: nothing is sent.
	acked, err := c.PublishBatch(ctx, []Message{{Subject: "vasto.chg.dc1.ks.0.s"}, {Subject: "vasto.chg.dc1.*"}})
	require.ErrorIs(t, err, ErrBadName)
	require.Zero(t, acked)
	acked, err = c.PublishBatch(ctx, []Message{{Subject: "vasto.x", Header: map[string]string{"Nats-Rollup": "all"}}})
	require.ErrorIs(t, err, ErrBadMessage)
	require.Zero(t, acked)

	// No stream listens: the publish fails and nothing counts as acked.
	acked, err = c.PublishBatch(ctx, changeMsgs("vasto.chg.nowhere.ks.0.s", "x", 1, 3))
	require.Error(t, err)
	require.Zero(t, acked)

	// An empty batch is fine.
	acked, err = c.PublishBatch(ctx, nil)
	require.NoError(t, err)
	require.Zero(t, acked)

	// A cancelled context stops the batch.
	require.NoError(t, c.EnsureChangeStream(ctx, StreamConfig{DC: "dc1"}))
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	acked, err = c.PublishBatch(cctx, changeMsgs("vasto.chg.dc1.ks.0.s", "y", 1, 3))
	require.ErrorIs(t, err, context.Canceled)
	require.Zero(t, acked)

	// Bad stream configs.
	require.ErrorIs(t, c.EnsureChangeStream(ctx, StreamConfig{DC: "a.b"}), ErrBadName)
	require.ErrorIs(t, c.EnsureChangeStream(ctx, StreamConfig{DC: "dc1", MaxAge: time.Minute, Duplicates: time.Hour}), ErrInvalidConfig)
	require.ErrorIs(t, c.EnsureChangeStream(ctx, StreamConfig{DC: "dc1", MaxBytes: -2}), ErrInvalidConfig)

	// After Close, operations fail with ErrClosed.
	c.Close()
	c.Close()
	_, err = c.PublishBatch(ctx, changeMsgs("vasto.chg.dc1.ks.0.s", "z", 1, 1))
	require.ErrorIs(t, err, ErrClosed)
	require.ErrorIs(t, c.Publish("vasto.hb.dc1", nil), ErrClosed)
}

func TestConsumerRedeliversFailedAndResumes(t *testing.T) {
	srv := embedded.RunTestServer(t, "dc1")
	c := testConn(t, srv)
	ctx := testCtx(t)
	require.NoError(t, c.EnsureChangeStream(ctx, StreamConfig{DC: "dc1"}))
	stream, _ := ChangeStream("dc1")
	subj, _ := ChangeSubject("dc1", "ks", 1, "storeA")
	other, _ := ChangeSubject("dc1", "ks", 1, "storeB")

	acked, err := c.PublishBatch(ctx, changeMsgs(subj, "a", 1, 10))
	require.NoError(t, err)
	require.Equal(t, 10, acked)
	// A message of another origin, which the filter excludes.
	_, err = c.PublishBatch(ctx, changeMsgs(other, "b", 1, 1))
	require.NoError(t, err)

	type event struct {
		seqs   []uint64
		failed bool
	}
	events := make(chan event, 100)
	failedOnce := false
	handler := func(_ context.Context, msgs []Delivered) error {
		ev := event{}
		for _, m := range msgs {
			require.Equal(t, subj, m.Subject)
			ev.seqs = append(ev.seqs, m.StreamSeq)
		}
		for _, s := range ev.seqs {
			if s == 5 && !failedOnce {
				failedOnce = true
				ev.failed = true
			}
		}
		events <- ev
		if ev.failed {
			return fmt.Errorf("apply failed")
		}
		return nil
	}
	cfg := ConsumerConfig{Stream: stream, Durable: "b-from-a", FilterSubject: subj, Batch: 4, AckWait: 2 * time.Second, NakDelay: 20 * time.Millisecond}
	k, err := c.NewConsumer(cfg, handler)
	require.NoError(t, err)
	require.NoError(t, k.Start(ctx))
	require.ErrorIs(t, k.Start(ctx), ErrClosed) // started already

	applied := map[uint64]int{}
	sawFailure := false
	for len(applied) < 10 {
		ev := recv(t, events)
		if ev.failed {
			sawFailure = true
			continue
		}
		for _, s := range ev.seqs {
			applied[s]++
		}
	}
	require.True(t, sawFailure)
	for s := uint64(1); s <= 10; s++ {
		require.Equal(t, 1, applied[s], "seq %d applied once", s)
	}
	require.NoError(t, k.Shutdown(ctx))

	// Every delivered message is acknowledged on the server.
	jc, err := c.js.Consumer(ctx, stream, "b-from-a")
	require.NoError(t, err)
	info, err := jc.Info(ctx)
	require.NoError(t, err)
	require.Zero(t, info.NumAckPending)
	require.Equal(t, uint64(10), info.AckFloor.Stream)

	// More changes while the consumer is down; a new consumer with the same
	// durable starts after the acknowledged ones.
	_, err = c.PublishBatch(ctx, changeMsgs(subj, "a", 11, 3))
	require.NoError(t, err)
	k2, err := c.NewConsumer(cfg, handler)
	require.NoError(t, err)
	require.NoError(t, k2.Start(ctx))
	var seqs []uint64
	for len(seqs) < 3 {
		seqs = append(seqs, recv(t, events).seqs...)
	}
	require.Equal(t, []uint64{12, 13, 14}, seqs)
	require.NoError(t, k2.Shutdown(ctx))
	select {
	case ev := <-events:
		t.Fatalf("unexpected delivery after restart: %+v", ev)
	default:
	}

	require.NoError(t, c.DeleteConsumer(ctx, stream, "b-from-a"))
	require.NoError(t, c.DeleteConsumer(ctx, stream, "b-from-a")) // absent: fine
	_, err = c.js.Consumer(ctx, stream, "b-from-a")
	require.Error(t, err)
}

// TestConsumerRedeliversAtOnceWhatADeadRunHeld: a process fetched
// messages of a durable and died before acknowledging them (SIGKILL). The
// durable's next run gets them at once, not only once the ack wait of the
// dead run's delivery expires, and before it counts as drained: a
// restarted replica must not serve while its peer's writes wait there.
func TestConsumerRedeliversAtOnceWhatADeadRunHeld(t *testing.T) {
	srv, c, ctx, stream, subj := testChangeStream(t)
	_, err := c.PublishBatch(ctx, changeMsgs(subj, "a", 1, 6))
	require.NoError(t, err)

	seqs := make(chan Delivered, 100)
	cfg := ConsumerConfig{Stream: stream, Durable: "b-from-a", FilterSubject: subj, Batch: 4}
	k, err := c.NewConsumer(cfg, func(_ context.Context, msgs []Delivered) error {
		for _, m := range msgs {
			seqs <- m
		}
		return nil
	})
	require.NoError(t, err)

	// The dead run: it fetched the first 4 messages and never acknowledged
	// them; then its connection went away.
	dead := testConn(t, srv)
	jc, err := dead.js.CreateOrUpdateConsumer(ctx, stream, k.jsConfig())
	require.NoError(t, err)
	batch, err := jc.Fetch(4, jetstream.FetchMaxWait(time.Second))
	require.NoError(t, err)
	n := 0
	for range batch.Messages() {
		n++
	}
	require.Equal(t, 4, n)
	dead.Close()

	start := time.Now()
	require.NoError(t, k.Start(ctx))
	t.Cleanup(func() { require.NoError(t, k.Shutdown(context.Background())) })
	var got []uint64
	for len(got) < 6 {
		select {
		case m := <-seqs:
			got = append(got, m.StreamSeq)
			if m.Pending == 0 {
				require.Len(t, got, 6, "drained before the dead run's messages came again: %v", got)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("the dead run's messages were not delivered again (ack wait %s): got %v", k.cfg.AckWait, got)
		}
	}
	require.Equal(t, []uint64{1, 2, 3, 4, 5, 6}, got)
	require.Less(t, time.Since(start), 5*time.Second)
}

func TestConsumerShutdownIsPrompt(t *testing.T) {
	srv := embedded.RunTestServer(t, "dc1")
	c := testConn(t, srv)
	ctx := testCtx(t)
	require.NoError(t, c.EnsureChangeStream(ctx, StreamConfig{DC: "dc1"}))
	stream, _ := ChangeStream("dc1")
	k, err := c.NewConsumer(ConsumerConfig{Stream: stream, Durable: "idle"}, func(context.Context, []Delivered) error { return nil })
	require.NoError(t, err)
	require.NoError(t, k.Start(ctx))
	sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	require.NoError(t, k.Shutdown(sctx))

	// Shutdown before Start, and Start after Shutdown.
	k2, err := c.NewConsumer(ConsumerConfig{Stream: stream, Durable: "never"}, func(context.Context, []Delivered) error { return nil })
	require.NoError(t, err)
	require.NoError(t, k2.Shutdown(ctx))
	require.ErrorIs(t, k2.Start(ctx), ErrClosed)
}

// TestIdleConsumerPullsRarely: an idle consumer keeps one pull open for
// fetchMaxWait instead of asking the server again several times a second
// (thousands of idle shard replicas otherwise keep a DC's NATS busy), and a
// message published meanwhile arrives through the open pull.
func TestIdleConsumerPullsRarely(t *testing.T) {
	srv, c, ctx, stream, subj := testChangeStream(t)

	// The pull requests, as the server receives them.
	var mu sync.Mutex
	var pulls []time.Time
	spy := testConn(t, srv)
	sub, err := spy.nc.Subscribe("$JS.API.CONSUMER.MSG.NEXT."+stream+".idle", func(*nats.Msg) {
		mu.Lock()
		pulls = append(pulls, time.Now())
		mu.Unlock()
	})
	require.NoError(t, err)
	require.NoError(t, spy.nc.Flush())
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	pullCount := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(pulls)
	}

	got := make(chan string, 1)
	k, err := c.NewConsumer(ConsumerConfig{Stream: stream, Durable: "idle", FilterSubject: subj},
		func(_ context.Context, msgs []Delivered) error {
			for _, m := range msgs {
				got <- string(m.Data)
			}
			return nil
		})
	require.NoError(t, err)
	require.NoError(t, k.Start(ctx))
	t.Cleanup(func() { require.NoError(t, k.Shutdown(context.Background())) })

	require.Eventually(t, func() bool { return pullCount() >= 1 }, 10*time.Second, 10*time.Millisecond)
	_, err = c.PublishBatch(ctx, changeMsgs(subj, "m", 1, 1))
	require.NoError(t, err)
	require.Equal(t, "change-1", recv(t, got))

	// Once idle again, the next pulls are fetchMaxWait apart (less the
	// 10 % the client keeps for the server's answer).
	n := pullCount()
	require.Eventually(t, func() bool { return pullCount() >= n+2 }, 4*fetchMaxWait, 20*time.Millisecond)
	mu.Lock()
	gap := pulls[n+1].Sub(pulls[n])
	mu.Unlock()
	require.GreaterOrEqual(t, gap, fetchMaxWait*8/10, "an idle consumer pulled again after %s", gap)
}

func TestConsumerConfigErrors(t *testing.T) {
	srv := embedded.RunTestServer(t, "dc1")
	c := testConn(t, srv)
	ctx := testCtx(t)
	h := func(context.Context, []Delivered) error { return nil }
	_, err := c.NewConsumer(ConsumerConfig{Stream: "S", Durable: "a.b"}, h)
	require.ErrorIs(t, err, ErrBadName)
	_, err = c.NewConsumer(ConsumerConfig{Stream: "S.x", Durable: "d"}, h)
	require.ErrorIs(t, err, ErrBadName)
	_, err = c.NewConsumer(ConsumerConfig{Stream: "S", Durable: "d", FilterSubject: "$JS.API.>"}, h)
	require.ErrorIs(t, err, ErrBadName)
	_, err = c.NewConsumer(ConsumerConfig{Stream: "S", Durable: "d"}, nil)
	require.ErrorIs(t, err, ErrInvalidConfig)
	k, err := c.NewConsumer(ConsumerConfig{Stream: "NOSUCH", Durable: "d"}, h)
	require.NoError(t, err)
	require.ErrorIs(t, k.Start(ctx), ErrNoStream)
	require.NoError(t, k.Shutdown(ctx))
}

func TestFirstOnSubject(t *testing.T) {
	srv := embedded.RunTestServer(t, "dc1")
	c := testConn(t, srv)
	ctx := testCtx(t)
	require.NoError(t, c.EnsureChangeStream(ctx, StreamConfig{DC: "dc1"}))
	stream, _ := ChangeStream("dc1")
	a, _ := ChangeSubject("dc1", "ks", 0, "a")
	b, _ := ChangeSubject("dc1", "ks", 0, "b")
	_, err := c.PublishBatch(ctx, []Message{
		{Subject: a, Data: []byte("a1"), Header: map[string]string{"Vasto-Log-Index": "1"}},
		{Subject: b, Data: []byte("b1")},
		{Subject: a, Data: []byte("a2"), Header: map[string]string{"Vasto-Log-Index": "2"}},
	})
	require.NoError(t, err)

	d, err := c.FirstOnSubject(ctx, stream, a, 0)
	require.NoError(t, err)
	require.Equal(t, uint64(1), d.StreamSeq)
	require.Equal(t, "a1", string(d.Data))
	require.Equal(t, "1", d.Header["Vasto-Log-Index"])
	d, err = c.FirstOnSubject(ctx, stream, a, 2)
	require.NoError(t, err)
	require.Equal(t, uint64(3), d.StreamSeq)
	require.Equal(t, "2", d.Header["Vasto-Log-Index"])
	_, err = c.FirstOnSubject(ctx, stream, a, 4)
	require.ErrorIs(t, err, ErrNoMessage)
	all, _ := ChangeSubjectsOfShard("dc1", "ks", 0)
	d, err = c.FirstOnSubject(ctx, stream, all, 2)
	require.NoError(t, err)
	require.Equal(t, b, d.Subject)

	_, err = c.FirstOnSubject(ctx, "NOSUCH", a, 1)
	require.ErrorIs(t, err, ErrNoStream)
	_, err = c.FirstOnSubject(ctx, stream, "a b", 1)
	require.ErrorIs(t, err, ErrBadName)
}

// TestRetentionGapIsVisible shows the gap trap: after old messages age out
// of a size-limited stream, the first message on the subject is later than
// the consumer's cursor, and its log-index header tells how much is lost.
func TestRetentionGapIsVisible(t *testing.T) {
	srv := embedded.RunTestServer(t, "dc1")
	c := testConn(t, srv)
	ctx := testCtx(t)
	require.NoError(t, c.EnsureChangeStream(ctx, StreamConfig{DC: "dc1", MaxBytes: 4096}))
	stream, _ := ChangeStream("dc1")
	subj, _ := ChangeSubject("dc1", "ks", 0, "a")
	msgs := changeMsgs(subj, "a", 1, 100)
	for i := range msgs {
		msgs[i].Data = make([]byte, 200)
	}
	acked, err := c.PublishBatch(ctx, msgs)
	require.NoError(t, err)
	require.Equal(t, 100, acked)
	d, err := c.FirstOnSubject(ctx, stream, subj, 1)
	require.NoError(t, err)
	require.Greater(t, d.StreamSeq, uint64(1))
	idx, err := strconv.Atoi(d.Header["Vasto-Log-Index"])
	require.NoError(t, err)
	require.Greater(t, idx, 1) // a consumer at index 0 has lost 1..idx-1
}

// A stream's MaxBytes is reserved against the server's MaxStore when the
// stream is created; the error says so.
func TestStreamMaxBytesReservation(t *testing.T) {
	cfg := embedded.TestConfig(t, "dc1", t.TempDir())
	cfg.MaxStore = 64 << 20
	srv := embedded.StartTestServer(t, cfg)
	c := testConn(t, srv)
	ctx := testCtx(t)
	err := c.EnsureChangeStream(ctx, StreamConfig{DC: "dc1"}) // 1 GiB > 64 MiB
	require.Error(t, err)
	require.Contains(t, err.Error(), "MaxStore")
	require.NoError(t, c.EnsureChangeStream(ctx, StreamConfig{DC: "dc1", MaxBytes: 48 << 20}))
	err = c.EnsureChangeStream(ctx, StreamConfig{DC: "dc2", MaxBytes: 48 << 20}) // 96 MiB > 64 MiB
	require.Error(t, err)
}

// TestConsumerRedeliversSoonWhatItNeverReceived: while a consumer runs,
// the server delivers some of its messages to a pull whose client never
// reads them (here another connection pulling from the same durable, as a
// connection that died would). The running consumer gets them again well
// before their ack wait expires.
func TestConsumerRedeliversSoonWhatItNeverReceived(t *testing.T) {
	srv, c, ctx, stream, subj := testChangeStream(t)

	const ackWait = 2 * time.Minute
	var (
		mu       sync.Mutex
		got      = map[uint64]int{}
		holding  = make(chan struct{})
		release  = make(chan struct{})
		holdOnce sync.Once
	)
	// Batch 1: while the handler holds the first message, the consumer has
	// no pull open, so the next message goes to the other pull below.
	k, err := c.NewConsumer(ConsumerConfig{Stream: stream, Durable: "lossy", FilterSubject: subj, AckWait: ackWait, Batch: 1},
		func(_ context.Context, msgs []Delivered) error {
			holdOnce.Do(func() {
				close(holding)
				<-release
			})
			mu.Lock()
			defer mu.Unlock()
			for _, m := range msgs {
				got[m.StreamSeq]++
			}
			return nil
		})
	require.NoError(t, err)
	require.NoError(t, k.Start(ctx))
	t.Cleanup(func() { require.NoError(t, k.Shutdown(context.Background())) })
	_, err = c.PublishBatch(ctx, changeMsgs(subj, "m", 1, 1))
	require.NoError(t, err)
	recv(t, holding)

	// A pull on another connection takes the next message and never
	// acknowledges it; its connection goes.
	dead := testConn(t, srv)
	jc, err := dead.js.Consumer(ctx, stream, "lossy")
	require.NoError(t, err)
	pulled := make(chan uint64, 1)
	go func() {
		b, err := jc.Fetch(1, jetstream.FetchMaxWait(10*time.Second))
		if err != nil {
			pulled <- 0
			return
		}
		var seq uint64
		for m := range b.Messages() {
			md, _ := m.Metadata()
			seq = md.Sequence.Stream
		}
		pulled <- seq
	}()
	_, err = c.PublishBatch(ctx, changeMsgs(subj, "m", 2, 1))
	require.NoError(t, err)
	stolen := recv(t, pulled)
	require.NotZero(t, stolen, "the other pull took the message")
	dead.Close()
	close(release)
	t.Logf("message %d delivered to a pull that never acknowledges it", stolen)

	// Later messages reach the consumer; the lost one comes too, long
	// before its ack wait.
	_, err = c.PublishBatch(ctx, changeMsgs(subj, "after", 1, 3))
	require.NoError(t, err)
	start := time.Now()
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return got[stolen] > 0
	}, ackWait/4, 20*time.Millisecond, "message %d not delivered again before its ack wait %s", stolen, ackWait)
	t.Logf("delivered again after %s (ack wait %s)", time.Since(start).Round(time.Millisecond), ackWait)
	st, err := c.StreamState(ctx, stream)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		for seq := uint64(1); seq <= st.LastSeq; seq++ {
			if got[seq] == 0 {
				return false
			}
		}
		return true
	}, 10*time.Second, 20*time.Millisecond, "every message delivered")
}

// TestConsumerRecreatesItselfWhenStreamLost: the stream is deleted under
// a running consumer (as when NATS loses its data) and created again. The
// consumer creates itself again, calls OnRecreate (retrying it while it
// fails) before it pulls anything, and then delivers the new stream's
// messages from its start.
func TestConsumerRecreatesItselfWhenStreamLost(t *testing.T) {
	_, c, ctx, stream, subj := testChangeStream(t)
	_, err := c.PublishBatch(ctx, changeMsgs(subj, "old", 1, 3))
	require.NoError(t, err)

	var (
		mu          sync.Mutex
		got         []string
		recreations int
		gotAtCheck  = -1
	)
	k, err := c.NewConsumer(ConsumerConfig{Stream: stream, Durable: "survivor", FilterSubject: subj,
		OnRecreate: func(context.Context) error {
			mu.Lock()
			defer mu.Unlock()
			recreations++
			if recreations == 1 {
				return errors.New("not yet")
			}
			gotAtCheck = len(got)
			return nil
		}},
		func(_ context.Context, msgs []Delivered) error {
			mu.Lock()
			defer mu.Unlock()
			for _, m := range msgs {
				got = append(got, string(m.Data))
			}
			return nil
		})
	require.NoError(t, err)
	require.NoError(t, k.Start(ctx))
	t.Cleanup(func() { require.NoError(t, k.Shutdown(context.Background())) })
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) == 3
	}, 10*time.Second, 10*time.Millisecond)

	require.NoError(t, c.js.DeleteStream(ctx, stream))
	require.NoError(t, c.EnsureChangeStream(ctx, StreamConfig{DC: "dc1"}))
	_, err = c.PublishBatch(ctx, changeMsgs(subj, "new", 1, 2))
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) == 5
	}, 15*time.Second, 10*time.Millisecond, "the new stream's messages are delivered")
	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, []string{"change-1", "change-2", "change-3", "change-1", "change-2"}, got)
	require.Equal(t, 2, recreations, "OnRecreate is called again after it failed")
	require.Equal(t, 3, gotAtCheck, "nothing of the new stream is delivered before OnRecreate succeeds")
}

// TestChangeStreamHoldsThousandsOfConsumers: the change log sets its own
// consumer limit, past nats-server's default of 1000 a stream gets when
// it sets none (one consumer per shard replica and peer reaches it with a
// few hundred shards).
func TestChangeStreamHoldsThousandsOfConsumers(t *testing.T) {
	srv := embedded.RunTestServer(t, "dc1")
	c := testConn(t, srv)
	ctx := testCtx(t)
	require.NoError(t, c.EnsureChangeStream(ctx, StreamConfig{DC: "dc1"}))
	stream, _ := ChangeStream("dc1")
	s, err := c.js.Stream(ctx, stream)
	require.NoError(t, err)
	info, err := s.Info(ctx)
	require.NoError(t, err)
	require.Equal(t, MaxStreamConsumers, info.Config.MaxConsumers)
	subj, _ := ChangeSubject("dc1", "ks", 0, "storeA")
	for i := range 1001 {
		_, err := c.js.CreateOrUpdateConsumer(ctx, stream, jetstream.ConsumerConfig{
			Durable: fmt.Sprintf("c%04d", i), FilterSubject: subj, AckPolicy: jetstream.AckExplicitPolicy})
		require.NoError(t, err, "consumer %d", i)
	}
}

// TestConsumerPassedOnlyWhatItHandled: ConsumerPassed says a consumer
// passed a message only once its handler has returned for it, even asked
// right after the message's publication. The server takes a moment to
// count a new message as pending for a consumer, and while it delivers
// it the message is neither pending nor unacknowledged: "nothing pending"
// alone said yes then (and ACK replicated answered before the other
// replica had the write).
func TestConsumerPassedOnlyWhatItHandled(t *testing.T) {
	_, c, ctx, stream, subj := testChangeStream(t)
	other, _ := ChangeSubject("dc1", "ks", 1, "storeA")

	var mu sync.Mutex
	handled := map[uint64]bool{}
	k, err := c.NewConsumer(ConsumerConfig{Stream: stream, Durable: "follower", FilterSubject: subj},
		func(_ context.Context, msgs []Delivered) error {
			mu.Lock()
			defer mu.Unlock()
			for _, m := range msgs {
				handled[m.StreamSeq] = true
			}
			return nil
		})
	require.NoError(t, err)
	require.NoError(t, k.Start(ctx))
	t.Cleanup(func() { require.NoError(t, k.Shutdown(context.Background())) })

	passed := 0
	const n = 1000
	for i := 1; i <= n; i++ {
		_, err := c.PublishBatch(ctx, changeMsgs(subj, "m", i, 1))
		require.NoError(t, err)
		seq, err := c.StreamLastSeq(ctx, stream)
		require.NoError(t, err)
		ok, err := c.ConsumerPassed(ctx, stream, "follower", seq)
		require.NoError(t, err)
		mu.Lock()
		done := handled[seq]
		mu.Unlock()
		if ok {
			passed++
			require.True(t, done, "message %d (stream sequence %d) taken as handled before its handler ran", i, seq)
		}
	}
	t.Logf("passed at once %d times of %d", passed, n)

	// Messages on another subject do not hold it back.
	_, err = c.PublishBatch(ctx, changeMsgs(other, "o", 1, 1))
	require.NoError(t, err)
	last, err := c.StreamLastSeq(ctx, stream)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		ok, err := c.ConsumerPassed(ctx, stream, "follower", last)
		return err == nil && ok
	}, 10*time.Second, 10*time.Millisecond)
}
